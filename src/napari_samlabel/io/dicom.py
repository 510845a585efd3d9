"""DICOM series: grouped by SeriesInstanceUID, split into stacks by orientation, slices
ordered along the normal.

One pass over the files (each read once, as a plain pydicom loop would), then per series:
every file becomes one frame (a multi-frame file, one per frame, positions from its
functional groups), frames of one orientation form a stack (a 3-plane scout gives three),
each stack is ordered by position along its normal (ImagePositionPatient . normal, never
file name or InstanceNumber), its sizes and spacing checked, RescaleSlope/Intercept applied
per frame, and returned as a volume with its geometry and display window.

Bad input is named, never guessed around: every header value is read through ``Header``,
which names the file when a value is missing or malformed; a file with an image header but
no pixel data is a truncated file and named as such, never dropped. One series that cannot
be read does not block the others: ``read_dicom`` returns what opened, with ``.skipped``
(what did not, and why) and ``.notes`` (what opened with a caveat). Only when nothing opens
is it an ImageReadError, whose message gives every reason.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .geometry import Geometry
from .errors import ImageReadError

log = logging.getLogger(__name__)

COMPRESSED_HINT = (
    "install a decoder for it, e.g. `pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg` "
    "(JPEG, JPEG 2000, JPEG-LS) or `pip install python-gdcm`"
)
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
NATIVE_LE = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")  # implicit / explicit VR little endian
SAME_ORIENTATION = 1e-3  # direction cosines closer than this are one orientation (scanner rounding)
_REQUIRED = object()


# -- header values, each read naming the file ------------------------------------------------
def _label(keyword: str) -> str:
    from pydicom.datadict import dictionary_description

    try:
        return dictionary_description(keyword)
    except (KeyError, ValueError):
        return keyword


def _shown(raw) -> str:
    """A value as DICOM writes it: 0\\0 for several, '1A' for a bad number."""
    if isinstance(raw, (str, bytes)):
        return repr(raw.decode(errors="replace") if isinstance(raw, bytes) else raw)
    if isinstance(raw, (list, tuple)) or type(raw).__name__ == "MultiValue":
        return "\\".join(str(v) for v in raw)
    return str(raw)


def _whole(v) -> int:
    f = float(v)
    if not f.is_integer():
        raise ValueError(v)
    return int(f)


def _finite(v) -> float:
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(v)
    return f


class Header:
    """The header of one file: every value converted here, or refused naming the file."""

    def __init__(self, ds, path: Path, notes: list[str] | None = None):
        self.ds, self.path, self.notes = ds, Path(path), notes if notes is not None else []

    def error(self, problem: str) -> ImageReadError:
        return ImageReadError(f"{self.path}: {problem}")

    def get(self, keyword: str, kind=float, default=_REQUIRED, count: int | None = None, item=None):
        """``keyword`` from the file (or from ``item``, a functional-group item of it) as
        ``kind`` (float or int); ``count`` values as a list; ``default`` when absent."""
        src = self.ds if item is None else item
        try:
            raw = src.get(keyword)  # pydicom converts lazily: a bad value can raise here
        except Exception as e:
            raise self.error(f"{_label(keyword)} cannot be read ({e})") from e
        if raw is None or (hasattr(raw, "__len__") and len(raw) == 0):
            if default is _REQUIRED:
                raise self.error(f"{_label(keyword)} is missing from the header")
            return default
        convert = _whole if kind is int else _finite
        many = isinstance(raw, (list, tuple)) or type(raw).__name__ == "MultiValue"
        try:
            if count is None:
                return convert(raw[0] if many else raw)  # Window Center may hold several: the first
            values = [convert(v) for v in (raw if many else [raw])]
            if len(values) != count:
                raise ValueError(raw)
            return values
        except (TypeError, ValueError, OverflowError) as e:
            what = ("a whole number" if kind is int else "a number") if count is None else f"{count} numbers"
            raise self.error(f"{_label(keyword)} {_shown(raw)} is not {what}") from e

    def optional(self, keyword: str, kind=float, count: int | None = None, item=None):
        """A value the image does without: when malformed, a note and None."""
        try:
            return self.get(keyword, kind, None, count, item)
        except ImageReadError as e:
            self.notes.append(f"{e}; ignored")
            return None

    def text(self, keyword: str) -> str:
        try:
            return str(self.ds.get(keyword, "") or "").strip()
        except Exception:
            return ""


# -- files and series --------------------------------------------------------------------------
@dataclass
class Series:
    uid: str
    datasets: list = field(default_factory=list)
    files: list = field(default_factory=list)
    broken: dict = field(default_factory=dict)  # path -> why it has no pixel data

    @property
    def first(self):
        return self.datasets[0]

    @property
    def name(self) -> str:
        h = Header(self.first, self.files[0] if self.files else Path("."))
        desc, modality, number = h.text("SeriesDescription"), h.text("Modality"), h.text("SeriesNumber")
        parts = [p for p in (modality, desc or (f"series {number}" if number else "")) if p]
        return " ".join(parts) or self.uid


@dataclass
class Found:
    """What a folder holds: image series, files that could not be read, other objects."""

    series: dict[str, Series]
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # SOP classes of objects without an image


class DicomVolumes(list):
    """The (volume, meta) pairs that opened; ``skipped``: (series or file, reason) for what did
    not; ``notes``: what opened with a caveat ("file: problem")."""

    def __init__(self, items=(), skipped=None, notes=None):
        super().__init__(items)
        self.skipped: list[tuple[str, str]] = list(skipped or [])
        self.notes: list[str] = list(notes or [])


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
    """(dataset, whether pydicom met the end of the file too soon), pixel data deferred; raw datasets without preamble and file meta (old
    archives, ACR-NEMA style) are read too, their transfer syntax taken from how they parse."""
    import warnings

    import pydicom
    from pydicom.errors import InvalidDicomError

    def fail(e: Exception) -> ImageReadError:
        return ImageReadError(f"{path}: not a readable DICOM file ({type(e).__name__}: {e})")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(path, defer_size="64 KB")  # pixels read later, in the conversion threads
        except InvalidDicomError as e:
            try:
                ds = pydicom.dcmread(path, defer_size="64 KB", force=True)
            except Exception:
                raise fail(e) from e
            if "SOPClassUID" not in ds and ("Rows" not in ds or not any(k in ds for k in PIXEL_KEYWORDS)):
                raise fail(e) from e  # forced parsing reads anything: only a real dataset counts
        except Exception as e:  # pydicom meets damaged files with many kinds of error
            raise fail(e) from e
        ended_early = any("End of file reached" in str(w.message) for w in caught)
        if ended_early and not any(k in ds for k in PIXEL_KEYWORDS):
            # cut inside compressed pixel data: pydicom then keeps nothing; the header alone
            # tells which series the file belongs to, so that the series can name it
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            except Exception as e:
                raise fail(e) from e
    return ds, ended_early


def _fill_transfer_syntax(ds) -> None:
    """A dataset without a Transfer Syntax UID (no file meta): the one it was parsed with."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if implicit is None or ("PixelData" in ds and ds["PixelData"].is_undefined_length):
        return  # compressed (encapsulated) pixel data: which codec cannot be told
    ds.file_meta = meta if meta is not None else FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    )


