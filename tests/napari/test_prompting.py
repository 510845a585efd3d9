"""The prompt path without Qt: world -> data -> plane -> model (x, y) and back.

Uses DiscSegmenterDouble (a test double, see doubles.py) so positions are exact.
"""

import numpy as np
import pytest

from napari_samlabel._napari.prompting import PromptController
from napari_samlabel.api import start_session
from napari_samlabel.core.prompts import PromptError
from napari_samlabel.synthetic import disc

from doubles import DiscSegmenterDouble


def setup(viewer, classes, data, **layer_kw):
    image = viewer.add_image(data, **layer_kw)
    session = start_session(viewer, image, ontology=classes)
    double = DiscSegmenterDouble()
    return session, PromptController(session, double), double


def test_click_on_scaled_translated_layer_lands_on_the_right_pixels(viewer, classes):
    data = np.random.default_rng(0).random((6, 40, 60))
    s, pc, double = setup(viewer, classes, data, scale=(2.0, 0.5, 0.25), translate=(10.0, -5.0, 3.0))
    viewer.dims.set_point(0, 10.0 + 2.0 * 4)  # world z of frame 4
    world_click = np.array([18.0, -5.0 + 0.5 * 12, 3.0 + 0.25 * 30])
    pc.add_point(s.image.world_to_data(world_click))  # what a click does
    pc.update_preview()
    prompts, _ = double.calls[-1]
    assert prompts.points.tolist() == [[12, 30]] and prompts.xy.tolist() == [[30, 12]]
    rec = pc.commit()
    expected = np.zeros(data.shape, bool)
    expected[4] = disc((40, 60), 12, 30, 4)
    assert ((s.labels.data == rec.id) == expected).all()
    assert (rec.sources, rec.mean_confidence, rec.frames) == ("manual", 1.0, {4})  # the user accepted it
    assert len(pc.points.data) == 0 and pc.preview.data.sum() == 0  # prompts and preview cleared


def test_transposed_view_and_sagittal_plane_of_a_volume(viewer, classes):
    data = np.random.default_rng(1).random((30, 40, 50))
    s, pc, double = setup(viewer, classes, data)
    viewer.dims.order = (1, 2, 0)  # show (y, x)? no: rows = axis 2, cols = axis 0 (sagittal-like)
    viewer.dims.set_current_step(1, 17)
    plane = pc.current_plane()
    assert plane.displayed == (2, 0) and plane.index[1] == 17
    pc.add_point([8, 17, 33])  # data (z, y, x)
    pc.update_preview()
    prompts, _ = double.calls[-1]
    assert prompts.points.tolist() == [[33, 8]]  # row = x, col = z as displayed
    assert double.images[-1].shape[:2] == (50, 30)
    rec = pc.commit()
    written = np.argwhere(s.labels.data == rec.id)
    assert (written[:, 1] == 17).all()
    centre = written.mean(axis=0)
    assert np.allclose(centre, [8, 17, 33], atol=0.01)


def test_rgb_image_and_2d(viewer, classes):
    data = (np.random.default_rng(2).random((30, 40, 3)) * 255).astype(np.uint8)
    s, pc, double = setup(viewer, classes, data, rgb=True)
    pc.add_point([10, 20])
    rec = pc.commit()
    assert ((s.labels.data == rec.id) == disc((30, 40), 10, 20, 4)).all()
    assert (double.images[-1] == data).all()  # uint8 RGB reaches the model unchanged


def test_model_sees_the_plane_windowed_by_contrast_limits(viewer, classes):
    data = np.zeros((20, 20), np.float32)
    data[:, 10:] = 1000.0
    s, pc, double = setup(viewer, classes, data)
    s.image.contrast_limits = (0, 2000)
    pc.add_point([5, 5])
    pc.update_preview()
    assert double.images[-1][0, 15, 0] == 127  # half-way up the window


def test_cycle_refine_and_points_from_other_planes(viewer, classes):
    s, pc, double = setup(viewer, classes, np.zeros((5, 30, 30)))
    viewer.dims.set_current_step(0, 2)
    pc.add_point([2, 10, 10])
    pc.add_point([3, 20, 20])  # on another frame: ignored here
    pc.update_preview()
    assert len(double.calls[-1][0].points) == 1
    assert pc.cycle() == 1 and pc.preview.data[2].sum() == disc((30, 30), 10, 10, 7).sum()
    pc.add_point([2, 12, 12], positive=False)
    pc.update_preview()
    _, mask_input = double.calls[-1]
    assert mask_input is not None and mask_input.mean() == 1.0  # logits of the chosen candidate
    assert double.calls[-1][0].labels.tolist() == [1, 0]


def test_commit_respects_panoptic_mode_and_into_selected(viewer, classes):
    s, pc, _ = setup(viewer, classes, np.zeros((30, 30)))
    first = s.commit(disc((30, 30), 10, 10, 5))
    pc.add_point([10, 14])
    second = pc.commit()  # exclude: does not eat the first
    assert ((s.labels.data == first.id) == disc((30, 30), 10, 10, 5)).all()
    assert (s.labels.data == second.id).sum() < disc((30, 30), 10, 14, 4).sum()
    s.select_instance(first.id)
    pc.into_selected = True
    pc.add_point([20, 20])
    again = pc.commit()
    assert again.id == first.id and ((s.labels.data == first.id) == (disc((30, 30), 20, 20, 4) & (s.labels.data != second.id))).all()
    s.labels.undo()
    assert ((s.labels.data == first.id) == disc((30, 30), 10, 10, 5)).all()


def test_empty_prompt_and_no_model_are_clear_errors(viewer, classes):
    s, pc, _ = setup(viewer, classes, np.zeros((30, 30)))
    with pytest.raises(PromptError, match="nothing to commit"):
        pc.commit()
    pc.add_point([5, 5], positive=False)
    with pytest.raises(PromptError, match="only negative clicks"):
        pc.update_preview()
    pc.backend = None
    with pytest.raises(PromptError, match="no model loaded"):
        pc.label_all()


def test_escape_clears_prompts_and_preview_but_keeps_labels(viewer, classes):
    s, pc, _ = setup(viewer, classes, np.zeros((30, 30)))
    kept = s.commit(disc((30, 30), 5, 5, 3))
    pc.add_point([20, 20])
    pc.update_preview()
    assert pc.preview.data.any()
    pc.clear()
    assert not pc.preview.data.any() and len(pc.points.data) == 0 and s.table[kept.id].present


def test_label_all_is_one_undo_step_with_scores(viewer, classes):
    s, pc, _ = setup(viewer, classes, np.zeros((40, 40)))
    made = pc.label_all()
    assert [r.mean_confidence for r in made] == [0.8, 0.3] and {r.sources for r in made} == {"model"}
    s.annotation.delete_below(0.5)
    assert made[0].present and not made[1].present
    s.labels.undo()
    assert s.table[made[1].id].present  # records are restored by id after undo
    s.labels.undo()
    assert not s.labels.data.any()


def test_toggle_key_makes_next_clicks_negative(viewer, classes):
    s, pc, double = setup(viewer, classes, np.zeros((30, 30)))
    pc.add_point([10, 10])
    pc.toggle_negative()
    pc.points.add(np.array([20.0, 20.0]))  # what napari's add mode does on a click
    assert pc.points.features["positive"].tolist() == [True, False]
    colors = pc.points.face_color
    assert colors[0][1] > 0.8 and colors[1][0] > 0.8  # green, red
