"""Panoptic rules: which pixels a new mask may take.

- ``exclude`` (default): only background and the instance's own pixels.
- ``overwrite``: any pixel, except those of locked instances.
- ``inside``: only pixels of the instance being edited (``within``).

Locked instances are excluded in every mode.
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable, Sequence

import numpy as np


class Mode(str, Enum):
    EXCLUDE = "exclude"
    OVERWRITE = "overwrite"
    INSIDE = "inside"


def overwrite_hint(mode: Mode | str) -> str:
    """What to do when other instances leave a mask no room (said by every refusal of it), in one line:
    a lesion clicked inside a labelled organ is refused in exclude mode, and the user needs to know
    which switch saves it."""
    if Mode(mode) is Mode.OVERWRITE:
        return ""
    return (" Use 'overwrite' mode to save it over other instances (a lesion inside a labelled organ), "
            "or tick 'Into selected' to replace the selected instance with it.")  # fmt: skip


Region = tuple  # ints and slices, as in ``labels[region]``


def allowed_pixels(
    current: np.ndarray,
    mask: np.ndarray,
    label_id: int,
    mode: Mode | str = Mode.EXCLUDE,
    locked: Iterable[int] = (),
    within: int | None = None,
) -> np.ndarray:
    """Boolean array: where ``mask`` may write ``label_id`` into ``current``."""
    mode = Mode(mode)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != current.shape:
        raise ValueError(f"mask shape {mask.shape} does not match the labels region {current.shape}")
    if mode is Mode.EXCLUDE:
        ok = mask & ((current == 0) | (current == label_id))
    elif mode is Mode.OVERWRITE:
        ok = mask.copy()
    else:
        ok = mask & (current == (label_id if within is None else within))
    locked = [int(i) for i in locked if int(i) != label_id]
    if locked:
        ok &= ~np.isin(current, locked)
    return ok & (current != label_id)


def normalize_region(region: Sequence, shape: Sequence[int]) -> tuple:
    """Pad with full slices; make ints non-negative and slices explicit (step 1 only)."""
    region = tuple(region)
    if len(region) > len(shape):
        raise ValueError(f"region {region} has more axes than the labels ({len(shape)})")
    out = []
    for r, n in zip(region + (slice(None),) * (len(shape) - len(region)), shape):
        if isinstance(r, slice):
            start, stop, step = r.indices(n)
            if step != 1:
                raise ValueError("regions must use contiguous slices")
            out.append(slice(start, max(start, stop)))
        else:
            i = int(r)
            if not -n <= i < n:
                raise IndexError(f"index {i} is outside an axis of length {n}")
            out.append(i % n)
    return tuple(out)


def region_indices(region: tuple, local: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Turn indices inside ``labels[region]`` into indices of the full array."""
    n = len(local[0]) if local else 0
    out, k = [], 0
    for r in region:
        if isinstance(r, slice):
            out.append(local[k] + r.start if r.start else local[k])
            k += 1
        else:
            out.append(np.full(n, r, dtype=np.intp))
    return tuple(out)


def frames_touched(indices: tuple[np.ndarray, ...], frame_axis: int | None) -> list[int]:
    if frame_axis is None:
        return [0] if indices and len(indices[0]) else []
    if not len(indices[frame_axis]):
        return []
    return np.flatnonzero(np.bincount(indices[frame_axis])).tolist()  # faster than unique on millions
