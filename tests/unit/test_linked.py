"""iw.linked: one token selection shared by several views."""

import pytest

import interp_widgets as iw


def test_linked_views_share_the_selection():
    toks = ["A", " b", " c"]
    a, b, c = (iw.TokenHeatmap(toks, [1.0, 2.0, 3.0]) for _ in range(3))
    box = iw.linked(a, b, c)
    assert list(box.children) == [a, b, c]
    b.selected_token = 2  # as if the browser of view b set it
    assert a.selected_token == 2 and c.selected_token == 2
    a.selected_token = -1
    assert b.selected_token == -1 and c.selected_token == -1
    for link in box.links:
        link.unlink()
    c.selected_token = 1
    assert a.selected_token == -1


def test_linked_rejects_what_cannot_follow():
    h = iw.TokenHeatmap(["x"], [1.0])
    with pytest.raises(ValueError, match="at least two"):
        iw.linked(h)
    with pytest.raises(ValueError, match="selected_token"):
        iw.linked(h, object())
    with pytest.raises(ValueError, match="direction"):
        iw.linked(h, iw.TokenHeatmap(["x"], [2.0]), direction="diagonal")


def test_linked_box_exports_its_views(tmp_path):
    a = iw.TokenHeatmap(["A", " first"], [1.0, 2.0], title="view one")
    b = iw.TokenHeatmap(["A", " second"], [3.0, 4.0], title="view two")
    path = iw.linked(a, b).to_html(tmp_path / "linked.html")
    html = path.read_text(encoding="utf-8")
    assert "view one" in html and "view two" in html and " second" in html
