"""anywidget views: traitlets plus callbacks into kernels; no maths here."""

from .attention import AttentionView
from .attribution import AttributionWidget
from .dla import DirectLogitAttributionView
from .logit_lens import LogitLensView
from .neuron_panel import NeuronPanel
from .patching import PatchingView
from .token_heatmap import TokenHeatmap

__all__ = ["AttentionView", "AttributionWidget", "DirectLogitAttributionView", "LogitLensView", "NeuronPanel", "PatchingView",
           "TokenHeatmap"]
