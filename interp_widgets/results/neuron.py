"""The result of ``iw.neuron``: one MLP neuron over some texts and a corpus.

Plain data (numpy arrays and token strings). A fresh result carries an opaque ``_source``
handle that lets its view list the most active neurons at a clicked token and re-target the
panel to another neuron; a result without one shows a static view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional

import numpy as np

from ._arrays import float32, strings

__all__ = ["NeuronActivations", "NeuronExample", "NeuronHit", "NeuronSource"]


class NeuronHit(NamedTuple):
    """One neuron's activation at a position (what ``iw.top_neurons`` lists)."""

    layer: int
    index: int
    activation: float


@dataclass
class NeuronExample:
    """One top-activating context.

    Attributes:
        tokens: the tokens of the context window around the max token.
        activations: ``float32 [len(tokens)]``, the neuron on each of them.
        max_pos: index in ``tokens`` of the activating token.
        activation: the neuron's value there.
        text_index: which text of the corpus it came from (0-based, in iteration order).
        position: the token's position in that text.
    """

    tokens: list[str]
    activations: np.ndarray
    max_pos: int
    activation: float
    text_index: int
    position: int

    def __post_init__(self) -> None:
        self.tokens = strings(self.tokens)
        self.activations = float32(self.activations, "activations")
        if self.activations.shape != (len(self.tokens),):
            raise ValueError(f"an example of {len(self.tokens)} tokens needs {len(self.tokens)} activations, "
                             f"got shape {self.activations.shape}")
        if not 0 <= int(self.max_pos) < len(self.tokens):
            raise ValueError(f"max_pos {self.max_pos} is outside the example's {len(self.tokens)} tokens")


@dataclass
class NeuronSource:
    """Opaque handle a view uses to recompute.

    ``retarget(layer, index, progress)`` returns a new :class:`NeuronActivations` for another
    neuron over the same texts and corpus; ``top_neurons(row, position)`` lists the most
    active neurons at a token of a shown text (``[NeuronHit, ...]``).
    """

    retarget: Callable[..., "NeuronActivations"]
    top_neurons: Callable[[int, int], list]


@dataclass
class NeuronActivations:
    """An MLP neuron (``blocks.{layer}.mlp.hook_post[..., index]``) over texts and a corpus.

    Attributes:
        layer, index: which neuron.
        texts_tokens: tokens of each shown text.
        texts_activations: ``float32 [len(tokens)]`` per shown text.
        examples: the top-k activating contexts of the corpus, highest first.
        hist_counts: ``int64 [bins]`` counts of the neuron's activation over every counted
            corpus token; ``hist_edges``: ``float32 [bins + 1]`` bin edges.
        n_tokens: corpus tokens counted (special tokens such as BOS are not counted);
            ``n_texts``: corpus texts read.
        promoted, suppressed: ``(token, logit effect)`` of the tokens this neuron's output
            direction raises / lowers most through the final norm's weight and the
            unembedding (direct effect only; ``[]`` for encoders without an LM head).
        model_name, n_layers, d_mlp: facts for the view.
        info: free-form extra facts.
    """

    layer: int
    index: int
    texts_tokens: list[list[str]]
    texts_activations: list[np.ndarray]
    examples: list[NeuronExample]
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    n_tokens: int
    n_texts: int
    promoted: list[tuple[str, float]] = field(default_factory=list)
    suppressed: list[tuple[str, float]] = field(default_factory=list)
    model_name: str = ""
    n_layers: int = 0
    d_mlp: int = 0
    info: dict = field(default_factory=dict)
    _source: Optional[NeuronSource] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.texts_tokens = [strings(t, f"texts_tokens[{i}]") for i, t in enumerate(self.texts_tokens)]
        self.texts_activations = [float32(a, f"texts_activations[{i}]") for i, a in enumerate(self.texts_activations)]
        for i, a in enumerate(self.texts_activations):
            if a.ndim != 1:
                raise ValueError(f"texts_activations[{i}] must be 1-D (one value per token), got shape {a.shape}")
        self.hist_counts = np.asarray(self.hist_counts, dtype=np.int64)
        self.hist_edges = np.asarray(self.hist_edges, dtype=np.float32)
        if len(self.texts_tokens) != len(self.texts_activations):
            raise ValueError(f"{len(self.texts_tokens)} token rows but {len(self.texts_activations)} activation rows")
        for i, (t, a) in enumerate(zip(self.texts_tokens, self.texts_activations)):
            if len(t) != a.shape[-1]:
                raise ValueError(f"text {i} has {len(t)} tokens but {a.shape[-1]} activations")
        if self.hist_edges.shape[0] != self.hist_counts.shape[0] + 1:
            raise ValueError("hist_edges must have one more entry than hist_counts")

    @property
    def max_activation(self) -> float:
        """Largest activation seen in the corpus (the first example's)."""
        return float(self.examples[0].activation) if self.examples else float("nan")

    def show(self, **kwargs):
        """A live :class:`~interp_widgets.views.NeuronPanel` of this result."""
        from ..views.neuron_panel import NeuronPanel

        return NeuronPanel(self, **kwargs)

    def to_html(self, path, **kwargs):
        """Write a self-contained HTML file of the view (bundle and data inlined)."""
        return self.show(**kwargs).to_html(path)

    def __repr__(self) -> str:
        return (f"NeuronActivations(layer={self.layer}, index={self.index}, texts={len(self.texts_tokens)}, "
                f"corpus_tokens={self.n_tokens}, max={self.max_activation:.4g})")
