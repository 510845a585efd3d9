"""DICOM series: grouped by SeriesInstanceUID, slices ordered along the normal.

One pass over the files (each read once, as a plain pydicom loop would), then
per series: order by position along the slice normal (ImagePositionPatient .
normal of ImageOrientationPatient, never file name or InstanceNumber), check
sizes and spacing, apply RescaleSlope/Intercept per slice, and return the
volume with its geometry and display window. Enhanced (multi-frame) objects
take positions from the per-frame functional groups.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .geometry import Geometry
from .images import ImageReadError

COMPRESSED_HINT = (
    "install a decoder for it, e.g. `pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg` "
    "(JPEG, JPEG 2000, JPEG-LS) or `pip install python-gdcm`"
)


@dataclass
class Series:
    uid: str
    datasets: list = field(default_factory=list)
    files: list = field(default_factory=list)

    @property
    def first(self):
        return self.datasets[0]

    @property
    def name(self) -> str:
        ds = self.first
        desc = str(getattr(ds, "SeriesDescription", "") or "").strip()
        modality = str(getattr(ds, "Modality", "") or "").strip()
        number = getattr(ds, "SeriesNumber", None)
        parts = [p for p in (modality, desc or (f"series {number}" if number is not None else "")) if p]
        return " ".join(parts) or self.uid


def is_dicom_file(path: Path) -> bool:
    """Cheap sniff: the DICM preamble, or a .dcm name."""
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM" or path.suffix.lower() in (".dcm", ".dicom")


def dicom_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """DICOM files in a folder (recursively), a file, or a list of either."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and is_dicom_file(f))
        elif p.is_file() and is_dicom_file(p):
            out.append(p)
    return out


def _read(path: Path):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, defer_size="64 KB")  # pixels read later, in the conversion threads
    except (InvalidDicomError, OSError, EOFError, ValueError) as e:
        raise ImageReadError(f"{path}: not a readable DICOM file ({type(e).__name__}: {e})") from e


def group_series(files: Iterable[Path]) -> dict[str, Series]:
    """Read every file once and group by SeriesInstanceUID (files without pixels are skipped).

    Sequential on purpose: dcmread holds the GIL, threads only made it slower (measured)."""
    files = list(files)
    series: dict[str, Series] = defaultdict(lambda: Series(""))
    datasets = [_read(f) for f in files]
    for f, ds in zip(files, datasets):
        if "PixelData" not in ds and "FloatPixelData" not in ds:
            continue  # reports, presentation states...
        uid = str(getattr(ds, "SeriesInstanceUID", "") or f"no-series-uid:{f.parent}")
        s = series[uid]
        s.uid = uid
        s.datasets.append(ds)
        s.files.append(f)
    return dict(series)


NATIVE_LE = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")  # implicit / explicit VR little endian


