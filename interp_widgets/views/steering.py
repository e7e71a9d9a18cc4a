"""SteeringPlayground: a prompt, a coefficient slider, and the baseline (c = 0) and steered
continuations generated side by side, streaming token by token, with a Stop button.

Generation runs in a background thread so that the kernel stays responsive (a Stop click,
a new slider value, other cells). The thread interleaves one baseline step and one steered
step (:class:`~interp_widgets.kernels.steering.Generation`, with a key/value cache) and
appends each new token to ``baseline_tokens`` / ``steered_tokens``; ``progress`` is tokens
done over tokens asked for; ``busy`` is true until it ends. Stop sets a flag that the thread
checks between tokens; starting a new generation stops the previous one first, so there is
never more than one thread. The steering hook is attached for one forward pass at a time and
only adds the vector in the generating thread: nothing is left on the model between steps,
after Stop, or after an error.

The browser asks for work with messages: ``{"type": "generate", ...settings}`` (the Generate
button, a slider release, Enter in the prompt) and ``{"type": "stop"}``. Settings it sends
are checked here: a coefficient that is NaN, an empty prompt or a bad max-tokens value sets
``error`` (shown in the view) and starts nothing.

JavaScript: ``js/src/views/steering.ts`` (same trait names).
"""

from __future__ import annotations

import math
import threading
from typing import Any, Optional, Sequence

import numpy as np
import traitlets

from ._base import BaseWidget, bundle

__all__ = ["SteeringPlayground"]

MAX_TOKENS_LIMIT = 512


