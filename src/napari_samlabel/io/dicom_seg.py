"""DICOM Segmentation objects (highdicom) over the source series.

Each label slice is matched to a source frame by position (the labels' geometry against each
frame's ImagePositionPatient), never by file or frame order: a series of single-frame files and
one enhanced multi-frame file are handled alike. Segments carry the class colour
(RecommendedDisplayCIELabValue) and, where the class name is a DICOM anatomical, tissue or
abnormality term, its SNOMED code; the object carries ContentCreatorName.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.instances import InstanceTable
from ..core.ontology import Ontology
from .errors import ExportError
from .writing import Staged

# DICOM context groups a class name is looked up in (CamelCase keyword, as pydicom names
# them), with the segmented property category their terms belong to
CODES_KEY = "dicom_codes"  # where a class keeps its segment's category and type codes

PROPERTY_GROUPS = (
    ("cid7192", "AnatomicalStructure"),  # Anatomical Structure Segmentation Types
    ("cid7191", "Tissue"),  # Tissue Segmentation Types
    ("cid7194", "MorphologicallyAbnormalStructure"),  # Morphologically Abnormal Structure types
)


def segment_property(class_name: str, extra: dict | None = None):
    """(category, type) codes for a class: those it carries (``dicom_codes``, kept from an
    imported SEG), else the SNOMED term when its name is one (``liver``, ``adipose tissue``,
    ``lesion``), else Tissue / Tissue."""
    from pydicom.sr.codedict import codes

    kept = (extra or {}).get(CODES_KEY)
    if isinstance(kept, dict) and all(isinstance(kept.get(k), dict) for k in ("category", "type")):
        from highdicom.sr import CodedConcept

        try:
            return tuple(CodedConcept(str(kept[k]["value"]), str(kept[k]["scheme"]), str(kept[k]["meaning"]))
                         for k in ("category", "type"))  # fmt: skip
        except (KeyError, ValueError, TypeError):
            pass  # a hand-edited entry that is no code: the name's term, as for any class
    key = "".join(w[:1].upper() + w[1:] for w in class_name.replace("_", " ").replace("-", " ").split())
    for cid, category in PROPERTY_GROUPS:
        group = getattr(codes, cid)
        if key in group.dir():
            return getattr(codes.SCT, category), getattr(group, key)
    return codes.SCT.Tissue, codes.SCT.Tissue


def content_creator(name: str | None = None) -> str:
    """A DICOM person name (Family^Given) for ContentCreatorName: the one given, else
    $SAMLABEL_CREATOR, else the login name. "Jane Doe" becomes "Doe^Jane"."""
    if not name:
        name = os.environ.get("SAMLABEL_CREATOR", "")
    if not name:
        import getpass

        try:
            name = getpass.getuser()
        except Exception:  # no login name (some containers)
            name = "samlabel"
    name = name.strip()
    if "^" not in name:
        parts = name.split()
        name = f"{parts[-1]}^{' '.join(parts[:-1])}" if len(parts) > 1 else f"{name}^"
    return name[:64]


def _frames(sources) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ImagePositionPatient, ImageOrientationPatient) of every source frame, in stored order."""
    out = []
    if len(sources) == 1 and int(getattr(sources[0], "NumberOfFrames", 1) or 1) > 1:
        ds = sources[0]
        shared = (getattr(ds, "SharedFunctionalGroupsSequence", None) or [None])[0]
        per = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
        for i in range(int(ds.NumberOfFrames)):
            ipp = iop = None
            for group in (per[i] if per is not None else None, shared):
                if group is None:
                    continue
                if ipp is None and "PlanePositionSequence" in group:
                    ipp = group.PlanePositionSequence[0].ImagePositionPatient
                if iop is None and "PlaneOrientationSequence" in group:
                    iop = group.PlaneOrientationSequence[0].ImageOrientationPatient
            if ipp is None or iop is None:
                return []  # no plane positions (e.g. frames of a cine): order is all there is
            out.append((np.array(ipp, float), np.array(iop, float)))
        return out
    for ds in sources:
        if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
            return []
        out.append((np.array(ds.ImagePositionPatient, float), np.array(ds.ImageOrientationPatient, float)))
    return out


