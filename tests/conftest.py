"""Shared fixtures: tiny random models of every supported family (tests/tiny_models.py) and
the real embedded SmolLM2 for integration tests."""

from __future__ import annotations

import pytest

from tiny_models import ALL, CAUSAL, build_tiny, make_tiny_tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return make_tiny_tokenizer()


@pytest.fixture(scope="session", params=ALL)
def tiny_model(request, tiny_tokenizer):
    return build_tiny(request.param, tiny_tokenizer)


@pytest.fixture(scope="session", params=CAUSAL)
def tiny_causal(request, tiny_tokenizer):
    return build_tiny(request.param, tiny_tokenizer)


@pytest.fixture(scope="session")
def smollm2():
    import interp_widgets as iw

    return iw.load_model()
