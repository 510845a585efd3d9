"""One-key actions and the key router, without Qt: keys resolved through napari's keymap chain."""

import numpy as np
import pytest
from napari.utils.key_bindings import KeymapHandler

from napari_samlabel.api import open_project, start_session
from napari_samlabel.synthetic import disc


def press(viewer, key, layer=None):
    handler = KeymapHandler()
    handler.keymap_providers = [p for p in (layer, viewer) if p is not None]
    assert handler.press_key(key), f"{key} is not bound"


def test_copy_then_paste_same_and_new_on_another_frame_each_one_undo(viewer, session):
    a = session.commit(disc((40, 50), 20, 25, 6), region=(2,))
    viewer.dims.set_current_step(0, 2)
    press(viewer, "Control-C", session.labels)  # after Enter the brush holds a fresh id: the saved one is copied
    assert session.clipboard.label_id == a.id
    viewer.dims.set_current_step(0, 5)
    press(viewer, "Control-V", session.image)
    assert session.table[a.id].frames == {2, 5}
    assert ((session.labels.data[5] == a.id) == (session.labels.data[2] == a.id)).all()
    viewer.dims.set_current_step(0, 6)
    press(viewer, "Control-Shift-V", session.labels)
    (new,) = [r for r in session.table if r.present and r.id != a.id]
    assert new.frames == {6} and new.class_name == a.class_name
    press(viewer, "Control-Z", session.image)  # from any of our layers
    press(viewer, "Control-Z", session.image)
    assert session.table[a.id].frames == {2} and not session.table[new.id].present


def test_next_unlabeled_frame_and_focus_on_the_selected_instance(viewer, session):
    for f in (0, 1, 3):
        session.commit(disc((40, 50), 20, 25, 4), region=(f,))
    b = session.commit(disc((40, 50), 30, 40, 3), region=(6,))
    viewer.dims.set_current_step(0, 0)
    press(viewer, "Shift-N")
    assert session.current_frame() == 2
    press(viewer, "Shift-N")
    assert session.current_frame() == 4
    session.set_selection([b.id])
    viewer.dims.set_current_step(0, 0)
    press(viewer, "Shift-F")
    assert session.current_frame() == 6
    world = session.labels.data_to_world([6, 30, 40])
    np.testing.assert_allclose(viewer.camera.center[-2:], world[-2:], atol=1.0)
    assert viewer.camera.zoom > 3  # a 7 px object fills about half the canvas


def test_keys_with_nothing_to_act_on_say_so_and_change_nothing(viewer, session, monkeypatch):
    said = []
    monkeypatch.setattr("napari.utils.notifications.show_warning", said.append)
    before = session.labels.data.copy()
    press(viewer, "Control-C", session.labels)
    press(viewer, "Control-V", session.labels)
    assert len(said) == 2 and "nothing to copy" in said[0] and "nothing copied" in said[1]
    assert (session.labels.data == before).all()


def test_an_object_cut_into_pieces_by_others_is_said_and_specks_are_not_written(viewer, session, monkeypatch):
    said = []
    monkeypatch.setattr("napari.utils.notifications.show_warning", said.append)
    stripes = []
    for r in range(4, 36, 6):
        m = np.zeros((40, 50), bool)
        m[r : r + 4, 2:48] = True
        stripes.append(session.commit(m, region=(0,)))
    speck = np.zeros((40, 50), bool)
    speck[:, 30:32] = True  # mostly under the stripes: 2 px high pieces between them
    speck[8:30, 30:45] = True
    rec = session.commit(speck, region=(0,))
    assert said and f"{rec.name} was saved in" in said[-1] and "pieces" in said[-1]
    from scipy import ndimage as ndi

    parts, n = ndi.label(session.labels.data[0] == rec.id)
    assert np.bincount(parts.ravel())[1:].min() >= 5, "no speck under 5 px was written"


