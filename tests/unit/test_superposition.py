"""The toy model of superposition (Elhage et al. 2022): training reproduces the paper's
headline, results are deterministic, bad inputs get clear errors.

Settings (measured, see the module's defaults): 8 instances, 1000 Adam steps, batch 1024,
lr 2e-2 with cosine decay. With them the headline holds for seeds 0-4 at sparsity 0 and 0.9
(checked while writing these tests); the tests use seed 0.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from interp_widgets.results.superposition import Superposition
from interp_widgets.toy.superposition import superposition


def _angles(r: Superposition) -> np.ndarray:
    """Angles (degrees, sorted) of the features' directions in the 2-D hidden space."""
    return np.sort(np.degrees(np.arctan2(r.W[1], r.W[0])) % 360.0)


@pytest.fixture(scope="module")
def dense():
    t0 = time.perf_counter()
    r = superposition(n_features=5, n_hidden=2, sparsity=0.0, seed=0)
    print(f"\ndense: trained in {time.perf_counter() - t0:.2f} s: {r}")
    return r


@pytest.fixture(scope="module")
def sparse():
    t0 = time.perf_counter()
    r = superposition(n_features=5, n_hidden=2, sparsity=0.9, seed=0)
    print(f"\nsparse: trained in {time.perf_counter() - t0:.2f} s: {r}")
    return r


# -- the headline ---------------------------------------------------------------------


def test_dense_features_only_n_hidden_represented_orthogonally(dense):
    norms = dense.norms
    strong = np.flatnonzero(norms > 0.5)
    # The two most important features (importance 0.9**i: features 0 and 1) get a dimension
    # each; the other three are dropped.
    assert strong.tolist() == [0, 1], norms
    assert (np.delete(norms, strong) < 0.2).all(), norms
    assert dense.n_represented() == 2
    w0, w1 = dense.W[:, 0], dense.W[:, 1]
    cos = float(w0 @ w1 / (np.linalg.norm(w0) * np.linalg.norm(w1)))
    assert abs(cos) < 0.1, f"represented features should be near-orthogonal, cos = {cos:.3f}"
    np.testing.assert_allclose(norms[:2], 1.0, atol=0.1)
    # No superposition: the represented features have a dimension to themselves.
    assert (dense.superposition[:2] < 0.05).all(), dense.superposition
    # WᵀW is close to diag(1, 1, 0, 0, 0).
    np.testing.assert_allclose(dense.WtW, np.diag([1.0, 1.0, 0, 0, 0]), atol=0.2)


def test_sparse_features_form_a_pentagon(sparse):
    norms = sparse.norms
    assert (norms > 0.7).all(), norms
    assert sparse.n_represented() == 5
    ang = _angles(sparse)
    gaps = np.diff(np.r_[ang, ang[0] + 360.0])
    assert np.all(np.abs(gaps - 72.0) < 15.0), f"consecutive angle gaps {gaps.round(1)} are not a pentagon"
    # Every feature shares its direction with its neighbours: all are in superposition.
    assert (sparse.superposition > 0.3).all(), sparse.superposition
    # Neighbours in the pentagon interfere negatively-ish (cos 72° > 0, cos 144° < 0).
    unit = sparse.W / norms
    cos = unit.T @ unit
    assert np.sum(cos[np.triu_indices(5, 1)] < -0.5) == 5  # the five 144° pairs
    assert sparse.loss < 0.5 * superposition(n_features=5, n_hidden=2, sparsity=0.9, steps=1, seed=0).loss


def test_the_best_instance_is_kept(sparse):
    assert sparse.info["n_instances"] == 8 and len(sparse.info["instance_losses"]) == 8
    assert sparse.loss == pytest.approx(min(sparse.info["instance_losses"]), rel=1e-6)


def test_training_time_is_measured(sparse, dense):
    # Measured, not asserted (the machine is shared): recorded in info["seconds"].
    for r in (dense, sparse):
        assert r.info["seconds"] > 0
        print(f"{r.sparsity=}: {r.info['seconds']:.2f} s")


# -- determinism and settings ---------------------------------------------------------


