"""Structure of the workshop notebooks (notebooks/NN_*.ipynb), checked without running them.

Every notebook: its first code cell is the dev-loop setup cell; one markdown cell states the
learning goals; no outputs or execution counts are committed; no code cell fetches a model
from the hub. Exercises are code cells starting with ``# Exercise``; each is followed by a
solution cell that is hidden by default (``jupyter.source_hidden`` and the ``solution`` tag)
and starts with ``# Solution (click to expand)``. The workshop notebooks (01 onwards) have two
or three exercises each. (The CI run of every notebook is tests/integration/test_notebooks.py.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
WORKSHOP = [p for p in NOTEBOOKS if int(p.name[:2]) >= 1]

SETUP_LINES = ("%load_ext autoreload", "%autoreload 2", "%env ANYWIDGET_HMR=1")
SOLUTION_HEADER = "# Solution (click to expand)"
# A hub id is "owner/name" or a bare name; load_model() with no argument is the embedded model.
HUB_CALLS = [
    (re.compile(r"\bfrom_pretrained\s*\("), "from_pretrained("),
    (re.compile(r"\bload_model\s*\(\s*(?:name_or_path\s*=\s*)?[\"']"), "load_model('<hub id>')"),
    (re.compile(r"\b(?:hf_hub_download|snapshot_download)\s*\("), "a hub download"),
    (re.compile(r"\bpipeline\s*\(\s*[\"']"), "transformers.pipeline("),
]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _is_exercise(cell: dict) -> bool:
    return cell["cell_type"] == "code" and _src(cell).lstrip().startswith("# Exercise")


def _is_solution(cell: dict) -> bool:
    return cell["cell_type"] == "code" and (
        "solution" in cell.get("metadata", {}).get("tags", []) or _src(cell).lstrip().startswith(SOLUTION_HEADER))


def _solution_problems(cell: dict) -> list[str]:
    meta = cell.get("metadata", {})
    out = []
    if cell["cell_type"] != "code":
        out.append("is not a code cell")
    if meta.get("jupyter", {}).get("source_hidden") is not True:
        out.append('lacks metadata {"jupyter": {"source_hidden": true}}')
    if "solution" not in meta.get("tags", []):
        out.append('lacks the "solution" tag')
    if not _src(cell).startswith(SOLUTION_HEADER):
        out.append(f"does not start with {SOLUTION_HEADER!r}")
    elif not _src(cell)[len(SOLUTION_HEADER):].strip():
        out.append("has no code after its header")
    return out


def test_notebooks_found() -> None:
    assert len(WORKSHOP) >= 3, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_first_code_cell_is_the_setup_cell(path: Path) -> None:
    cells = _cells(path)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell"
    first = _src(code[0])
    missing = [line for line in SETUP_LINES if line not in first.splitlines()]
    assert not missing, f"{path.name}: the first code cell lacks {missing}"
    assert "import interp_widgets as iw" in first, f"{path.name}: the setup cell should import interp_widgets as iw"
    # Only markdown (title, goals) may come before it.
    before = cells[: cells.index(code[0])]
    assert all(c["cell_type"] == "markdown" for c in before)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_learning_goals(path: Path) -> None:
    goals = [c for c in _cells(path) if c["cell_type"] == "markdown" and re.search(r"\bgoals\b", _src(c), re.I)]
    assert goals, f"{path.name} has no markdown cell stating its (learning) goals"


@pytest.mark.parametrize("path", WORKSHOP, ids=[p.stem for p in WORKSHOP])
def test_workshop_goals_and_time(path: Path) -> None:
    text = "\n".join(_src(c) for c in _cells(path) if c["cell_type"] == "markdown")
    m = re.search(r"learning goals[^\n]*\n((?:[ \t]*[-*] [^\n]+\n?)+)", text, re.I)
    assert m, f"{path.name}: no 'Learning goals' list"
    bullets = [b for b in m.group(1).splitlines() if b.strip().startswith(("-", "*"))]
    assert 3 <= len(bullets) <= 5, f"{path.name}: {len(bullets)} learning goals (want 3 to 5)"
    assert re.search(r"\btime\b.*\bminutes\b", text, re.I), f"{path.name}: no time estimate"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exercises_have_hidden_solutions(path: Path) -> None:
    cells = _cells(path)
    for i, cell in enumerate(cells):
        if _is_exercise(cell):
            assert i + 1 < len(cells), f"{path.name}: exercise in cell {i} is the last cell"
            problems = _solution_problems(cells[i + 1])
            assert not problems, f"{path.name}: the cell after the exercise in cell {i} " + "; ".join(problems)
        if _is_solution(cell):
            assert i > 0 and _is_exercise(cells[i - 1]), f"{path.name}: solution cell {i} does not follow an exercise"


@pytest.mark.parametrize("path", WORKSHOP, ids=[p.stem for p in WORKSHOP])
def test_workshop_has_two_or_three_exercises(path: Path) -> None:
    n = sum(_is_exercise(c) for c in _cells(path))
    assert 2 <= n <= 3, f"{path.name} has {n} exercises (want 2 or 3)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_outputs_committed(path: Path) -> None:
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name}: cell {i} has outputs committed (clear them)"
            assert cell.get("execution_count") is None, f"{path.name}: cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_hub_models(path: Path) -> None:
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code":
            continue
        for pattern, what in HUB_CALLS:
            assert not pattern.search(_src(cell)), (
                f"{path.name}: cell {i} calls {what}; notebooks use only the embedded models "
                "(iw.load_model() and iw.toy) so they run offline")


def test_checks_can_fail(tmp_path: Path) -> None:
    """The helpers reject what they should: a visible solution, an output, a hub id."""
    ex = {"cell_type": "code", "source": "# Exercise 1\nx = ...", "metadata": {}, "outputs": []}
    visible = {"cell_type": "code", "source": SOLUTION_HEADER + "\nx = 1", "metadata": {"tags": ["solution"]}}
    assert _is_exercise(ex)
    assert 'lacks metadata {"jupyter": {"source_hidden": true}}' in _solution_problems(visible)
    hidden = dict(visible, metadata={"jupyter": {"source_hidden": True}, "tags": ["solution"]})
    assert _solution_problems(hidden) == []
    assert _solution_problems(dict(hidden, source=SOLUTION_HEADER + "\n")) == ["has no code after its header"]
    hub = ['m = iw.load_model("gpt2")', "AutoModel.from_pretrained('x')", "iw.load_model(name_or_path='a/b')"]
    for src in hub:
        assert any(p.search(src) for p, _ in HUB_CALLS), src
    for src in ["model = iw.load_model()", "iw.load_model( )", "m = iw.load_model(device='cpu')"]:
        assert not any(p.search(src) for p, _ in HUB_CALLS), src
