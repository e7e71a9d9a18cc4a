"""Explorer: one prompt, the model's continuation, and linked panels.

``iw.Explorer(model, prompt)`` is a composite widget (an ipywidgets ``VBox``):

- a bar (:class:`ExplorerBar`, ``js/src/views/explorer.ts``): the prompt box, the number of
  new tokens, a Run button, progress, and the token strip of the full text (prompt + the
  model's greedy continuation) where the reader selects a token and picks the attribution
  target;
- tabs of panels, each an existing view on the full text: Attribution
  (:class:`AttributionWidget`), Attention (:class:`AttentionView`), Logit lens
  (:class:`LogitLensView`) and Top neurons (:class:`TopNeuronsView`, which opens a
  :class:`NeuronPanel` for a neuron on demand).

One selection: ``explorer.selected_token`` is linked both ways (``traitlets.link``) to the
bar's and every computed panel's ``selected_token``. One target:
``explorer.target_position`` (an index into the tokens, in the continuation) is the token
the attribution explains; choosing it in the bar or by clicking a continuation token in the
attribution panel recomputes the attribution.

Panels are lazy: a panel computes when its tab is first shown; a new prompt marks every
panel stale and only the visible one recomputes, the others when they are shown. While a
panel computes, its tab shows a progress bar; an error is shown in the panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import ipywidgets
import traitlets

from ..kernels.attention import attention
from ..kernels.attribution import attribute
from ..kernels.lens import logit_lens
from ..kernels.neurons import logit_effects, neuron, top_neurons
from ..kernels.steering import generate
from ..model import Model
from ._base import BaseWidget, bundle
from .top_neurons import TopNeuronsView

__all__ = ["Explorer", "ExplorerBar", "PANELS"]

#: The panels, in tab order: name -> tab title.
PANELS = {"attribution": "Attribution", "attention": "Attention", "logit_lens": "Logit lens",
          "top_neurons": "Top neurons"}

MAX_NEW_TOKENS = 256


class ExplorerBar(BaseWidget):
    """The Explorer's prompt box, Run button, progress and token strip (front end:
    ``js/src/views/explorer.ts``). ``run_request`` is a counter the browser increments to ask
    for a run with the ``prompt`` / ``max_new_tokens`` it set."""

    _esm = bundle("explorer")

    prompt = traitlets.Unicode("").tag(sync=True)
    max_new_tokens = traitlets.Int(8).tag(sync=True)
    run_request = traitlets.Int(0).tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    prompt_len = traitlets.Int(0).tag(sync=True)
    selected_token = traitlets.Int(-1).tag(sync=True)
    target_position = traitlets.Int(-1).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(True).tag(sync=True)


@dataclass
class _Panel:
    name: str
    box: ipywidgets.VBox
    progress: ipywidgets.FloatProgress
    status: ipywidgets.Label
    error: ipywidgets.Label
    view: Any = None
    stale: bool = True
    busy: bool = False
    n_computed: int = 0  # times the panel was (re)computed
    links: list = field(default_factory=list)
    extra: list = field(default_factory=list)  # widgets shown below the view (neuron panel)


class Explorer(ipywidgets.VBox):
    """A prompt, the model's continuation and linked panels: select a token once, every
    panel follows.

    >>> import interp_widgets as iw
    >>> model = iw.load_model()                                              # doctest: +SKIP
    >>> ex = iw.Explorer(model, "The Eiffel Tower is in the city of", max_new_tokens=3)  # doctest: +SKIP
    >>> ex.tokens[ex.prompt_len:]                                            # doctest: +SKIP
    [' Paris', '.', ...]
    >>> ex.show_panel("logit_lens"); ex.selected_token = 5                   # doctest: +SKIP
    >>> ex.panels["logit_lens"].selected_token                               # doctest: +SKIP
    5

    Args:
        model: a causal :class:`~interp_widgets.Model`.
        prompt: the text to start from; when given, the continuation and the first panel
            are computed at once (else type a prompt and press Run).
        max_new_tokens: length of the greedy continuation (1..256).
        panel: the tab shown first (``"attribution"``, ``"attention"``, ``"logit_lens"``,
            ``"top_neurons"``).
        method: the attribution method (see ``iw.attribute``). Default: integrated
            gradients, checked for completeness (about 100 model evaluations, ~4 s for the
            Eiffel prompt on SmolLM2 on 2 CPU cores, with a progress bar);
            ``"input_x_gradient"`` answers in one backward pass. The panel's method selector
            switches too.
        k: how many neurons the Top neurons panel lists.
        theme: ``"auto"``, ``"light"`` or ``"dark"`` for every panel.

    Traits: ``selected_token`` (index into :attr:`tokens`, -1 none), ``target_position``
    (the attribution's target: a continuation token's index). Properties: :attr:`panels`
    (name -> the panel's view, or ``None`` before it is computed), :attr:`tokens`,
    :attr:`prompt_len`, :attr:`text`.
    """

    selected_token = traitlets.Int(-1)
    target_position = traitlets.Int(-1)

    def __init__(self, model: Model, prompt: str = "", max_new_tokens: int = 8, *,
                 panel: str = "attribution", method: str = "integrated_gradients", k: int = 12,
                 theme: str = "auto") -> None:
        if not isinstance(model, Model):
            raise TypeError(f"Explorer needs an interp_widgets.Model (see iw.load_model), got {type(model).__name__}")
        if not model.is_causal:
            raise ValueError(f"{model.name} is an encoder: the Explorer needs a causal model that generates text")
        if panel not in PANELS:
            raise ValueError(f"unknown panel {panel!r}; choose one of {', '.join(PANELS)}")
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        self._check_max_new(max_new_tokens)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        self.model, self.method, self.k, self.theme = model, method, k, theme
        self._tokens: list[str] = []
        self._prompt_len = 0
        self._text = ""
        self._run_id = 0
        self._syncing = False
        self.bar = ExplorerBar(prompt=prompt, max_new_tokens=int(max_new_tokens), theme=theme)
        self._panels: dict[str, _Panel] = {}
        for name in PANELS:
            progress = ipywidgets.FloatProgress(min=0.0, max=1.0, value=0.0,
                                                layout=ipywidgets.Layout(width="240px"))
            status = ipywidgets.Label("")
            error = ipywidgets.Label("", style={"text_color": "#d1242f"})
            error.add_class("iw-explorer-error")
            status.add_class("iw-explorer-status")
            box = ipywidgets.VBox([])
            box.add_class(f"iw-explorer-panel-{name}")
            self._panels[name] = _Panel(name, box, progress, status, error)
            self._layout(self._panels[name])
        self.tabs = ipywidgets.Tab(children=[p.box for p in self._panels.values()],
                                   titles=list(PANELS.values()),
                                   selected_index=list(PANELS).index(panel))
        super().__init__([self.bar, self.tabs])
        self.add_class("iw-explorer")
        self._bar_links = [traitlets.link((self, "selected_token"), (self.bar, "selected_token")),
                           traitlets.link((self, "target_position"), (self.bar, "target_position"))]
        self.tabs.observe(self._on_tab, names="selected_index")
        self.bar.observe(self._on_run_request, names="run_request")
        self.observe(self._on_target, names="target_position")
        if prompt:
            self.run()

    # -- public state ----------------------------------------------------------------------

    @property
    def tokens(self) -> list[str]:
        """The tokens of the full text (prompt + continuation) that every panel analyses."""
        return list(self._tokens)

    @property
    def prompt_len(self) -> int:
        """How many of :attr:`tokens` are the prompt's; the rest is the continuation."""
        return self._prompt_len

    @property
    def text(self) -> str:
        """The full text: the prompt followed by the model's continuation."""
        return self._text

    @property
    def prompt(self) -> str:
        return self.bar.prompt

    @property
    def panels(self) -> dict[str, Any]:
        """Name -> the panel's view (``None`` until the panel has been computed)."""
        return {name: p.view for name, p in self._panels.items()}

    @property
    def visible_panel(self) -> str:
        return list(PANELS)[self.tabs.selected_index or 0]

    def panel_state(self, name: str) -> dict:
        """``{"stale", "busy", "n_computed", "error"}`` of one panel (for tests and users)."""
        p = self._panel(name)
        return {"stale": p.stale, "busy": p.busy, "n_computed": p.n_computed, "error": p.error.value}

    def show_panel(self, name: str) -> None:
        """Switch to a panel's tab (it computes if it is stale), as clicking the tab does."""
        self._panel(name)
        self.tabs.selected_index = list(PANELS).index(name)

    @traitlets.validate("selected_token")
    def _valid_selected(self, proposal: dict) -> int:
        i = int(proposal["value"])
        if not -1 <= i < len(self._tokens):
            raise ValueError(f"selected_token {i} is out of range: the text has {len(self._tokens)} tokens "
                             "(-1 for none)")
        return i

    @traitlets.validate("target_position")
    def _valid_target(self, proposal: dict) -> int:
        i = int(proposal["value"])
        if i == -1 and self._prompt_len >= len(self._tokens):  # no text, or no continuation
            return i
        if not self._prompt_len <= i < len(self._tokens):
            raise ValueError(f"target_position {i} is not a continuation token: choose one of "
                             f"{self._prompt_len}..{len(self._tokens) - 1}")
        return i

    def to_html(self, path, title: Optional[str] = None):
        """Write one self-contained HTML page: the bar, then every panel computed so far
        (static: no Python, so the panels no longer follow one selection). Returns the path."""
        from ..export import to_html

        widgets, captions = [self.bar], [("Explorer", self._text or "(no text yet)")]
        for name, p in self._panels.items():
            for w in ([p.view] if p.view is not None else []) + list(p.extra):
                widgets.append(w)
                captions.append((PANELS[name], ""))
        return to_html(widgets, path, title=title or "Explorer", captions=captions)

    # -- running -----------------------------------------------------------------------------

    @staticmethod
    def _check_max_new(n: Any) -> int:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_NEW_TOKENS:
            raise ValueError(f"max_new_tokens must be an integer in 1..{MAX_NEW_TOKENS}, got {n!r}")
        return n

    def run(self, prompt: Optional[str] = None, max_new_tokens: Optional[int] = None) -> "Explorer":
        """Generate the continuation of ``prompt`` (default: the prompt box's text) and
        recompute the visible panel; the other panels become stale. Synchronous.

        Raises ValueError on an empty prompt or a bad ``max_new_tokens`` (also shown in the
        bar)."""
        bar = self.bar
        if prompt is None:
            prompt = bar.prompt
        if max_new_tokens is None:
            max_new_tokens = bar.max_new_tokens
        try:
            if not isinstance(prompt, str):
                raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
            if not prompt.strip():
                raise ValueError("the prompt is empty: type a text to continue")
            self._check_max_new(max_new_tokens)
        except (TypeError, ValueError) as e:
            bar.error = str(e)
            raise
        with bar.hold_sync():
            bar.prompt, bar.max_new_tokens = prompt, int(max_new_tokens)
            bar.error, bar.busy, bar.progress = "", True, 0.0
            bar.status = "generating…"
        try:
            pieces: list[str] = []
            for piece in generate(self.model, prompt, int(max_new_tokens)):
                pieces.append(piece)
                with bar.hold_sync():
                    bar.progress = len(pieces) / max_new_tokens
                    bar.status = f"generating… {len(pieces)}/{max_new_tokens}"
            text = prompt + "".join(pieces)
            ids = self.model.to_tokens(text)[0].tolist()
            prompt_ids = self.model.to_tokens(prompt)[0].tolist()
            n_prompt = 0
            while n_prompt < min(len(ids), len(prompt_ids)) and ids[n_prompt] == prompt_ids[n_prompt]:
                n_prompt += 1
            if n_prompt == 0:
                raise ValueError("the prompt's tokens are not a prefix of the full text's tokens")
            tokens = self.model.to_str_tokens(ids)
        except Exception as e:
            with bar.hold_sync():
                bar.busy, bar.status = False, ""
                bar.error = f"{type(e).__name__}: {e}"
            raise
        self._run_id += 1
        for p in self._panels.values():
            self._drop_view(p)
            p.stale = True
        self._ids, self._text, self._tokens, self._prompt_len = ids, text, tokens, n_prompt
        self._attr_prompt = prompt if n_prompt == len(prompt_ids) else None
        with bar.hold_sync():
            bar.tokens, bar.prompt_len = tokens, n_prompt
            self._syncing = True
            try:
                self.selected_token = n_prompt - 1  # its next token is the first generated one
                self.target_position = n_prompt if n_prompt < len(tokens) else -1
            finally:
                self._syncing = False
            bar.busy, bar.progress = False, 1.0
            n_new, n_gen = len(tokens) - n_prompt, len(pieces)
            bar.status = (f"{n_gen} new token{'s' if n_gen != 1 else ''}"
                          + ("" if n_gen == max_new_tokens else " (the model ended the text)")
                          + ("" if n_new == n_gen else f"; {n_new} after the prompt when the text "
                             "is tokenized again"))
        self._ensure(self.visible_panel)
        return self

    def _on_run_request(self, change: dict) -> None:
        if self.bar.busy:
            return
        try:
            self.run()
        except Exception:
            pass  # shown in the bar

    def refresh(self, name: Optional[str] = None) -> None:
        """Recompute a panel (default: the visible one), e.g. after an error."""
        p = self._panel(name or self.visible_panel)
        p.stale = True
        self._ensure(p.name)

    # -- panels ------------------------------------------------------------------------------

    def _panel(self, name: str) -> _Panel:
        if name not in self._panels:
            raise ValueError(f"unknown panel {name!r}; choose one of {', '.join(PANELS)}")
        return self._panels[name]

    def _layout(self, p: _Panel) -> None:
        head = ipywidgets.HBox([p.progress, p.status]) if p.busy else None
        kids: list = [head] if head is not None else []
        if p.error.value:
            kids.append(p.error)
        if p.view is not None:
            kids.append(p.view)
        elif not p.busy and not p.error.value:
            p.status.value = ("Press Run to analyse a text." if not self._tokens
                              else f"{PANELS[p.name]} computes when this tab is shown.")
            kids.append(p.status)
        kids += p.extra
        p.box.children = kids

    def _drop_view(self, p: _Panel) -> None:
        for link in p.links:
            link.unlink()
        p.links, p.view, p.extra = [], None, []
        p.error.value = ""
        self._layout(p)

    def _on_tab(self, change: dict) -> None:
        name = list(PANELS)[change["new"] or 0]
        for other, p in self._panels.items():
            if isinstance(p.view, TopNeuronsView):
                p.view.auto = other == name
        self._ensure(name)

    def _ensure(self, name: str) -> None:
        """Compute a panel if it is stale (and there is a text); show progress and errors."""
        p = self._panels[name]
        if not self._tokens or p.busy:
            return
        if not p.stale:
            if name == "top_neurons" and p.view is not None and p.view.stale:
                p.view.refresh()
            return
        p.busy = True
        p.error.value = ""
        p.progress.value = 0.0
        p.status.value = f"computing {PANELS[name].lower()}…"
        self._layout(p)

        def progress(f: float) -> None:
            try:
                f = min(1.0, max(0.0, float(f)))
            except (TypeError, ValueError):
                return
            if f >= 1.0 or abs(f - p.progress.value) >= 0.01:
                p.progress.value = f

        try:
            view = getattr(self, f"_build_{name}")(progress)
            p.view = view
            p.links = [traitlets.link((self, "selected_token"), (view, "selected_token"))]
            if name == "attribution":
                view.observe(self._on_attribution_target, names="target_position")
            p.n_computed += 1
        except Exception as e:  # shown in the panel; Run or refresh() tries again
            p.view = None
            p.error.value = f"{PANELS[name]} failed: {type(e).__name__}: {e}"
        finally:
            p.busy = False
            p.stale = False
            self._layout(p)

    # builders: each returns the panel's view for the current text

    def _build_attribution(self, progress: Callable[[float], None]):
        if self.target_position < self._prompt_len:
            raise ValueError("the model generated no continuation: there is no token to explain")
        cont = self._ids[self._prompt_len:]
        if self._attr_prompt is None:
            raise ValueError("the prompt's last token merges with the continuation when the text is "
                             "tokenized again; end the prompt with a space or a word boundary")
        a = attribute(self.model, self._attr_prompt, method=self.method, continuation=cont,
                      position=self.target_position - self._prompt_len, progress=progress)
        view = a.show(theme=self.theme)
        if list(view.tokens) != self._tokens:
            raise ValueError("the attribution's tokens differ from the explorer's tokens")
        return view

    def _build_attention(self, progress: Callable[[float], None]):
        progress(0.05)
        r = attention(self.model, self._text)
        progress(1.0)
        return r.show(theme=self.theme)

    def _build_logit_lens(self, progress: Callable[[float], None]):
        progress(0.05)
        r = logit_lens(self.model, self._text)
        progress(1.0)
        return r.show(theme=self.theme)

    def _build_top_neurons(self, progress: Callable[[float], None]):
        model, text, k = self.model, self._text, self.k
        view = TopNeuronsView(
            self._tokens, hits_at=lambda pos: top_neurons(model, text, pos, k=k),
            effects=lambda layer, index: logit_effects(model, layer, index, k=8),
            selected_token=self.selected_token, auto=self.visible_panel == "top_neurons",
            can_open=True, theme=self.theme)
        if view.error:
            raise RuntimeError(view.error)
        view.observe(self._on_open_neuron, names="open_request")
        return view

    def open_neuron(self, layer: int, index: int):
        """Open the :class:`NeuronPanel` of one neuron (on the explorer's text) below the
        Top neurons list; returns it."""
        p = self._panels["top_neurons"]
        p.busy = True
        p.error.value = ""
        p.progress.value = 0.0
        p.status.value = f"computing neuron L{layer}/N{index}…"
        self._layout(p)
        try:
            def progress(f: float) -> None:
                p.progress.value = min(1.0, max(0.0, float(f)))

            n = neuron(self.model, [self._text], int(layer), int(index), progress=progress)
            panel = n.show(theme=self.theme)
            p.extra = [panel]
            return panel
        except Exception as e:
            p.error.value = f"Neuron panel failed: {type(e).__name__}: {e}"
            raise
        finally:
            p.busy = False
            self._layout(p)

    def _on_open_neuron(self, change: dict) -> None:
        req = list(change["new"])
        if len(req) == 2:
            try:
                self.open_neuron(req[0], req[1])
            except Exception:
                pass  # shown in the panel

    # -- target --------------------------------------------------------------------------------

    def _on_target(self, change: dict) -> None:
        if self._syncing:
            return
        p = self._panels["attribution"]
        if p.view is None or p.view.target_position == change["new"]:
            if p.view is None and not p.busy:
                p.stale = True
                if self.visible_panel == "attribution":
                    self._ensure("attribution")
            return
        if self.visible_panel == "attribution":
            p.view.target_position = change["new"]  # the view recomputes, with its own progress
            if p.view.target_position != change["new"]:  # it failed: the view shows why
                self._syncing = True
                try:
                    self.target_position = p.view.target_position
                finally:
                    self._syncing = False
        else:  # hidden: recompute when shown
            self._drop_view(p)
            p.stale = True

    def _on_attribution_target(self, change: dict) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.target_position = change["new"]
        finally:
            self._syncing = False