def group_series(files: Iterable[Path]) -> Found:
    """Read every file once and group by SeriesInstanceUID. Objects without an image (reports,
    presentation states) are left out; a file with an image header but no pixel data stays in
    its series, marked broken, so that the series names it; unreadable files are listed.

    Sequential on purpose: dcmread holds the GIL, threads only made it slower (measured)."""
    series: dict[str, Series] = defaultdict(lambda: Series(""))
    found = Found({})
    for f in files:
        try:
            ds, ended_early = _read(f)
        except ImageReadError as e:
            found.unreadable.append((f, str(e)))
            continue
        has_pixels = any(k in ds for k in PIXEL_KEYWORDS)
        cut = None if has_pixels or "Rows" in ds or ended_early else _cut_in_header(ds)
        if not has_pixels and "Rows" not in ds and not ended_early and cut is None:
            found.other.append(_sop_name(ds))
            continue
        if cut is not None and (not Header(ds, f).text("SeriesInstanceUID") or max(ds.keys()) == 0x0020000E):
            # its series is unknown (the last element read may itself be cut short): named on its own
            found.unreadable.append((f, f"{f}: {cut}"))
            continue
        uid = Header(ds, f).text("SeriesInstanceUID") or f"no-series-uid:{f.parent}"
        s = series[uid]
        s.uid = uid
        s.datasets.append(ds)
        s.files.append(f)
        if cut is not None:
            s.broken[f] = cut
        elif ended_early:
            s.broken[f] = "the file ends before its pixel data is complete: it is truncated or damaged"
        elif not has_pixels:
            s.broken[f] = "has an image header but no pixel data: the file is truncated or damaged"
    found.series = dict(series)
    return found


_PIXEL_CLASSES = ("RT Dose Storage", "Segmentation Storage", "Parametric Map Storage")


