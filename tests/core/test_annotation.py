"""The numpy-only API: instances, ids and bulk operations on a 2D+t label array."""

import numpy as np
import pytest

from napari_samlabel.core import Annotation, AnnotationError, Ontology
from napari_samlabel.synthetic import disc


@pytest.fixture
def ann():
    onto = Ontology()
    onto.add("nucleus")
    onto.add("cell")
    onto.add("background", kind="stuff")
    return Annotation(np.zeros((10, 40, 40), np.uint32), onto, frame_axis=0)


def add(ann, cls, frame, cy, cx, r=5, **kw):
    inst = ann.new_instance(cls)
    ann.write_mask(disc((40, 40), cy, cx, r), inst.id, (frame,), **kw)
    return inst


def test_ids_are_stable_and_never_reused(ann):
    a = add(ann, "nucleus", 0, 10, 10)
    b = add(ann, "nucleus", 0, 30, 30)
    ann.delete([a.id])
    c = add(ann, "nucleus", 0, 10, 10)
    assert (a.id, b.id, c.id) == (1, 2, 3)
    assert c.name == "Nucleus (3)" and not ann.table[1].present


def test_stuff_class_has_one_label(ann):
    s1 = add(ann, "background", 0, 5, 5)
    s2 = add(ann, "background", 3, 30, 30)
    assert s1.id == s2.id and s1.frames == {0, 3} and s1.name == "Background"


def test_exclude_never_eats_another_instance(ann):
    a = add(ann, "nucleus", 2, 20, 15, r=6)
    before = ann.store.data == a.id
    b = add(ann, "nucleus", 2, 20, 22, r=6)
    assert ((ann.store.data == a.id) == before).all()
    assert (ann.store.data == b.id).sum() > 0
    c = add(ann, "nucleus", 2, 20, 18, r=6, mode="overwrite")
    assert (ann.store.data == c.id).sum() == disc((40, 40), 20, 18, 6).sum()


def test_locked_instances_are_never_changed(ann):
    a = add(ann, "nucleus", 0, 20, 20, r=8)
    ann.set_locked([a.id])
    snapshot = ann.store.data.copy()
    b = add(ann, "cell", 0, 20, 20, r=12, mode="overwrite")
    assert ((snapshot == a.id) == (ann.store.data == a.id)).all()
    with pytest.raises(AnnotationError, match="locked"):
        ann.delete([a.id])
    ann.delete_all()
    assert (ann.store.data == a.id).sum() == (snapshot == a.id).sum()
    assert not ann.table[b.id].present


def test_replace_resegments_on_one_plane_only(ann):
    a = add(ann, "nucleus", 4, 10, 10)
    ann.copy_to_frames(a.id, 4, range(4, 7))
    ann.write_mask(disc((40, 40), 30, 30, 3), a.id, (5,), replace=True)
    assert (ann.store.data[5] == a.id).sum() == disc((40, 40), 30, 30, 3).sum()
    assert (ann.store.data[4] == a.id).sum() == disc((40, 40), 10, 10, 5).sum()


def test_empty_or_blocked_mask_with_require_pixels(ann):
    a = add(ann, "nucleus", 0, 20, 20, r=8)
    b = ann.new_instance("nucleus")
    with pytest.raises(AnnotationError, match="no pixel of the mask is free"):
        ann.write_mask(disc((40, 40), 20, 20, 3), b.id, (0,), require_pixels=True)
    assert (ann.store.data == a.id).sum() == disc((40, 40), 20, 20, 8).sum()


def test_delete_class_in_frame_range(ann):
    n = add(ann, "nucleus", 0, 10, 10)
    c = add(ann, "cell", 0, 30, 30)
    ann.copy_to_frames(n.id, 0, range(0, 10))
    ann.copy_to_frames(c.id, 0, range(0, 10))
    ann.delete_class("nucleus", range(3, 6))
    assert n.frames == {0, 1, 2, 6, 7, 8, 9}
    assert c.frames == set(range(10))


