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


def _core_mask(s: np.ndarray, mask: np.ndarray, contrast: float, block: int = BLOCK) -> np.ndarray | None:
    """The locally bright part of ``mask`` (None: the crop is too small to tell)."""
    from skimage.filters import threshold_local

    block = min(block, 2 * (min(s.shape) // 2) - 1)
    if block < 3:
        return None
    fg = mask & (s > threshold_local(s, block, offset=-OFFSET * contrast))
    return ndi.binary_opening(ndi.binary_fill_holes(fg))


def cores(s: np.ndarray, mask: np.ndarray, contrast: float, block: int = BLOCK) -> np.ndarray:
    """Labels of the object cores in ``mask``: locally bright parts, split at their necks."""
    fg = _core_mask(s, mask, contrast, block)
    if fg is None:
        return ndi.label(mask)[0]
    if not fg.any():
        return np.zeros(s.shape, np.int32)
    return _split(fg, ndi.gaussian_filter(_edt(fg), 1.0))


def _split(fg: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``fg`` split at the necks of its (smoothed) distance transform ``d``."""
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    parts, _ = ndi.label(fg)
    peaks = peak_local_max(d, min_distance=MIN_DISTANCE, labels=parts, exclude_border=False)
    markers = np.zeros(fg.shape, np.int32)
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


def cut_at_neck(s: np.ndarray, mask: np.ndarray, pos: np.ndarray, neg: np.ndarray, contrast: float,
                edge: np.ndarray | None = None) -> np.ndarray | None:  # fmt: skip
    """The part of ``mask`` that belongs to the positive seeds when a negative seed lies in the
    same object: the cores flooded from the two kinds of seeds down their distance transform
    (they meet at the neck), grown back to the edge on the gradient. None where ``mask`` is too
    thick to be a clump of blobs (or the seeds miss its cores)."""
    from skimage.segmentation import watershed

    if not mask.any() or _edt(mask).max() > MAX_RADIUS:
        return None
    fg = _core_mask(s, mask, contrast)
    if fg is None or not (fg & pos).any() or not (fg & neg).any():
        return None
    d = ndi.gaussian_filter(_edt(fg), 1.0)
    lab = _split(fg, d)
    markers = np.zeros(s.shape, np.int32)
    markers[(lab > 0) & ~np.isin(lab, lab[pos & fg])] = 3  # the other cores stay themselves
    markers[neg & fg] = 2
    markers[pos & fg & (markers == 0)] = 1
    level = min(d[markers == 1].max(), d[markers == 2].max())  # above the lower seed: one plateau,
    core = watershed(-np.minimum(d, level), markers, mask=fg)  # shared out by distance; the neck floods last
    edge = np.hypot(ndi.sobel(s, 0), ndi.sobel(s, 1)) if edge is None else edge
    out = watershed(edge, core, mask=mask) == 1
    return out if out.any() else None