def _cut_in_header(ds) -> str | None:
    """Why a dataset without an image is a cut image rather than a report or a DICOMDIR: pydicom
    reads a file cut between two header elements without a word, so what is missing tells:
    no SOP Class at all (every DICOM object has one), or an image class without Rows. None
    for a real object without an image."""
    if "DirectoryRecordSequence" in ds:
        return None
    if "SOPClassUID" not in ds or max(ds.keys()) <= 0x00080016:  # the last element read may be cut short
        return f"the file ends within its header ({_label('SOPClassUID')} never comes whole): truncated or damaged"
    meta = getattr(ds, "file_meta", None)
    name = getattr(getattr(meta, "MediaStorageSOPClassUID", None) or ds.SOPClassUID, "name", "")
    if "Image Storage" in name or name in _PIXEL_CLASSES:
        return f"the file ends within its header (a {name} without {_label('Rows')}): truncated or damaged"
    return None


def _sop_name(ds) -> str:
    uid = getattr(ds, "SOPClassUID", None) or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", None)
    if uid is None:
        return "DICOMDIR" if "DirectoryRecordSequence" in ds else "no SOP class"
    return getattr(uid, "name", str(uid))


# -- frames and stacks ---------------------------------------------------------------------------
@dataclass
class Frame:
    """One image plane: a single-frame file, or frame ``index`` of a multi-frame file."""

    header: Header
    index: int | None
    shape: tuple[int, int]
    iop: np.ndarray
    ipp: np.ndarray | None
    rescale: tuple[float, float]
    spacing: tuple[float, float]
    single: bool  # the only frame of its file
    colour: bool
    window: tuple[float, float] | None = None
    oriented: bool = True  # Image Orientation given (else the plain-picture default)

    @property
    def instance(self) -> int | None:
        """Instance Number of a single-frame file (read only when positions need it)."""
        return self.header.optional("InstanceNumber", int) if self.single else None

    @property
    def path(self) -> Path:
        return self.header.path

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.iop[:3], self.iop[3:])


def _item(ds, keyword: str):
    """The first item of a sequence, or None."""
    try:
        seq = ds.get(keyword) if ds is not None else None
        return seq[0] if seq else None
    except Exception:
        return None


def _pixel_spacing(h: Header, groups) -> tuple[float, float]:
    """(row, column) spacing in mm: the functional groups' Pixel Measures, Pixel Spacing, then
    Imager Pixel Spacing (radiographs); a spacing of 0 or less is noted and skipped (ITK does
    the same); none at all is 1 mm, as ITK and every viewer take it."""
    sources = [(item, "PixelSpacing") for g in groups if (item := _item(g, "PixelMeasuresSequence")) is not None]
    sources += [(None, "PixelSpacing"), (None, "ImagerPixelSpacing")]
    bad = []
    for item, keyword in sources:
        value = h.get(keyword, float, None, 2, item)
        if value is not None and min(value) > 0:
            if bad:
                h.notes.append(f"{h.path}: {bad[0]} is not a size; {_label(keyword)} used instead")
            return value[0], value[1]
        if value is not None:
            bad.append(f"{_label(keyword)} {_shown([f'{v:g}' for v in value])}")
    if bad:
        h.notes.append(f"{h.path}: {bad[0]} is not a size; the image is shown with 1 mm pixels "
                       "(sizes in mm measured on it are not real)")  # fmt: skip
    return 1.0, 1.0


def _grouped(h: Header, groups, sequence: str, keyword: str, count: int):
    """``keyword`` from the first functional group (per-frame, then shared) that has it."""
    for g in groups:
        item = _item(g, sequence)
        if item is not None and (value := h.get(keyword, float, None, count, item)) is not None:
            return value
    return None


