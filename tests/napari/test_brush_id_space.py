"""An id typed into napari's label box that no project could hold (issue 22, item 3): the
brush gets a fresh id instead, so a stroke never leaves pixels the instance table lacks."""

from napari_samlabel.core.label_ids import MAX_ID


def test_a_typed_id_past_the_range_gives_the_brush_a_fresh_id(session):
    s = session
    said = []
    s.said.connect(said.append)
    s.labels.selected_label = 3_000_000_000
    label = s.labels.selected_label
    assert 0 < label <= MAX_ID and s.table.is_unused(label)
    assert any("3000000000" in line and str(MAX_ID) in line for line in said)
    s.labels.paint((0, 5, 5), label)
    assert s.table[label].frames == {0}
