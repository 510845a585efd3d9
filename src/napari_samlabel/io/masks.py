"""Mask exports: a semantic class-index mask, and CVAT's "Segmentation mask 1.1" layout.

**Semantic mask** (:func:`write_semantic`): pixel = class index, 0 where no instance is;
class *k* is the ontology's k-th class (1-based, in the order of the Classes dock). The class
table goes beside it as ``<stem>_classes.csv`` (``index,name,color,kind``; row 0 is
``unlabeled``). The path's suffix picks the file: ``.tif``/``.tiff`` (every frame, one page
per plane, zlib), ``.nii``/``.nii.gz`` (with the image's geometry, as the NIfTI labels export),
``.png`` (2D planes: one file, or ``<stem>_00000.png``... per frame for a stack). uint8 up to
255 classes, uint16 beyond.

**CVAT Segmentation mask 1.1** (:func:`write_cvat_masks`), the Pascal VOC segmentation layout
as CVAT and Datumaro read and write it::

    labelmap.txt                      # label:color_rgb:parts:actions
    ImageSets/Segmentation/default.txt   frame names, one per line
    SegmentationClass/frame_00000.png    RGB: each pixel its class's colour
    SegmentationObject/frame_00000.png   RGB: each instance of a frame its Pascal VOC colour

``labelmap.txt`` starts with ``background:0,0,0::`` (unlabelled pixels), then one
``name:r,g,b::`` line per class with the class's colour from the ontology. Instances are
numbered 1..N on each frame in id order and painted with the Pascal VOC colour map (index 0
black), as Datumaro does; CVAT pairs each with its class through the class mask. Frames are
named ``frame_00000`` (as in the COCO export): upload images of those names to the CVAT task.
A class named ``background`` is CVAT's background (its pixels are written as such).
Give a path ending in ``.zip`` for the archive CVAT's "Upload annotations" takes.

Every file is written whole or not at all (a ``.part`` file renamed into place), and only
inside the path or folder given. Labels are read one frame at a time.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..core.instances import InstanceTable
from ..core.ontology import Ontology
from .errors import ExportError
from .writing import atomic_text, planes

UNLABELED = "unlabeled"
CVAT_BACKGROUND = "background"
FRAME_NAME = "frame_{:05d}"


def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG")
    return buf.getvalue()


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[k : k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]


# -- id -> class ---------------------------------------------------------------------
def class_indices(plane: np.ndarray, table: InstanceTable, index_of: dict[str, int], where: str) -> np.ndarray:
    """A plane of label ids as class indices (0: no instance), shaped like the plane."""
    ids, inverse = np.unique(np.asarray(plane), return_inverse=True)
    lut = np.zeros(len(ids), np.int64)
    for k, i in enumerate(ids.tolist()):
        if not i:
            continue
        rec = table.get(int(i))
        if rec is None:
            raise ExportError(f"label {i} {where} has no instance record, so no class: export from a session, "
                             "a project folder, or give --instances")  # fmt: skip
        if rec.class_name not in index_of:
            raise ExportError(f"{rec.name} {where} is of class {rec.class_name!r}, which the ontology lacks")
        lut[k] = index_of[rec.class_name]
    return lut[inverse].reshape(np.shape(plane))


def class_table_rows(ontology: Ontology) -> list[dict]:
    """The semantic mask's class table: index 0 unlabeled, then the classes in order."""
    rows = [{"index": 0, "name": UNLABELED, "color": "#000000", "kind": ""}]
    rows += [{"index": k, "name": c.name, "color": c.color, "kind": c.kind} for k, c in enumerate(ontology, 1)]
    return rows


def _where(frame_axis, f: int) -> str:
    return "" if frame_axis is None else f"on frame {f}"


# -- semantic ------------------------------------------------------------------------
def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in (".nii.gz", ".nii", ".tiff", ".tif", ".png"):
        if name.endswith(s):
            return s
    return ""


