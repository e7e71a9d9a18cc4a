"""interp-widgets: Jupyter widgets for mechanistic interpretability.

>>> import interp_widgets as iw
>>> model = iw.load_model()                                    # doctest: +SKIP
>>> iw.attribute(model, "The Eiffel Tower is in the city of").show()   # doctest: +SKIP
"""

from .model import Model, load_model
from .results import (Ablation, AttentionPatterns, Attribution, DirectLogitAttribution, LogitLens,
                      NeuronActivations, PatchingResult, Probe)
from .corpus import stdlib_docstrings
from .sae import SAE
from .kernels.ablation import ablate
from .kernels.activations import ActivationCache, run_with_cache
from .kernels.attention import attention, head_detector_scores
from .kernels.attribution import IGConvergenceWarning, attribute
from .kernels.dla import direct_logit_attribution
from .kernels.lens import logit_lens
from .kernels.neurons import neuron, top_neurons
from .kernels.patching import patch
from .kernels.probe import probe
from .kernels.sae_train import SAEReport, train_sae
from .kernels.steering import SteeringVector, generate, steered_logits, steering_vector

__version__ = "0.1.0"


def __getattr__(name):
    # Views import anywidget; load them on first use so kernels work without a front end.
    if name in ("TokenHeatmap", "AttributionWidget", "AttentionView", "LogitLensView",
                "DirectLogitAttributionView", "PatchingView", "NeuronPanel"):
        from . import views
        return getattr(views, name)
    if name == "linked":
        from .views.linked import linked
        return linked
    raise AttributeError(f"module 'interp_widgets' has no attribute {name!r}")


__all__ = ["Model", "load_model", "Attribution", "attribute", "IGConvergenceWarning",
           "ActivationCache", "run_with_cache", "AttentionPatterns", "attention", "head_detector_scores",
           "LogitLens", "logit_lens", "DirectLogitAttribution", "direct_logit_attribution",
           "PatchingResult", "patch", "Ablation", "ablate",
           "NeuronActivations", "neuron", "top_neurons", "stdlib_docstrings", "Probe", "probe", "SAE", "train_sae", "SAEReport",
           "SteeringVector", "steering_vector", "steered_logits", "generate",
           "TokenHeatmap", "AttributionWidget", "AttentionView", "LogitLensView",
           "DirectLogitAttributionView", "PatchingView", "NeuronPanel", "linked"]
