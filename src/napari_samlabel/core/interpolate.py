"""Shape-based interpolation between keyframes (signed distance maps).

A mask drawn on frames a and b (non-adjacent) is filled in between by
blending the two signed distance maps linearly and keeping where the blend is
inside: shapes morph smoothly, unlike a per-pixel fade. The maps are aligned
on the masks' centroids first, so an object that moved is carried along.
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
    # Blend the shapes about their centroids and move the blend along the line
    # between them: objects that moved (and no longer overlap) still morph.
    c0, c1 = np.array(ndi.center_of_mass(first)), np.array(ndi.center_of_mass(last))
    d0, d1 = signed_distance(first), signed_distance(last)
    floor = float(min(d0.min(), d1.min()))  # outside value for pixels shifted in
    out = []
    for k in range(1, n_between + 1):
        w = k / (n_between + 1)
        c = (1 - w) * c0 + w * c1
        a = ndi.shift(d0, c - c0, order=1, mode="constant", cval=floor)
        b = ndi.shift(d1, c - c1, order=1, mode="constant", cval=floor)
        out.append((1 - w) * a + w * b > 0)
    return out


def keyframe_gaps(frames: set[int]) -> list[tuple[int, int]]:
    """Pairs of consecutive keyframes with frames missing between them."""
    ordered = sorted(frames)
    return [(a, b) for a, b in zip(ordered, ordered[1:]) if b - a > 1]


def interpolated_scores(a: int, b: int) -> list[float]:
    """Confidence of the frames strictly between keyframes ``a`` and ``b``: below
    1.0 (the user's frames), lowest (0.5) midway, higher next to a keyframe."""
    gap = b - a
    return [1.0 - min(f - a, b - f) / gap for f in range(a + 1, b)]
