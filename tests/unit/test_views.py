"""Widget state of the views through ``get_state()``: no browser needed."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

from interp_widgets.results import Attribution, AttributionSource
from interp_widgets.views import AttributionWidget, TokenHeatmap
from interp_widgets.views._base import array_from_json, array_to_json

TOKENS = ["The", " Eiffel", " Tower", " is", " in", " Paris", ",", " France"]


def _bytes(state_value: dict) -> bytes:
    return bytes(state_value["view"])


# -- array transport ------------------------------------------------------------------


def test_array_to_json_is_binary_float32():
    a = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    js = array_to_json(a)
    assert isinstance(js["view"], memoryview)
    assert js["dtype"] == "float32" and js["shape"] == [2, 3]
    assert len(_bytes(js)) == 6 * 4
    back = np.frombuffer(_bytes(js), dtype="<f4").reshape(2, 3)
    np.testing.assert_allclose(back, a.astype(np.float32))
    np.testing.assert_array_equal(array_from_json(js), back)
    assert array_to_json(None) is None
    assert array_to_json(np.array([1, 2], dtype=np.int64))["dtype"] == "int32"
    assert array_to_json(np.array([1, 2], dtype=np.uint8))["dtype"] == "uint8"


def test_array_to_json_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    t = torch.tensor([[1.0, -2.0]], dtype=torch.bfloat16, requires_grad=True)
    js = array_to_json(t * 1)
    assert js["dtype"] == "float32" and js["shape"] == [1, 2]
    assert np.frombuffer(_bytes(js), "<f4").tolist() == [1.0, -2.0]


# -- TokenHeatmap ---------------------------------------------------------------------


def test_heatmap_state_is_binary_not_lists():
    w = TokenHeatmap(TOKENS, np.linspace(-1, 1, len(TOKENS)), title="demo")
    s = w.get_state()
    assert s["tokens"] == TOKENS
    assert isinstance(s["values"]["view"], memoryview)
    assert s["values"]["shape"] == [1, len(TOKENS)]
    assert s["values"]["dtype"] == "float32"
    assert len(_bytes(s["values"])) == 4 * len(TOKENS)
    assert s["scale"] == "auto" and s["value_range"] is None and s["title"] == "demo"
    assert s["selected_token"] == -1 and s["error"] == "" and s["theme"] == "auto"
    assert s["row_labels"] == []
    assert "export" in w._esm and "render" in w._esm  # the built bundle is attached


def test_heatmap_matrix_rows_and_labels():
    v = np.random.default_rng(0).random((3, 4))
    w = TokenHeatmap(["a", "b", "c", "d"], v, row_labels=["L0", "L1", "L2"], scale="sequential",
                     value_range=(0, 1), theme="dark")
    s = w.get_state()
    assert s["values"]["shape"] == [3, 4]
    np.testing.assert_allclose(np.frombuffer(_bytes(s["values"]), "<f4").reshape(3, 4), v, rtol=1e-6)
    assert s["row_labels"] == ["L0", "L1", "L2"]
    assert s["value_range"] == [0.0, 1.0] and s["theme"] == "dark" and s["scale"] == "sequential"


def test_heatmap_accepts_lists_and_torch():
    torch = pytest.importorskip("torch")
    w = TokenHeatmap(["a", "b"], torch.tensor([0.5, 2.0]))
    assert w.values.shape == (1, 2) and w.values.dtype == np.float32
    w2 = TokenHeatmap(("a", "b"), [[1, 2]])
    assert w2.values.tolist() == [[1.0, 2.0]]
    w4 = TokenHeatmap(["a", "b", "c"], [torch.ones(3, requires_grad=True) * 2, torch.zeros(3, dtype=torch.bfloat16)])
    assert w4.values.tolist() == [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]  # a list of tensors
    with pytest.raises(ValueError, match="3 tokens but values have 4 columns"):
        w4.values = np.ones(4)
    # CircuitsVis's colored_tokens_multi takes [tokens, rows]: turned round
    w3 = TokenHeatmap(["a", "b", "c"], torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), row_labels=["x", "y"])
    assert w3.values.tolist() == [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]


@pytest.mark.parametrize(
    "tokens, values, kwargs, match",
    [
        ([], [], {}, "empty"),
        (["a", "b"], [1.0, 2.0, 3.0], {}, "2 tokens but values have 3 columns"),
        (["a"], [1.0, 2.0, 3.0], {}, "1 tokens but values have 3 columns"),
        (["a", "b", "c"], [1.0, np.nan, np.inf], {}, r"2 non-finite entries .*token 1"),
        (["a", "b"], [[1.0, 2.0], [3.0, np.nan]], {}, r"1 non-finite entry .*row 1, token 1"),
        (["a", "b"], [[1.0, 2.0]], {"row_labels": ["x", "y"]}, "2 row_labels for 1 rows"),
        (["a", "b"], np.zeros((1, 1, 2)), {}, "3 dims"),
        (["a", "b"], [1.0, 2.0], {"value_range": (1, 0)}, "value_range"),
        (["a", "b", "c"], np.ones((0, 3)), {}, "values are empty"),
        (["a", "b"], [[1.0, 2.0], [3.0]], {}, "1-D .tokens. or 2-D .rows, tokens. array of numbers"),
        (["a", "b"], [[1.0, 2.0], [3.0, 4.0]], {"row_labels": "xy"}, "not one string"),
        # [tokens, rows] is turned round before the NaN is located: token 1 of row 2
        (["a", "b", "c", "d"], [[1, 1, 1], [1, 1, np.nan], [1, 1, 1], [1, 1, 1]], {}, "row 2, token 1"),
        ("ab", [1.0, 2.0], {}, "list of strings"),
        (["a", 3], [1.0, 2.0], {}, "token 1 is int"),
        (["a", "b"], [1e39, 0.0], {}, "float32"),
    ],
)
def test_heatmap_validation(tokens, values, kwargs, match):
    with pytest.raises(ValueError, match=match):
        TokenHeatmap(tokens, values, **kwargs)


def test_heatmap_unknown_kwarg_and_bad_enum():
    with pytest.raises(TypeError):
        TokenHeatmap(["a"], [1.0], colour="red")
    with pytest.raises(Exception):
        TokenHeatmap(["a"], [1.0], scale="rainbow")


def test_heatmap_update_and_selected_token():
    w = TokenHeatmap(["a", "b"], [1.0, 2.0])
    seen = []
    w.observe(lambda c: seen.append(c["new"]), "selected_token")
    w.set_state({"selected_token": 1})  # what a click in the view sends
    assert seen == [1]
    w.update(tokens=["x", "y", "z"], values=[[0, 1, 2], [3, 4, 5]])
    assert w.get_state()["values"]["shape"] == [2, 3]
    with pytest.raises(ValueError, match="3 tokens but values have 2"):
        w.update(values=[1, 2])
    with pytest.raises(ValueError, match="non-finite"):
        w.values = np.array([np.nan, 1, 2])


# -- AttributionWidget ----------------------------------------------------------------


def _attr(scores=None, target_pos=5, method="integrated_gradients", source=None, **kw) -> Attribution:
    if scores is None:
        scores = np.array([0.1, 0.8, 0.5, -0.2, 0.05, 0, 0, 0], dtype=np.float32)
    a = Attribution(
        tokens=list(TOKENS),
        scores=scores,
        target=repr(TOKENS[target_pos]) if target_pos < len(TOKENS) else "' Paris'",
        method=method,
        delta=np.array([0.0012]) if method == "integrated_gradients" else None,
        n_evals=64,
        prompt_len=5,
        target_positions=[target_pos],
        **kw,
    )
    a._source = source
    return a


class FakeSource:
    """Records calls; returns a new Attribution with different scores, or raises."""

    def __init__(self, fail: Exception | None = None):
        self.calls: list[dict] = []
        self.fail = fail
        self.busy_seen: list[bool] = []
        self.widget: AttributionWidget | None = None
        self.handle = AttributionSource(recompute=self.recompute,
                                        methods=("integrated_gradients", "saliency", "occlusion"))

    def recompute(self, target_position, method, progress):
        self.calls.append({"target_position": target_position, "method": method})
        if self.widget is not None:
            self.busy_seen.append(self.widget.busy)
        for f in (0.0, 0.25, 0.5, 1.0):
            progress(f)
        if self.fail:
            raise self.fail
        scores = np.zeros(len(TOKENS), np.float32)
        scores[:target_position] = np.arange(1, target_position + 1) / 10
        a = _attr(scores, target_pos=target_position, method=method)
        a._source = self.handle
        return a


def test_attribution_state():
    src = FakeSource()
    w = AttributionWidget(_attr(source=src.handle))
    s = w.get_state()
    assert s["tokens"] == TOKENS
    assert isinstance(s["scores"]["view"], memoryview)
    assert s["scores"]["shape"] == [1, len(TOKENS)] and len(_bytes(s["scores"])) == 4 * len(TOKENS)
    assert s["row_labels"] == ["' Paris'"]
    assert s["prompt_len"] == 5 and s["target_position"] == 5 and s["target_positions"] == [5]
    assert s["target_label"] == "' Paris'"
    assert s["method"] == "integrated_gradients"
    assert s["methods"] == ["integrated_gradients", "saliency", "occlusion"]
    assert s["delta"] == pytest.approx(0.0012)
    assert s["n_evals"] == 64
    assert s["busy"] is False and s["progress"] == 0.0 and s["error"] == ""
    assert s["interactive"] is True and s["theme"] == "auto"


def test_attribution_show_returns_widget():
    a = _attr()
    w = a.show(theme="dark")
    assert isinstance(w, AttributionWidget) and w.theme == "dark"
    assert w.attribution is a
    assert w.interactive is False and w.methods == ["integrated_gradients"]
    with pytest.raises(TypeError):
        a.show(colour="red")
    with pytest.raises(TypeError):
        AttributionWidget("not an attribution")


def test_attribution_click_recomputes_with_progress():
    src = FakeSource()
    w = AttributionWidget(_attr(source=src.handle))
    src.widget = w
    progress_seen, busy_seen = [], []
    w.observe(lambda c: progress_seen.append(c["new"]), "progress")
    w.observe(lambda c: busy_seen.append(c["new"]), "busy")
    w.set_state({"target_position": 7})  # what a click on " France" sends
    assert src.calls == [{"target_position": 7, "method": "integrated_gradients"}]
    assert src.busy_seen == [True]
    assert busy_seen == [True, False]
    assert 0.25 in progress_seen and 1.0 in progress_seen and w.progress == 0.0
    assert w.attribution.target_positions == [7]
    assert w.target_position == 7 and w.target_label == "' France'"
    np.testing.assert_allclose(np.frombuffer(_bytes(w.get_state()["scores"]), "<f4")[:3], [0.1, 0.2, 0.3])
    assert w.error == ""
    # Method change recomputes for the current target.
    w.set_state({"method": "saliency"})
    assert src.calls[-1] == {"target_position": 7, "method": "saliency"}
    assert w.method == "saliency" and w.delta is None
    assert w.attribution.method == "saliency"


def test_attribution_recompute_error_keeps_previous_data():
    src = FakeSource(fail=RuntimeError("CUDA out of memory"))
    a = _attr(source=src.handle)
    w = AttributionWidget(a)
    before = bytes(w.get_state()["scores"]["view"])
    w.set_state({"target_position": 6})
    assert "CUDA out of memory" in w.error and "RuntimeError" in w.error
    assert w.attribution is a
    assert w.target_position == 5  # reverted: the view keeps showing the old target
    assert bytes(w.get_state()["scores"]["view"]) == before
    assert w.busy is False
    # Direct Python calls raise (after showing the error).
    with pytest.raises(RuntimeError):
        w.recompute(target_position=6)
    # The next successful recompute clears the error.
    src.fail = None
    w.set_state({"target_position": 6})
    assert w.error == "" and w.target_position == 6


def test_static_attribution_does_not_recompute():
    a = _attr()
    w = AttributionWidget(a)
    w.set_state({"target_position": 7})
    assert w.target_position == 5 and w.attribution is a
    assert "static" in w.error


def test_attribution_multiple_targets_and_next_token():
    scores = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 0]], np.float32)
    a = Attribution(tokens=TOKENS, scores=scores, target=["' Paris'", "' France'"], method="saliency",
                    prompt_len=5, target_positions=[5, 7], delta=None)
    w = AttributionWidget(a)
    s = w.get_state()
    assert s["scores"]["shape"] == [2, 8] and s["row_labels"] == ["' Paris'", "' France'"]
    assert s["target_positions"] == [5, 7] and s["target_position"] == 5
    nxt = Attribution(tokens=TOKENS, scores=np.ones(8), target="' and'", method="integrated_gradients",
                      delta=np.array([0.5, 0.25]))
    w2 = AttributionWidget(nxt)
    assert w2.target_position == 8 and w2.prompt_len == 8 and w2.delta == [0.5, 0.25]


def test_results_built_by_hand_take_tensors_and_check_at_construction():
    """Users build results from their own numbers: tensors that need grad, in bfloat16, or
    lists of them are taken; NaN, wrong shapes and non-string tokens are refused when the
    result is made, not later when it is shown."""
    torch = pytest.importorskip("torch")
    from interp_widgets.results import Attribution, NeuronActivations, NeuronExample

    toks = ["The", " cat", " sat"]
    a = Attribution(toks, torch.tensor([0.1, -0.2, 0.3], requires_grad=True) * 1, target="x", method="saliency")
    assert a.scores.dtype == np.float32 and a.show().get_state()["tokens"] == toks
    assert Attribution(toks, torch.ones(2, 3, dtype=torch.bfloat16), target=["x", "y"], method="m").matrix.shape == (2, 3)
    for bad, match in [(torch.tensor([0.1, float("nan"), 0.3]), "NaN or inf"), (torch.tensor(1.0), "got shape"),
                       (np.ones((1, 1, 3)), "got shape")]:
        with pytest.raises(ValueError, match=match):
            Attribution(toks, bad, target="x", method="m")
    with pytest.raises(ValueError, match="token 1 is int"):
        Attribution(["a", 3], [0.0, 1.0], target="x", method="m")
    n = NeuronActivations(0, 1, [toks], [torch.ones(3, requires_grad=True) * 2], [], np.zeros(4), np.linspace(-1, 1, 5),
                          0, 0)
    assert n.texts_activations[0].tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="must be 1-D"):
        NeuronActivations(0, 1, [toks], [np.ones((2, 3))], [], np.zeros(4), np.linspace(-1, 1, 5), 0, 0)
    with pytest.raises(ValueError, match="max_pos 5 is outside"):
        NeuronExample(toks, np.ones(3), 5, 1.0, 0, 0)


def test_heatmap_row_mode_and_selected_row():
    v = np.random.default_rng(0).random((4, 5))
    w = TokenHeatmap(list("abcde"), v, row_labels=list("wxyz"), row_mode="one", selected_row=-1)
    s = w.get_state()
    assert s["row_mode"] == "one" and s["selected_row"] == 3
    with pytest.raises(ValueError, match="selected_row 4 is out of range: there are 4 rows"):
        w.selected_row = 4
    with pytest.raises(traitlets.TraitError):
        TokenHeatmap(list("abcde"), v, row_mode="some")
    assert TokenHeatmap(list("abcde"), v, row_scale="row").get_state()["row_scale"] == "row"
    w.update(values=v[:2])  # fewer rows: the picked row stays one of them
    assert w.selected_row == 0 and w.values.shape[0] == 2
    with pytest.raises(traitlets.TraitError):
        TokenHeatmap(list("abcde"), v, row_scale="each")
