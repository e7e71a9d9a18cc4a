"""Typed results: plain data (numpy arrays and token strings), no torch.

Each result has ``.show()`` (its view, imported lazily) and ``.to_html(path)``. One module per
kind of result; everything is re-exported here.
"""

from .ablation import Ablation
from .attention import DETECTORS, AttentionPatterns, AttentionSource
from .attribution import Attribution, AttributionSource
from .dla import DirectLogitAttribution
from .lens import LensSource, LogitLens, TrackedToken
from .patching import PatchingResult, PatchingSource
from .probe import Probe, ProbeSource
from .sae import FeatureExample, SAEFeatures, SAESource
from .superposition import Superposition, SuperpositionSource
from .neuron import NeuronActivations, NeuronExample, NeuronHit, NeuronSource

__all__ = ["Attribution", "AttributionSource", "AttentionPatterns", "AttentionSource", "DETECTORS",
           "LogitLens", "LensSource", "TrackedToken", "DirectLogitAttribution",
           "PatchingResult", "PatchingSource", "Probe", "ProbeSource", "Ablation",
           "SAEFeatures", "SAESource", "FeatureExample", "Superposition", "SuperpositionSource",
           "NeuronActivations", "NeuronExample", "NeuronHit", "NeuronSource"]
