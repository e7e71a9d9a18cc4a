"""anywidget views: traitlets plus callbacks into kernels; no maths here."""

from .attribution import AttributionWidget
from .token_heatmap import TokenHeatmap

__all__ = ["AttributionWidget", "TokenHeatmap"]
