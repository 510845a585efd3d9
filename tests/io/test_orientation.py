"""Radiological orientation as a pure function (issue 23, item 1), judged by nibabel's
aff2axcodes and SimpleITK's direction on real files."""

import os

import nibabel as nib
import numpy as np
import pytest
from nibabel.orientations import aff2axcodes
from nibabel.testing import data_path
from pydicom.data import get_testdata_file

from napari_samlabel.io.geometry import index_affine
from napari_samlabel.io.images import read_image
from napari_samlabel.io.orientation import axis_names, screen_orientation

from dicom_helpers import sitk_series, write_dicom_series

AXIAL, CORONAL, SAGITTAL = (1, 2), (0, 2), (0, 1)  # displayed (vertical, horizontal) of (z, y, x)
OPPOSITE = dict(zip("RLAPSI", "LRPAIS"))


def _check_convention(affine):
    """Letters against nibabel: the high-index end of each array axis is aff2axcodes' letter."""
    codes = aff2axcodes(affine)  # per array axis (z, y, x): the letter its index grows towards
    for displayed, plane, top, left in [(AXIAL, "axial", "A", "R"), (CORONAL, "coronal", "S", "R"),
                                        (SAGITTAL, "sagittal", "S", "A")]:  # fmt: skip
        o = screen_orientation(affine, displayed)
        assert o.plane == plane
        assert (o.letters["top"], o.letters["left"]) == (top, left)
        assert (o.letters["bottom"], o.letters["right"]) == (OPPOSITE[top], OPPOSITE[left])
        v, h = (codes[a] for a in displayed)
        assert o.orientation2d[0] == ("up" if v == top else "down")
        assert o.orientation2d[1] == ("left" if h == left else "right")


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_lps_dicom_files(name):
    data, meta = read_image(get_testdata_file(name))
    affine = index_affine(meta)
    _check_convention(affine)
    # DICOM stores rows towards P, columns towards L: axial as scanners show it needs no flip,
    # sagittal and coronal need superior up (napari's default draws slice 0, inferior, on top)
    assert screen_orientation(affine, AXIAL).orientation2d == ("down", "right")
    assert screen_orientation(affine, SAGITTAL).orientation2d == ("up", "right")
    assert screen_orientation(affine, CORONAL).orientation2d == ("up", "right")
    assert axis_names(affine, 3) == ("axial (I→S)", "coronal (A→P)", "sagittal (R→L)")


def test_dicom_series_against_simpleitk(tmp_path):

    write_dicom_series(tmp_path / "s", np.zeros((5, 12, 10), np.int16))
    _, meta = read_image(tmp_path / "s")
    affine = index_affine(meta)
    _check_convention(affine)
    img = sitk_series(tmp_path / "s")
    lps = np.array(img.GetDirection()).reshape(3, 3)  # columns: x, y, z in LPS
    ras_zyx = (np.diag([-1, -1, 1]) @ lps)[:, ::-1]
    assert np.allclose(np.sign(np.round(ras_zyx)), np.sign(np.round(affine[:3, :3])))


@pytest.mark.parametrize("name", ["anatomical.nii", "example4d.nii.gz"])
def test_ras_nifti_files(name):
    path = os.path.join(data_path, name)
    data, meta = read_image(path)
    affine = index_affine(meta)
    _check_convention(affine)
    names = axis_names(affine, data.ndim)
    assert names[-3].startswith("axial") and names[-2].startswith("coronal") and names[-1].startswith("sagittal")
    if data.ndim == 4:
        assert names[0] == "time"
    # the file as nibabel stores it (RAS, not reoriented): the letters still follow the patient
    raw = nib.load(path).affine[:, [2, 1, 0, 3]]  # (k, j, i) index -> RAS
    _check_convention(raw)
    assert screen_orientation(raw, CORONAL).letters == screen_orientation(affine, CORONAL).letters


def test_stored_sagittal_and_transposed_views():
    # a sagittal acquisition: columns towards A, rows towards I, slices towards L
    affine = np.eye(4)
    affine[:3, :3] = np.column_stack([[-1, 0, 0], [0, 0, -1], [0, 1, 0]])  # (z, y, x) in RAS
    o = screen_orientation(affine, (1, 2))  # its own slices: sagittal
    assert o.plane == "sagittal" and o.letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
    assert o.orientation2d == ("down", "left")
    t = screen_orientation(affine, (2, 1))  # transposed: A-P vertical, S-I horizontal
    assert t.plane == "sagittal" and (t.letters["top"], t.letters["left"]) == ("A", "S")


def test_plain_names_without_geometry():
    assert axis_names(None, 2) == ("y", "x")
    assert axis_names(None, 3) == ("frame", "y", "x")
    assert axis_names(None, 4) == ("t", "z", "y", "x")
    assert axis_names(None, 3, ["t", "y", "x"]) == ("t", "y", "x")
