"""Two series of one study line up (issue 23, item 5): a series whose axes run along the
reference's (either way) is drawn in its world, so one patient point has one world coordinate
in both, as SimpleITK places it; a series in another plane, or tilted, is added hidden and
one line names it and says why."""

import logging

import numpy as np
import pytest

from napari_samlabel._reader import _layer, _overlaid
from napari_samlabel.io.dicom import read_dicom
from napari_samlabel.io.geometry import Geometry
from napari_samlabel.io.placement import own_frame, place

from dicom_helpers import sitk_series
from overlay_helpers import write_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_study(tmp_path_factory.mktemp("study"))


def _open(viewer, folder):
    """What File > Open does with the plugin's reader, in a viewer model (no window)."""
    from napari.layers import Layer

    layers = _overlaid([_layer(vol, meta, "DICOM") for vol, meta in read_dicom(folder)], viewer)
    return [viewer.add_layer(Layer.create(*ld)) for ld in layers]


def _same_points(ref_layer, ref_sitk, layer, image, voxels):
    """For voxels (i, j, k) of ``image``: napari's world coordinate of that voxel in ``layer``
    and of the same patient point (SimpleITK) in ``ref_layer``."""
    for ijk in voxels:
        p = image.TransformIndexToPhysicalPoint([int(v) for v in ijk])
        in_ref = np.asarray(ref_sitk.TransformPhysicalPointToContinuousIndex(p))[::-1]  # (z, y, x)
        yield np.asarray(layer.data_to_world(np.asarray(ijk, float)[::-1])), np.asarray(ref_layer.data_to_world(in_ref))


def test_a_series_stored_the_other_way_is_overlaid_where_the_patient_is(viewer, study):
    ref_sitk, ff_sitk = sitk_series(study["AX"]), sitk_series(study["AX FF"])
    (ref,) = _open(viewer, study["AX"])
    (ff,) = _open(viewer, study["AX FF"])
    assert ff.visible
    assert tuple(np.sign(ff.scale)) == (-1, 1, -1)  # slices and columns run the other way
    size = ff_sitk.GetSize()
    corners = [(i, j, k) for i in (0, size[0] - 1) for j in (0, size[1] - 1) for k in (0, size[2] - 1)]
    for here, there in _same_points(ref, ref_sitk, ff, ff_sitk, corners + [(17, 40, 3)]):
        np.testing.assert_allclose(here, there, atol=1e-3)
    # and napari reads back the voxel SimpleITK has there, in both
    p = ff_sitk.TransformIndexToPhysicalPoint((17, 40, 3))
    world = ff.data_to_world((3, 40, 17))
    k, j, i = np.round(ref.world_to_data(world)).astype(int)
    assert ref_sitk.TransformPhysicalPointToIndex(p) == (i, j, k)
    assert ff.data[3, 40, 17] == ref.data[k, j, i]


def test_same_direction_other_grid_was_already_in_one_world(study):
    """The reference's own placement (scale = spacing, translate = origin on its axes) is
    unchanged, and a grid of the same direction keeps it: no regression."""
    from napari_samlabel.io.placement import layer_frame

    ((vol, meta),) = read_dicom(study["AX"])
    geo = Geometry.from_meta(meta["geometry"])
    p = place(geo, layer_frame(geo, geo.napari_scale(), geo.napari_translate()), vol.shape)
    assert p.refused is None
    assert p.scale == geo.napari_scale() and np.allclose(p.translate, geo.napari_translate())
    other = Geometry((5.0, 1.0, 1.0), (12.0, -40.0, 3.0), np.eye(3))
    p2 = place(other, own_frame(geo), (5, 60, 60))
    assert p2.scale == other.napari_scale() and np.allclose(p2.translate, other.napari_translate())