def _finite(value: Any, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"the {what} must be a finite number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"the {what} must be a finite number, got {value!r}")
    return x


def _count(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a whole number from {lo} to {hi}, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number from {lo} to {hi}, got {value!r}") from None
    if not (math.isfinite(x) and x == int(x) and lo <= x <= hi):
        raise ValueError(f"{what} must be a whole number from {lo} to {hi}, got {value!r}")
    return int(x)


class SteeringPlayground(BaseWidget):
    """Generate with and without a steering vector, side by side.

    Args:
        model: an ``iw.Model`` (a causal LM).
        vector: a :class:`~interp_widgets.kernels.steering.SteeringVector` (e.g.
            ``iw.steering_vector(...)``, ``SteeringVector.from_sae(sae, i)``,
            ``SteeringVector.from_probe(probe)``) or an array ``[d_model]`` with ``layer``.
        layer: where to add it (``blocks.{layer}.hook_resid_post``); default: the vector's.
        prompt: the text to continue.
        coefficient: the steered column adds ``coefficient * vector`` (in units of the raw
            vector, whose length is shown as ``|v|``) at every position.
        coefficient_range: the slider's ends.
        max_tokens: tokens to generate per column (1 to 512).
        greedy: pick the most likely token; else sample at ``temperature`` with ``seed``
            (both columns use the same seed).

    ``run()`` generates (in the background with ``wait=False``); ``stop()`` stops it. The
    view's Generate/Stop buttons and slider do the same.

    >>> pg = iw.SteeringPlayground(model, v, prompt="I think that today is", coefficient=6)  # doctest: +SKIP
    >>> baseline, steered = pg.run()                                                          # doctest: +SKIP
    """

    _esm = bundle("steering")

    prompt = traitlets.Unicode("").tag(sync=True)
    coefficient = traitlets.Float(4.0).tag(sync=True)
    coefficient_min = traitlets.Float(-10.0).tag(sync=True)
    coefficient_max = traitlets.Float(10.0).tag(sync=True)
    greedy = traitlets.Bool(True).tag(sync=True)
    temperature = traitlets.Float(1.0).tag(sync=True)
    max_tokens = traitlets.Int(20).tag(sync=True)
    seed = traitlets.Int(0).tag(sync=True)
    # What the shown columns were generated with.
    baseline_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    steered_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    generated_prompt = traitlets.Unicode("").tag(sync=True)
    generated_coefficient = traitlets.Float(0.0).tag(sync=True)
    generation = traitlets.Int(0).tag(sync=True)  # counts started generations
    stopped = traitlets.Bool(False).tag(sync=True)  # the last generation was stopped early
    # Facts about the vector.
    model_name = traitlets.Unicode("").tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    n_layers = traitlets.Int(0).tag(sync=True)
    vector_norm = traitlets.Float(0.0).tag(sync=True)
    source = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(True).tag(sync=True)

    def __init__(self, model: Any, vector: Any, layer: Optional[int] = None, *, prompt: str = "",
                 coefficient: float = 4.0, coefficient_range: Sequence[float] = (-10.0, 10.0),
                 max_tokens: int = 20, greedy: bool = True, temperature: float = 1.0, seed: int = 0,
                 theme: str = "auto") -> None:
        from ..kernels.steering import SteeringVector, _steer_hook

        if not getattr(model, "is_causal", False):
            raise ValueError(f"SteeringPlayground needs a causal language model, got "
                             f"{getattr(model, 'name', type(model).__name__)!r}")
        source = ""
        if isinstance(vector, SteeringVector):
            source = vector.source
            layer = vector.layer if layer is None else layer
            vec = np.asarray(vector.vector, dtype=np.float32)
        else:
            if hasattr(vector, "detach"):
                vector = vector.detach().float().cpu().numpy()
            vec = np.asarray(vector, dtype=np.float32)
        if layer is None:
            raise ValueError("give the layer to steer at (or a SteeringVector, which knows it)")
        _steer_hook(model, vec, layer, 1.0)  # shape, finiteness, layer range -> ValueError
        lo, hi = (_finite(x, "coefficient range") for x in coefficient_range)
        if not lo < hi:
            raise ValueError(f"coefficient_range must be (low, high) with low < high, got {tuple(coefficient_range)}")
        c = _finite(coefficient, "coefficient")
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        n = _count(max_tokens, "max_tokens", 1, MAX_TOKENS_LIMIT)
        t = _finite(temperature, "temperature")
        if t <= 0 and not greedy:
            raise ValueError(f"the temperature must be > 0 when sampling (greedy=False), got {temperature!r}")
        super().__init__(theme=theme)
        self.model = model
        self.vector = vec
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._failure: Optional[BaseException] = None
        with self.hold_sync():
            self.model_name = str(getattr(model, "name", ""))
            self.n_layers = int(model.n_layers)
            self.layer = int(layer) % int(model.n_layers)
            self.vector_norm = float(np.linalg.norm(vec))
            self.source = source
            self.coefficient_min, self.coefficient_max = lo, hi
            self.coefficient = c
            self.prompt = prompt
            self.max_tokens = n
            self.greedy = bool(greedy)
            self.temperature = t if t > 0 else 1.0
            self.seed = _count(seed, "seed", 0, 2**63 - 1)
        self.on_msg(self._on_msg)

    # -- texts -----------------------------------------------------------------------

    @property
    def baseline_text(self) -> str:
        return "".join(self.baseline_tokens)

    @property
    def steered_text(self) -> str:
        return "".join(self.steered_tokens)

    @property
    def divergence(self) -> Optional[int]:
        """Index of the first steered token that differs from the baseline (None if none)."""
        b, s = self.baseline_tokens, self.steered_tokens
        for i, tok in enumerate(s):
            if i >= len(b) or b[i] != tok:
                return i
        return len(s) if len(b) > len(s) and not self.busy else None

    # -- running ---------------------------------------------------------------------

    def _settings(self, **override: Any) -> dict:
        prompt = override.get("prompt", self.prompt)
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("the prompt is empty: type some text to continue")
        c = _finite(override.get("coefficient", self.coefficient), "coefficient")
        n = _count(override.get("max_tokens", self.max_tokens), "max tokens", 1, MAX_TOKENS_LIMIT)
        greedy = override.get("greedy", self.greedy)
        if not isinstance(greedy, bool):
            raise ValueError(f"greedy must be true or false, got {greedy!r}")
        t = _finite(override.get("temperature", self.temperature), "temperature")
        if not greedy and t <= 0:
            raise ValueError(f"the temperature must be > 0 when sampling, got {t}")
        seed = _count(override.get("seed", self.seed), "seed", 0, 2**63 - 1)
        self.model.to_tokens(prompt)  # too long for the context -> ValueError now, not in the thread
        return dict(prompt=prompt, coefficient=c, max_tokens=n, greedy=greedy, temperature=t, seed=seed)

    def to_html(self, path, title: Optional[str] = None):
        """Write a self-contained HTML file of the playground. If nothing was generated yet
        (and a prompt is set), generates both columns first, so the file shows them."""
        if not self.busy and not self.baseline_tokens and not self.steered_tokens and self.prompt.strip():
            self.run(wait=True)
        return super().to_html(path, title=title)

    def run(self, wait: bool = True, **settings: Any) -> tuple[str, str]:
        """Generate both columns with the current settings (or the ones given: ``prompt``,
        ``coefficient``, ``max_tokens``, ``greedy``, ``temperature``, ``seed``, which are
        kept). Stops a generation in flight first.

        With ``wait=True`` (default) blocks until done and returns ``(baseline, steered)``
        texts; an error raises (and shows in the view). While it blocks, the kernel handles
        no message from the browser, so the view's Stop button and slider act only after it
        returns (interrupt the kernel to stop it). With ``wait=False`` returns at once (texts
        so far, usually empty) while the view streams and Stop works.
        """
        unknown = set(settings) - {"prompt", "coefficient", "max_tokens", "greedy", "temperature", "seed"}
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {sorted(unknown)}")
        self.stop()
        try:
            s = self._settings(**settings)
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
            raise
        self._start(s)
        if wait:
            self.wait()
            if self._failure is not None:
                raise self._failure
        return self.baseline_text, self.steered_text

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the generation in flight ends; True if none is left running."""
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
            return not t.is_alive()
        return True

    def stop(self) -> None:
        """Stop the generation in flight (between two tokens) and wait for its thread to end
        (unless called from that thread). The tokens so far stay shown."""
        self._stop.set()
        self.wait()

    def _start(self, s: dict) -> None:
        self._stop = threading.Event()
        self._failure = None
        with self.hold_sync():
            self.prompt = s["prompt"]
            self.coefficient = s["coefficient"]
            self.max_tokens = s["max_tokens"]
            self.greedy = s["greedy"]
            self.temperature = s["temperature"]
            self.seed = s["seed"]
            self.error = ""
            self.stopped = False
            self.baseline_tokens = []
            self.steered_tokens = []
            self.generated_prompt = s["prompt"]
            self.generated_coefficient = s["coefficient"]
            self.progress = 0.0
            self.busy = True
            self.generation = self.generation + 1
        self._thread = threading.Thread(target=self._work, args=(s, self._stop), daemon=True,
                                        name="iw-steering")
        self._thread.start()

    def _work(self, s: dict, stop: threading.Event) -> None:
        from ..kernels.steering import Generation

        gens = []
        try:
            kw = dict(temperature=0.0 if s["greedy"] else s["temperature"], seed=s["seed"], only_thread=True)
            base = Generation(self.model, s["prompt"], **kw)
            steer = Generation(self.model, s["prompt"], vector=self.vector, layer=self.layer,
                               coefficient=s["coefficient"], **kw)
            gens = [base, steer]
            n = s["max_tokens"]
            for i in range(n):
                for g, name in ((base, "baseline_tokens"), (steer, "steered_tokens")):
                    if stop.is_set():
                        break
                    if len(g.tokens) < n and not g.done:
                        tok = g.step()
                        if tok is not None:
                            setattr(self, name, getattr(self, name) + [tok])
                if stop.is_set():
                    break
                done = sum(len(g.tokens) if not g.done else n for g in gens)
                self.progress = min(1.0, done / (2 * n))
                if base.done and steer.done:
                    break
            if stop.is_set():
                self.stopped = True
        except Exception as e:  # shown in the view; run(wait=True) raises it
            self._failure = e
            self.error = f"{type(e).__name__}: {e}"
        finally:
            for g in gens:
                g.close()
            with self.hold_sync():
                self.progress = 0.0
                self.busy = False

    def close(self) -> None:
        """Stop a generation in flight, then close the widget."""
        if getattr(self, "_stop", None) is not None:  # None when __init__ raised
            self.stop()  # sets the flag and waits for the thread (returns at once inside it)
        super().close()

    # -- messages from the browser ---------------------------------------------------

    def _on_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "stop":
            self.stop()
        elif kind == "generate":
            settings = {k: content[k] for k in ("prompt", "coefficient", "max_tokens", "greedy",
                                                 "temperature", "seed") if k in content}
            try:
                self.run(wait=False, **settings)
            except Exception:
                pass  # run() has put the message in the `error` trait, shown in the view
