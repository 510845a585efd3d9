"""What a label array may hold: whole-number ids from 0 (background) up to MAX_ID.

One check for every way labels come in (a file to export or import, a layer to adopt), so
each refuses the same things with the same words: fractional or NaN values, negative ids,
ids too big for the uint32 store (and for napari, which needs numba above 2^31).
"""

from __future__ import annotations

import numpy as np

from .errors import SamlabelError

MAX_ID = 2**31 - 1


class LabelIdError(SamlabelError, ValueError):
    """An array whose values are not label ids; the message names where it came from."""


def checked_ids(arr, source: str, error: type[Exception] = LabelIdError, limit: int | None = MAX_ID) -> np.ndarray:
    """``arr`` as an unsigned integer array (booleans as 0/1), or ``error`` naming ``source``.

    ``limit`` None lets ids above MAX_ID through (an import renumbers them). Arrays that are
    not in memory (dask, zarr) are checked by their type only: reading them whole to look
    for a bad value would defeat keeping them on disk."""
    lazy = not isinstance(arr, np.ndarray) and hasattr(arr, "chunks")
    kind = np.dtype(arr.dtype).kind
    if kind == "b":
        return arr if lazy else np.asarray(arr, np.uint8)
    if kind not in "uif":
        raise error(f"{source}: {arr.dtype} values are not label ids (whole numbers)")
    if lazy:
        if kind == "f":
            raise error(f"{source}: {arr.dtype} values are not label ids (whole numbers): convert it to integers first")
        return arr
    arr = np.asarray(arr)
    if arr.size == 0:
        return arr.astype(np.uint32)
    if kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            raise error(f"{source}: {int((~finite).sum())} NaN or infinite value(s): label ids are whole numbers")
        if (arr != np.round(arr)).any():
            raise error(f"{source}: fractional values (e.g. {arr[arr != np.round(arr)].flat[0]:g}): a label array "
                        "holds whole-number ids, not probabilities")  # fmt: skip
    lo, hi = arr.min(), arr.max()
    if lo < 0:
        raise error(f"{source}: negative id {int(lo)} (0 is the background, instances are 1 and up)")
    if limit is not None and hi > limit:
        raise error(f"{source}: id {int(hi)} is above {limit}, the largest label id napari and this plugin keep")
    if kind == "u" and arr.dtype.itemsize <= 4:
        return arr
    if hi > np.iinfo(np.uint32).max:
        return arr.astype(np.uint64)
    return arr.astype(np.uint32 if hi > np.iinfo(np.uint16).max else np.uint16)
