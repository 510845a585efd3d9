"""pydicom's own big-endian test files read the same numbers as their little-endian twins
and as pydicom itself gives (issue 10, item 1)."""

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402

from napari_samlabel.io.dicom import read_dicom  # noqa: E402

PAIRS = [
    ("MR_small_bigendian.dcm", "MR_small.dcm"),
    ("MR_small_expb.dcm", "MR_small.dcm"),
    ("rtdose_expb_1frame.dcm", "rtdose_1frame.dcm"),
]


@pytest.mark.parametrize("big, little", PAIRS)
def test_big_endian_files_read_the_values_they_hold(big, little):
    (volume, meta), = read_dicom(get_testdata_file(big))
    (twin, _), = read_dicom(get_testdata_file(little))
    ds = pydicom.dcmread(get_testdata_file(big))
    slope, intercept = float(getattr(ds, "RescaleSlope", 1) or 1), float(getattr(ds, "RescaleIntercept", 0) or 0)
    truth = ds.pixel_array.astype(np.float64) * slope + intercept  # pydicom, with the rescale
    got = np.asarray(volume, np.float64).reshape(truth.shape)
    np.testing.assert_allclose(got, truth, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(volume), np.asarray(twin))
    assert np.asarray(volume).dtype.isnative
