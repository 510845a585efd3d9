"""npe2 writers: a Labels layer as NIfTI over its source image's geometry."""

from __future__ import annotations

import numpy as np


def source_meta(meta: dict) -> dict:
    """The geometry a labels layer was made over (copied from its image at session start)."""
    return meta.get("source_image", meta)


def write_labels_nifti(path: str, data, meta: dict) -> list[str]:
    from .io.images import write_labels

    out = write_labels(path if path.lower().endswith((".nii", ".nii.gz")) else path + ".nii.gz",
                       np.asarray(data), source_meta(meta.get("metadata", {})))  # fmt: skip
    return [str(out)]