def test_a_coronal_series_is_hidden_and_named_not_drawn_as_bars(viewer, study, caplog):
    (ref,) = _open(viewer, study["AX"])
    letters = _letters(viewer)
    with caplog.at_level(logging.WARNING, logger="napari_samlabel"):
        (cor,) = _open(viewer, study["COR"])
        (tilt,) = _open(viewer, study["AX TILT"])
    assert ref.visible and not cor.visible and not tilt.visible
    said = [r.getMessage() for r in caplog.records if r.name == "napari_samlabel"]
    assert any("coronal series 'CT COR' is not overlaid on axial 'CT AX'" in m and "one set of slice axes" in m
               for m in said), said  # fmt: skip
    assert any("'CT AX TILT'" in m and "tilted 10.0°" in m for m in said), said
    # the hidden coronal series does not turn the axial view's letters and slider names
    assert _letters(viewer) == letters
    # shown alone, it is placed as it always was, and the orientation follows it
    ref.visible = False
    cor.visible = True
    geo = Geometry.from_meta(cor.metadata["geometry"])
    assert tuple(cor.scale) == geo.napari_scale() and np.allclose(cor.translate, geo.napari_translate())
    assert "coronal (A→P)" == viewer.dims.axis_labels[0]


def _folder(study, root, names):
    import shutil

    for name in names:
        shutil.copytree(study[name], root / name)
    return root


def test_series_of_one_folder_line_up_on_the_largest(viewer, study, tmp_path, caplog):
    """read_dicom returns every series of a folder, largest first: the first is the reference."""
    with caplog.at_level(logging.WARNING, logger="napari_samlabel"):
        layers = {la.name: la for la in _open(viewer, _folder(study, tmp_path / "ax", ("AX", "AX FF", "AX TILT")))}
    assert layers["CT AX"].visible and layers["CT AX FF"].visible and not layers["CT AX TILT"].visible
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "axial series 'CT AX TILT' is not overlaid on axial 'CT AX': it is tilted 10.0°" in said
    ff_sitk, ref_sitk = sitk_series(study["AX FF"]), sitk_series(study["AX"])
    for here, there in _same_points(layers["CT AX"], ref_sitk, layers["CT AX FF"], ff_sitk, [(0, 0, 0), (69, 63, 7)]):
        np.testing.assert_allclose(here, there, atol=1e-3)


def test_in_a_folder_with_a_larger_coronal_series_the_axial_one_is_hidden(study, tmp_path, caplog):
    from napari.components import ViewerModel

    viewer = ViewerModel()
    with caplog.at_level(logging.WARNING, logger="napari_samlabel"):
        layers = {la.name: la for la in _open(viewer, _folder(study, tmp_path / "both", ("AX", "COR")))}
    assert layers["CT COR"].visible and not layers["CT AX"].visible  # CT COR: 40 slices, CT AX: 12
    said = [r.getMessage() for r in caplog.records]
    assert said == ["axial series 'CT AX' is not overlaid on coronal 'CT COR': napari shows one set of slice axes. "
                    "Added hidden: to view it, hide 'CT COR' and show it, or open it alone in another window"]  # fmt: skip


def _letters(viewer):
    from napari_samlabel._napari.registry import sessions

    view = sessions(viewer).orientation
    return view.letters(), tuple(viewer.dims.axis_labels), tuple(viewer.scene.camera.orientation2d)


def test_a_flipped_series_shown_alone_keeps_the_radiological_view(viewer, study, classes):
    """Its negative scales turn the world axes back: letters and slider names are the reference's;
    its labels are drawn where it is."""
    from napari_samlabel.api import start_session

    (ref,) = _open(viewer, study["AX"])
    before = _letters(viewer)
    (ff,) = _open(viewer, study["AX FF"])
    labels = start_session(viewer, ff, ontology=classes).labels
    for corner in [(0, 0, 0), (7, 63, 69)]:
        np.testing.assert_allclose(labels.data_to_world(corner), ff.data_to_world(corner))
    labels.visible = False
    ref.visible = False
    assert _letters(viewer) == before
    viewer.dims.order = (1, 0, 2)  # coronal
    coronal = _letters(viewer)
    ref.visible, ff.visible = True, False
    assert _letters(viewer) == coronal