def _slice_of_frame(sources, n_slices: int, geometry: dict | None, where: str) -> list[int]:
    """For each source frame, the label slice at its position (checked against the labels'
    geometry: in-plane orientation, offset, and a whole slice step along the normal)."""
    n_frames = int(getattr(sources[0], "NumberOfFrames", 1) or 1) if len(sources) == 1 else len(sources)
    if n_frames != n_slices:
        raise ExportError(f"{where}: labels have {n_slices} slices, the source {n_frames} frames")
    frames = _frames(sources)
    if geometry is None or not frames:
        return list(range(n_frames))  # nothing to check against: the reader's order
    from .geometry import Geometry

    geo = Geometry.from_meta(geometry)
    dz, dy, dx = geo.spacing
    inv = np.linalg.inv(geo.direction @ np.diag([dx, dy, dz]))  # LPS mm -> (i, j, k)
    slices = []
    for n, (ipp, iop) in enumerate(frames):
        if not np.allclose(iop, np.concatenate([geo.direction[:, 0], geo.direction[:, 1]]), atol=1e-3):
            raise ExportError(f"{where}: frame {n + 1} is oriented {iop.round(4).tolist()}, the labels' rows and "
                             f"columns {geo.direction[:, :2].T.round(4).tolist()}")  # fmt: skip
        i, j, k = inv @ (ipp - np.asarray(geo.origin))
        if abs(i) > 0.01 or abs(j) > 0.01 or abs(k - round(k)) > 0.01 or not 0 <= round(k) < n_slices:
            raise ExportError(f"{where}: frame {n + 1} at {ipp.round(3).tolist()} mm lies on no slice of the labels' "
                             f"grid (first slice at {np.round(geo.origin, 3).tolist()}, step {dz:g} mm)")  # fmt: skip
        slices.append(int(round(k)))
    if sorted(slices) != list(range(n_slices)):
        raise ExportError(f"{where}: source frames do not cover the label slices one to one")
    return slices


