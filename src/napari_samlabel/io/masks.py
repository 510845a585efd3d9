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

Every export is written whole or not at all (``.part`` files renamed into place at the end,
removed with the folders they needed when it fails: :class:`.writing.Staged`), and only
inside the path or folder given. Labels are read one frame at a time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.instances import InstanceTable
from ..core.ontology import Ontology
from .errors import ExportError
from .writing import Staged, csv_text, planes, png_bytes

UNLABELED = "unlabeled"
CVAT_BACKGROUND = "background"
FRAME_NAME = "frame_{:05d}"


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

    with Staged(files=n + 1 if suffix == ".png" else None) as staged:
        if suffix == ".png":
            out = _semantic_pngs(path, stem, labels, frame_axis, frames(), staged)
        elif suffix in (".tif", ".tiff"):
            out = _semantic_tif(path, labels, frame_axis, frames(), dtype, staged)
        else:  # NIfTI, on the image's grid
            from .images import write_labels

            whole = np.stack([p for _, p in frames()], axis=frame_axis) if frame_axis is not None \
                else next(frames())[1]  # fmt: skip
            out = write_labels(path, whole, source_meta or {}, staged)
        text = csv_text(["index", "name", "color", "kind"], class_table_rows(ontology), lineterminator="\n")
        staged.put(path.with_name(f"{stem}_classes.csv"), text.encode("utf-8"))
    return out


def _semantic_pngs(path: Path, stem: str, labels, frame_axis, frames, staged: Staged) -> Path:
    """One PNG, or ``<stem>_00000.png``... per frame; returns the PNG or their folder."""
    shape = tuple(labels.shape)
    plane_ndim = len(shape) - (frame_axis is not None)
    if plane_ndim != 2:
        raise ExportError(f"{path.name}: PNG holds 2D images, these labels' planes are {plane_ndim}D: "
                         "use .tif or .nii.gz")  # fmt: skip
    digits = max(5, len(str(shape[frame_axis] - 1))) if frame_axis is not None else 5
    for f, plane in frames:
        staged.put(path if frame_axis is None else path.with_name(f"{stem}_{f:0{digits}d}.png"), png_bytes(plane))
    return path if frame_axis is None else path.parent


def _semantic_tif(path: Path, labels, frame_axis, frames, dtype, staged: Staged) -> Path:
    """Every frame in one TIFF, one page per 2D plane (zlib)."""
    import tifffile

    shape = tuple(labels.shape)
    with staged.file(path) as tmp:
        if frame_axis in (None, 0):  # one frame in memory at a time
            def pages():
                for _, plane in frames:
                    yield from plane.reshape(-1, *plane.shape[-2:]) if plane.ndim > 2 else (plane,)

            tifffile.imwrite(tmp, pages(), shape=shape, dtype=dtype, photometric="minisblack",
                             compression="zlib", metadata=None)  # fmt: skip
        else:
            whole = np.stack([p for _, p in frames], axis=frame_axis)
            tifffile.imwrite(tmp, whole, photometric="minisblack", compression="zlib", metadata=None)
    return path


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
    files = _cvat_files(labels, table, entries, frame_axis)
    count = 2 * (1 if frame_axis is None else labels.shape[frame_axis]) + 2
    if not folder.name.lower().endswith(".zip"):
        with Staged(files=count) as staged:
            for rel, data in files:
                staged.put(folder / rel, data)
        return folder
    import zipfile

    with Staged() as staged, staged.file(folder) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, (rel, data) in enumerate(files, 1):
            zf.writestr(rel, data)
            staged.done = k / count  # what a full disk's message scales
    return folder


def _cvat_files(labels, table: InstanceTable, entries, frame_axis: int | None):
    """(path in the layout, bytes) of every file of the CVAT layout, one frame at a time."""
    index_of = {name: k for k, (name, _) in enumerate(entries)}
    class_rgb = np.array([rgb for _, rgb in entries], np.uint8)
    inst_rgb = voc_colormap(256)
    names = []
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
        yield f"SegmentationClass/{name}.png", png_bytes(class_rgb[cls])
        yield f"SegmentationObject/{name}.png", png_bytes(inst_rgb[inst])
        names.append(name)
    yield "ImageSets/Segmentation/default.txt", ("\n".join(names) + "\n").encode()
    yield "labelmap.txt", _labelmap_text(entries).encode()
