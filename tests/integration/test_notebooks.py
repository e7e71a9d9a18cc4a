"""Execute every notebook under notebooks/ top to bottom; any cell error fails the test.

Runs with nbclient on a kernel pinned to the interpreter running the tests (the venv's
python), with the checkout first on PYTHONPATH so an editable install is not required. Each
notebook runs in a temporary copy of the notebooks/ folder, so the files it writes (HTML
exports, ...) never land in the repository. The executed copy is kept under
test-results/notebooks/ for inspection.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
OUT_DIR = REPO_ROOT / "test-results" / "notebooks"
CELL_TIMEOUT_S = 600

NOTEBOOKS = sorted(
    p for p in NOTEBOOK_DIR.glob("*.ipynb") if not p.name.startswith(".")
)


def _kernel_manager(spec_root: Path):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = spec_root / "iw-test-python"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "interp-widgets tests",
                "language": "python",
            }
        )
    )
    ksm = KernelSpecManager(kernel_dirs=[str(spec_root)])
    return KernelManager(kernel_name="iw-test-python", kernel_spec_manager=ksm)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
    )
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    # A dev-loop cell may set ANYWIDGET_HMR=1; HMR needs a watcher we don't run here.
    monkeypatch.delenv("ANYWIDGET_HMR", raising=False)

    workdir = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        km=_kernel_manager(tmp_path / "kernels"),
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        record_timing=True,
        store_widget_state=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.execute()
    finally:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, OUT_DIR / path.name)

    # allow_errors=False already raised on an error output; also refuse tracebacks that
    # were only printed to stderr (e.g. from a widget callback or a caught-and-logged error).
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                pytest.fail(f"{path.name} cell {i}: {out.get('ename')}: {out.get('evalue')}")
            if out.get("name") == "stderr" and "Traceback (most recent call last)" in out.get(
                "text", ""
            ):
                pytest.fail(f"{path.name} cell {i} printed a traceback:\n{out['text']}")