def test_deterministic_with_the_seed():
    a = superposition(sparsity=0.7, steps=60, seed=3)
    b = superposition(sparsity=0.7, steps=60, seed=3)
    c = superposition(sparsity=0.7, steps=60, seed=4)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.b, b.b)
    assert a.loss == b.loss
    assert not np.allclose(a.W, c.W)


def test_training_leaves_torch_threads_alone():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    superposition(steps=5)
    assert torch.get_num_threads() == before


def test_importance_decay_and_explicit_array():
    r = superposition(n_features=4, n_hidden=2, importance=0.5, steps=5)
    np.testing.assert_allclose(r.importance, [1, 0.5, 0.25, 0.125])
    assert r.importance_decay == 0.5
    r = superposition(n_features=3, n_hidden=1, importance=[0.1, 1.0, 0.2], steps=300, seed=0)
    assert r.importance_decay is None
    np.testing.assert_allclose(r.importance, [0.1, 1.0, 0.2], rtol=1e-6)
    # Dense, one dimension: the model keeps the most important feature (index 1).
    assert int(np.argmax(r.norms)) == 1 and r.n_represented() == 1


def test_progress_callable_reaches_one():
    seen = []
    superposition(steps=120, progress=seen.append)
    assert seen and seen[-1] == pytest.approx(1.0)
    assert all(b >= a for a, b in zip(seen, seen[1:]))


def test_source_retrains_with_the_same_settings():
    r = superposition(n_features=4, n_hidden=2, steps=40, seed=1, n_instances=3)
    r2 = r._source.retrain(sparsity=0.5, importance=0.8)
    assert r2.sparsity == 0.5 and r2.importance_decay == 0.8
    assert r2.info["steps"] == 40 and r2.info["seed"] == 1 and r2.info["n_instances"] == 3
    assert r2.W.shape == (2, 4)