def _pixels(ds, path: Path) -> np.ndarray:
    ts = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))
    if (
        ts in NATIVE_LE and int(getattr(ds, "SamplesPerPixel", 1)) == 1
        and int(getattr(ds, "BitsAllocated", 0)) in (8, 16) and int(getattr(ds, "NumberOfFrames", 1) or 1) == 1
        and "PixelData" in ds
    ):  # fmt: skip
        # uncompressed, one frame: a view on the bytes, no copy (pydicom's pixel_array copies)
        signed = int(getattr(ds, "PixelRepresentation", 0)) == 1
        dtype = np.dtype(("<i" if signed else "<u") + str(int(ds.BitsAllocated) // 8))
        n = int(ds.Rows) * int(ds.Columns)
        raw = ds.PixelData
        if len(raw) >= n * dtype.itemsize:
            arr = np.frombuffer(raw, dtype, count=n).reshape(int(ds.Rows), int(ds.Columns))
            bits = int(getattr(ds, "BitsStored", ds.BitsAllocated))
            if bits == int(ds.BitsAllocated):
                return arr
        # otherwise (truncated, odd bit depths) pydicom decides and explains
    try:
        arr = ds.pixel_array
    except Exception as e:
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        if ts is not None and getattr(ts, "is_compressed", False):
            raise ImageReadError(
                f"{path}: pixel data is compressed ({ts.name}) and no installed handler decodes it; {COMPRESSED_HINT}"
            ) from e
        raise ImageReadError(f"{path}: pixel data cannot be read ({type(e).__name__}: {e})") from e
    # Explicit VR big endian files decode to big-endian arrays: the volume is assembled with
    # same-size views (no copy), which would read their bytes in native order. Native here.
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def _rescale(ds) -> tuple[float, float]:
    return float(getattr(ds, "RescaleSlope", 1) or 1), float(getattr(ds, "RescaleIntercept", 0) or 0)


def _window(ds) -> tuple[float, float] | None:
    c, w = getattr(ds, "WindowCenter", None), getattr(ds, "WindowWidth", None)
    if c is None or w is None:
        return None
    c = float(c[0]) if hasattr(c, "__len__") and not isinstance(c, str) else float(c)
    w = float(w[0]) if hasattr(w, "__len__") and not isinstance(w, str) else float(w)
    return (c - w / 2, c + w / 2)


def _orientation(ds) -> np.ndarray:
    iop = getattr(ds, "ImageOrientationPatient", None)
    if iop is None:
        shared = getattr(ds, "SharedFunctionalGroupsSequence", None)
        try:
            iop = shared[0].PlaneOrientationSequence[0].ImageOrientationPatient
        except (AttributeError, IndexError, TypeError):
            iop = [1, 0, 0, 0, 1, 0]
    return np.array([float(v) for v in iop])


def _check_spacing(positions: np.ndarray, files: Sequence[Path]) -> float:
    if len(positions) < 2:
        return 0.0
    gaps = np.diff(positions)
    if np.any(np.abs(gaps) < 1e-4):
        i = int(np.argmin(np.abs(gaps)))
        raise ImageReadError(f"{files[i + 1]}: two slices at the same position ({positions[i]:.3f} mm)")
    step = float(np.median(gaps))
    off = np.abs(gaps - step) > max(0.01 * abs(step), 1e-3)
    if off.any():
        i = int(np.argmax(off))
        if np.isclose(gaps[i] / step, round(gaps[i] / step)) and round(gaps[i] / step) > 1:
            n = int(round(gaps[i] / step)) - 1
            raise ImageReadError(
                f"{files[i]}: {n} slice(s) missing between {positions[i]:.2f} and {positions[i + 1]:.2f} mm "
                f"(spacing {step:.2f} mm)"
            )
        raise ImageReadError(
            f"{files[i + 1]}: slices are unevenly spaced ({gaps[i]:.2f} mm here, {step:.2f} mm elsewhere)"
        )
    return step


def series_volume(series: Series) -> tuple[np.ndarray, dict]:
    """(z, y, x) volume in stored units after rescale, with geometry and window."""
    first = series.first
    files = series.files
    iop = _orientation(first)
    normal = np.cross(iop[:3], iop[3:])
    n_frames = int(getattr(first, "NumberOfFrames", 1) or 1)
    if int(getattr(first, "SamplesPerPixel", 1) or 1) > 1:
        return _colour(series, iop, normal)
    if len(series.datasets) == 1 and n_frames > 1:
        return _multiframe(series, iop, normal)
    shapes = {(int(ds.Rows), int(ds.Columns)) for ds in series.datasets}
    if len(shapes) > 1:
        raise ImageReadError(f"{files[0].parent}: series {series.uid} mixes image sizes {sorted(shapes)}")
    if all("ImagePositionPatient" in ds for ds in series.datasets):
        pos = np.array([np.dot(normal, [float(v) for v in ds.ImagePositionPatient]) for ds in series.datasets])
    else:
        pos = np.array([float(getattr(ds, "InstanceNumber", i) or i) for i, ds in enumerate(series.datasets)])
    order = np.argsort(pos, kind="stable")
    datasets = [series.datasets[i] for i in order]
    files = [series.files[i] for i in order]
    positions = pos[order]
    dz = _check_spacing(positions, files) or float(getattr(first, "SliceThickness", 1) or 1)
    rescales = [_rescale(ds) for ds in datasets]
    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy releases the GIL: two slices at once
        raws = list(pool.map(lambda k: _pixels(datasets[k], files[k]), range(len(datasets))))
        integral = all(sl == 1 and float(b).is_integer() for sl, b in rescales)
        if integral:  # the real value range decides the type (CT: int16 Hounsfield units)
            ranges = list(pool.map(lambda a: (int(a.min()), int(a.max())), raws))
            lo = min(r[0] + int(b) for r, (_, b) in zip(ranges, rescales))
            hi = max(r[1] + int(b) for r, (_, b) in zip(ranges, rescales))
            dtype = next((np.dtype(t) for t in (np.int16, np.int32) if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max), np.dtype(np.int64))
        else:
            dtype = np.dtype(np.float32)
        volume = np.empty((len(raws), *raws[0].shape), dtype)

        def fill(k: int) -> None:
            arr, (slope, inter) = raws[k], rescales[k]
            if not integral:
                np.multiply(arr, slope, out=volume[k], casting="unsafe")
                volume[k] += inter
            elif arr.dtype.itemsize == dtype.itemsize and ranges[k][1] <= np.iinfo(dtype).max:
                # same width and in range: reinterpret, add in place, no widening
                np.add(arr.view(dtype), dtype.type(inter), out=volume[k])
            else:
                np.add(arr, np.asarray(inter, dtype), out=volume[k], casting="unsafe")

        list(pool.map(fill, range(len(raws))))
    ps = [float(v) for v in getattr(first, "PixelSpacing", (1, 1))]
    origin = [float(v) for v in getattr(datasets[0], "ImagePositionPatient", (0, 0, 0))]
    direction = np.column_stack([iop[:3], iop[3:], normal])
    geo = Geometry((dz, ps[0], ps[1]), origin, direction)
    return volume, _meta(series, geo, first, files)


def _multiframe(series: Series, iop: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray, dict]:
    ds, path = series.first, series.files[0]
    arr = _pixels(ds, path)
    frames = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    shared = getattr(ds, "SharedFunctionalGroupsSequence", [None])[0]
    positions, rescales = [], []
    base = np.array([float(v) for v in getattr(ds, "ImagePositionPatient", (0, 0, 0))])
    offsets = getattr(ds, "GridFrameOffsetVector", None)  # RT Dose and similar
    for i in range(arr.shape[0]):
        group = frames[i] if frames is not None else None
        try:
            ipp = [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]
        except (AttributeError, IndexError, TypeError):
            step = float(offsets[i]) if offsets is not None and i < len(offsets) else float(i)
            ipp = list(base + normal * step)
        positions.append(ipp)
        trans = None
        for g in (group, shared):
            seq = getattr(g, "PixelValueTransformationSequence", None) if g is not None else None
            if seq:
                trans = (float(seq[0].RescaleSlope), float(seq[0].RescaleIntercept))
                break
        rescales.append(trans or _rescale(ds))
    pos = np.array([np.dot(normal, p) for p in positions])
    order = np.argsort(pos, kind="stable")
    dz = _check_spacing(pos[order], [path] * len(pos)) or 1.0
    volume = np.stack([arr[i] * rescales[i][0] + rescales[i][1] for i in order]).astype(np.float32)
    try:
        ps = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
    except (AttributeError, IndexError, TypeError):
        ps = [float(v) for v in getattr(ds, "PixelSpacing", (1, 1))]
    geo = Geometry((dz, ps[0], ps[1]), positions[order[0]], np.column_stack([iop[:3], iop[3:], normal]))
    return volume, _meta(series, geo, ds, [path])


def _colour(series: Series, iop: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray, dict]:
    """Colour images (secondary captures, ultrasound, endoscopy): RGB as pydicom decodes it
    (YBR converted), values as stored (no rescale applies to colour), ``rgb`` in the meta.
    One image is (rows, columns, 3); several, or a multi-frame file, (n, rows, columns, 3)."""
    datasets, files = series.datasets, series.files
    if len(datasets) > 1 and all("ImagePositionPatient" in ds for ds in datasets):
        order = np.argsort([np.dot(normal, [float(v) for v in ds.ImagePositionPatient]) for ds in datasets], kind="stable")
    else:
        order = np.argsort([float(getattr(ds, "InstanceNumber", i) or i) for i, ds in enumerate(datasets)], kind="stable")
    images = []
    for k in order:
        arr = np.asarray(_pixels(datasets[k], files[k]))
        if arr.ndim != (4 if int(getattr(datasets[k], "NumberOfFrames", 1) or 1) > 1 else 3) or arr.shape[-1] != 3:
            raise ImageReadError(f"{files[k]}: colour pixel data of shape {arr.shape} is not rows x columns x 3")
        images.extend(arr if arr.ndim == 4 else [arr])
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ImageReadError(f"{files[0].parent}: series {series.uid} mixes image sizes {sorted(shapes)}")
    volume = np.stack(images) if len(images) > 1 else images[0]
    first = datasets[order[0]]
    ps = [float(v) for v in getattr(first, "PixelSpacing", None) or (1, 1)]
    dz = float(getattr(first, "SliceThickness", 1) or 1)
    origin = [float(v) for v in getattr(first, "ImagePositionPatient", (0, 0, 0))]
    geo = Geometry((dz, ps[0], ps[1]), origin, np.column_stack([iop[:3], iop[3:], normal]))
    meta = _meta(series, geo, first, [files[k] for k in order])
    meta["rgb"] = True
    meta["window"] = None  # the stored colours, not a grey window
    return volume, meta


def _meta(series: Series, geo: Geometry, ds, files) -> dict:
    return {
        "source": str(files[0].parent if len(files) > 1 else files[0]),
        "format": "dicom",
        "series_uid": series.uid,
        "name": series.name,
        "modality": str(getattr(ds, "Modality", "")),
        "geometry": geo.to_meta(),
        "spacing": geo.spacing,
        "window": _window(ds),
        "files": [str(f) for f in files],
    }


def list_series(paths) -> list[tuple[str, str, int]]:
    """(uid, name, number of files) of every image series, headers only (fast), largest first."""
    import pydicom

    found: dict[str, Series] = {}
    for f in dicom_files(paths):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception:
            continue
        uid = str(getattr(ds, "SeriesInstanceUID", "") or f"no-series-uid:{f.parent}")
        found.setdefault(uid, Series(uid)).datasets.append(ds)
    return sorted(((u, s.name, len(s.datasets)) for u, s in found.items()), key=lambda t: -t[2])


def read_dicom(paths, series_uid: str | None = None, largest_only: bool = False) -> list[tuple[np.ndarray, dict]]:
    """Every series found (or the one asked for, or the largest), largest first.

    Files are read once, pixel data deferred: only the series returned are decoded."""
    files = dicom_files(paths)
    if not files:
        raise ImageReadError(f"{paths}: no DICOM file found")
    groups = group_series(files)
    if not groups:
        raise ImageReadError(f"{paths}: DICOM files found, but none holds an image")
    if series_uid is not None:
        if series_uid not in groups:
            raise ImageReadError(f"{paths}: no series {series_uid} (found {sorted(groups)})")
        groups = {series_uid: groups[series_uid]}
    ordered = sorted(groups.values(), key=lambda s: -len(s.datasets))
    return [series_volume(s) for s in (ordered[:1] if largest_only else ordered)]


def read_dicom_series(path, series_uid: str | None = None) -> tuple[np.ndarray, dict]:
    """One series: the one asked for, or the one with most slices."""
    return read_dicom(path, series_uid, largest_only=True)[0]