def test_opening_a_project_twice_selects_the_open_one(viewer, session, tmp_path):
    session.commit(disc((40, 50), 20, 25, 6), region=(1,))
    folder = session.save_project(tmp_path / "p.samlabel")
    n_layers = len(viewer.layers)
    assert open_project(viewer, session.image, folder) is session and len(viewer.layers) == n_layers
    folder = session.save_project(tmp_path / "copy.samlabel", remember=False)
    first = open_project(viewer, session.image, folder)
    assert len(viewer.layers) == n_layers + 1
    again = open_project(viewer, session.image, str(folder) + "/")
    assert again is first and len(viewer.layers) == n_layers + 1


def test_every_session_key_is_routed_and_closing_takes_all_back(viewer, classes):
    from napari_samlabel._napari.keys import keybinding
    from napari_samlabel._napari.registry import SESSION_KEYS, sessions

    image = viewer.add_image(np.zeros((3, 20, 20)), name="x")
    keymap_before = dict(image.keymap)
    s = start_session(viewer, image, ontology=classes)
    for key in SESSION_KEYS:
        assert keybinding(key) in s.labels.keymap and keybinding(key) in viewer.keymap
    s.close()
    assert dict(image.keymap) == keymap_before and not set(s.labels.keymap) & {keybinding(k) for k in SESSION_KEYS}
    sessions(viewer).close()
    assert not viewer.keymap


def test_next_unlabeled_follows_the_slider_of_a_resliced_volume(viewer, classes):
    image = viewer.add_image(np.zeros((20, 30, 40)), name="ct")
    s = start_session(viewer, image, ontology=classes)
    blob = np.zeros((20, 30, 40), bool)
    blob[5:9, 10:20, 10:13] = True  # columns 10-12 hold labels
    s.commit(blob)
    viewer.dims.order = (2, 0, 1)  # columns on the slider: a sagittal view
    viewer.dims.set_current_step(2, 10)
    before = viewer.dims.current_step
    press(viewer, "Shift-N")
    assert viewer.dims.current_step[2] == 13 and viewer.dims.current_step[:2] == before[:2]


def test_a_save_into_an_instance_where_others_leave_only_specks_is_refused_and_keeps_its_pixels(session):
    """'Into selected' + Enter (or Ctrl+V into the same instance) over other instances that leave
    only specks free: refused with what to do; the instance's pixels stay, no undo step."""
    from napari_samlabel.core.annotation import AnnotationError

    a = session.commit(disc((40, 50), 10, 10, 5), region=(2,))
    wall = np.zeros((40, 50), bool)
    wall[20:36, 10:40] = True
    gaps = np.zeros((40, 50), bool)
    gaps[[22, 27, 33], [12, 25, 37]] = True  # three free pixels inside the wall
    session.commit(wall & ~gaps, region=(2,))
    before = np.asarray(session.labels.data).copy()
    steps = len(session.labels._undo_history)
    with pytest.raises(AnnotationError, match="nothing saved, its pixels kept.*overwrite"):
        session.commit(wall, region=(2,), label_id=a.id, replace=True)  # what 'into selected' + Enter does
    np.testing.assert_array_equal(np.asarray(session.labels.data), before)
    assert len(session.labels._undo_history) == steps and session.table[a.id].frames == {2}
    everything = np.zeros((40, 50), bool)
    everything[20:36, 10:40] = True
    with pytest.raises(AnnotationError, match="nothing saved"):  # no free pixel at all, the same promise
        session.commit(everything & ~gaps, region=(2,), label_id=a.id, replace=True)
    np.testing.assert_array_equal(np.asarray(session.labels.data), before)


def test_napari_status_hints_never_name_a_key_the_plugin_took(session, viewer):
    """napari's status bar said '<1> for the label eraser' while 1 picks a class."""
    for mode in ("paint", "erase", "pan_zoom"):
        session.labels.mode = mode
        assert "<1> for" not in session.labels.help and "label eraser" not in session.labels.help
        assert "pick a class" in session.labels.help
    viewer.layers.selection.active = session.labels
    session.labels.mode = "fill"
    assert "<2> for" not in viewer.help
    session.close()
    session.labels.mode = "paint"
    assert "<1> for activate the label eraser" in session.labels.help, "napari's hints come back with its keys"
