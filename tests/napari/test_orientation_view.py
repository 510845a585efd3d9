"""Patient orientation on the canvas (issue 23, item 1): the camera flips the view so that
superior is up, letters follow the plane, sliders are named; no voxel moves."""

import numpy as np
import pytest

from napari_samlabel._napari.prompting import PromptController
from napari_samlabel._napari.registry import sessions
from napari_samlabel._reader import _layer
from napari_samlabel.api import start_session
from napari_samlabel.io.images import read_image, write_labels

from dicom_helpers import sitk_series, write_dicom_series
from doubles import DiscSegmenterDouble


@pytest.fixture
def series(tmp_path):
    vol = np.random.default_rng(0).integers(0, 200, (12, 30, 24)).astype(np.int16)
    write_dicom_series(tmp_path / "ct", vol, spacing=(2.0, 1.0, 1.0))
    return read_image(tmp_path / "ct")


def _open(viewer, data, meta):
    data, kwargs, _ = _layer(data, meta, "ct")
    return viewer.add_image(data, **kwargs)


def test_sagittal_view_has_superior_up_and_letters_follow(viewer, series):
    _open(viewer, *series)
    view = sessions(viewer).orientation
    assert view.plane == "axial" and view.letters() == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert tuple(viewer.scene.camera.orientation2d) == ("down", "right")
    assert tuple(viewer.dims.axis_labels) == ("axial (I→S)", "coronal (A→P)", "sagittal (R→L)")
    viewer.dims.order = (2, 0, 1)  # displayed: z vertical, y horizontal -> a sagittal plane
    assert view.plane == "sagittal" and view.letters()["top"] == "S" and view.letters()["left"] == "A"
    assert tuple(viewer.scene.camera.orientation2d) == ("up", "right")  # z (towards S) grows upwards
    viewer.dims.order = (1, 0, 2)  # coronal
    assert view.plane == "coronal" and view.letters() == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
    viewer.dims.ndisplay = 3
    assert view.plane is None and view.letters() == {}
    viewer.dims.ndisplay = 2
    view.close()
    assert tuple(viewer.scene.camera.orientation2d) == ("down", "right") and view.letters() == {}
    assert tuple(viewer.dims.axis_labels) == ("-3", "-2", "-1")
    assert not any(k.startswith("samlabel_orientation_") for k in viewer.canvas.overlays)


def test_plain_names_for_a_movie(viewer, classes):
    image = viewer.add_image(np.zeros((4, 20, 30)))
    start_session(viewer, image, ontology=classes)
    assert tuple(viewer.dims.axis_labels) == ("frame", "y", "x") and sessions(viewer).orientation.plane is None
    viewer.scene.camera.orientation2d = ("up", "left")  # the user's own choice is left alone
    viewer.add_image(np.zeros((4, 20, 30)))
    viewer.dims.order = (1, 0, 2)
    assert tuple(viewer.scene.camera.orientation2d) == ("up", "left")


def _commit_on_sagittal(viewer, classes, series, oriented: bool, tmp_path):
    image = _open(viewer, *series)
    s = start_session(viewer, image, ontology=classes)
    if not oriented:
        sessions(viewer).orientation.close()
    viewer.dims.order = (2, 0, 1)
    viewer.dims.set_current_step(2, 9)  # x = 9
    pc = PromptController(s, DiscSegmenterDouble())
    world = np.array(image.data_to_world([7, 11, 9]))
    pc.add_point(image.world_to_data(world))  # what a click at that world point does
    pc.update_preview()
    rec = pc.commit()
    labels = np.asarray(s.labels.data == rec.id)
    path = write_labels(tmp_path / f"labels_{oriented}.nii.gz", labels.astype(np.uint8), series[1])
    return labels, path, tuple(viewer.scene.camera.orientation2d)


def test_labels_land_on_the_same_voxels(classes, series, tmp_path):
    import SimpleITK as sitk
    from napari.components import ViewerModel

    on, on_path, cam_on = _commit_on_sagittal(ViewerModel(), classes, series, True, tmp_path)
    off, off_path, cam_off = _commit_on_sagittal(ViewerModel(), classes, series, False, tmp_path)
    assert cam_on == ("up", "right") and cam_off == ("down", "right")  # the view differs ...
    assert on.any() and np.array_equal(on, off)  # ... the voxels do not
    assert (np.argwhere(on)[:, 2] == 9).all()
    # judged by SimpleITK: the exported labels sit on the DICOM series' voxels at the click

    ref = sitk_series(tmp_path / "ct")
    lab = sitk.ReadImage(str(on_path))
    point = ref.TransformIndexToPhysicalPoint((9, 11, 7))  # (x, y, z) of data (7, 11, 9)
    assert lab[lab.TransformPhysicalPointToIndex(point)] == 1
    assert np.array_equal(sitk.GetArrayFromImage(lab).astype(bool), on)
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(off_path))), sitk.GetArrayFromImage(lab))


def test_letters_follow_the_series_shown_when_the_sessions_image_is_hidden(viewer, series):
    """A coronal series added hidden beside the axial one the session labels: the user hides the
    axial image and shows the coronal, as the message says; the letters and sliders are the
    coronal's (they stayed the hidden axial's: A on top of a coronal image)."""
    data, meta = series
    axial = _open(viewer, data, meta)
    start_session(viewer, axial)
    coronal_meta = {k: v for k, v in meta.items() if k != "geometry"}
    # columns x, y, z -> R, S, A: slices along A-P, rows along S-I
    coronal_meta["affine"] = np.array([[1.0, 0, 0, 0], [0, 0, 2.0, 0], [0, 1.0, 0, 0], [0, 0, 0, 1]])
    coronal = viewer.add_image(np.zeros((12, 30, 24), np.int16), metadata=coronal_meta, name="cor", visible=False)
    view = sessions(viewer).orientation
    assert view.plane == "axial"
    axial.visible = False
    coronal.visible = True
    assert view.image() is coronal
    assert view.plane == "coronal" and view.letters()["top"] == "S", view.letters()