def write_dicom_seg(
    path,
    labels: np.ndarray,
    source_files: Sequence[str],
    table: InstanceTable,
    ontology: Ontology,
    per: str = "class",
    geometry: dict | None = None,
    creator: str | None = None,
) -> Path:
    """A DICOM Segmentation (highdicom) over the source series, one segment per class or instance.

    ``labels`` is (z, y, x) on the grid ``geometry`` describes (the reader's; see
    :mod:`.geometry`); ``source_files`` are single-frame images or one multi-frame image."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    where = str(Path(source_files[0]).parent if len(source_files) > 1 else source_files[0])
    sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in source_files]
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels[None]
    if labels.ndim != 3:
        raise ExportError(f"a DICOM SEG holds a (z, y, x) volume; the labels have shape {labels.shape}")
    slice_of = _slice_of_frame(sources, labels.shape[0], geometry, where)
    rows, cols = int(sources[0].Rows), int(sources[0].Columns)
    if labels.shape[1:] != (rows, cols):
        raise ExportError(f"{where}: labels planes are {labels.shape[1:]}, the source's {(rows, cols)}")
    groups: list[tuple[str, list[int], str]] = []  # (label, ids, class)
    if per == "class":
        for c in ontology:
            ids = [r.id for r in table.of_class(c.name)]
            if ids:
                groups.append((c.name, ids, c.name))
    else:
        for r in sorted(table.present(), key=lambda r: r.id):
            groups.append((r.name, [r.id], r.class_name))
    groups = [g for g in groups if np.isin(labels, g[1]).any()]
    if not groups:
        raise ExportError("nothing labeled: a DICOM SEG needs at least one segment")
    # frame n of the SEG lies on source frame n (highdicom copies its position and reference)
    masks = np.stack([np.isin(labels[slice_of], ids) for _, ids, _ in groups], axis=-1).astype(np.uint8)
    descriptions = []
    for k, (name, _, cls) in enumerate(groups):
        category, kind = segment_property(cls, ontology[cls].extra if cls in ontology else None)
        colour = ontology[cls].color if cls in ontology else "#808080"
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=k + 1,
            segment_label=name[:64],
            segmented_property_category=category,
            segmented_property_type=kind,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=hd.AlgorithmIdentificationSequence(
                name="napari-samlabel", version="0.1", family=codes.DCM.ArtificialIntelligence
            ),
            display_color=hd.color.CIELabColor.from_rgb(*rgb),
        ))  # fmt: skip
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=900,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="napari-samlabel",
        manufacturer_model_name="napari-samlabel",
        software_versions="0.1",
        device_serial_number="0",
        content_creator_name=content_creator(creator),
        content_label="SAMLABEL",
        omit_empty_frames=False,
    )
    path = Path(path)
    with Staged() as out, out.file(path) as tmp:  # whole or not at all
        seg.save_as(tmp)
    return path


def _code(seq) -> dict:
    item = seq[0]
    return {"value": str(item.CodeValue), "scheme": str(item.CodingSchemeDesignator), "meaning": str(item.CodeMeaning)}


def _positions_agree(seg, sources, path) -> bool:
    """True when every SEG frame lies where the source instance (or frame) it references lies
    (within 0.01 mm); a frame elsewhere is refused. False when a frame lacks either."""
    from .errors import LabelImportError

    where = {}
    frames = _frames(sources)
    if len(sources) == 1 and frames:
        where = {(str(sources[0].SOPInstanceUID), n + 1): ipp for n, (ipp, _) in enumerate(frames)}
    elif frames:
        where = {(str(ds.SOPInstanceUID), 1): ipp for ds, (ipp, _) in zip(sources, frames)}
    for n, group in enumerate(getattr(seg, "PerFrameFunctionalGroupsSequence", None) or [], start=1):
        try:
            ref = group.DerivationImageSequence[0].SourceImageSequence[0]
            ipp = np.array(group.PlanePositionSequence[0].ImagePositionPatient, float)
        except (AttributeError, IndexError):
            return False
        key = (str(ref.ReferencedSOPInstanceUID), int(getattr(ref, "ReferencedFrameNumber", 1) or 1))
        if key not in where:
            continue  # another instance of the series: highdicom's check names it
        if not np.allclose(ipp, where[key], atol=0.01):
            raise LabelImportError(f"{path}: frame {n} lies at {ipp.round(3).tolist()} mm, the image it references at "
                                   f"{np.round(where[key], 3).tolist()} mm")  # fmt: skip
    return bool(where)


def read_dicom_seg(path, shape, source_meta: dict | None):
    """A DICOM SEG onto the labels of the series it segments: each segment one instance
    (id: its segment number) of the class named by its label, with the segment's colour and
    category/type codes. Frames are put on slices through the source instances (and frames)
    they reference, each source frame on the slice at its position; never by frame order.

    Refused (LabelImportError, one line): not a SEG, another series than the image's, a
    source that does not match the labels' grid."""
    import highdicom as hd
    import pydicom

    from .errors import LabelImportError
    from .importing import Imported, ImportedClass

    path = Path(path)
    meta = source_meta or {}
    files = meta.get("files")
    if not files or meta.get("format") != "dicom":
        raise LabelImportError(f"{path}: a DICOM SEG goes onto the DICOM series it segments; open that series first")
    try:
        seg = hd.seg.segread(path)
    except Exception as e:
        raise LabelImportError(f"{path}: not a DICOM SEG highdicom can read ({type(e).__name__}: {e})") from None
    refs = sorted({str(s.SeriesInstanceUID) for s in getattr(seg, "ReferencedSeriesSequence", [])})
    ours = str(meta.get("series_uid", ""))
    if ours not in refs:
        raise LabelImportError(f"{path}: segments series {', '.join(refs) or '(none named)'}; the image open here "
                               f"is series {ours}")  # fmt: skip
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3:
        raise LabelImportError(f"{path}: a DICOM SEG holds a (z, y, x) volume; the labels have shape {shape}")
    sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    try:
        slice_of = _slice_of_frame(sources, shape[0], meta.get("geometry"), str(path))
    except ExportError as e:
        raise LabelImportError(str(e)) from None
    numbers = [int(item.SegmentNumber) for item in seg.SegmentSequence]
    kw = dict(segment_numbers=numbers, combine_segments=False, assert_missing_frames_are_empty=True,
              skip_overlap_checks=True)  # fmt: skip
    # dcmqi does not say SpatialLocationsPreserved: there each frame's position is checked
    # against the source it references, then highdicom is told to go by the references
    kw["ignore_spatial_locations"] = _positions_agree(seg, sources, path)
    try:
        if len(sources) == 1 and int(getattr(sources[0], "NumberOfFrames", 1) or 1) > 1:
            n = int(sources[0].NumberOfFrames)
            pix = seg.get_pixels_by_source_frame(sources[0].SOPInstanceUID, list(range(1, n + 1)), **kw)
        else:
            pix = seg.get_pixels_by_source_instance([ds.SOPInstanceUID for ds in sources], **kw)
    except Exception as e:  # e.g. frames that name no source image
        raise LabelImportError(f"{path}: its frames cannot be put on the series' slices ({type(e).__name__}: {e})") from None
    if pix.shape[1:3] != shape[1:]:
        raise LabelImportError(f"{path}: frames of {pix.shape[1:3]} pixels, the image's slices {shape[1:]}")
    fractional = pix.dtype.kind == "f"
    vol = np.zeros((pix.shape[0], *shape[1:]), np.uint16)
    out = Imported(np.zeros(0), path, "dicom-seg")
    overlap = 0
    for j, item in enumerate(seg.SegmentSequence):
        mask = pix[..., j] >= 0.5 if fractional else pix[..., j] > 0
        overlap += int((mask & (vol != 0)).sum())
        vol[mask & (vol == 0)] = numbers[j]  # a voxel in two segments stays with the first
        name = str(getattr(item, "SegmentLabel", "") or "").strip() or str(
            item.SegmentedPropertyTypeCodeSequence[0].CodeMeaning)
        colour = None
        if "RecommendedDisplayCIELabValue" in item:
            lab = tuple(int(v) for v in item.RecommendedDisplayCIELabValue)
            colour = "#" + "".join(f"{int(c):02x}" for c in hd.color.CIELabColor.from_dicom_value(lab).to_rgb())
        cls = out.classes.setdefault(name, ImportedClass(name, colour))
        if CODES_KEY not in cls.extra:
            cls.extra[CODES_KEY] = {"category": _code(item.SegmentedPropertyCategoryCodeSequence),
                                    "type": _code(item.SegmentedPropertyTypeCodeSequence)}  # fmt: skip
        out.class_of[numbers[j]] = name
        manual = str(getattr(item, "SegmentAlgorithmType", "")) == "MANUAL"
        out.source[numbers[j]] = "manual" if manual else "model"
    labels = np.zeros(shape, np.uint16)
    labels[np.asarray(slice_of)] = vol
    out.labels = labels
    present = set(np.unique(labels).tolist())
    out.class_of = {i: c for i, c in out.class_of.items() if i in present}
    if overlap:
        out.notes.append(f"{overlap} voxel(s) in more than one segment were kept with the first")
    return out
