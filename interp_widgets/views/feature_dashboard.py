"""FeatureDashboard: what ``SAEFeatures.show()`` returns.

The features of a sparse autoencoder over a corpus. Up front only the list's columns cross
to JavaScript (binary ``float32`` density and max activation per feature, plus a few token
ids per feature into a small string table: its top-activating tokens and the tokens its
decoder promotes, which label the rows and feed the search). The list is virtualised (only
the rows on screen exist in the DOM), sortable by density or max activation, searchable by
token.

Data is sent on demand: clicking a feature sets ``selected_feature``; Python then fills
``feature_examples`` (top contexts: tokens + the feature's activation on each, recomputed
through the result's source), ``feature_hist`` (counts over the fixed log-spaced bins),
``feature_logits`` (tokens the decoder direction promotes / suppresses) and
``feature_stats``. Prompt mode: setting ``prompt`` (the text box) makes Python send the
prompt's tokens and, for each token, its 10 most active features (``prompt_features``);
clicking a token lists them (in the browser), clicking a listed feature opens it. While a
feature is open, the prompt's tokens are coloured by that feature (``prompt_feature_acts``,
on the same scale as its contexts); otherwise by each token's strongest feature.

A static export (``to_html``) holds the list, the open feature and the prompt data; opening
another feature or typing a new prompt needs Python and is disabled there, with a note.

JavaScript: ``js/src/views/feature_dashboard.ts`` (same trait names).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import traitlets

from ..results.sae import SAEFeatures
from ._base import BaseWidget, array_serialization, array_to_json, bundle, check_finite

__all__ = ["FeatureDashboard"]

N_TOP_TOKENS = 5   # top-activating tokens per feature in the search table
N_LOGIT_TOKENS = 5  # promoted tokens per feature in the search table
N_PROMPT_FEATURES = 10


def _dict_to_json(value: Any, widget: Any = None) -> Any:
    """A dict trait whose numpy values cross as binary arrays (see ``array_to_json``)."""
    if value is None:
        return None
    return {k: array_to_json(v) if isinstance(v, np.ndarray) else v for k, v in value.items()}


dict_serialization = {"to_json": _dict_to_json, "from_json": lambda v, w=None: v}


class FeatureDashboard(BaseWidget):
    """Live dashboard of a :class:`~interp_widgets.results.sae.SAEFeatures`.

    ``FeatureDashboard(result)`` or ``FeatureDashboard(model, sae, texts, **kwargs)`` (which
    runs :func:`~interp_widgets.kernels.sae_features.sae_features` with ``kwargs``).

    Args:
        feature: a feature to open at once (e.g. for an export).
        prompt: a text for prompt mode.
        sort_by: ``"max"``, ``"density"`` or ``"index"``.
        theme: ``"auto"``, ``"light"`` or ``"dark"``.

    >>> import numpy as np
    >>> from interp_widgets.results.sae import SAEFeatures
    >>> r = SAEFeatures(density=[0.5, 0.0], max_act=[2.0, 0.0], mean_act=[1.0, 0.0], count=[1, 0],
    ...                 top_values=[[2.0], [0.0]], top_text=[[0], [-1]], top_pos=[[1], [-1]],
    ...                 hist_counts=np.zeros((2, 4)), hist_edges=[1e-3, 1e-1, 1, 10, 1e3],
    ...                 corpus_ids=[[0, 1]], vocab=["a", " b"])
    >>> w = FeatureDashboard(r, feature=0)
    >>> w.selected_feature, w.feature_examples["tokens"]
    (0, [['a', ' b']])
    """

    _esm = bundle("feature_dashboard")

    model_name = traitlets.Unicode("").tag(sync=True)
    hook_name = traitlets.Unicode("").tag(sync=True)
    d_sae = traitlets.Int(0).tag(sync=True)
    n_tokens = traitlets.Int(0).tag(sync=True)
    n_texts = traitlets.Int(0).tag(sync=True)
    # tokens left out of the statistics as massive activations (see iw.sae_features)
    n_outliers = traitlets.Int(0).tag(sync=True)
    # The list: one entry per feature.
    density = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    max_act = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    # int32 [d_sae, n_top + n_logit]: indices into token_table (-1 = none); the first
    # n_top columns are top-activating tokens (the first labels the row), the rest promoted.
    search_ids = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    n_top_tokens = traitlets.Int(N_TOP_TOKENS).tag(sync=True)
    token_table = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_by = traitlets.Enum(("max", "density", "index"), default_value="max").tag(sync=True)
    sort_desc = traitlets.Bool(True).tag(sync=True)
    search = traitlets.Unicode("").tag(sync=True)
    # The open feature (-1: none), filled on demand.
    selected_feature = traitlets.Int(-1).tag(sync=True)
    feature_examples = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True, **dict_serialization)
    feature_hist = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True, **dict_serialization)
    feature_logits = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True, **dict_serialization)
    feature_stats = traitlets.Dict().tag(sync=True)
    # Prompt mode.
    prompt = traitlets.Unicode("").tag(sync=True)
    prompt_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    prompt_features = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True, **dict_serialization)
    # The open feature's activation on each prompt token (float32 [n_tokens]), or None.
    prompt_feature_acts = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    selected_token = traitlets.Int(-1).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(True).tag(sync=True)

    def __init__(self, result: Any, sae: Any = None, texts: Any = None, *, feature: Optional[int] = None,
                 prompt: Optional[str] = None, sort_by: str = "max", theme: str = "auto", **kwargs: Any) -> None:
        if isinstance(result, SAEFeatures):
            if sae is not None or texts is not None or kwargs:
                raise TypeError("FeatureDashboard(result) takes no sae, texts or kernel arguments "
                                f"(got {'sae ' if sae is not None else ''}{'texts ' if texts is not None else ''}"
                                f"{sorted(kwargs)})")
        else:
            from ..model import Model

            if not isinstance(result, Model):
                raise TypeError("FeatureDashboard needs an SAEFeatures (from sae_features) or "
                                f"(model, sae, texts); got {type(result).__name__}")
            if sae is None or texts is None:
                raise TypeError("FeatureDashboard(model, sae, texts): give the SAE and the texts")
            from ..kernels.sae_features import sae_features

            result = sae_features(result, sae, texts, **kwargs)
        super().__init__(theme=theme)
        self._prompt_acts: Optional[np.ndarray] = None  # [n_tokens, d_sae] of the current prompt
        self.result: SAEFeatures = result
        self._apply_list(result)
        self.sort_by = sort_by
        self.observe(self._on_feature, names=["selected_feature"])
        self.observe(self._on_prompt, names=["prompt"])
        if feature is not None:
            self.open_feature(feature)
        if prompt is not None:
            self.set_prompt(prompt)

    # -- state -------------------------------------------------------------------------

    def _apply_list(self, r: SAEFeatures) -> None:
        check_finite(r.density.astype(np.float64), "feature densities")
        check_finite(r.max_act.astype(np.float64), "feature max activations")
        top = r.top_token_ids(N_TOP_TOKENS)
        logit = (r.promoted_ids[:, :N_LOGIT_TOKENS] if r.promoted_ids is not None
                 else np.full((r.d_sae, 0), -1, np.int32))
        ids = np.concatenate([top, logit], axis=1)
        used = np.unique(ids[ids >= 0])
        local = np.full(ids.shape, -1, dtype=np.int32)
        local[ids >= 0] = np.searchsorted(used, ids[ids >= 0])
        with self._quiet():
            self.model_name, self.hook_name = str(r.model_name), str(r.hook_name)
            self.d_sae, self.n_tokens, self.n_texts = r.d_sae, int(r.n_tokens), int(r.n_texts)
            self.n_outliers = int((r.info or {}).get("n_outliers", 0) or 0)
            self.density = r.density
            self.max_act = r.max_act
            self.token_table = [r.token(int(i)) for i in used]
            self.n_top_tokens = N_TOP_TOKENS
            self.search_ids = local

    def _clear_feature(self) -> None:
        self.feature_examples = None
        self.feature_hist = None
        self.feature_logits = None
        self.feature_stats = {}

    # -- opening a feature -------------------------------------------------------------

    def open_feature(self, i: int) -> None:
        """Open feature ``i`` (as a click on the list does): fill its examples, histogram,
        logits and statistics. Errors are shown in the view and raised."""
        r = self.result
        i = r._check_feature(i)
        self.error = ""
        self.progress = 0.0
        self.busy = True
        try:
            examples = r.examples(i)
            acts = (np.concatenate([e.activations for e in examples]).astype(np.float32)
                    if examples else np.zeros(0, np.float32))
            check_finite(acts.astype(np.float64), "example activations")
            self.progress = 0.5
            promoted, suppressed = r.logits(i, 10)
            with self._quiet():
                self.selected_feature = i
                self.feature_examples = {
                    "tokens": [[str(t) for t in e.tokens] for e in examples],
                    "acts": acts,
                    "info": [{"max_pos": int(e.max_pos), "text_index": int(e.text_index),
                              "position": int(e.position), "activation": float(e.activation)} for e in examples],
                    "exact": r._source is not None,
                }
                self.feature_hist = {"counts": r.hist_counts[i].astype(np.int32), "edges": r.hist_edges}
                self.feature_logits = {
                    "promoted_tokens": [str(t) for t, _ in promoted],
                    "promoted_values": np.array([v for _, v in promoted], dtype=np.float32),
                    "suppressed_tokens": [str(t) for t, _ in suppressed],
                    "suppressed_values": np.array([v for _, v in suppressed], dtype=np.float32),
                    "available": r._source is not None,
                }
                self.feature_stats = {"index": i, "density": float(r.density[i]), "max": float(r.max_act[i]),
                                      "mean": float(r.mean_act[i]), "count": int(r.count[i])}
                self._sync_prompt_feature()
        finally:
            with self._quiet():
                self.busy = False
                self.progress = 0.0

    def _on_feature(self, change: dict) -> None:
        if self._applying:
            return
        i = int(self.selected_feature)
        if i < 0:
            with self._quiet():
                self._clear_feature()
                self._sync_prompt_feature()
            return
        old = change.get("old", -1)
        try:
            self.open_feature(i)
        except Exception as e:  # shown in the view; the previous feature stays open
            with self._quiet():
                self.selected_feature = int(old) if old is not None else -1
                self.error = f"{type(e).__name__}: {e}"

    # -- prompt mode -------------------------------------------------------------------

    def _sync_prompt_feature(self) -> None:
        i = int(self.selected_feature)
        acts = self._prompt_acts
        ok = acts is not None and 0 <= i < acts.shape[1] and self.feature_stats.get("index") == i
        self.prompt_feature_acts = np.ascontiguousarray(acts[:, i]) if ok else None

    def set_prompt(self, text: str) -> None:
        """Prompt mode: the tokens of ``text`` and each token's most active features."""
        with self._quiet():
            self.prompt = text
        self._compute_prompt(raise_errors=True)

    def _on_prompt(self, change: dict) -> None:
        if not self._applying:
            self._compute_prompt(raise_errors=False)

    def _compute_prompt(self, raise_errors: bool) -> None:
        text = self.prompt
        with self._quiet():
            self.selected_token = -1
            if not text.strip():
                self.prompt_tokens, self.prompt_features = [], None
                self._prompt_acts = None
                self._sync_prompt_feature()
                self.error = ""
                return
        source = self.result._source
        self.error = ""
        self.busy = True
        try:
            if source is None:
                raise ValueError("prompt mode needs the model: this SAEFeatures has no source (static view)")
            tokens, acts = source.prompt(text)
            acts = np.asarray(acts, dtype=np.float32)
            check_finite(acts.astype(np.float64), "feature activations")
            n = min(N_PROMPT_FEATURES, acts.shape[1])
            idx = np.argsort(-acts, axis=1, kind="stable")[:, :n].astype(np.int32)
            vals = np.take_along_axis(acts, idx, axis=1)
            idx[vals <= 0] = -1
            vals[vals <= 0] = 0
            with self._quiet():
                self.prompt_tokens = [str(t) for t in tokens]
                self.prompt_features = {"ids": idx, "acts": vals.astype(np.float32)}
                self._prompt_acts = acts
                self._sync_prompt_feature()
        except Exception as e:
            with self._quiet():
                self.prompt_tokens, self.prompt_features = [], None
                self._prompt_acts = None
                self._sync_prompt_feature()
                self.error = f"{type(e).__name__}: {e}"
            if raise_errors:
                raise
        finally:
            with self._quiet():
                self.busy = False