def test_callable_through_the_package_namespace():
    import interp_widgets as iw
    import interp_widgets.toy.superposition  # noqa: F401  (importing the module must not shadow the function)

    toy = iw.toy
    first = toy.superposition(steps=3)
    again = toy.superposition(steps=3)
    assert isinstance(first, Superposition) and isinstance(again, Superposition)
    assert toy.Superposition is Superposition
    from interp_widgets.toy import superposition as mod_or_fn

    assert isinstance(mod_or_fn(steps=2), Superposition)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sparsity=1.0), r"sparsity must be in \[0, 1\)"),
        (dict(sparsity=-0.1), r"sparsity must be in \[0, 1\)"),
        (dict(sparsity=float("nan")), "sparsity must be finite"),
        (dict(sparsity="0.5"), "sparsity must be a number"),
        (dict(n_features=5, n_hidden=5), "n_hidden must be smaller than n_features"),
        (dict(n_features=3, n_hidden=7), "n_hidden must be smaller than n_features"),
        (dict(n_hidden=0), "n_hidden must be >= 1"),
        (dict(n_features=1, n_hidden=1), "n_features must be between 2 and 512"),
        (dict(n_features=10_000), "n_features must be between 2 and 512"),
        (dict(n_features=5.0), "n_features must be an integer"),
        (dict(n_features=True), "n_features must be an integer"),
        (dict(importance=0.0), r"importance .* must be in \(0, 1\]"),
        (dict(importance=1.5), r"importance .* must be in \(0, 1\]"),
        (dict(importance=[1, 1, 1]), r"expected shape \(5,\)"),
        (dict(importance=[1, -1, 1, 1, 1]), "must be >= 0"),
        (dict(importance=[0, 0, 0, 0, 0]), "at least one > 0"),
        (dict(importance=[1, np.nan, 1, 1, 1]), "NaN or inf"),
        (dict(importance="abc"), "importance must be"),
        (dict(steps=0), "steps must be >= 1"),
        (dict(batch_size=0), "batch_size must be >= 1"),
        (dict(n_instances=0), "n_instances must be >= 1"),
        (dict(lr=0.0), "lr must be > 0"),
        (dict(lr=math.inf), "lr must be finite"),
        (dict(seed=-1), "seed must be >= 0"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        superposition(**kwargs)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        superposition(sparsty=0.5)


# -- the result -----------------------------------------------------------------------


def test_result_measures_on_a_hand_made_model():
    s = math.sqrt(0.5)
    # Features 0 and 2 antipodal, 1 orthogonal to both, 3 dropped, 4 at 45° between 0 and 1.
    W = np.array([[1.0, 0.0, -1.0, 0.0, s], [0.0, 1.0, 0.0, 0.01, s]])
    r = Superposition(W=W, b=np.zeros(5), sparsity=0.5, importance=np.ones(5), loss=0.0)
    np.testing.assert_allclose(r.norms, [1, 1, 1, 0.01, 1], atol=1e-6)
    np.testing.assert_allclose(r.WtW, W.T @ W, atol=1e-6)
    # Σ_{j≠i} (Ŵ_i·W_j)²: feature 0 sees feature 2 (1) and feature 4 (0.5) and a bit of 3 (0).
    np.testing.assert_allclose(r.superposition, [1.5, 0.5 + 1e-4, 1.5, 1.0 + 0.5, 0.5 + 0.5 + 0.5], atol=1e-3)
    assert r.n_represented() == 4
    assert r.n_represented(threshold=0.001) == 5
    assert r.n_represented(threshold=2.0) == 0
    xy, explained = r.projection()
    np.testing.assert_allclose(xy, W, atol=1e-6)  # n_hidden == 2: the plane itself
    assert explained.sum() == pytest.approx(1.0)


def test_projection_of_a_wider_hidden_space():
    rng = np.random.default_rng(0)
    plane = np.linalg.qr(rng.normal(size=(4, 2)))[0]  # a 2-D plane inside 4-D
    coords = rng.normal(size=(2, 6))
    r = Superposition(W=plane @ coords, b=np.zeros(6), sparsity=0.0, importance=np.ones(6), loss=0.0)
    xy, explained = r.projection()
    assert xy.shape == (2, 6)
    assert explained.sum() == pytest.approx(1.0, abs=1e-5)  # W lies in a plane: nothing lost
    # The projection keeps lengths and angles of vectors in that plane.
    np.testing.assert_allclose(np.linalg.norm(xy, axis=0), r.norms, rtol=1e-4)
    np.testing.assert_allclose(xy.T @ xy, r.WtW, atol=1e-4)
    r1 = Superposition(W=np.array([[1.0, -0.5, 0.0]]), b=np.zeros(3), sparsity=0.0, importance=np.ones(3), loss=0.0)
    xy1, _ = r1.projection()
    np.testing.assert_allclose(xy1, [[1.0, -0.5, 0.0], [0, 0, 0]])


def test_result_validates_shapes():
    with pytest.raises(ValueError, match="3 features"):
        Superposition(W=np.zeros((2, 3)), b=np.zeros(4), sparsity=0, importance=np.ones(3), loss=0)
    with pytest.raises(ValueError, match="importance has 2 entries"):
        Superposition(W=np.zeros((2, 3)), b=np.zeros(3), sparsity=0, importance=np.ones(2), loss=0)
    with pytest.raises(ValueError, match="W contains NaN"):
        Superposition(W=np.full((2, 3), np.nan), b=np.zeros(3), sparsity=0, importance=np.ones(3), loss=0)
    with pytest.raises(ValueError, match=r"\[n_hidden, n_features\]"):
        Superposition(W=np.zeros(3), b=np.zeros(3), sparsity=0, importance=np.ones(3), loss=0)


def test_result_is_numpy_only_and_reprs(sparse):
    assert isinstance(sparse.W, np.ndarray) and sparse.W.dtype == np.float32
    assert sparse.W.shape == (2, 5) and sparse.b.shape == (5,)
    text = repr(sparse)
    assert "n_features=5" in text and "represented=5" in text


def test_show_and_to_html(tmp_path, sparse):
    from interp_widgets.views.superposition import SuperpositionView

    view = sparse.show(theme="dark")
    assert isinstance(view, SuperpositionView) and view.theme == "dark"
    out = sparse.to_html(tmp_path / "toy.html")
    html = out.read_text()
    assert "iw-views" in html and len(html) > 10_000
