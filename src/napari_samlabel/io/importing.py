"""Labels made elsewhere, read into the shape of a session's labels: COCO instances and
COCO panoptic JSON, Cell Tracking Challenge result folders, CVAT "Segmentation mask 1.1"
folders and .zip archives (CVAT's and this plugin's ``cvat-mask`` export), and label images
(TIFF, NIfTI, npy) with an optional class table CSV.

Pure functions: each returns an :class:`Imported` (an array the shape of the labels, the
file's ids in it, and per id its class, confidence, source and parent) or raises
:class:`LabelImportError` naming the file and the problem. Nothing here touches a session;
``_napari/importing.py`` writes an import into one as a single undo step.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.instances import SOURCES
from ..core.ontology import OntologyError, normalize_color
from .ctc import MASK_NAME as _MASK
from .errors import LabelImportError
from .writing import csv_cell_text

IMAGE_SUFFIXES = (".tif", ".tiff", ".npy", ".nii", ".nii.gz")
WHAT = ("a COCO JSON, a Cell Tracking Challenge folder (or its res_track.txt), a CVAT mask folder or .zip "
        "(or its labelmap.txt), a DICOM SEG (.dcm) or a label image (.tif, .npy, .nii.gz)")  # fmt: skip
CVAT_LABELMAP = "labelmap.txt"




@dataclass
class ImportedClass:
    name: str
    color: str | None = None  # '#rrggbb' when the file gives one
    kind: str | None = None  # 'thing' / 'stuff' when the file says
    extra: dict = field(default_factory=dict)  # kept with the class (a DICOM SEG's codes: dicom_codes)


@dataclass
class Imported:
    """What a file holds, on the session's grid. Ids are the file's (0: background)."""

    labels: np.ndarray
    path: Path
    fmt: str
    classes: dict[str, ImportedClass] = field(default_factory=dict)
    class_of: dict[int, str] = field(default_factory=dict)
    confidence: dict[int, float] = field(default_factory=dict)  # per id; frames without their own score
    source: dict[int, str] = field(default_factory=dict)
    frame_scores: dict[int, dict[int, float]] = field(default_factory=dict)
    frame_sources: dict[int, dict[int, str]] = field(default_factory=dict)
    parent: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return sorted(self.class_of)

    def score_on(self, label_id: int, frame: int) -> float:
        return self.frame_scores.get(label_id, {}).get(frame, self.confidence.get(label_id, 1.0))

    def source_on(self, label_id: int, frame: int) -> str:
        return self.frame_sources.get(label_id, {}).get(frame, self.source.get(label_id, "model"))


# -- what was chosen -----------------------------------------------------------------------
def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def _stem(path: Path) -> str:
    s = _suffix(path)
    return path.name[: -len(s)] if s else path.name


def detect(paths: str | Path | Sequence[str | Path]) -> tuple[str, Path, Path | None]:
    """(format, the file or folder to read, the class table CSV or None) from what a user chose.

    A folder, its ``res_track.txt`` or one of its ``maskTTT.tif`` (next to a res_track.txt) is a
    Cell Tracking Challenge result; ``.json`` is COCO (panoptic when its annotations carry
    ``segments_info``); ``.tif``/``.npy``/``.nii(.gz)`` a label image, whose class table is a
    ``.csv`` chosen with it or one next to it with the same name. A folder or ``.zip`` with a
    ``labelmap.txt`` (or that file itself) is CVAT's "Segmentation mask 1.1"."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise LabelImportError("nothing chosen to import")
    tables = [p for p in paths if _suffix(p) == ".csv"]
    main = [p for p in paths if _suffix(p) != ".csv"]
    if len(main) != 1 or len(tables) > 1:
        names = ", ".join(p.name for p in paths)
        raise LabelImportError(f"{names}: choose one file or folder to import (and at most one class table .csv)")
    path, table = main[0], (tables[0] if tables else None)
    if not path.exists():
        raise LabelImportError(f"{path}: no such file or folder")
    cvat = _cvat_root(path)
    if cvat is not None:
        return "cvat-mask", cvat, None
    if path.is_dir() or path.name.lower() == "res_track.txt" or (
        _MASK.match(path.name) and (path.parent / "res_track.txt").exists()
    ):
        folder = path if path.is_dir() else path.parent
        if not (folder / "res_track.txt").exists() and not any(_MASK.match(p.name) for p in folder.iterdir()):
            raise LabelImportError(f"{folder}: not a Cell Tracking Challenge result (no res_track.txt, no maskTTT.tif)")
        return "ctc", folder, None
    suffix = _suffix(path)
    if suffix == ".json":
        data = _load_json(path)
        anns = data.get("annotations") if isinstance(data, dict) else None
        panoptic = isinstance(anns, list) and bool(anns) and isinstance(anns[0], dict) and "segments_info" in anns[0]
        return ("coco-panoptic" if panoptic else "coco"), path, None
    if path.is_file() and suffix not in IMAGE_SUFFIXES and is_dicom_seg(path):
        return "dicom-seg", path, None
    if suffix in IMAGE_SUFFIXES:
        if table is None:  # ours too: the semantic export writes <stem>_classes.csv
            siblings = [path.with_name(_stem(path) + end) for end in (".csv", "_classes.csv")]
            table = next((t for t in siblings if t.exists()), None)
        return "label image", path, table
    raise LabelImportError(f"{path}: cannot import {suffix or 'a file without extension'!r}: choose {WHAT}")


