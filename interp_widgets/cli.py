"""Command line: ``interp-widgets demo`` writes a self-contained HTML page of attribution
views on the embedded default model, and says how to open the tour notebook."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEMO_PROMPTS = [
    "The Eiffel Tower is located in the city of",
    "When Mary and John went to the store, John gave a drink to",
    "def fibonacci(n):\n    if n < 2:\n        return",
]


def demo(out: Path, prompts: list[str], method: str) -> Path:
    import interp_widgets as iw
    from interp_widgets.export import to_html

    t0 = time.time()
    model = iw.load_model()
    print(f"loaded {model.name} on {model.device} in {time.time() - t0:.1f} s")
    views = []
    for prompt in prompts:
        t = time.time()
        a = iw.attribute(model, prompt, method=method)
        cont = "".join(a.tokens[a.prompt_len:])
        extra = f", completeness error {a.delta[0]:+.3f}, {a.n_evals} evaluations" if a.delta is not None else ""
        print(f"  {prompt!r} -> {cont!r}: explained {a.target} with {method} in {time.time() - t:.1f} s{extra}")
        views.append(a.show())
    path = to_html(views, out, title="interp-widgets demo: attribution on SmolLM2-135M-Instruct")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interp-widgets", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="write an HTML page of attribution views on the default model")
    d.add_argument("--out", type=Path, default=Path("interp-widgets-demo.html"), help="output HTML file")
    d.add_argument("--method", default="integrated_gradients",
                   choices=["integrated_gradients", "input_x_gradient", "saliency", "occlusion"])
    d.add_argument("prompts", nargs="*", help="prompts (default: three examples)")
    args = parser.parse_args(argv)
    if args.cmd == "demo":
        path = demo(args.out, args.prompts or DEMO_PROMPTS, args.method)
        print(f"\nwrote {path.resolve()}  (self-contained: open it in any browser, no network needed)")
        nb = Path(__file__).resolve().parent.parent / "notebooks" / "00_tour.ipynb"
        where = nb if nb.exists() else "notebooks/00_tour.ipynb"
        print(f"the live, clickable version: jupyter lab {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
