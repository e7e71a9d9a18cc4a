"""The wheel must carry every view's bundle: pyproject's build hook lists one target per
js/src/views/*.ts (the JS build makes one bundle per file; a view missing from the list
would be skipped by `skip-if-exists` on a rebuild and ship without its JavaScript)."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib.loads(path.read_text())


def test_build_hook_lists_every_view_bundle():
    cfg = _toml(ROOT / "pyproject.toml")["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    views = sorted(p.stem for p in (ROOT / "js" / "src" / "views").glob("*.ts"))
    want = [f"interp_widgets/static/{v}.js" for v in views]
    assert sorted(cfg["ensured-targets"]) == want
    assert sorted(cfg["skip-if-exists"]) == want


def test_every_view_class_names_a_bundle_that_exists():
    src = (ROOT / "interp_widgets" / "views").glob("*.py")
    used = {m for p in src for m in re.findall(r'bundle\("([a-z_]+)"\)', p.read_text())}
    views = {p.stem for p in (ROOT / "js" / "src" / "views").glob("*.ts")}
    assert used and used <= views, used - views


def test_shipped_model_files_are_small():
    """Model files that ship inside the package (the toy transformer, the default SAE) stay a
    few MB at most."""
    pkg = ROOT / "interp_widgets"
    for folder in (pkg / "toy" / "attn_only_2l", pkg / "data" / "sae_smollm2_l8"):
        files = [f for f in folder.rglob("*") if f.is_file()]
        assert files, f"{folder} is empty"
        assert sum(f.stat().st_size for f in files) < 5e6, folder