def read_labels(
    paths: str | Path | Sequence[str | Path],
    shape: Sequence[int],
    frame_axis: int | None,
    class_name: str | None = None,
    source_meta: dict | None = None,
    _detected: tuple | None = None,
) -> Imported:
    """Read whatever :func:`detect` finds in ``paths`` onto labels of ``shape``.

    ``class_name``: the class of a CTC result's tracks and of a label image's ids when no
    class table says otherwise. ``source_meta``: the session image's geometry (a NIfTI label
    image is matched to it)."""
    fmt, path, table = _detected or detect(paths)
    shape = tuple(int(n) for n in shape)
    if fmt == "coco":
        return read_coco(path, shape, frame_axis)
    if fmt == "coco-panoptic":
        return read_coco_panoptic(path, shape, frame_axis)
    if fmt == "ctc":
        return read_ctc_result(path, shape, frame_axis, class_name or "cell")
    if fmt == "cvat-mask":
        return read_cvat_masks(path, shape, frame_axis)
    if fmt == "dicom-seg":
        from .dicom_seg import read_dicom_seg

        return read_dicom_seg(path, shape, source_meta)
    return read_label_image(path, shape, table, class_name or "object", source_meta)


def is_dicom_seg(path: Path) -> bool:
    """A DICOM file whose SOP class is Segmentation Storage."""
    from .dicom import is_dicom_file

    if not is_dicom_file(path):
        return False
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID", "Modality"])
    except Exception:
        return False
    return str(ds.get("SOPClassUID", "")) == "1.2.840.10008.5.1.4.1.1.66.4" or ds.get("Modality") == "SEG"


# -- shared pieces -----------------------------------------------------------------------------
def _load_json(path: Path):
    from ..core.jsonfile import read_json

    return read_json(path, LabelImportError, "COCO file")


