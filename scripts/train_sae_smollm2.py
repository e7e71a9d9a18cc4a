"""Train the small SAE that ships with the package (``iw.load_sae()``): TopK, 1,024 features,
k = 24, on SmolLM2-135M-Instruct's residual stream after layer 8, over the docstrings of
Python's standard library. Writes SAELens's format, in float16, to
``interp_widgets/data/sae_smollm2_l8/`` (about 2.4 MB).

    .venv/bin/python scripts/train_sae_smollm2.py [--out FOLDER]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import interp_widgets as iw  # noqa: E402

HOOK = "blocks.8.hook_resid_post"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "interp_widgets" / "data" / "sae_smollm2_l8")
    args = ap.parse_args()
    t0 = time.time()
    model = iw.load_model()
    texts = iw.stdlib_docstrings()[:1500]
    sae, report = iw.train_sae(model, HOOK, texts, n_features=1024, k=24, steps=1500, batch_size=512,
                               max_tokens=60_000, seed=0)
    print(report)
    sae.save(args.out, dtype="float16")
    (args.out / "report.txt").write_text(f"{report!r}\ntrained in {time.time() - t0:.0f} s by scripts/train_sae_smollm2.py\n")
    print(f"wrote {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
