"""interp-widgets: Jupyter widgets for mechanistic interpretability.

>>> import interp_widgets as iw
>>> model = iw.load_model()                                    # doctest: +SKIP
>>> iw.attribute(model, "The Eiffel Tower is in the city of").show()   # doctest: +SKIP
"""

from .model import Model, load_model
from .results import (Ablation, AttentionPatterns, Attribution, DirectLogitAttribution, LogitLens,
                      NeuronActivations, PatchingResult, Probe, SAEFeatures)
from .corpus import stdlib_docstrings
from .sae import SAE, load_sae
from .kernels.ablation import ablate
from .kernels.activations import ActivationCache, run_with_cache
from .kernels.attention import attention, head_detector_scores
from .kernels.attribution import IGConvergenceWarning, attribute
from .kernels.dla import direct_logit_attribution
from .kernels.lens import logit_lens
from .kernels.neurons import neuron, top_neurons
from .kernels.patching import patch
from .kernels.probe import probe, probe_predictions
from .kernels.sae_features import feature_activations, sae_features
from .kernels.sae_train import SAEReport, train_sae
from .kernels.steering import SteeringVector, generate, steered_logits, steering_vector

__version__ = "0.1.0"


_VIEWS = {"TokenHeatmap": "token_heatmap", "AttributionWidget": "attribution", "AttentionView": "attention",
          "LogitLensView": "logit_lens", "DirectLogitAttributionView": "dla", "PatchingView": "patching",
          "NeuronPanel": "neuron_panel", "linked": "linked", "FeatureDashboard": "feature_dashboard",
          "ProbeView": "probe", "SteeringPlayground": "steering", "SuperpositionView": "superposition",
          "Explorer": "explorer"}


def __getattr__(name):
    # Views import anywidget; load them on first use so kernels work without a front end.
    if name in _VIEWS:
        import importlib
        return getattr(importlib.import_module(f".views.{_VIEWS[name]}", __name__), name)
    if name == "toy":
        import importlib
        return importlib.import_module(".toy", __name__)
    raise AttributeError(f"module 'interp_widgets' has no attribute {name!r}")


__all__ = ["Model", "load_model", "Attribution", "attribute", "IGConvergenceWarning",
           "ActivationCache", "run_with_cache", "AttentionPatterns", "attention", "head_detector_scores",
           "LogitLens", "logit_lens", "DirectLogitAttribution", "direct_logit_attribution",
           "PatchingResult", "patch", "Ablation", "ablate",
           "NeuronActivations", "neuron", "top_neurons", "stdlib_docstrings", "Probe", "probe", "probe_predictions", "SAE", "load_sae", "train_sae", "SAEReport",
           "sae_features", "SAEFeatures", "feature_activations",
           "SteeringVector", "steering_vector", "steered_logits", "generate",
           "TokenHeatmap", "AttributionWidget", "AttentionView", "LogitLensView",
           "DirectLogitAttributionView", "PatchingView", "NeuronPanel", "linked", "FeatureDashboard", "ProbeView",
           "SteeringPlayground", "SuperpositionView", "Explorer", "toy"]
