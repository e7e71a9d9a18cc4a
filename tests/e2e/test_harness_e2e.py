"""Self-test of the e2e harness, independent of interp_widgets.

An inline anywidget (``_esm`` as a string) renders a button; clicking it changes a synced
trait that a second cell prints. Proves: server, both front ends, kernel wait, Shift+Enter,
widget rendering, JS -> Python trait sync and reading outputs back.
"""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.e2e

STANDIN = '''
import anywidget, traitlets, sys

class Counter(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const b = document.createElement("button");
      b.className = "standin-counter";
      const show = () => { b.textContent = `count ${model.get("value")}`;
                           b.dataset.value = String(model.get("value")); };
      b.addEventListener("click", () => { model.set("value", model.get("value") + 1);
                                          model.save_changes(); });
      model.on("change:value", show);
      show();
      el.appendChild(b);
      return () => model.off("change:value", show);
    }
    export default { render };
    """
    value = traitlets.Int(0).tag(sync=True)

print("kernel python:", sys.executable)
w = Counter(value=41)
w
'''


@pytest.mark.parametrize("ui", ["lab", "nb7"])
def test_standin_widget_roundtrip(open_notebook, ui: str) -> None:
    nb = open_notebook(ui, [STANDIN, "print('value =', w.value)"])
    out = nb.run_cell(0, timeout_s=60)
    # The kernel runs on the interpreter running the tests (the venv's).
    assert f"kernel python: {sys.executable}" in out, out
    button = nb.cell(0).locator("button.standin-counter")
    button.wait_for(state="visible", timeout=30_000)
    assert button.get_attribute("data-value") == "41"
    button.click()
    nb.page.wait_for_function(
        "() => document.querySelector('button.standin-counter')?.dataset.value === '42'"
    )
    out = nb.run_cell(1, timeout_s=60)
    assert "value = 42" in out, out


def test_cell_error_is_reported(open_notebook) -> None:
    nb = open_notebook("lab", ["print('before'); 1/0", "print('after')"])
    # run_cell raises the harness's CellError (an AssertionError) holding the traceback.
    with pytest.raises(AssertionError, match="ZeroDivisionError") as info:
        nb.run_cell(0, timeout_s=60)
    assert type(info.value).__name__ == "CellError"
    assert nb.output_text(0).startswith("before")
    assert nb.run_cell(0, timeout_s=60, check=False).startswith("before")
    assert nb.run_cell(1, timeout_s=60) == "after"
