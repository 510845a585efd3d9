"""File > Open of two series of one study, one after the other (issue 23, item 5): the second
is drawn where the patient is when napari can (the same axes, either way), hidden with one
line saying why when it cannot (another plane)."""

import logging

import numpy as np
import pytest

from dicom_helpers import sitk_series
from overlay_helpers import write_study

PLUGIN = "napari-samlabel"


@pytest.mark.slow
def test_file_open_overlays_a_feet_first_series_and_hides_a_coronal_one(make_napari_viewer, tmp_path, caplog):
    study = write_study(tmp_path)
    viewer = make_napari_viewer()
    (ax,) = viewer.open(str(study["AX"]), plugin=PLUGIN)
    letters = tuple(viewer.dims.axis_labels), tuple(viewer.scene.camera.orientation2d)
    with caplog.at_level(logging.WARNING, logger="napari_samlabel"):
        (ff,) = viewer.open(str(study["AX FF"]), plugin=PLUGIN)
        (cor,) = viewer.open(str(study["COR"]), plugin=PLUGIN)
    assert ax.visible and ff.visible and not cor.visible
    said = [r.getMessage() for r in caplog.records if r.name == "napari_samlabel"]
    assert len(said) == 1 and said[0].startswith("coronal series 'CT COR' is not overlaid on axial 'CT AX'"), said
    # one patient point, one world coordinate: corners of the feet-first series, judged by SimpleITK
    ax_sitk, ff_sitk = sitk_series(study["AX"]), sitk_series(study["AX FF"])
    for ijk in [(0, 0, 0), (69, 0, 7), (0, 63, 7), (69, 63, 0)]:
        p = ff_sitk.TransformIndexToPhysicalPoint(ijk)
        in_ax = np.asarray(ax_sitk.TransformPhysicalPointToContinuousIndex(p))[::-1]
        np.testing.assert_allclose(ff.data_to_world(np.asarray(ijk, float)[::-1]), ax.data_to_world(in_ax), atol=1e-3)
    # the view stays radiological: the hidden coronal series and the flipped one change nothing
    assert (tuple(viewer.dims.axis_labels), tuple(viewer.scene.camera.orientation2d)) == letters
