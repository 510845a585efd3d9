"""The 2D plane a user looks at, in any nD image, and how the model sees it.

A :class:`Plane` is fixed by the two displayed data axes (rows, columns, in the
order the viewer shows them) and the index of every other axis. It reads the
image lazily (numpy, dask, zarr: one ``__getitem__``), windows it to uint8 RGB
with the layer's contrast limits, and maps masks back into a label region.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Plane:
    shape: tuple[int, ...]  # spatial shape of the image (no RGB channel)
    displayed: tuple[int, int]  # data axes shown as (rows, columns)
    index: tuple[int, ...]  # full index; entries at displayed axes are ignored

    def __post_init__(self) -> None:
        ndim = len(self.shape)
        rows, cols = self.displayed
        if rows == cols or not (0 <= rows < ndim and 0 <= cols < ndim):
            raise ValueError(f"displayed axes {self.displayed} do not name two axes of a {ndim}D image")
        idx = tuple(int(i) for i in self.index)
        if len(idx) != ndim:
            raise ValueError(f"plane index {self.index} needs {ndim} entries")
        for ax, (i, n) in enumerate(zip(idx, self.shape)):
            if ax not in self.displayed and not 0 <= i < n:
                raise IndexError(f"index {i} of axis {ax} is outside 0-{n - 1}")
        # normalise the displayed entries so equal planes compare equal
        idx = tuple(0 if ax in self.displayed else i for ax, i in enumerate(idx))
        object.__setattr__(self, "index", idx)

    @classmethod
    def from_point(cls, shape: Sequence[int], displayed: Sequence[int], point: Sequence[float]) -> Plane:
        """The plane through a (data-coordinate) point, e.g. the viewer's current position."""
        shape = tuple(int(n) for n in shape)
        idx = tuple(int(np.clip(np.round(p), 0, n - 1)) for p, n in zip(point, shape))
        return cls(shape, (int(displayed[0]), int(displayed[1])), idx)

    @property
    def transposed(self) -> bool:
        """True when rows are a later data axis than columns (e.g. a swapped view)."""
        return self.displayed[0] > self.displayed[1]

    @property
    def hw(self) -> tuple[int, int]:
        return self.shape[self.displayed[0]], self.shape[self.displayed[1]]

    @property
    def region(self) -> tuple:
        """Index of this plane in a label array of ``shape``."""
        return tuple(slice(None) if ax in self.displayed else i for ax, i in enumerate(self.index))

    @property
    def other_axes(self) -> tuple[int, ...]:
        return tuple(ax for ax in range(len(self.shape)) if ax not in self.displayed)

    @property
    def key(self) -> tuple:
        return (self.displayed, tuple(self.index[a] for a in self.other_axes))

    def read(self, data, rgb: bool = False) -> np.ndarray:
        """The plane as (H, W) or (H, W, C), rows and columns as displayed."""
        arr = np.asarray(data[self.region])
        if self.transposed:
            arr = np.swapaxes(arr, 0, 1)
        return arr

    def mask_to_region(self, mask: np.ndarray) -> np.ndarray:
        """A (H, W) mask in displayed order, reshaped to ``labels[self.region]``."""
        mask = np.asarray(mask)
        if mask.shape != self.hw:
            raise ValueError(f"mask shape {mask.shape} does not match the plane {self.hw}")
        return np.swapaxes(mask, 0, 1) if self.transposed else mask

    def data_to_plane(self, coords: np.ndarray) -> np.ndarray:
        """(N, ndim) data coordinates -> (N, 2) (row, col) plane coordinates."""
        coords = np.atleast_2d(np.asarray(coords, dtype=float))
        return coords[:, list(self.displayed)]

    def contains(self, coords: np.ndarray, tol: float = 0.5) -> np.ndarray:
        """Which (N, ndim) data points lie on this plane."""
        coords = np.atleast_2d(np.asarray(coords, dtype=float))
        if not self.other_axes:
            return np.ones(len(coords), bool)
        other = list(self.other_axes)
        target = np.array([self.index[a] for a in other], float)
        return np.all(np.abs(coords[:, other] - target) < tol, axis=1)


def finite_range(data) -> tuple[float, float]:
    """(min, max) over the finite values: one NaN or inf voxel must not make the window
    NaN or infinite (the whole plane then windowed to one grey and was labeled at once)."""
    arr = np.asarray(data)
    if arr.dtype.kind not in "fc":
        return (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    finite = arr[np.isfinite(arr)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def window_to_uint8(plane: np.ndarray, contrast_limits: Sequence[float] | None = None, rgb: bool = False) -> np.ndarray:
    """Window a plane to uint8 RGB (H, W, 3) the way the user sees it."""
    arr = np.asarray(plane)
    if rgb:
        arr = arr[..., :3]
        if arr.dtype == np.uint8 and contrast_limits is None:
            return np.ascontiguousarray(arr)
    lo, hi = (float(c) for c in contrast_limits) if contrast_limits is not None else (np.nan, np.nan)
    if not (np.isfinite(lo) and np.isfinite(hi)):  # none given, or a layer's limits made from an inf voxel
        lo, hi = finite_range(arr)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    out = np.clip((arr.astype(np.float32) - lo) * scale, 0, 255)
    out = np.nan_to_num(out).astype(np.uint8)
    if not rgb:
        out = np.repeat(out[..., None], 3, axis=-1)
    return np.ascontiguousarray(out)


def plane_digest(rgb_uint8: np.ndarray) -> str:
    """A content hash of a windowed plane: the embedding cache key."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(rgb_uint8.shape).encode())
    h.update(np.ascontiguousarray(rgb_uint8).tobytes())
    return h.hexdigest()
