"""Images in, label arrays out, for the command line (and the npe2 adapters).

Arrays come back in napari's order: the last axes are rows, columns (and an RGB
channel where there is one). Volumes read from NIfTI or DICOM are (z, y, x)
or (t, z, y, x), the order SimpleITK gives; ``meta`` keeps the geometry so the
labels can be written back over the source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ExportError, ImageReadError
from .writing import Staged, staged


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def read_image(path: str | Path) -> tuple[np.ndarray, dict]:
    """Read .npy, .tif/.tiff, .nii/.nii.gz, or a DICOM file or folder."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file or folder")
    suffix = _suffix(path)
    try:
        if path.is_dir() or suffix in (".dcm", ".dicom", ""):
            from .dicom import read_dicom_series

            return read_dicom_series(path)
        if suffix == ".npy":
            return np.load(path, mmap_mode="r"), {"source": str(path)}
        if suffix in (".tif", ".tiff"):
            import tifffile

            return tifffile.imread(path), {"source": str(path)}
        if suffix in (".nii", ".nii.gz"):
            return _read_nifti(path)
    except ImageReadError:
        raise
    except Exception as e:
        raise ImageReadError(f"{path}: cannot be read ({type(e).__name__}: {e})") from e
    raise ImageReadError(f"{path}: unknown image type {suffix!r} (use .tif, .npy, .nii, .nii.gz or a DICOM folder)")


# DICOM's axial order: columns run to the patient's left, rows to posterior, slices to superior.
# NIfTI files are reoriented to it on reading, so a RAS file (ITK-SNAP, Slicer, nnU-Net) lies on
# a DICOM series of the same patient in napari instead of mirrored; writing restores the file's order.
VIEW_AXCODES = ("L", "P", "S")


def _read_nifti(path: Path) -> tuple[np.ndarray, dict]:
    """A NIfTI image as (z, y, x) or (t, z, y, x), scaling applied, in LPS voxel order.

    ``meta["affine"]`` is the affine of the array handed out; ``file_affine`` and
    ``file_ornt`` (when the file is stored otherwise) let :func:`write_labels` put labels
    back in the file's own voxel order, as nnU-Net and friends require."""
    import nibabel as nib
    from nibabel import orientations as ornt

    from .geometry import Geometry

    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj)  # applies scl_slope / scl_inter
    if data.ndim < 2:
        raise ImageReadError(f"{path}: a {data.ndim}D NIfTI is not an image")
    affine = np.asarray(img.affine, float)
    file_affine, transform = affine, None
    if data.ndim >= 3:
        transform = ornt.ornt_transform(ornt.io_orientation(affine), ornt.axcodes2ornt(VIEW_AXCODES))
        if np.array_equal(transform, [[0, 1], [1, 1], [2, 1]]):
            transform = None  # already in view order: no copy, no note
        else:
            data = ornt.apply_orientation(data, transform)  # views (flips, transposes)
            affine = affine @ ornt.inv_ornt_aff(transform, img.shape[:3])
    # NIfTI stores (x, y, z[, t]); napari and SimpleITK show (t, z, y, x)
    data = np.transpose(data, tuple(range(data.ndim))[::-1])
    geo = Geometry.from_affine_ras(affine)
    meta = {
        "source": str(path),
        "format": "nifti",
        "affine": affine.tolist(),
        "geometry": geo.to_meta(),
        "spacing": geo.spacing,
    }
    if transform is not None:
        meta["file_affine"] = file_affine.tolist()
        meta["file_ornt"] = transform.tolist()
    if data.ndim == 4:
        meta["time_step"] = float(img.header.get_zooms()[3]) if len(img.header.get_zooms()) > 3 else 1.0
    return data, meta


def _to_file_order(labels: np.ndarray, meta: dict) -> tuple[np.ndarray, np.ndarray]:
    """(x, y, z[, t]) labels and affine as the source file stored them (see _read_nifti)."""
    from nibabel import orientations as ornt

    arr = np.transpose(labels, tuple(range(labels.ndim))[::-1])
    if meta.get("file_ornt") is None or arr.ndim < 3:
        return arr, labels_affine(meta)
    # the inverse of the reader's transform takes view order back to the file's
    back = ornt.ornt_transform(ornt.axcodes2ornt(VIEW_AXCODES), ornt.io_orientation(np.asarray(meta["file_affine"])))
    return ornt.apply_orientation(arr, back), np.asarray(meta["file_affine"], float)


def labels_affine(meta: dict) -> np.ndarray:
    """The NIfTI affine for labels over a source: its own affine, else its geometry."""
    from .geometry import Geometry

    if meta.get("affine") is not None:
        return np.asarray(meta["affine"], float)
    if meta.get("geometry"):
        return Geometry.from_meta(meta["geometry"]).affine_ras()
    # no geometry: the array's axes are taken as DICOM's (x to the left, y to posterior), as
    # ITK does for a bare array, so reading the file back gives the same array
    spacing = [1.0] * 3 + list(meta.get("spacing") or ())
    return Geometry(tuple(spacing[-3:])).affine_ras()


def write_labels(path: str | Path, labels: np.ndarray, meta: dict | None = None, out: Staged | None = None) -> Path:
    """Write a label array whole or not at all (as part of ``out``, an export's other files,
    when given); NIfTI gets the source's affine so it overlays exactly."""
    path = Path(path)
    meta = meta or {}
    suffix = _suffix(path)
    if suffix not in (".npy", ".tif", ".tiff", ".nii", ".nii.gz"):
        raise ExportError(f"{path}: write labels as .npy, .tif or .nii.gz")
    labels = np.asarray(labels)
    with staged(out) as out:
        if suffix == ".npy":
            with out.file(path, labels.nbytes + 128, suffix) as tmp:  # the suffix: np.save adds one otherwise
                np.save(tmp, labels)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            with out.file(path) as tmp:
                tifffile.imwrite(tmp, labels, compression="zlib")
        else:
            import nibabel as nib

            img = _nifti_labels(labels, meta)
            size = 352 + img.dataobj.nbytes if suffix == ".nii" else None  # 348-byte header, 4 of extension flag
            with out.file(path, size, suffix) as tmp:  # nibabel picks the format by the suffix
                nib.save(img, str(tmp))
    return path


def _nifti_labels(labels: np.ndarray, meta: dict):
    """A NIfTI label image over the source's grid."""
    import nibabel as nib

    arr, affine = _to_file_order(labels, meta)
    if arr.dtype.kind in "ui" and arr.max(initial=0) < 2**15:
        arr = arr.astype(np.int16)  # readable by every tool (uint32 is not)
    img = nib.Nifti1Image(np.ascontiguousarray(arr), affine)
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    img.header.set_intent("label")
    return img
