"""Time to load the embedded default model (SmolLM2-135M-Instruct): the first load converts
the GGUF once to a safetensors cache; later loads read the cache. Target: < 5 s.

    python benchmarks/load.py [--fresh]     # --fresh: convert again into a temp cache
"""

import os
import subprocess
import sys
import tempfile
import time


def timed_load(env) -> float:
    code = ("import time; t=time.time(); import interp_widgets as iw; m=iw.load_model(); "
            "print(time.time()-t)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    env = dict(os.environ)
    if "--fresh" in sys.argv:
        env["INTERP_WIDGETS_CACHE"] = tempfile.mkdtemp()
        print(f"first load (GGUF -> safetensors conversion): {timed_load(env):.1f} s")
    times = sorted(timed_load(env) for _ in range(3))
    print(f"cached load incl. imports, median of 3: {times[1]:.2f} s  (target < 5 s: {times[1] / 5:.2f}x of it)")


if __name__ == "__main__":
    main()