def test_delete_below_confidence_uses_per_frame_scores(ann):
    a = add(ann, "nucleus", 0, 10, 10, source="tracked", confidence=0.9)
    for f, score in [(1, 0.8), (2, 0.3), (3, 0.2)]:
        ann.write_mask(disc((40, 40), 10, 10, 5), a.id, (f,), source="tracked", confidence=score)
    manual = add(ann, "cell", 2, 30, 30)
    ann.delete_below(0.5, range(0, 3))
    assert a.frames == {0, 1, 3}  # frame 3 is outside the range
    assert manual.present


def test_delete_all_in_range(ann):
    a = add(ann, "nucleus", 1, 10, 10)
    b = add(ann, "cell", 5, 30, 30)
    ann.delete_all(range(0, 3))
    assert not a.present and b.present


def test_merge_keeps_target_id_and_class(ann):
    a = add(ann, "nucleus", 0, 10, 10)
    b = add(ann, "cell", 1, 30, 30)
    ann.merge([b.id, a.id])
    assert a.frames == {0, 1} and not b.present and a.class_name == "nucleus"
    with pytest.raises(AnnotationError, match="at least two"):
        ann.merge([a.id])


def test_change_class_thing_and_into_stuff(ann):
    a = add(ann, "nucleus", 0, 10, 10)
    b = add(ann, "nucleus", 0, 30, 30)
    ann.change_class([a.id], "cell")
    assert a.class_name == "cell" and a.name == f"Cell ({a.id})"
    (stuff_id,) = ann.change_class([a.id, b.id], "background")
    assert ann.table[stuff_id].stuff and not a.present and not b.present
    expected = disc((40, 40), 10, 10, 5).sum() + disc((40, 40), 30, 30, 5).sum()
    assert (ann.store.data == stuff_id).sum() == expected


def test_copy_to_frames_respects_other_instances(ann):
    a = add(ann, "nucleus", 0, 20, 20, r=6)
    other = add(ann, "cell", 3, 20, 26, r=6)
    ann.copy_to_frames(a.id, 0, range(0, 5))
    assert a.frames == set(range(5))
    assert ((ann.store.data[3] == other.id) == disc((40, 40), 20, 26, 6)).all()
    with pytest.raises(AnnotationError, match="not on frame 7"):
        ann.copy_to_frames(a.id, 7, range(0, 2))


def test_split_makes_later_frames_a_new_instance(ann):
    a = add(ann, "nucleus", 0, 20, 20)
    ann.copy_to_frames(a.id, 0, range(0, 8))
    new = ann.split(a.id, 5)
    assert a.frames == set(range(5)) and new.frames == {5, 6, 7}
    assert new.class_name == "nucleus" and new.id > a.id
    with pytest.raises(AnnotationError, match="both sides"):
        ann.split(a.id, 0)


def test_hand_painted_ids_become_instances_of_current_class(ann):
    ann.current_class = "cell"
    ann.store.data[2, 5:9, 5:9] = 17  # e.g. a brush stroke, or an imported array
    (new,) = ann.sync_frames([2])
    assert (new.id, new.class_name, new.frames, new.source) == (17, "cell", {2}, "manual")
    assert ann.new_instance("cell").id == 18  # allocation continues past foreign ids


def test_class_kind_and_removal_protect_labels(ann):
    add(ann, "nucleus", 0, 10, 10)
    with pytest.raises(AnnotationError, match="instance"):
        ann.update_class("nucleus", kind="stuff")
    with pytest.raises(AnnotationError, match="delete them or change their class"):
        ann.remove_class("nucleus")
    ann.update_class("nucleus", name="Kern")
    assert ann.table[1].class_name == "Kern"
    ann.remove_class("cell")
    assert "cell" not in ann.ontology


def test_2d_image_has_no_frame_axis():
    onto = Ontology()
    onto.add("cell")
    ann = Annotation(np.zeros((30, 30), np.uint16), onto)
    a = ann.new_instance("cell")
    ann.write_mask(disc((30, 30), 15, 15, 4), a.id)
    assert a.present and ann.n_frames == 1
    with pytest.raises(AnnotationError, match="needs a time or slice axis"):
        ann.split(a.id, 0)
