"""DICOM series: grouped by SeriesInstanceUID, slices ordered along the normal."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .images import ImageReadError


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file())


def read_dicom_series(path: str | Path, series_uid: str | None = None) -> tuple[np.ndarray, dict]:
    """The (z, y, x) volume of one series, in stored units after RescaleSlope/Intercept.

    Slices are ordered by their position along the slice normal
    (ImagePositionPatient . normal of ImageOrientationPatient), never by file name.
    With several series and no ``series_uid``, the one with most slices.
    """
    import pydicom

    path = Path(path)
    series: dict[str, list] = defaultdict(list)
    for f in _files(path):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception:
            continue  # not DICOM: skip, as a folder may hold other files
        if "SeriesInstanceUID" in ds:
            series[str(ds.SeriesInstanceUID)].append(f)
    if not series:
        raise ImageReadError(f"{path}: no DICOM image found")
    uid = series_uid or max(series, key=lambda k: len(series[k]))
    if uid not in series:
        raise ImageReadError(f"{path}: no series {uid}")
    slices = [pydicom.dcmread(f) for f in series[uid]]
    first = slices[0]
    if len(slices) == 1 or "ImagePositionPatient" not in first:
        arr = np.asarray(first.pixel_array)
        volume = arr if arr.ndim == 3 else arr[None]
        positions = None
    else:
        iop = np.array(first.ImageOrientationPatient, float)
        normal = np.cross(iop[:3], iop[3:])
        pos = np.array([np.dot(normal, np.array(s.ImagePositionPatient, float)) for s in slices])
        order = np.argsort(pos)
        slices = [slices[i] for i in order]
        positions = pos[order]
        shapes = {(int(s.Rows), int(s.Columns)) for s in slices}
        if len(shapes) > 1:
            raise ImageReadError(f"{path}: series {uid} mixes image sizes {sorted(shapes)}")
        volume = np.stack([s.pixel_array for s in slices])
    slope = float(getattr(first, "RescaleSlope", 1) or 1)
    intercept = float(getattr(first, "RescaleIntercept", 0) or 0)
    if slope != 1 or intercept != 0:
        volume = volume.astype(np.float32) * slope + intercept
    ps = [float(v) for v in getattr(first, "PixelSpacing", (1, 1))]
    dz = float(np.median(np.diff(positions))) if positions is not None and len(positions) > 1 else float(
        getattr(first, "SliceThickness", 1) or 1
    )
    meta = {
        "source": str(path),
        "series_uid": uid,
        "spacing": (dz, ps[0], ps[1]),
        "origin": tuple(float(v) for v in getattr(slices[0], "ImagePositionPatient", (0, 0, 0))),
    }
    return volume, meta
