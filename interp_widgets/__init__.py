"""interp-widgets: Jupyter widgets for mechanistic interpretability.

>>> import interp_widgets as iw
>>> model = iw.load_model()                                    # doctest: +SKIP
>>> iw.attribute(model, "The Eiffel Tower is in the city of").show()   # doctest: +SKIP
"""

from .model import Model, load_model
from .results import Attribution
from .kernels.attribution import IGConvergenceWarning, attribute

__version__ = "0.1.0"


def __getattr__(name):
    # Views import anywidget; load them on first use so kernels work without a front end.
    if name in ("TokenHeatmap", "AttributionWidget"):
        from . import views
        return getattr(views, name)
    raise AttributeError(f"module 'interp_widgets' has no attribute {name!r}")


__all__ = ["Model", "load_model", "Attribution", "attribute", "IGConvergenceWarning", "TokenHeatmap", "AttributionWidget"]
