"""Touching objects split at their necks: the classical nuclear pipeline, inside one click's window.

A click's region grown by :class:`~.seeds.SeedGrowSegmenter` follows the object's level, so nuclei
that touch (a dim line between them, no background) come out as one clump. Here the clump is
thresholded locally (scikit-image's ``threshold_local``: the dim lines between touching nuclei fall
below their neighbourhood's mean, and the edge pixels too), the cores are split by a watershed on
their distance transform seeded at its peaks (``peak_local_max``), and the clump's pixels go to the
nearest core by a second watershed on the gradient (so the edge stays where the region growing put
it). The click keeps the parts that hold a positive seed and no negative one.

Only objects up to :data:`MAX_RADIUS` pixels thick are split (a blob, or a clump of blobs): an organ
around a lesion, or any large region, is left whole.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

BLOCK = 51  # threshold_local's neighbourhood (pixels): about two nuclei across
OFFSET = 0.05  # a core pixel lies this fraction of the object's contrast above its neighbourhood's mean
MIN_DISTANCE = 7  # pixels between two cores' centres (peak_local_max)
MAX_RADIUS = 25  # thicker objects (the largest inscribed disc's radius) are not split


def _edt(mask: np.ndarray) -> np.ndarray:
    """Distance to the background, the crop's edge counting as object (a window cut it)."""
    return ndi.distance_transform_edt(mask)


def cores(s: np.ndarray, mask: np.ndarray, contrast: float, block: int = BLOCK) -> np.ndarray:
    """Labels of the object cores in ``mask``: locally bright parts, split at their necks."""
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_local
    from skimage.segmentation import watershed

    block = min(block, 2 * (min(s.shape) // 2) - 1)
    if block < 3:
        return ndi.label(mask)[0]
    fg = mask & (s > threshold_local(s, block, offset=-OFFSET * contrast))
    fg = ndi.binary_opening(ndi.binary_fill_holes(fg))
    if not fg.any():
        return np.zeros(s.shape, np.int32)
    d = ndi.gaussian_filter(_edt(fg), 1.0)
    parts, _ = ndi.label(fg)
    peaks = peak_local_max(d, min_distance=MIN_DISTANCE, labels=parts, exclude_border=False)
    markers = np.zeros(s.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-d, markers, mask=fg)


def split_touching(s: np.ndarray, mask: np.ndarray, pos: np.ndarray, neg: np.ndarray, contrast: float,
                   edge: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """The part of ``mask`` (bright objects in ``s``) that belongs to the positive seeds ``pos``:
    ``mask`` itself when it holds one object, or is too thick to be a clump of blobs."""
    from skimage.segmentation import watershed

    if not mask.any() or _edt(mask).max() > MAX_RADIUS:
        return mask
    core = cores(s, mask, contrast)
    if core.max() <= 1:
        return mask
    edge = np.hypot(ndi.sobel(s, 0), ndi.sobel(s, 1)) if edge is None else edge
    parts = watershed(edge, core, mask=mask)
    keep = np.unique(parts[pos & mask])
    keep = np.setdiff1d(keep[keep > 0], parts[neg & mask])
    if not len(keep):
        return mask
    return np.isin(parts, keep)
