"""Shape-based interpolation between keyframes (signed distance maps).

A mask drawn on frames a and b (non-adjacent) is filled in between by
blending the two signed distance maps linearly and keeping where the blend is
inside: shapes morph smoothly, unlike a per-pixel fade.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Positive inside, negative outside, in pixels."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return np.full(mask.shape, -np.inf)
    return ndi.distance_transform_edt(mask) - ndi.distance_transform_edt(~mask)


def interpolate_masks(first: np.ndarray, last: np.ndarray, n_between: int) -> list[np.ndarray]:
    """Masks for the ``n_between`` frames strictly between two keyframe masks."""
    if first.shape != last.shape:
        raise ValueError(f"keyframe masks differ in shape: {first.shape} vs {last.shape}")
    if not np.asarray(first).any() or not np.asarray(last).any():
        raise ValueError("both keyframes need a non-empty mask")
    d0, d1 = signed_distance(first), signed_distance(last)
    out = []
    for k in range(1, n_between + 1):
        w = k / (n_between + 1)
        out.append((1 - w) * d0 + w * d1 > 0)
    return out


def keyframe_gaps(frames: set[int]) -> list[tuple[int, int]]:
    """Pairs of consecutive keyframes with frames missing between them."""
    ordered = sorted(frames)
    return [(a, b) for a, b in zip(ordered, ordered[1:]) if b - a > 1]
