"""Every colour DICOM in pydicom's test data opens as an RGB layer with pydicom's values, or is
refused naming the file (issue 10, item 2: they failed in napari or opened as 4D grey)."""

import functools
import warnings

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_files  # noqa: E402

from napari_samlabel._reader import read_dicom_layers  # noqa: E402
from napari_samlabel.io import ImageReadError  # noqa: E402

pytestmark = pytest.mark.slow  # decodes all 32 colour files of pydicom (about 30 s)


@functools.cache  # pydicom checks each external data file's hash on every listing: 15 s, once
def colour_files() -> tuple[str, ...]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in get_testdata_files("*.dcm"):
            try:
                if int(getattr(pydicom.dcmread(f, stop_before_pixels=True), "SamplesPerPixel", 1)) == 3:
                    out.append(f)
            except Exception:
                continue
    return tuple(sorted(out))


def test_colour_dicom_opens_as_rgb_with_pydicoms_values(viewer):
    files = colour_files()
    assert len(files) >= 20
    opened = []
    for f in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                layers = read_dicom_layers(f)
            except ImageReadError as e:
                assert f in str(e) and "compressed" in str(e)  # no decoder installed: said, with the file
                continue
            truth = pydicom.dcmread(f).pixel_array
        ((data, kwargs, kind),) = layers
        layer = viewer.add_image(data, **kwargs)
        assert layer.rgb and layer.ndim == truth.ndim - 1, f
        np.testing.assert_array_equal(np.asarray(data).reshape(truth.shape), truth, err_msg=f)
        opened.append(f)
    assert len(opened) >= len(files) - 3


def test_a_session_on_a_colour_dicom_labels_its_pixels_not_its_channels(viewer):
    from napari_samlabel.api import start_session

    f = next(f for f in colour_files() if f.endswith("SC_rgb_rle_2frame.dcm"))  # two frames: a colour movie
    ((data, kwargs, _),) = read_dicom_layers(f)
    image = viewer.add_image(data, **kwargs)
    s = start_session(viewer, image)
    assert s.labels.data.shape == data.shape[:-1] == (2, 100, 100) and s.frame_axis == 0
    np.testing.assert_allclose(s.labels.scale, image.scale)
