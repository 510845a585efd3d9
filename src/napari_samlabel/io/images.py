"""Images in, label arrays out, for the command line (and the npe2 adapters).

Arrays come back in napari's order: the last axes are rows, columns (and an RGB
channel where there is one). Volumes read from NIfTI or DICOM are (z, y, x)
or (t, z, y, x), the order SimpleITK gives; ``meta`` keeps the geometry so the
labels can be written back over the source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ImageReadError(ValueError):
    """A file that cannot be read as an image; the message names it and why."""


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


def _read_nifti(path: Path) -> tuple[np.ndarray, dict]:
    import nibabel as nib

    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj)  # applies scl_slope / scl_inter
    nspatial = min(data.ndim, 3)
    # NIfTI stores (x, y, z[, t]); napari and SimpleITK show (t, z, y, x)
    order = tuple(range(data.ndim))[::-1]
    data = np.transpose(data, order)
    zooms = tuple(float(z) for z in img.header.get_zooms()[:nspatial])[::-1]
    return data, {"source": str(path), "affine": img.affine, "spacing": zooms, "nifti_axes_reversed": True}


def write_labels(path: str | Path, labels: np.ndarray, meta: dict | None = None) -> Path:
    """Write a label array; NIfTI gets the source's affine so it overlays exactly."""
    path = Path(path)
    meta = meta or {}
    suffix = _suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    if suffix == ".npy":
        np.save(path, labels)
    elif suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(path, labels, compression="zlib")
    elif suffix in (".nii", ".nii.gz"):
        import nibabel as nib

        affine = meta.get("affine")
        if affine is None:
            affine = np.diag([*(list(meta.get("spacing", (1.0,) * 3))[::-1] + [1.0] * 3)[:3], 1.0])
        arr = np.transpose(labels, tuple(range(labels.ndim))[::-1])
        if arr.dtype.kind == "u" and arr.dtype.itemsize > 2 and arr.max(initial=0) < 2**15:
            arr = arr.astype(np.int16)
        nib.save(nib.Nifti1Image(arr, np.asarray(affine, float)), str(path))
    else:
        raise ValueError(f"{path}: write labels as .npy, .tif or .nii.gz")
    return path
