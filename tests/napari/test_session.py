"""The napari model layer, without Qt: layers, features, colours, keys and undo."""

import numpy as np
import pytest
from napari.utils.key_bindings import KeymapHandler

from napari_samlabel.api import AnnotationError, current_session, start_session

from napari_samlabel.synthetic import disc


def press(viewer, layer, key):
    """Resolve a key through napari's keymap chain (active layer first, then viewer)."""
    handler = KeymapHandler()
    handler.keymap_providers = [layer, viewer]
    assert handler.press_key(key)


def test_labels_layer_matches_image_shape_and_geometry(viewer, classes):
    image = viewer.add_image(
        np.zeros((5, 30, 40)), scale=(2.0, 0.5, 0.25), translate=(10, -3, 7), rotate=30, name="vol"
    )
    s = start_session(viewer, image, ontology=classes)
    assert s.labels in viewer.layers and s.labels.data.shape == (5, 30, 40)
    np.testing.assert_allclose(s.labels.scale, image.scale)
    np.testing.assert_allclose(s.labels.translate, image.translate)
    np.testing.assert_allclose(s.labels.affine.affine_matrix, image.affine.affine_matrix)
    world = [12.0, 4.0, 9.0]
    np.testing.assert_allclose(s.labels.world_to_data(world), image.world_to_data(world))
    assert s.frame_axis == 0 and s.labels.metadata["samlabel"]["ontology"] == classes.to_dict()


@pytest.mark.parametrize(
    "shape, rgb, labels_shape, frame_axis",
    [((30, 40), False, (30, 40), None), ((30, 40, 3), True, (30, 40), None), ((3, 4, 20, 20), False, (3, 4, 20, 20), 0)],
)
def test_any_dimensionality(viewer, classes, shape, rgb, labels_shape, frame_axis):
    image = viewer.add_image(np.zeros(shape, np.uint8), rgb=rgb)
    s = start_session(viewer, image, ontology=classes)
    assert s.labels.data.shape == labels_shape and s.frame_axis == frame_axis
    region = (1, 2) if len(labels_shape) == 4 else ()
    rec = s.commit(disc((labels_shape[-2], labels_shape[-1]), 10, 10, 4), region=region)
    assert rec.present and (s.labels.data == rec.id).sum() == disc((20, 20), 10, 10, 4).sum()


def test_features_and_colours_follow_the_table(session):
    rec = session.commit(disc((40, 50), 10, 10, 4), region=(3,))
    feats = session.labels.features.set_index("index")
    row = feats.loc[rec.id]
    assert (row["class"], row["name"], row["source"], row["frames"]) == ("nucleus", f"Nucleus ({rec.id})", "manual", "3")
    assert row["confidence"] == 1.0
    color = session.labels.colormap.map(rec.id)
    assert color[0] > 0.7 and color[2] < 0.1 and color[3] == 1  # orange-ish, opaque
    session.annotation.set_visible([rec.id], False)
    assert session.labels.colormap.map(rec.id)[3] == 0
    assert session.labels.colormap.map(0)[3] == 0


def test_commit_is_one_undo_step_and_redo_restores(session):
    a = session.commit(disc((40, 50), 10, 10, 4), region=(3,))
    b = session.commit(disc((40, 50), 25, 30, 6), region=(3,))
    session.labels.undo()
    assert not session.table[b.id].present and (session.labels.data == b.id).sum() == 0
    assert session.table[a.id].present
    session.labels.redo()
    assert session.table[b.id].frames == {3} and (session.labels.data == b.id).sum() > 0


def test_bulk_edit_over_frames_is_one_undo_step(session):
    a = session.commit(disc((40, 50), 10, 10, 4), region=(0,))
    session.annotation.copy_to_frames(a.id, 0, range(0, 8))
    before = session.labels.data.copy()
    n_items = len(session.labels._undo_history)
    session.annotation.delete_class("nucleus", range(2, 6))
    assert session.table[a.id].frames == {0, 1, 6, 7}
    assert len(session.labels._undo_history) == n_items + 1
    session.labels.undo()
    assert (session.labels.data == before).all() and session.table[a.id].frames == set(range(8))
    assert "2-5" not in session.labels.features["frames"].iloc[0] and session.labels.features["frames"].iloc[0] == "0-7"


def test_change_class_without_pixels_is_still_one_undo_step(session):
    a = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    session.annotation.change_class([a.id], "cell")
    assert session.labels.features.set_index("index").loc[a.id, "class"] == "cell"
    session.labels.undo()
    assert session.table[a.id].class_name == "nucleus" and session.table[a.id].present
    session.labels.redo()
    assert session.table[a.id].class_name == "cell"


def test_ids_not_reused_after_undo(session):
    a = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    session.labels.undo()
    b = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    assert b.id > a.id


def test_brush_painting_creates_an_instance_of_selected_class(viewer, session):
    press(viewer, session.labels, "2")  # hotkey of "cell", bound on our layer
    assert session.current_class == "cell"
    label = session.labels.selected_label
    session.labels.paint((4, 20, 20), label)
    rec = session.table[label]
    assert (rec.class_name, rec.source, rec.frames) == ("cell", "manual", {4})
    session.labels.undo()
    assert not session.table[label].present


def test_hotkeys_also_work_from_the_image_layer(viewer, session):
    press(viewer, session.image, "3")
    assert session.current_class == "background"
    assert session.table[session.labels.selected_label].stuff