def write_semantic(labels, table: InstanceTable, ontology: Ontology, path, frame_axis: int | None = None,
                   source_meta: dict | None = None) -> Path:  # fmt: skip
    """Write the class-index mask of ``labels`` to ``path`` (.tif, .png, .nii.gz; no suffix:
    .tif) and its class table beside it. Returns the mask's path (for a PNG stack: the
    folder it is in)."""
    path = Path(path)
    suffix = _suffix(path)
    if not suffix:
        path, suffix = path.with_name(path.name + ".tif"), ".tif"
    labels = labels if hasattr(labels, "shape") else np.asarray(labels)
    index_of = {c.name: k for k, c in enumerate(ontology, 1)}
    dtype = np.uint8 if len(index_of) < 256 else np.uint16
    stem = path.name[: -len(suffix)]
    n = 1 if frame_axis is None else labels.shape[frame_axis]

    def frames():
        for f, plane in planes(labels, frame_axis):
            yield f, class_indices(plane, table, index_of, _where(frame_axis, f)).astype(dtype)

    if suffix == ".png":
        shape = tuple(labels.shape)
        plane_ndim = len(shape) - (frame_axis is not None)
        if plane_ndim != 2:
            raise ExportError(f"{path.name}: PNG holds 2D images, these labels' planes are {plane_ndim}D: "
                             "use .tif or .nii.gz")  # fmt: skip
        digits = max(5, len(str(n - 1)))
        sink = _Folder(path.parent)
        try:
            for f, plane in frames():
                sink.put(path.name if frame_axis is None else f"{stem}_{f:0{digits}d}.png", _png(plane))
        except BaseException:
            sink.abort()
            raise
        sink.close()
        out = path if frame_axis is None else path.parent
    elif suffix in (".tif", ".tiff"):
        import tifffile

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        shape = tuple(labels.shape)
        try:
            if frame_axis in (None, 0):  # one page per 2D plane, one frame in memory at a time
                def pages():
                    for _, plane in frames():
                        yield from plane.reshape(-1, *plane.shape[-2:]) if plane.ndim > 2 else (plane,)

                tifffile.imwrite(tmp, pages(), shape=shape, dtype=dtype, photometric="minisblack",
                                 compression="zlib", metadata=None)  # fmt: skip
            else:
                whole = np.stack([p for _, p in frames()], axis=frame_axis)
                tifffile.imwrite(tmp, whole, photometric="minisblack", compression="zlib", metadata=None)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(path)
        out = path
    else:  # NIfTI, on the image's grid
        from .images import write_labels

        whole = np.stack([p for _, p in frames()], axis=frame_axis) if frame_axis is not None \
            else next(frames())[1]  # fmt: skip
        out = write_labels(path, whole, source_meta or {})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["index", "name", "color", "kind"], lineterminator="\n")
    w.writeheader()
    w.writerows(class_table_rows(ontology))
    atomic_text(path.with_name(f"{stem}_classes.csv"), buf.getvalue())
    return out


# -- CVAT Segmentation mask 1.1 -------------------------------------------------------------
def voc_colormap(n: int = 256) -> np.ndarray:
    """The Pascal VOC colour map ((n, 3) uint8): index bits spread over R, G, B from the top
    bit down (0 black, 1 (128,0,0), 2 (0,128,0), ...), as VOC's devkit and Datumaro make it."""
    cmap = np.zeros((n, 3), np.int64)
    idx = np.arange(n)
    for j in range(7, -1, -1):
        for c in range(3):
            cmap[:, c] |= ((idx >> c) & 1) << j
        idx = idx >> 3
    return cmap.astype(np.uint8)


def cvat_labelmap(ontology: Ontology) -> list[tuple[str, tuple[int, int, int]]]:
    """(name, rgb) for labelmap.txt: background first, then the classes; refused (ValueError
    naming the class) where CVAT could not read it back: a ':' or a line break in a name, a
    black class (black is the background), two classes of one colour."""
    out = [(CVAT_BACKGROUND, (0, 0, 0))]
    seen: dict[tuple, str] = {}
    for c in ontology:
        if c.name == CVAT_BACKGROUND:
            continue
        if ":" in c.name or "\n" in c.name or "\r" in c.name:
            raise ExportError(f"class {c.name!r}: labelmap.txt cannot hold a ':' or a line break in a name; rename it")
        rgb = _rgb(c.color)
        if rgb == (0, 0, 0):
            raise ExportError(f"class {c.name!r} is black (#000000), CVAT's background colour: give it another colour")
        if rgb in seen:
            raise ExportError(f"classes {seen[rgb]!r} and {c.name!r} have the same colour {c.color}: CVAT tells "
                             "classes apart by colour, give one of them another")  # fmt: skip
        seen[rgb] = c.name
        out.append((c.name, rgb))
    return out


