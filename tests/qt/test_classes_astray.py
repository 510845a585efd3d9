"""Classes never go astray in the window: Load then Enter saves under a loaded class; Start
annotating a second image keeps the user's classes (not a one-class 'object' list)."""

import json

import numpy as np
import pytest

from napari_samlabel.synthetic import disc

pytestmark = pytest.mark.slow  # real windows: each test over 2 s

SHAPE = (60, 80)
CLASSES = {"classes": [{"name": "nucleus", "color": "#ff8800", "hotkey": "1"},
                       {"name": "mitosis", "color": "#3cb44b", "hotkey": "2"}]}  # fmt: skip


def test_load_classes_then_enter_saves_under_a_loaded_class(make_napari_viewer, tmp_path, qtbot):
    viewer = make_napari_viewer()
    data = np.zeros((3, *SHAPE), np.float32)
    data[:, disc(SHAPE, 30, 40, 8)] = 1.0  # a bright nucleus to click on
    image = viewer.add_image(data, name="movie")
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    panel.classes.image_combo.setCurrentText(image.name)
    panel.classes.start_button.click()
    s = panel.segment.registry.current
    assert s is not None
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(CLASSES))
    panel.classes._load(str(path))  # what Classes > Load… does with the chosen file
    assert s.ontology.names == ["nucleus", "mitosis"]
    assert s.current_class == "nucleus", "the class that is gone gave way to the first loaded one"
    assert panel.segment.class_combo.currentText() == "nucleus"
    seg = panel.segment
    seg.set_sam_mode(True)
    c = seg.controller
    viewer.dims.set_current_step(0, 0)
    c.add_point((0, 30, 40))
    c.update_preview()
    rec = c.commit_or_report()  # Enter
    assert rec is not None and rec.class_name == "nucleus"


def test_start_annotating_a_second_image_keeps_the_users_classes(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    first = viewer.add_image(np.zeros((3, *SHAPE), np.float32), name="first")
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    panel.classes.image_combo.setCurrentText(first.name)
    panel.classes.start_button.click()
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(CLASSES))
    panel.classes._load(str(path))
    s1 = panel.segment.registry.current
    s1.commit(disc(SHAPE, 20, 20, 6), region=(0,))
    second = viewer.add_image(np.zeros((2, *SHAPE), np.float32), name="second")
    panel.classes.image_combo.setCurrentText(second.name)
    panel.classes.start_button.click()
    s2 = panel.segment.registry.current
    assert s2 is not s1 and s2.image is second
    assert s2.ontology.names == ["nucleus", "mitosis"], "the user's classes, not a one-class 'object' list"
    assert s2.ontology is not s1.ontology, "each session owns its classes"


def test_a_project_saved_after_load_reopens_with_only_the_loaded_classes(make_napari_viewer, tmp_path):
    """The brush's fresh id of a start-up class lingered after Load; saved, it brought the class back."""
    from napari_samlabel.api import open_project
    from napari_samlabel.core import Ontology

    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((2, *SHAPE), np.float32), name="movie")
    from napari_samlabel.api import start_session

    s = start_session(viewer, image, ontology=Ontology.from_dict({"classes": [{"name": "object"}]}))
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(CLASSES))
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    panel.classes._load(str(path))
    s.commit(disc(SHAPE, 20, 20, 6), region=(0,))
    folder = s.save_project(tmp_path / "p.samlabel")
    viewer.layers.remove(s.labels)
    again = open_project(viewer, image, folder)
    assert again.ontology.names == ["nucleus", "mitosis"] and len(again.table.present()) == 1
