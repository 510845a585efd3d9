"""Series of one study in several planes, for the overlay tests (issue 23, item 5).

One CT volume built from pydicom's CT_small.dcm (its pixels, pixel spacing, position and
orientation), resampled by SimpleITK onto other grids: coronal, axial stored feet-first with
another field of view and spacing, axial tilted 10°. Each is written as a DICOM series with
pydicom, one file per slice, position and orientation from the SimpleITK image."""

from __future__ import annotations

import numpy as np


def ct_volume(n_slices: int = 12, slice_step: float = 2.5):
    """A SimpleITK volume: CT_small's slice, changed a little from slice to slice, stacked
    along its normal from its position."""
    import pydicom
    import SimpleITK as sitk
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    pixels = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
    vol = np.stack([np.roll(pixels, 3 * k, axis=1) + 7 * k for k in range(n_slices)]).astype(np.int16)
    img = sitk.GetImageFromArray(vol)
    row, col = np.asarray(ds.ImageOrientationPatient[:3], float), np.asarray(ds.ImageOrientationPatient[3:], float)
    img.SetDirection(tuple(np.column_stack([row, col, np.cross(row, col)]).ravel()))
    img.SetSpacing((float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0]), slice_step))
    img.SetOrigin(tuple(float(v) for v in ds.ImagePositionPatient))
    return img


def resampled(volume, directions, spacing, size, origin):
    """``volume`` on another grid (nearest neighbour; -1000 outside): ``directions`` holds the
    LPS unit vectors of i, j, k, ``spacing`` and ``size`` are (i, j, k)."""
    import SimpleITK as sitk

    grid = sitk.Image([int(v) for v in size], volume.GetPixelID())
    grid.SetSpacing(tuple(float(v) for v in spacing))
    grid.SetDirection(tuple(np.column_stack([np.asarray(d, float) for d in directions]).ravel()))
    grid.SetOrigin(tuple(float(v) for v in origin))
    return sitk.Resample(volume, grid, sitk.Transform(), sitk.sitkNearestNeighbor, -1000.0, volume.GetPixelID())


def write_sitk_series(folder, image, description: str, study: str, frame_of_reference: str) -> None:
    """One file per slice k: ImagePositionPatient = the physical point of voxel (0, 0, k),
    ImageOrientationPatient = the i and j directions, PixelSpacing = (row, column) spacing."""
    import SimpleITK as sitk
    from pydicom.uid import generate_uid

    from dicom_helpers import ct_slice

    folder.mkdir(parents=True, exist_ok=True)
    arr = sitk.GetArrayFromImage(image)  # (k, j, i)
    d = np.asarray(image.GetDirection()).reshape(3, 3)
    sx, sy, sz = image.GetSpacing()
    series = generate_uid()
    for k in range(arr.shape[0]):
        ds = ct_slice(series, study, frame_of_reference, description)
        ds.InstanceNumber = k + 1
        ds.PatientID, ds.PatientName = "anon", "anon"
        ds.Rows, ds.Columns = arr.shape[1:]
        ds.PixelSpacing = [float(sy), float(sx)]
        ds.SliceThickness = float(sz)
        ds.ImageOrientationPatient = [float(v) for v in (*d[:, 0], *d[:, 1])]
        ds.ImagePositionPatient = [float(v) for v in image.TransformIndexToPhysicalPoint((0, 0, k))]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
        ds.PixelData = arr[k].astype(np.int16).tobytes()
        ds.save_as(folder / f"{description.replace(' ', '_')}_{k:03d}.dcm", enforce_file_format=True)


def write_study(root):
    """Four series of one CT volume under ``root``, one folder each: 'AX' (CT_small's own grid,
    12 slices), 'AX FF' (axial, stored feet-first: columns towards the patient's right, slices
    towards the feet; another field of view and spacing), 'COR' (coronal) and 'AX TILT'
    (axial turned 10° about the slice normal). Returns {description: folder}."""
    from pydicom.uid import generate_uid

    vol = ct_volume()
    o = np.asarray(vol.GetOrigin())
    study, frame = generate_uid(), generate_uid()
    c, s = np.cos(np.radians(10)), np.sin(np.radians(10))
    grids = {
        "AX": None,
        "AX FF": (((-1, 0, 0), (0, 1, 0), (0, 0, -1)), (0.9, 0.9, 3.0), (70, 64, 8), o + (75.0, 10.0, 25.0)),
        "COR": (((1, 0, 0), (0, 0, -1), (0, 1, 0)), (0.8, 2.5, 2.0), (100, 12, 40), o + (2.0, 2.0, 27.5)),
        "AX TILT": (((c, s, 0), (-s, c, 0), (0, 0, 1)), (0.8, 0.8, 3.0), (80, 80, 8), o + (20.0, 5.0, 2.0)),
    }
    out = {}
    for name, grid in grids.items():
        image = vol if grid is None else resampled(vol, *grid)
        out[name] = root / name.replace(" ", "_")
        write_sitk_series(out[name], image, name, study, frame)
    return out