def _frames(h: Header) -> list[Frame]:
    """The frames of one file, each with its plane, rescale and pixel spacing, from the
    per-frame functional groups, the shared ones, then the top level (in that order)."""
    ds = h.ds
    rows, cols = h.get("Rows", int), h.get("Columns", int)
    if rows < 1 or cols < 1:
        raise h.error(f"an image of {rows} x {cols} pixels holds nothing")
    n = h.get("NumberOfFrames", int, 1)
    if n < 1:
        raise h.error(f"{_label('NumberOfFrames')} {n} is not a count of images")
    samples = h.get("SamplesPerPixel", int, 1)
    colour = samples > 1 or h.text("PhotometricInterpretation") == "PALETTE COLOR"
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    try:
        per = ds.get("PerFrameFunctionalGroupsSequence")
    except Exception:
        per = None
    if per is not None and len(per) != n:
        raise h.error(f"{_label('NumberOfFrames')} is {n}{'' if 'NumberOfFrames' in ds else ' (absent)'}, but the "
                      f"per-frame functional groups describe {len(per)} frames")  # fmt: skip
    top_iop = h.get("ImageOrientationPatient", float, None, 6)
    top_ipp = h.get("ImagePositionPatient", float, None, 3)
    top_rescale = (h.get("RescaleSlope", float, 1.0), h.get("RescaleIntercept", float, 0.0))
    offsets = h.get("GridFrameOffsetVector", float, None, n) if n > 1 and "GridFrameOffsetVector" in ds else None
    frames = []
    for i in range(n):
        group = per[i] if per is not None else None
        groups = (group, shared)
        iop = _grouped(h, groups, "PlaneOrientationSequence", "ImageOrientationPatient", 6) or top_iop
        oriented = iop is not None
        iop = np.array(iop if oriented else [1, 0, 0, 0, 1, 0], float)  # none: a plain picture
        normal = np.cross(iop[:3], iop[3:])
        if normal @ normal < 0.25:
            raise h.error(f"{_label('ImageOrientationPatient')} {_shown(iop.tolist())} does not give two directions")
        ipp = _grouped(h, groups, "PlanePositionSequence", "ImagePositionPatient", 3)
        if ipp is None and top_ipp is not None:
            if n == 1:
                ipp = top_ipp
            elif offsets is not None:  # RT Dose and similar: offsets along the normal
                ipp = list(np.asarray(top_ipp) + normal * offsets[i])
        rescale = top_rescale
        for g in groups:
            t = _item(g, "PixelValueTransformationSequence")
            if t is not None:
                rescale = (h.get("RescaleSlope", float, 1.0, item=t), h.get("RescaleIntercept", float, 0.0, item=t))
                break
        spacing = _pixel_spacing(h, groups) if i == 0 or per is not None else frames[0].spacing
        window = _window(h, groups) if i == 0 or per is not None else frames[0].window
        frames.append(Frame(h, i if n > 1 or per is not None else None, (rows, cols), iop,
                            None if ipp is None else np.asarray(ipp, float), rescale, spacing,
                            n == 1, colour, window, oriented))  # fmt: skip
    return frames


@dataclass
class Stack:
    """Frames of one series and one orientation: one volume."""

    series: Series
    frames: list[Frame]
    name: str


def _stacks(series: Series, notes: list[str]) -> list[Stack]:
    """Split a series into stacks: the single-frame files by orientation (a scout's views), each
    multi-frame file on its own (and by orientation when its frames differ)."""
    singles: list[Frame] = []
    units: list[list[Frame]] = []
    for path, why in series.broken.items():
        raise ImageReadError(f"{path}: {why}{_gap_left(series)}")  # never dropped: the series would open with a hole
    for ds, path in zip(series.datasets, series.files):
        frames = _frames(Header(ds, path, notes))
        if len(frames) == 1:  # one image per file, enhanced or not: stacked with the series' others
            singles += frames
        else:
            units.append(frames)
    groups: list[list[Frame]] = []
    for unit in ([singles] if singles else []) + units:
        mine: list[list[Frame]] = []
        for fr in unit:
            home = next((g for g in mine if np.abs(g[0].iop - fr.iop).max() <= SAME_ORIENTATION), None)
            if home is None:
                mine.append([fr])
            else:
                home.append(fr)
        groups += mine
    groups.sort(key=len, reverse=True)
    name = series.name
    if len(groups) == 1:
        return [Stack(series, groups[0], name)]
    return [Stack(series, g, f"{name} ({k} of {len(groups)})") for k, g in enumerate(groups, 1)]


def _gap_left(series: Series) -> str:
    """Where the series' damaged files leave a hole, said from the positions of the others:
    '; without it, slices jump from z=3.00 to 9.00 mm (spacing 3.00 mm)', or ''."""
    try:
        frames = [fr for ds, path in zip(series.datasets, series.files) if path not in series.broken
                  for fr in _frames(Header(ds, path, []))]  # fmt: skip
        pos = np.sort(_positions(frames))
        gaps = np.diff(pos)
        step = float(np.median(gaps))
        i = int(np.argmax(gaps))
        if step > 0 and gaps[i] > 1.5 * step:
            return f"; without it, slices jump from z={pos[i]:.2f} to {pos[i + 1]:.2f} mm (spacing {step:.2f} mm)"
    except Exception:  # the others are damaged too, or have no positions: the file alone is named
        pass
    return ""


