"""File > Open of a patient image shows the radiological convention at once (issue 23,
item 1): no dock needs to be open first."""

import os

import pytest

PLUGIN = "napari-samlabel"


@pytest.mark.slow
def test_file_open_of_a_nifti_is_oriented(make_napari_viewer):
    from nibabel.testing import data_path

    from napari_samlabel._napari.registry import sessions

    viewer = make_napari_viewer(show=True)
    viewer.open(os.path.join(data_path, "anatomical.nii"), plugin=PLUGIN)
    # before anything of the plugin's is asked for
    assert tuple(viewer.dims.axis_labels) == ("axial (I→S)", "coronal (A→P)", "sagittal (R→L)")
    viewer.dims.order = (2, 0, 1)  # sagittal
    assert tuple(viewer.scene.camera.orientation2d) == ("up", "right")
    view = sessions(viewer).orientation
    assert view.letters() == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
    viewer.dims.order = (0, 1, 2)
    assert tuple(viewer.scene.camera.orientation2d) == ("down", "right")