def _labelmap_text(entries) -> str:
    lines = ["# label:color_rgb:parts:actions"] + [f"{n}:{r},{g},{b}::" for n, (r, g, b) in entries]
    return "\n".join(lines) + "\n"


class _Folder:
    """Files staged as ``.part`` and renamed into place together at ``close()``: an export
    that fails half way leaves nothing (``abort()``), not half the frames."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.existed = root.exists()
        self.staged: list[Path] = []

    def put(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        self.staged.append(tmp)
        tmp.write_bytes(data)

    def close(self) -> None:
        for tmp in self.staged:
            tmp.replace(tmp.with_name(tmp.name[: -len(".part")]))

    def abort(self) -> None:
        for tmp in self.staged:
            tmp.unlink(missing_ok=True)
        for d in sorted({p.parent for p in self.staged}, key=lambda p: -len(p.parts)):
            while d != self.root and d.is_relative_to(self.root) and d.is_dir() and not any(d.iterdir()):
                d.rmdir()  # only folders this export made inside the chosen one, left empty
                d = d.parent
        if not self.existed and self.root.is_dir() and not any(self.root.iterdir()):
            self.root.rmdir()


class _Zip:
    def __init__(self, path: Path) -> None:
        import zipfile

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.tmp = path, path.with_name(path.name + ".part")
        self.zf = zipfile.ZipFile(self.tmp, "w", zipfile.ZIP_DEFLATED)

    def put(self, rel: str, data: bytes) -> None:
        self.zf.writestr(rel, data)

    def close(self) -> None:
        self.zf.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self.zf.close()
        self.tmp.unlink(missing_ok=True)


def write_cvat_masks(labels, table: InstanceTable, ontology: Ontology, folder, frame_axis: int | None = None) -> Path:
    """Write ``labels`` in CVAT's "Segmentation mask 1.1" layout into ``folder`` (made if
    missing), or into a zip archive when ``folder`` ends in ``.zip``. Returns that path."""
    folder = Path(folder)
    labels = labels if hasattr(labels, "shape") else np.asarray(labels)
    entries = cvat_labelmap(ontology)  # refused before anything is written
    plane_ndim = len(labels.shape) - (frame_axis is not None)
    if plane_ndim != 2:
        raise ExportError(f"CVAT's segmentation masks are 2D PNGs, these labels' planes are {plane_ndim}D: "
                         "pick the frame/slice axis so that planes are 2D")  # fmt: skip
    index_of = {name: k for k, (name, _) in enumerate(entries)}
    class_rgb = np.array([rgb for _, rgb in entries], np.uint8)
    inst_rgb = voc_colormap(256)
    sink = _Zip(folder) if folder.name.lower().endswith(".zip") else _Folder(folder)
    names = []
    try:
        for f, plane in planes(labels, frame_axis):
            where = _where(frame_axis, f)
            cls = class_indices(plane, table, index_of, where)
            name = FRAME_NAME.format(f)
            objects = np.where(cls > 0, plane, 0)  # background-class pixels are no instance
            ids, inverse = np.unique(objects, return_inverse=True)
            n = int((ids > 0).sum())
            if n > 255:
                raise ExportError(f"{n} instances {where or 'in the image'}: CVAT's SegmentationObject PNGs hold "
                                 "at most 255 per image (Pascal VOC colours); use the COCO export")  # fmt: skip
            number = np.arange(len(ids)) + (0 if ids[0] == 0 else 1)  # 0 stays 0; the rest 1..n in id order
            inst = number[inverse].reshape(plane.shape)
            sink.put(f"SegmentationClass/{name}.png", _png(class_rgb[cls]))
            sink.put(f"SegmentationObject/{name}.png", _png(inst_rgb[inst]))
            names.append(name)
        sink.put("ImageSets/Segmentation/default.txt", ("\n".join(names) + "\n").encode())
        sink.put("labelmap.txt", _labelmap_text(entries).encode())
    except BaseException:
        sink.abort()
        raise
    sink.close()
    return folder