# -- positions and spacing -----------------------------------------------------------------------
def _positions(frames: list[Frame]) -> np.ndarray | None:
    """Position of each frame along the normal (mm). A frame without Image Position takes it
    from its Instance Number when the others' numbers and positions lie on one line (the
    spacing then comes from the positions that exist); otherwise it is named. None when no
    frame has a position."""
    normal = frames[0].normal
    known = [f.ipp is not None for f in frames]
    if not any(known):
        return None
    pos = np.array([float(normal @ f.ipp) if f.ipp is not None else np.nan for f in frames])
    if all(known):
        return pos
    lost = next(f for f in frames if f.ipp is None)
    have = [f for f in frames if f.ipp is not None]
    numbers = [f.instance for f in frames]
    why = f"{_label('ImagePositionPatient')} is missing, so its place among the other slices of the series is unknown"
    if len(have) < 2 or any(n is None for n in numbers) or len(set(numbers)) != len(numbers):
        raise lost.header.error(why)
    x = np.array([n for n, k in zip(numbers, known) if k], float)
    y = pos[known]
    slope, intercept = np.polyfit(x, y, 1)
    step = np.median(np.abs(np.diff(np.sort(y)))) if len(y) > 1 else 0
    if abs(slope) < 1e-6 or np.max(np.abs(slope * x + intercept - y)) > max(0.01 * step, 1e-3):
        raise lost.header.error(why + " (its Instance Number does not follow the positions)")
    for k, f in enumerate(frames):
        if f.ipp is None:
            pos[k] = slope * numbers[k] + intercept
            f.ipp = have[0].ipp + normal * (pos[k] - float(normal @ have[0].ipp))
    return pos


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


def _header_step(h: Header, several: bool) -> float:
    """Slice spacing from the header, where positions cannot give it: Spacing Between Slices
    for a stack, Slice Thickness for a single slice (its depth), each only when > 0; else 1."""
    keys = ("SpacingBetweenSlices", "SliceThickness") if several else ("SliceThickness", "SpacingBetweenSlices")
    for k in keys:
        v = h.optional(k)
        if v is not None and v > 0:
            return v
    return 1.0


def _order(stack: Stack) -> tuple[list[Frame], float, np.ndarray]:
    """Frames in slice order, the slice step (mm) and the LPS origin of the first."""
    frames = stack.frames
    pos = _positions(frames)
    if pos is not None:
        order = np.argsort(pos, kind="stable")
        frames = [frames[i] for i in order]
        dz = _check_spacing(pos[order], [f.path for f in frames]) or _header_step(frames[0].header, False)
        return frames, dz, frames[0].ipp
    numbers = [f.instance for f in frames]
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        frames = [frames[i] for i in np.argsort(numbers, kind="stable")]
    return frames, _header_step(frames[0].header, len(frames) > 1), np.zeros(3)


def _note_unplaced(frames: list[Frame], dz: float) -> None:
    """A stack without positions is placed by assumption: said, as other readers assume
    otherwise (ITK puts such frames 1 mm apart, whatever the header says)."""
    h = frames[0].header
    missing = _label("ImagePositionPatient") + ("" if frames[0].oriented else f" or {_label('ImageOrientationPatient')}")
    source = next((_label(k) for k in ("SpacingBetweenSlices", "SliceThickness") if (h.optional(k) or 0) > 0), None)
    h.notes.append(f"{h.path}: no {missing}: placed at the origin{'' if frames[0].oriented else ', axial'}, "
                   f"slices {dz:g} mm apart ({'from ' + source if source else 'assumed'}; "
                   f"other readers may differ{', ITK puts them 1 mm apart' if dz != 1 else ''})")  # fmt: skip


def _check_alike(frames: list[Frame]) -> None:
    first = frames[0]
    for f in frames[1:]:
        if f.shape != first.shape:
            raise f.header.error(f"{f.shape[0]} x {f.shape[1]} pixels: the series mixes image sizes "
                                 f"({first.path.name} has {first.shape[0]} x {first.shape[1]})")  # fmt: skip
        if max(abs(a - b) for a, b in zip(f.spacing, first.spacing)) > 1e-3 * max(first.spacing):
            raise f.header.error(f"pixel spacing {f.spacing[0]:g}\\{f.spacing[1]:g} mm, where {first.path.name} of "
                                 f"the same series has {first.spacing[0]:g}\\{first.spacing[1]:g} mm")  # fmt: skip
        if f.colour != first.colour:
            raise f.header.error(f"{'colour' if f.colour else 'grey'} pixels in a series of "
                                 f"{'colour' if first.colour else 'grey'} images")  # fmt: skip