def test_hotkeys_reach_the_right_session(viewer, session, classes):
    other_image = viewer.add_image(np.zeros((30, 30)), name="other")
    other = start_session(viewer, other_image, ontology=classes)
    press(viewer, session.labels, "2")
    assert session.current_class == "cell" and other.current_class == "nucleus"
    unrelated = viewer.add_image(np.zeros((30, 30)), name="reference")  # keys go to the current session
    # (once a Qt viewer has existed napari binds 1-9 to its own Image modes, and a layer's
    # own tool keys win: the viewer's keymap is what an unrelated layer falls through to)
    handler = KeymapHandler()
    handler.keymap_providers = [viewer]
    assert viewer.layers.selection.active is unrelated and handler.press_key("2")
    assert other.current_class == "cell"


def test_m_starts_a_new_instance_with_a_fresh_id(viewer, session):
    first = session.labels.selected_label
    session.labels.paint((0, 5, 5), first)
    press(viewer, session.labels, "m")
    second = session.labels.selected_label
    assert second > first and second not in np.unique(session.labels.data)


def test_stroke_over_locked_instance_is_rejected(session):
    a = session.commit(disc((40, 50), 20, 20, 6), region=(2,))
    session.annotation.set_locked([a.id])
    snapshot = session.labels.data.copy()
    session.new_instance()
    session.labels.brush_size = 15
    with session.labels.block_history():  # as napari's mouse drag does
        session.labels.paint((2, 20, 20), session.labels.selected_label)
    locked = snapshot == a.id
    assert (session.labels.data[locked] == a.id).all()  # the locked instance is untouched
    assert (session.labels.data == session.labels.selected_label).sum() > 0  # free pixels were painted
    session.labels.undo()
    assert (session.labels.data == snapshot).all()


def test_empty_commit_is_refused_and_keeps_labels(session):
    a = session.commit(disc((40, 50), 20, 20, 6), region=(2,))
    with pytest.raises(AnnotationError, match="empty"):
        session.commit(np.zeros((40, 50), bool), region=(2,))
    with pytest.raises(AnnotationError, match="no pixel of the mask is free"):
        session.commit(disc((40, 50), 20, 20, 3), region=(2,))
    assert session.table[a.id].present and (session.labels.data == a.id).sum() == disc((40, 50), 20, 20, 6).sum()


def test_adopting_a_layer_round_trips_the_instance_table(viewer, session, classes):
    a = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    session.annotation.change_class([a.id], "cell")
    session.annotation.set_locked([a.id])
    layer = session.labels
    viewer.layers.remove(layer)  # the session ends; the layer keeps features and metadata
    assert current_session(viewer) is None
    viewer.layers.append(layer)
    again = start_session(viewer, session.image, labels=layer)  # ontology from metadata
    rec = again.table[a.id]
    assert (rec.class_name, rec.locked, rec.frames) == ("cell", True, {1})
    assert again.ontology.to_dict() == classes.to_dict()
    assert again.commit(disc((40, 50), 30, 30, 3), region=(1,)).id > a.id


def test_adopting_foreign_labels_and_shape_mismatch(viewer, classes):
    image = viewer.add_image(np.zeros((4, 20, 20)))
    foreign = np.zeros((4, 20, 20), np.int32)
    foreign[2, 2:5, 2:5] = 7
    layer = viewer.add_labels(foreign, name="old")
    s = start_session(viewer, image, labels=layer, ontology=classes)
    assert s.table[7].class_name == "nucleus" and s.table[7].frames == {2}
    bad = viewer.add_labels(np.zeros((3, 20, 20), np.int32), name="wrong")
    other = viewer.add_image(np.zeros((4, 20, 20)), name="other")
    with pytest.raises(AnnotationError, match=r"'wrong' has shape \(3, 20, 20\).*needs \(4, 20, 20\)"):
        start_session(viewer, other, labels=bad)


def test_current_frame_and_jump_on_scaled_translated_layer(viewer, classes):
    image = viewer.add_image(np.zeros((10, 20, 20)), scale=(3.0, 1, 1), translate=(5.0, 0, 0))
    s = start_session(viewer, image, ontology=classes)
    rec = s.commit(disc((20, 20), 10, 10, 3), region=(7,))
    s.select_instance(rec.id, jump=True)
    assert s.current_frame() == 7
    assert viewer.dims.point[0] == pytest.approx(5.0 + 3.0 * 7)


def test_napari_new_label_never_hands_out_a_deleted_id(session):
    a = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    b = session.commit(disc((40, 50), 30, 30, 4), region=(1,))
    session.annotation.delete([b.id])
    session.labels.selected_label = b.id  # what napari's "new label" (max + 1) would pick
    assert session.labels.selected_label not in (a.id, b.id)
    assert session.labels.selected_label > b.id


def test_an_action_that_changes_nothing_adds_no_undo_step(session):
    session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    n = len(session.labels._undo_history)
    session.annotation.delete_below(0.5, frames=range(0, 8))  # everything is manual (1.0)
    session.annotation.delete_class("cell")
    assert len(session.labels._undo_history) == n


def test_adopting_with_an_ontology_that_lacks_a_class_keeps_it(viewer, session):
    a = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    session.annotation.change_class([a.id], "cell")
    layer = session.labels
    viewer.layers.remove(layer)
    viewer.layers.append(layer)
    from napari_samlabel.core import Ontology

    narrow = Ontology()
    narrow.add("nucleus")
    again = start_session(viewer, session.image, labels=layer, ontology=narrow)
    assert again.table[a.id].class_name == "cell" and "cell" in again.ontology
