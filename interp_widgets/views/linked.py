"""Views that share one token selection: ``iw.linked(view_a, view_b, ...)``.

Every view with a ``selected_token`` trait (the index of the selected token, -1 for none)
can be linked: selecting a token in one (a click, or hovering a token label in the
AttentionView) selects and highlights it in the others. The views should show the same
text, so that an index means the same token in each. This is the groundwork of the
Explorer: one selection, every panel follows.
"""

from __future__ import annotations

import ipywidgets
import traitlets

__all__ = ["linked"]


def linked(*views, direction: str = "vertical") -> ipywidgets.Box:
    """Put ``views`` in one box and link their ``selected_token`` traits.

    Args:
        views: two or more views that have an integer ``selected_token`` trait
            (TokenHeatmap, AttentionView, ...).
        direction: ``"vertical"`` (a VBox) or ``"horizontal"`` (an HBox).

    Returns the box; ``box.links`` holds the ``traitlets.link`` objects (``unlink()`` them to
    separate the views again), and ``box.to_html(path)`` writes the views into one
    self-contained page (static: there they no longer follow one selection).
    """
    if len(views) < 2:
        raise ValueError("linked() needs at least two views")
    for v in views:
        trait = v.traits().get("selected_token") if isinstance(v, traitlets.HasTraits) else None
        if not isinstance(trait, traitlets.Int):
            raise ValueError(f"{type(v).__name__} has no integer selected_token trait, so it cannot be linked")
    if direction not in ("vertical", "horizontal"):
        raise ValueError(f"direction must be 'vertical' or 'horizontal', got {direction!r}")
    box = (ipywidgets.VBox if direction == "vertical" else ipywidgets.HBox)(list(views))
    box.links = [traitlets.link((views[0], "selected_token"), (v, "selected_token")) for v in views[1:]]

    def to_html(path, title: str | None = None):
        from ..export import to_html as export

        return export(list(views), path, title=title or "Linked views")

    box.to_html = to_html
    return box
