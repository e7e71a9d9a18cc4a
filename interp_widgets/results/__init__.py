"""Typed results: plain data (numpy arrays and token strings), no torch.

Each result has ``.show()`` (its view, imported lazily) and ``.to_html(path)``. One module per
kind of result; everything is re-exported here.
"""

from .attention import DETECTORS, AttentionPatterns
from .attribution import Attribution, AttributionSource

__all__ = ["Attribution", "AttributionSource", "AttentionPatterns", "DETECTORS"]