def _int(value, where: str) -> int:
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        return int(float(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: 'inf', '1e400'
        raise LabelImportError(f"{where}: {value!r} is not a whole number") from None


def _score(value, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise LabelImportError(f"{where}: confidence {value!r} is not a number") from None
    if not 0.0 <= v <= 1.0:
        raise LabelImportError(f"{where}: confidence {v} is outside 0-1")
    return v


def _source(value, notes: list[str]) -> str:
    """A known source; a compound one (our CSV's 'manual+tracked') gives its first part."""
    parts = [p for p in str(value or "").split("+") if p in SOURCES]
    if not parts:
        return "model"
    if len(parts) > 1 and "per-frame sources" not in " ".join(notes):
        notes.append(f"per-frame sources ({value}) are not in the file: frames take '{parts[0]}'")
    return parts[0]


def _color(value, where: str, notes: list[str]) -> str | None:
    if value in (None, "", []):
        return None
    try:
        return normalize_color(value)
    except OntologyError as e:
        notes.append(f"{where}: {e}; a colour of our own is used")
        return None


def _plane_shape(shape: tuple, frame_axis: int | None) -> tuple:
    return shape if frame_axis is None else shape[:frame_axis] + shape[frame_axis + 1 :]


def _plane(labels: np.ndarray, frame_axis: int | None, frame: int) -> np.ndarray:
    """A writable view of one frame."""
    if frame_axis is None:
        return labels
    return labels[(slice(None),) * frame_axis + (frame,)]


def _id_dtype(max_id: int):
    return np.uint32 if max_id <= np.iinfo(np.uint32).max else np.int64


def _frames_of_images(images, path: Path, shape: tuple, frame_axis: int | None) -> dict[int, tuple[int, dict]]:
    """image id -> (frame, image): by each image's ``frame`` when all have one (our exports),
    else by their order in ``images``; sizes must match a frame of the labels."""
    if not isinstance(images, list) or not images:
        raise LabelImportError(f"{path}: no 'images' list: cannot tell which frame an annotation is on")
    plane = _plane_shape(shape, frame_axis)
    n_frames = 1 if frame_axis is None else shape[frame_axis]
    if len(plane) != 2:
        raise LabelImportError(f"{path}: COCO holds 2D images, but a frame of these labels is {plane}")
    by_key = all(isinstance(im, dict) and "frame" in im for im in images)
    out: dict[int, tuple[int, dict]] = {}
    for k, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im:
            raise LabelImportError(f"{path}: image #{k + 1} has no 'id'")
        where = f"{path}: image {im['id']!r}"
        frame = _int(im["frame"], where + " frame") if by_key else k
        if not 0 <= frame < n_frames:
            raise LabelImportError(
                f"{path}: {len(images)} images (frame {frame}), but the labels have {n_frames} frame(s)"
            )
        h, w = im.get("height"), im.get("width")
        if h is not None and w is not None and (_int(h, where), _int(w, where)) != plane:
            raise LabelImportError(f"{where} is {int(w)} x {int(h)} pixels, a frame of the image is {plane[1]} x {plane[0]}")
        if im["id"] in out:
            raise LabelImportError(f"{where} is listed twice")
        out[im["id"]] = (frame, im)
    return out


def _categories(data: dict, path: Path, notes: list[str]) -> dict[int, ImportedClass]:
    cats = data.get("categories")
    if not isinstance(cats, list):
        raise LabelImportError(f"{path}: no 'categories' list: the classes are unknown")
    out = {}
    for k, c in enumerate(cats):
        if not isinstance(c, dict) or "id" not in c or not str(c.get("name", "")).strip():
            raise LabelImportError(f"{path}: category #{k + 1} needs an 'id' and a 'name'")
        kind = None if "isthing" not in c else ("thing" if c["isthing"] else "stuff")
        out[c["id"]] = ImportedClass(str(c["name"]).strip(), _color(c.get("color"), f"{path}: category {c['name']!r}", notes), kind)
    return out


# -- COCO instances ------------------------------------------------------------------------------
def _ann_mask(seg, h: int, w: int, where: str) -> np.ndarray:
    """An annotation's mask as pycocotools' annToMask gives it (polygons, RLE, uncompressed RLE)."""
    from pycocotools import mask as mask_utils

    try:
        if isinstance(seg, list):
            polys = [p for p in seg if isinstance(p, list) and len(p) >= 6]  # fewer than 3 points: no area
            if not polys:
                return np.zeros((h, w), bool)
            rle = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
        elif isinstance(seg, dict) and "counts" in seg:
            size = [int(v) for v in seg.get("size", (h, w))]
            if size != [h, w]:
                raise LabelImportError(f"{where}: its mask is {size[1]} x {size[0]}, its image {w} x {h}")
            counts = seg["counts"]
            if isinstance(counts, list):
                rle = mask_utils.frPyObjects({"size": size, "counts": counts}, h, w)
            else:
                rle = {"size": size, "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
        else:
            raise LabelImportError(f"{where}: 'segmentation' is neither polygons nor RLE")
        return mask_utils.decode(rle).astype(bool)
    except LabelImportError:
        raise
    except Exception as e:  # pycocotools' own errors name nothing
        raise LabelImportError(f"{where}: its segmentation cannot be decoded ({type(e).__name__}: {e})") from None


def read_coco(path: Path, shape: tuple, frame_axis: int | None) -> Imported:
    """COCO instances JSON (ours, a colleague's, a model's). Categories become classes (colour
    and isthing kept), ``score`` the frame's confidence, ``source`` its source; ``instance_id``
    links annotations across frames into one instance, else each annotation is one (its id).
    Overlapping annotations: the higher score keeps a pixel (said)."""
    path = Path(path)
    data = _load_json(path)
    if isinstance(data, list):
        raise LabelImportError(
            f"{path}: a COCO results list (no 'images' or 'categories'): it cannot say which frame or "
            "class an annotation is; import the dataset JSON with 'images' and 'categories'"
        )
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise LabelImportError(f"{path}: not a COCO instances file (no 'annotations' list)")
    out = Imported(np.zeros(0), path, "coco")
    cats = _categories(data, path, out.notes)
    frames = _frames_of_images(data.get("images"), path, shape, frame_axis)
    anns = data["annotations"]
    for k, a in enumerate(anns):
        if not isinstance(a, dict) or not {"image_id", "category_id", "segmentation"} <= set(a):
            raise LabelImportError(f"{path}: annotation #{k + 1} needs 'image_id', 'category_id' and 'segmentation'")
    # ids: instance_id where given, else the annotation's own id (or its place in the list)
    linked = [a for a in anns if a.get("instance_id") is not None]
    own = [a.get("id") for a in anns]
    use_own = all(isinstance(i, int) and i > 0 for i in own) and len(set(own)) == len(own)
    taken = {_int(a["instance_id"], f"{path}: instance_id") for a in linked}
    next_free = max(taken, default=0) + 1
    ids = []
    for k, a in enumerate(anns):
        if a.get("instance_id") is not None:
            ids.append(_int(a["instance_id"], f"{path}: annotation #{k + 1} instance_id"))
        elif linked:  # a mixed file: the others after the linked ones
            ids.append(next_free)
            next_free += 1
        else:
            ids.append(a["id"] if use_own else k + 1)
    if any(i <= 0 for i in ids):
        raise LabelImportError(f"{path}: instance ids must be positive, found {min(ids)}")
    out.labels = np.zeros(shape, _id_dtype(max(ids, default=0)))
    order = sorted(range(len(anns)), key=lambda k: -float(anns[k].get("score", 1.0) or 0.0))  # stable
    overlap = 0
    for k in order:
        a, i = anns[k], ids[k]
        where = f"{path}: annotation {a.get('id', '#' + str(k + 1))}"
        if a["image_id"] not in frames:
            raise LabelImportError(f"{where} is on image {a['image_id']!r}, which 'images' does not list")
        if a["category_id"] not in cats:
            raise LabelImportError(f"{where} has category {a['category_id']!r}, which 'categories' does not list")
        frame, im = frames[a["image_id"]]
        cls = cats[a["category_id"]]
        if out.class_of.setdefault(i, cls.name) != cls.name:
            raise LabelImportError(f"{where}: instance {i} is {out.class_of[i]!r} on one frame and {cls.name!r} on another")
        out.classes.setdefault(cls.name, cls)
        plane = _plane(out.labels, frame_axis, frame)
        m = _ann_mask(a["segmentation"], *plane.shape, where)
        free = m & (plane == 0)
        overlap += int((m & (plane != 0) & (plane != i)).sum())
        plane[free] = i
        if "score" in a:
            out.frame_scores.setdefault(i, {}).setdefault(frame, _score(a["score"], where))
        out.frame_sources.setdefault(i, {}).setdefault(frame, _source(a.get("source", "model"), out.notes))
    if overlap:
        out.notes.append(f"{overlap} pixel(s) where annotations overlap went to the higher score")
    return out


# -- COCO panoptic ------------------------------------------------------------------------------
def read_coco_panoptic(path: Path, shape: tuple, frame_axis: int | None) -> Imported:
    """COCO panoptic JSON with its PNG folder (``<name>/`` next to ``<name>.json``, as COCO
    ships it, or ``panoptic/`` as we export it). A segment id is one instance on every frame
    (ours are label ids; video panoptic sets use track ids)."""
    from PIL import Image

    path = Path(path)
    data = _load_json(path)
    out = Imported(np.zeros(0), path, "coco-panoptic")
    cats = _categories(data, path, out.notes)
    frames = _frames_of_images(data.get("images"), path, shape, frame_axis)
    folder = next((f for f in (path.with_suffix(""), path.parent / "panoptic") if f.is_dir()), None)
    if folder is None:
        raise LabelImportError(f"{path}: no PNG folder next to it ({path.with_suffix('').name}/ or panoptic/)")
    anns = data.get("annotations")
    segs = [s for a in anns for s in a.get("segments_info", [])] if isinstance(anns, list) else []
    out.labels = np.zeros(shape, _id_dtype(max((int(s.get("id", 0)) for s in segs), default=0)))
    for k, a in enumerate(anns):
        where = f"{path}: annotation #{k + 1}"
        if not isinstance(a, dict) or a.get("image_id") not in frames or "file_name" not in a:
            raise LabelImportError(f"{where} needs 'file_name' and an 'image_id' that 'images' lists")
        frame, _ = frames[a["image_id"]]
        png = folder / a["file_name"]
        try:
            rgb = np.asarray(Image.open(png).convert("RGB"), np.uint32)
        except (OSError, ValueError) as e:
            raise LabelImportError(f"{png}: cannot be read ({e})") from None
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        plane = _plane(out.labels, frame_axis, frame)
        if ids.shape != plane.shape:
            raise LabelImportError(f"{png} is {ids.shape[1]} x {ids.shape[0]}, a frame of the image {plane.shape[1]} x {plane.shape[0]}")
        listed = {}
        for s in a.get("segments_info", []):
            i = _int(s.get("id"), f"{where} segment id")
            if s.get("category_id") not in cats:
                raise LabelImportError(f"{where}: segment {i} has category {s.get('category_id')!r}, which 'categories' does not list")
            listed[i] = cats[s["category_id"]]
        stray = sorted(set(np.unique(ids).tolist()) - set(listed) - {0})
        if stray:
            raise LabelImportError(f"{png}: segment id(s) {stray[:5]} are in the PNG but not in {path.name}")
        for i, cls in listed.items():
            if out.class_of.setdefault(i, cls.name) != cls.name:
                raise LabelImportError(f"{where}: segment {i} is {out.class_of[i]!r} on one frame and {cls.name!r} on another")
            out.classes.setdefault(cls.name, cls)
        plane[...] = np.where(np.isin(ids, list(listed)), ids, 0)
    return out


# -- Cell Tracking Challenge --------------------------------------------------------------------
def read_ctc_result(folder: Path, shape: tuple, frame_axis: int | None, class_name: str = "cell") -> Imported:
    """Tracks become instances of one class, parents their lineage. A track with a single
    daughter that starts after a gap is the same cell seen again (how CTC writes gaps):
    it joins its parent."""
    folder = Path(folder)
    if frame_axis is None:
        raise LabelImportError(f"{folder}: a Cell Tracking Challenge result is a time series, these labels have no time axis")
    from .ctc import read_ctc

    masks, rows = read_ctc(folder)
    labels = np.moveaxis(masks, 0, frame_axis)
    if labels.shape != shape:
        raise LabelImportError(
            f"{folder}: {masks.shape[0]} masks of {masks.shape[1:]} do not fit labels of shape {shape} (time axis {frame_axis})"
        )
    out = Imported(np.ascontiguousarray(labels).astype(np.uint32), folder, "ctc")
    present = {}
    for t in range(masks.shape[0]):
        for i in np.unique(masks[t]).tolist():
            if i:
                present.setdefault(int(i), []).append(t)
    track = {r[0]: r for r in rows}
    if rows:
        lost = sorted(set(present) - set(track))
        if lost:
            i = lost[0]
            raise LabelImportError(
                f"{folder}: label {i} in mask{present[i][0]:03d}.tif has no line in res_track.txt"
                + (f" (nor {len(lost) - 1} other label(s))" if len(lost) > 1 else "")
            )
    else:
        out.notes.append("no res_track.txt: ids are tracks, no lineage")
    kids: dict[int, list[int]] = {}
    for label, b, e, p in rows:
        if p and label in present:
            if p not in track:
                out.notes.append(f"track {label}'s parent {p} has no line in res_track.txt: left without a parent")
                continue
            kids.setdefault(p, []).append(label)
    joined = {}
    for p, ks in kids.items():
        if len(ks) == 1 and track[ks[0]][1] > track[p][2] + 1 and p in present:
            joined[ks[0]] = p  # continued after a gap

    def root(i: int) -> int:
        while i in joined:
            i = joined[i]
        return i

    if joined:
        lut = {i: root(i) for i in joined}
        for i, r in lut.items():
            out.labels[out.labels == i] = r
        out.notes.append(f"{len(joined)} track(s) continued after a gap joined to the track they continue")
    for i in present:
        if i in joined:
            continue
        out.class_of[i] = class_name
        p = track.get(i, (0, 0, 0, 0))[3]
        if p and p in track and p in present:
            out.parent[i] = root(p)
    out.classes[class_name] = ImportedClass(class_name)
    return out


# -- CVAT Segmentation mask 1.1 ----------------------------------------------------------------
def _cvat_root(path: Path) -> Path | None:
    """The folder or .zip a CVAT mask export is in, when ``path`` is one (or its labelmap.txt)."""
    if path.name.lower() == CVAT_LABELMAP and path.is_file():
        return path.parent
    if path.is_dir():
        return path if (path / CVAT_LABELMAP).is_file() else None
    if _suffix(path) == ".zip":
        _CvatFiles(path).close()  # refused here, naming the archive, when it is not one
        return path
    return None


class _CvatFiles:
    """The files of a CVAT mask export by their path in it (``SegmentationClass/x.png``), in a
    folder or a zip archive (as written, or with the layout inside one folder)."""

    def __init__(self, path: Path) -> None:
        import zipfile

        self.path, self.zip = path, None
        if path.is_dir():
            self.names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
            return
        try:
            self.zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as e:
            raise LabelImportError(f"{path}: not a readable zip archive ({e})") from None
        names = [n for n in self.zip.namelist() if not n.endswith("/")]
        tops = [n[: -len(CVAT_LABELMAP)] for n in names if n.rsplit("/", 1)[-1] == CVAT_LABELMAP]
        if len(tops) != 1:
            self.close()
            raise LabelImportError(f"{path}: not a CVAT mask archive ({'no' if not tops else 'more than one'} "
                                   f"{CVAT_LABELMAP} in it)")  # fmt: skip
        self.prefix = tops[0]
        self.names = [n[len(self.prefix) :] for n in names if n.startswith(self.prefix)]

    def where(self, rel: str) -> str:
        return f"{self.path}/{rel}" if self.zip is not None else str(self.path / rel)

    def read(self, rel: str) -> bytes:
        try:
            if self.zip is not None:
                return self.zip.read(self.prefix + rel)
            return (self.path / rel).read_bytes()
        except (OSError, KeyError) as e:
            raise LabelImportError(f"{self.where(rel)}: cannot be read ({e})") from None

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _labelmap(text: str, where: str) -> list[tuple[str, tuple[int, int, int]]]:
    """(name, rgb) per line of labelmap.txt (``name:r,g,b:parts:actions``, '#' comments)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, rest = line.partition(":")
        try:
            rgb = tuple(int(v) for v in rest.split(":", 1)[0].split(","))
            if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb) or not name.strip():
                raise ValueError
        except ValueError:
            raise LabelImportError(f"{where}: line {n} {line!r} is not 'name:r,g,b:parts:actions'") from None
        out.append((name.strip(), rgb))
    return out


def _rgb_png(files: _CvatFiles, rel: str, plane: tuple) -> np.ndarray:
    """A PNG as (h, w) ints r << 16 | g << 8 | b (palette PNGs, as Datumaro writes, too)."""
    import io

    from PIL import Image

    try:
        rgb = np.asarray(Image.open(io.BytesIO(files.read(rel))).convert("RGB"), np.int64)
    except (OSError, ValueError) as e:
        raise LabelImportError(f"{files.where(rel)}: cannot be read as an image ({e})") from None
    if rgb.shape[:2] != plane:
        raise LabelImportError(f"{files.where(rel)} is {rgb.shape[1]} x {rgb.shape[0]} pixels, a frame of the "
                               f"image is {plane[1]} x {plane[0]}")  # fmt: skip
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _lookup(codes: np.ndarray, table: dict[int, int], what: str, where: str) -> np.ndarray:
    """Colour codes as indices through ``table``; a colour it lacks is named."""
    found, inverse = np.unique(codes, return_inverse=True)
    lost = [int(c) for c in found if int(c) not in table]
    if lost:
        c = lost[0]
        raise LabelImportError(f"{where}: colour ({c >> 16}, {(c >> 8) & 255}, {c & 255}) is {what}")
    return np.array([table[int(c)] for c in found], np.int64)[inverse].reshape(codes.shape)


def _cvat_frames(files: _CvatFiles, path: Path, n_frames: int) -> list[tuple[int, str]]:
    """(frame, image name) per image: ``frame_00012`` is frame 12 (our export names them so),
    other names go to frames in the order ImageSets/Segmentation/default.txt lists them."""
    import re

    listed = "ImageSets/Segmentation/default.txt"
    if listed in files.names:
        names = [n.strip() for n in files.read(listed).decode("utf-8", "replace").splitlines() if n.strip()]
    else:
        names = sorted(n[len("SegmentationClass/") : -4] for n in files.names
                       if n.startswith("SegmentationClass/") and n.lower().endswith(".png"))  # fmt: skip
    if not names:
        raise LabelImportError(f"{path}: no masks in SegmentationClass/")
    numbered = [re.fullmatch(r"frame_(\d+)", n) for n in names]
    frames = [int(m.group(1)) for m in numbered] if all(numbered) else list(range(len(names)))
    if max(frames) >= n_frames:
        raise LabelImportError(f"{path}: {len(names)} images (frame {max(frames)}), but the labels have "
                               f"{n_frames} frame(s)")  # fmt: skip
    return list(zip(frames, names))


def read_cvat_masks(path: Path, shape: tuple, frame_axis: int | None) -> Imported:
    """CVAT's "Segmentation mask 1.1" (a folder, or the .zip CVAT and our ``cvat-mask`` export
    write): classes and their colours from labelmap.txt, each image's objects from
    SegmentationObject (Pascal VOC colours), their class from SegmentationClass. The format
    numbers objects per image: one on several frames comes back as one instance per frame."""
    from .masks import voc_colormap

    path = Path(path)
    plane_shape = _plane_shape(shape, frame_axis)
    if len(plane_shape) != 2:
        raise LabelImportError(f"{path}: CVAT masks are 2D images, but a frame of these labels is {plane_shape}")
    out = Imported(np.zeros(shape, np.uint32), path, "cvat-mask")
    voc = {(int(r) << 16) | (int(g) << 8) | int(b): k for k, (r, g, b) in enumerate(voc_colormap(256))}
    with _CvatFiles(path) as files:
        entries = _labelmap(files.read(CVAT_LABELMAP).decode("utf-8", "replace"), files.where(CVAT_LABELMAP))
        names = {0: None}  # class index -> name; 0: CVAT's background (black), unlabeled here
        code = {0: 0}
        for name, (r, g, b) in entries:
            if (r, g, b) != (0, 0, 0):
                code[(r << 16) | (g << 8) | b] = len(names)
                names[len(names)] = name
                out.classes[name] = ImportedClass(name, f"#{r:02x}{g:02x}{b:02x}")
        next_id, seen_on = 1, set()
        for frame, name in _cvat_frames(files, path, 1 if frame_axis is None else shape[frame_axis]):
            cls_rel, obj_rel = f"SegmentationClass/{name}.png", f"SegmentationObject/{name}.png"
            cls = _lookup(_rgb_png(files, cls_rel, plane_shape), code, f"no class of {CVAT_LABELMAP}",
                          files.where(cls_rel))  # fmt: skip
            obj = (_lookup(_rgb_png(files, obj_rel, plane_shape), voc, "no Pascal VOC object colour",
                           files.where(obj_rel)) if obj_rel in files.names else np.zeros_like(cls))  # fmt: skip
            obj = np.where((obj == 0) & (cls > 0), 256 + cls, obj)  # class pixels of no object: one per class
            plane = _plane(out.labels, frame_axis, frame)
            for k in np.unique(obj[cls > 0]).tolist():
                here = (obj == k) & (cls > 0)
                index = int(np.bincount(cls[here]).argmax())  # an object of mixed colours: its main class
                plane[here] = next_id
                out.class_of[next_id] = names[index]
                next_id += 1
                seen_on.add(frame)
    if len(seen_on) > 1:
        out.notes.append("CVAT masks number objects per image: each frame's objects are instances of their own")
    return out


# -- label images -------------------------------------------------------------------------------
def read_class_table(path: Path) -> dict[int, dict]:
    """id -> {class, confidence?, source?, parent?, color?, kind?} from a CSV with columns id,
    class and optionally confidence, source, parent, color (our instance CSV is one), or
    index, name[, color, kind] (the semantic export's ``<stem>_classes.csv``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise LabelImportError(f"{path}: cannot be read ({e})") from None
    lines = csv.reader(StringIO(text, newline=""))  # quoted cells may hold line breaks
    cols = [c.strip().lower() for c in _csv_next(lines, path) or []]
    semantic = "id" not in cols and "index" in cols and "name" in cols  # the semantic export's table
    if semantic:
        cols = ["id" if c == "index" else "class" if c == "name" else c for c in cols]
    if "id" not in cols or "class" not in cols:
        raise LabelImportError(f"{path}: a class table needs the columns 'id' and 'class' (it has {', '.join(cols) or 'none'})")
    out: dict[int, dict] = {}
    while (cells := _csv_next(lines, path)) is not None:
        where = f"{path}: line {lines.line_num}"
        if not cells:
            continue  # an empty line
        if len(cells) > len(cols):
            raise LabelImportError(f"{where}: {len(cells)} fields, the header names {len(cols)}")
        cells = [csv_cell_text(c.strip()) for c in cells]  # our CSVs quote formula-like text
        row = dict(zip(cols, cells + [""] * (len(cols) - len(cells))))
        i = _int(row["id"], where + " id")
        if semantic and i == 0:
            continue  # its 'unlabeled' row: the background
        if i <= 0:
            raise LabelImportError(f"{where}: id {i} (0 is the background)")
        if i in out:
            raise LabelImportError(f"{where}: id {i} is listed twice")
        if not row["class"]:
            raise LabelImportError(f"{where}: id {i} has no class")
        rec = {"class": row["class"]}
        if row.get("confidence"):
            rec["confidence"] = _score(row["confidence"], where)
        if row.get("source"):
            rec["source"] = row["source"]
        if row.get("parent"):
            rec["parent"] = _int(row["parent"], where + " parent")
        if row.get("color"):
            rec["color"] = row["color"]
        if row.get("kind") in ("thing", "stuff"):
            rec["kind"] = row["kind"]
        out[i] = rec
    return out


def _csv_next(lines, path: Path) -> list[str] | None:
    """The next row of a ``csv.reader``, None at the end; the csv module's own errors (a cell
    past its size limit) name the file and the line."""
    try:
        return next(lines, None)
    except csv.Error as e:
        raise LabelImportError(f"{path}: line {lines.line_num}: {e}") from None


def _fit(arr: np.ndarray, shape: tuple, path: Path) -> np.ndarray:
    if arr.shape == shape:
        return arr
    if tuple(n for n in arr.shape if n != 1) == tuple(n for n in shape if n != 1):
        return arr.reshape(shape)  # only axes of length 1 differ (a 2D slice saved as 1 x h x w)
    raise LabelImportError(f"{path}: labels of shape {arr.shape}, the image needs {shape}")


def _stored_order(path: Path) -> np.ndarray:
    """A NIfTI's voxels in the order the file stores them, as (.., z, y, x): over an image
    without geometry (a TIFF, an array) there is no grid to match, and a file made from
    such an array holds it in that order."""
    import nibabel as nib

    data = np.asanyarray(nib.load(str(path)).dataobj)
    return np.transpose(data, tuple(range(data.ndim))[::-1])


def read_label_image(
    path: Path, shape: tuple, class_table: Path | None = None, class_name: str = "object", source_meta: dict | None = None
) -> Imported:
    """A label image (0 background, each other value one instance) the shape of the session's
    labels; a NIfTI is put on the image's grid when both have geometry (reoriented exactly,
    or refused). Classes from ``class_table`` (every id must be in it), else ``class_name``."""
    from .geometry import GeometryMismatch, index_affine, match_grid
    from .images import ImageReadError, read_image

    path = Path(path)
    ref = index_affine(source_meta or {})
    try:
        if ref is None and _suffix(path) in (".nii", ".nii.gz"):
            arr, meta = _stored_order(path), {}
        else:
            arr, meta = read_image(path)
    except ImageReadError as e:
        raise LabelImportError(str(e)) from None
    except Exception as e:
        raise LabelImportError(f"{path}: cannot be read ({type(e).__name__}: {e})") from None
    from ..core.label_ids import checked_ids

    arr = checked_ids(np.asarray(arr), str(path), LabelImportError, limit=None)  # ids too big: renumbered
    out = Imported(np.zeros(0), path, "label image")
    own = index_affine(meta)
    if own is not None and ref is not None and arr.ndim >= 3 and len(shape) >= 3:
        try:
            match = match_grid(own, arr.shape, ref, shape)
        except GeometryMismatch as e:
            raise LabelImportError(f"{path}: not on the image's grid: {e}") from None
        if match.kind == "resampled":
            raise LabelImportError(f"{path}: on another grid than the image's ({match.message}); resample it to the image first")
        if match.kind != "same":
            out.notes.append(match.message)
        arr = match.apply(arr)
    arr = _fit(arr, shape, path)
    max_id = int(arr.max(initial=0))
    out.labels = arr if arr.dtype == _id_dtype(max_id) else arr.astype(_id_dtype(max_id))
    ids = [int(i) for i in np.unique(out.labels) if i]
    if class_table is None:
        out.class_of = dict.fromkeys(ids, class_name)
        out.classes[class_name] = ImportedClass(class_name)
        return out
    table = read_class_table(class_table)
    lost = [i for i in ids if i not in table]
    if lost:
        raise LabelImportError(f"{class_table}: no row for id(s) {lost[:8]}{' ...' if len(lost) > 8 else ''} of {path.name}")
    manual_scored = 0
    for i in ids:
        rec = table[i]
        out.class_of[i] = rec["class"]
        cls = out.classes.setdefault(rec["class"], ImportedClass(rec["class"]))
        if cls.color is None and rec.get("color"):
            cls.color = _color(rec["color"], f"{class_table}: id {i}", out.notes)
        if cls.kind is None and rec.get("kind"):
            cls.kind = rec["kind"]
        if "confidence" in rec:
            out.confidence[i] = rec["confidence"]
        if "source" in rec:
            out.source[i] = _source(rec["source"], out.notes)
        if out.source.get(i) == "manual" and out.confidence.get(i, 1.0) < 1.0:
            manual_scored += 1  # the user's own frames are 1.0 (README: confidence and source)
        if rec.get("parent"):
            out.parent[i] = rec["parent"]
    if manual_scored:
        out.notes.append(f"{manual_scored} row(s) say source 'manual' with a confidence under 1: manual frames "
                         "count as 1.0 (give source 'model' to keep the score)")  # fmt: skip
    unused = len(table) - len(ids)
    if unused:
        out.notes.append(f"{unused} row(s) of {class_table.name} name ids not in {path.name}")
    return out
