"""Core tier: the Instances list's rows without Qt (what changed, search, frame filter, sort keys)."""

import numpy as np

from napari_samlabel._napari.instance_rows import SORT_KEYS, RowTracker, matches, on_frames
from napari_samlabel.core import Annotation, Ontology
from napari_samlabel.synthetic import disc


def annotation():
    onto = Ontology()
    onto.add("nucleus")
    onto.add("cell")
    return Annotation(np.zeros((6, 40, 50), np.uint32), onto, frame_axis=0)


def test_tracker_reports_only_the_instances_that_changed():
    ann = annotation()
    a = ann.new_instance("nucleus")
    b = ann.new_instance("cell")
    ann.new_instance("cell")  # never painted: absent, no row
    ann.write_mask(disc((40, 50), 10, 10, 4), a.id, (0,))
    ann.write_mask(disc((40, 50), 30, 30, 4), b.id, (2,), source="tracked", confidence=0.4)
    t = RowTracker()
    first = t.update(ann.table)
    assert sorted(first.added) == [a.id, b.id] and not first.changed and not first.removed
    assert not t.update(ann.table)  # nothing changed, nothing reported

    ann.write_mask(disc((40, 50), 30, 30, 4), b.id, (3,), source="tracked", confidence=0.8)  # in place
    ch = t.update(ann.table)
    assert ch.changed == [b.id] and not ch.added and not ch.removed
    assert t.rows[b.id].frames == (2, 3) and t.rows[b.id].frames_text == "2-3"
    assert abs(t.rows[b.id].confidence - 0.6) < 1e-9 and t.rows[b.id].sources == "tracked"

    ann.set_locked([a.id])
    assert t.update(ann.table).changed == [a.id] and t.rows[a.id].locked
    ann.set_locked([a.id], False)
    t.update(ann.table)
    ann.change_class([a.id], "cell")
    assert t.update(ann.table).changed == [a.id] and t.rows[a.id].class_name == "cell"

    ann.delete([b.id])
    ch = t.update(ann.table)
    assert ch.removed == [b.id] and ch.gone[b.id].id == b.id and b.id not in t.rows
    assert t.update(None).removed == [a.id] and not t.rows


def test_a_frame_moved_within_one_edit_is_a_change():
    """Same number of frames, other frames: the signature compares the sets, not their size."""
    ann = annotation()
    a = ann.new_instance("nucleus")
    ann.write_mask(disc((40, 50), 10, 10, 4), a.id, (1,))
    t = RowTracker()
    t.update(ann.table)
    with ann.action():
        ann.delete([a.id], frames=[1])
        ann.write_mask(disc((40, 50), 10, 10, 4), a.id, (4,))
    assert t.update(ann.table).changed == [a.id] and t.rows[a.id].frames == (4,)


def test_search_frames_and_sort_keys():
    ann = annotation()
    a = ann.new_instance("nucleus")
    for f in (1, 2, 5):
        ann.write_mask(disc((40, 50), 10, 10, 4), a.id, (f,))
    t = RowTracker()
    t.update(ann.table)
    row = t.rows[a.id]
    assert matches(row, "NUC") and matches(row, f"#{a.id}") and matches(row, "") and not matches(row, "cell")
    assert on_frames(row, 0, 1) and on_frames(row, 5, 5) and on_frames(row, 4, 3) is False
    assert not on_frames(row, 3, 4) and on_frames(row, None, 1) and not on_frames(row, 6, None)
    assert SORT_KEYS["frames"](row) == 1 * 1e7 + 5 and SORT_KEYS["id"](row) == a.id
    assert SORT_KEYS["status"](row) == 0 and SORT_KEYS["class"](row) == "nucleus"
