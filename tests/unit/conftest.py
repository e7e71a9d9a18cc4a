"""Unit-test guard: no test may leave a hook of ours on a shared tiny model."""

import pytest

from tiny_models import our_hooks


@pytest.fixture(autouse=True)
def _no_leftover_hooks(request):
    yield
    for name in ("tiny_model", "tiny_causal"):
        if name in request.fixturenames:
            left = our_hooks(request.getfixturevalue(name))
            assert not left, f"{request.node.nodeid} left hooks of ours on {left[:3]}"