# -- pixels ----------------------------------------------------------------------------------------
def _pixels(h: Header) -> np.ndarray:
    """The stored pixel values of one file: (rows, cols), (frames, rows, cols), with a last
    axis of 3 for colour; native byte order. A file cut short is named as truncated."""
    ds = h.ds
    _fill_transfer_syntax(ds)
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts is None:
        raise h.error("the transfer syntax is missing (no file meta) and the pixel data is compressed: "
                      "which decoder it needs is unknown")  # fmt: skip
    rows, cols = h.get("Rows", int), h.get("Columns", int)
    frames, samples = h.get("NumberOfFrames", int, 1), h.get("SamplesPerPixel", int, 1)
    allocated = h.get("BitsAllocated", int, 0 if "PixelData" not in ds else _REQUIRED)
    palette = h.text("PhotometricInterpretation") == "PALETTE COLOR"
    if "PixelData" in ds and not ts.is_compressed and allocated:
        from pydicom.pixels.utils import get_expected_length

        raw = ds.PixelData
        need = get_expected_length(ds, unit="bytes")  # YBR_FULL_422 and 1-bit data are smaller
        if len(raw) < need:
            raise h.error(f"pixel data cannot be read: the file holds {len(raw)} of its {need} bytes "
                          "(truncated or damaged)")  # fmt: skip
        if str(ts) in NATIVE_LE and samples == 1 and allocated in (8, 16) and frames == 1 and not palette:
            # uncompressed, one frame: a view on the bytes, no copy (pydicom's pixel_array copies)
            signed = h.get("PixelRepresentation", int, 0) == 1
            dtype = np.dtype(("<i" if signed else "<u") + str(allocated // 8))
            if h.get("BitsStored", int, allocated) == allocated:
                return np.frombuffer(raw, dtype, count=rows * cols).reshape(rows, cols)
            # odd bit depths: pydicom masks the unused bits and extends the sign
    try:
        arr = ds.pixel_array
    except Exception as e:
        lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
        said = ": ".join(ln.rstrip(":") for ln in lines[:2]) or type(e).__name__
        if ts.is_compressed:
            if "exceptions were raised" not in str(e):  # no decoder at all, rather than one that failed
                raise h.error(f"pixel data is compressed ({ts.name}) and no installed handler decodes it; "
                              f"{COMPRESSED_HINT}") from e  # fmt: skip
            raise h.error(f"pixel data cannot be read: it is compressed ({ts.name}) and did not decode ({said}); the "
                          f"file may be damaged, or another decoder may read it: {COMPRESSED_HINT}") from e  # fmt: skip
        raise h.error(f"pixel data cannot be read ({type(e).__name__}: {said})") from e
    if palette:
        from pydicom.pixels import apply_color_lut

        try:
            _native_palette(ds, ts)
            arr = apply_color_lut(arr, ds)  # the colours a viewer shows (pydicom's, 16-bit tables kept)
        except Exception as e:
            raise h.error(f"the palette colour table cannot be applied ({type(e).__name__}: {e})") from e
    colour = samples > 1 or palette
    want = (rows, cols, 3) if colour else (rows, cols)
    if arr.shape != (want if frames == 1 else (frames, *want)):
        raise h.error(f"pixel data decodes to shape {arr.shape}, not {frames} frame(s) of {rows} x {cols}")
    # Explicit VR big endian files decode to big-endian arrays: the volume is assembled with
    # same-size views (no copy), which would read their bytes in native order. Native here.
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def _native_palette(ds, ts) -> None:
    """pydicom 3.0's apply_color_lut reads plain (not segmented) 16-bit palette tables in the
    machine's byte order: a big-endian file's tables are put in that order first, or every
    colour comes out byte-swapped (pydicom's OBXXXX1A_expb.dcm; the corpus test watches it)."""
    import sys

    little = getattr(ts, "is_little_endian", None)
    if little is None or little == (sys.byteorder == "little"):
        return
    for colour in ("Red", "Green", "Blue", "Alpha"):
        key = f"{colour}PaletteColorLookupTableData"
        descriptor = ds.get(f"{colour}PaletteColorLookupTableDescriptor") or ds.get("RedPaletteColorLookupTableDescriptor")
        if key in ds and descriptor and len(ds[key].value) == 2 * (int(descriptor[0]) or 2**16):
            ds[key].value = np.frombuffer(ds[key].value, ">u2" if not little else "<u2").astype("=u2").tobytes()


def _decode_all(frames: list[Frame], pool) -> list[np.ndarray]:
    """One plane per frame; each file decoded once (a multi-frame file is one decode)."""
    headers: dict[Path, Header] = {}
    for f in frames:
        headers.setdefault(f.path, f.header)
    decoded = dict(zip(headers, pool.map(_pixels, headers.values())))
    out = []
    for f in frames:
        arr = decoded[f.path]
        multi = arr.ndim == (4 if f.colour else 3)
        out.append(arr[f.index or 0] if multi else arr)
    return out


def _window(h: Header, groups=()) -> tuple[float, float] | None:
    """(low, high) display window: an enhanced file's Frame VOI LUT (per-frame, then shared
    functional groups), then the top-level Window Center/Width. A width below 1 (the standard's
    least) is no window: noted, and the data range shown instead (napari refuses low == high)."""
    item = next((it for g in groups if (it := _item(g, "FrameVOILUTSequence")) is not None), None)
    c, w = h.optional("WindowCenter", item=item), h.optional("WindowWidth", item=item)
    if (c is None or w is None) and item is not None:
        c, w = h.optional("WindowCenter"), h.optional("WindowWidth")
    if c is None or w is None:
        return None
    if not w >= 1:
        h.notes.append(f"{h.path}: {_label('WindowWidth')} {w:g} is not a window; shown with the data range")
        return None
    return (c - w / 2, c + w / 2)


# -- volumes ---------------------------------------------------------------------------------------
def series_volume(stack: Stack) -> tuple[np.ndarray, dict]:
    """(z, y, x) volume in stored units after rescale, with geometry and window."""
    frames, dz, origin = _order(stack)
    _check_alike(frames)
    first = frames[0]
    if first.colour:
        return _colour(stack, frames, dz, origin)
    if len(frames) > 1 and first.ipp is None:
        _note_unplaced(frames, dz)
    rescales = [f.rescale for f in frames]
    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy releases the GIL: two slices at once
        raws = _decode_all(frames, pool)
        integral = all(sl == 1 and float(b).is_integer() for sl, b in rescales) and all(
            r.dtype.kind in "iub" for r in raws
        )
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
    geo = Geometry((dz, *first.spacing), origin, np.column_stack([first.iop[:3], first.iop[3:], first.normal]))
    meta = _meta(stack, geo, first.header, frames)
    if first.header.text("PhotometricInterpretation") == "MONOCHROME1":
        meta["invert"] = True  # low values are white: values kept (pydicom's), the display inverts
    return volume, meta


def _colour(stack: Stack, frames: list[Frame], dz: float, origin) -> tuple[np.ndarray, dict]:
    """Colour images (secondary captures, ultrasound, endoscopy, palette colour): RGB as pydicom
    decodes it (YBR converted, palette applied), values as stored (no rescale applies to
    colour), ``rgb`` in the meta. One image is (rows, columns, 3); several, (n, rows, columns, 3)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        images = _decode_all(frames, pool)
    for f, im in zip(frames, images):
        if im.ndim != 3 or im.shape[-1] != 3:
            raise f.header.error(f"colour pixel data of shape {im.shape} is not rows x columns x 3")
    volume = np.stack(images) if len(images) > 1 else images[0]
    first = frames[0]
    if len(frames) == 1 or first.ipp is None:
        dz = _header_step(first.header, False)
    geo = Geometry((dz, *first.spacing), origin, np.column_stack([first.iop[:3], first.iop[3:], first.normal]))
    meta = _meta(stack, geo, first.header, frames)
    meta["rgb"] = True
    meta["window"] = None  # the stored colours, not a grey window
    return volume, meta


def _meta(stack: Stack, geo: Geometry, h: Header, frames: list[Frame]) -> dict:
    files = list(dict.fromkeys(f.path for f in frames))  # slice order, each file once
    return {
        "source": str(files[0].parent if len(files) > 1 else files[0]),
        "format": "dicom",
        "series_uid": stack.series.uid,
        "name": stack.name,
        "modality": h.text("Modality"),
        "geometry": geo.to_meta(),
        "spacing": geo.spacing,
        "window": frames[len(frames) // 2].window,  # the slice napari shows first
        "files": [str(f) for f in files],
    }


# -- entry points ----------------------------------------------------------------------------------
def list_series(paths) -> list[tuple[str, str, int]]:
    """(uid, name, number of files) of every image series, headers only (fast), largest first."""
    import pydicom

    found: dict[str, Series] = {}
    for f in dicom_files(paths):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception:
            continue
        uid = Header(ds, f).text("SeriesInstanceUID") or f"no-series-uid:{f.parent}"
        s = found.setdefault(uid, Series(uid))
        s.datasets.append(ds)
        s.files.append(f)
    return sorted(((u, s.name, len(s.datasets)) for u, s in found.items()), key=lambda t: -t[2])


def _guarded(stack_or_series, work):
    """``work()``, with any error that is not already ours named by the stack's first file."""
    try:
        return work()
    except ImageReadError:
        raise
    except Exception as e:  # pydicom and numpy meet damaged files with many kinds of error
        files = stack_or_series.files if isinstance(stack_or_series, Series) else [f.path for f in stack_or_series.frames]
        raise ImageReadError(f"{files[0]}: cannot be read ({type(e).__name__}: {e})") from e


def read_dicom(paths, series_uid: str | None = None, largest_only: bool = False) -> DicomVolumes:
    """Every image stack found (or those of the series asked for, or the largest that opens),
    largest first, as a list of (volume, meta) with ``.skipped`` and ``.notes``.

    Files are read once, pixel data deferred: only the stacks returned are decoded. Raises
    ImageReadError only when nothing opens; its message then gives every reason."""
    files = dicom_files(paths)
    if not files:
        raise ImageReadError(f"{paths}: no DICOM file found")
    found = group_series(files)
    groups = found.series
    if series_uid is not None:
        if series_uid not in groups:
            raise ImageReadError(f"{paths}: no series {series_uid} (found {sorted(groups)})")
        groups = {series_uid: groups[series_uid]}
    out = DicomVolumes(skipped=[(str(p), why) for p, why in (found.unreadable if series_uid is None else [])])
    stacks: list[Stack] = []
    for s in sorted(groups.values(), key=lambda s: -len(s.datasets)):
        try:
            stacks += _guarded(s, lambda: _stacks(s, out.notes))
        except ImageReadError as e:
            out.skipped.append((s.name, str(e)))
    stacks.sort(key=lambda st: -len(st.frames))  # stable: a series' stacks stay together
    for st in stacks:
        try:
            out.append(_guarded(st, lambda: series_volume(st)))
        except ImageReadError as e:
            out.skipped.append((st.name, str(e)))
            continue
        if largest_only:
            break
    for name, why in out.skipped:
        log.warning("DICOM: skipped %s: %s", name, why)
    if out:
        return out
    if not out.skipped:
        what = ", ".join(sorted(set(found.other))) or "no image"
        raise ImageReadError(f"{paths}: DICOM files found, but none holds an image ({what})")
    if len(out.skipped) == 1:
        raise ImageReadError(out.skipped[0][1])
    raise ImageReadError(f"{paths}: nothing could be opened: " + "; ".join(_entry(n, w) for n, w in out.skipped))


def _entry(name: str, why: str) -> str:
    return why if why.startswith(name) else f"{name} ({why})"


def report(volumes: DicomVolumes, source) -> str | None:
    """One line for the user: what was skipped and why, and the caveats; None when all is well."""
    parts = []
    if volumes.skipped:
        parts.append(f"{source}: opened {len(volumes)} image(s), skipped {len(volumes.skipped)}: "
                     + "; ".join(_entry(n, w) for n, w in volumes.skipped))  # fmt: skip
    if volumes.notes:
        parts.append("note: " + "; ".join(_grouped_notes(volumes.notes)))
    return " | ".join(parts) or None


def _grouped_notes(notes: list[str]) -> list[str]:
    """'file: problem' notes, the same problem on many files said once: 'first: problem (and
    N other files)'."""
    by_problem: dict[str, list[str]] = {}
    for note in dict.fromkeys(notes):
        path, _, problem = note.partition(": ")
        by_problem.setdefault(problem, []).append(path)
    return [f"{paths[0]}: {problem}" + (f" (and {len(paths) - 1} other files)" if len(paths) > 1 else "")
            for problem, paths in by_problem.items()]  # fmt: skip


def read_dicom_series(path, series_uid: str | None = None) -> tuple[np.ndarray, dict]:
    """One stack: of the series asked for, or the one with most slices that opens. What was
    skipped on the way and any caveats are in ``meta["skipped"]`` / ``meta["notes"]``."""
    out = read_dicom(path, series_uid, largest_only=True)
    volume, meta = out[0]
    if out.skipped:
        meta["skipped"] = [list(s) for s in out.skipped]
    if out.notes:
        meta["notes"] = _grouped_notes(out.notes)
    if out.skipped or out.notes:
        meta["report"] = report(out, path)
    return volume, meta
