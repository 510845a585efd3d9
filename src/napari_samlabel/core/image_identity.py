"""What tells two images apart when their names and shapes agree: a hash of their pixels.

A TIFF read by napari carries no metadata, so two patients' ``img.tif`` of one shape differ
only in their pixels. A small image is hashed whole; a large one (numpy, dask or zarr) by a
fixed sample of planes, each whole or as a few tiles, so a lazy image reads only those
(a 2 GB stack: a few MB, well under a second)."""

from __future__ import annotations

import hashlib
import math

import numpy as np

WHOLE_BYTES = 64 << 20  # up to this every pixel is hashed (about 0.1 s)
PLANES = 8  # planes sampled from a larger image, the first and the last among them
PLANE_BYTES = 4 << 20  # a larger plane is sampled as TILES x TILES tiles
TILES = 3
TILE = 256


def pixel_hash(data, rgb: bool = False) -> str:
    """A hex digest of ``data``'s dtype, shape and pixels (sampled when large). ``rgb``: the
    last axis holds colour channels, kept whole in every sample."""
    shape = tuple(int(n) for n in data.shape)
    dtype = np.dtype(data.dtype)
    digest = hashlib.blake2b(f"{dtype.str} {shape}".encode(), digest_size=16)
    for part in _sample(data, shape, dtype, rgb):
        digest.update(np.ascontiguousarray(np.asarray(part)))  # (its buffer: no copy)
    return digest.hexdigest()


def _sample(data, shape: tuple, dtype: np.dtype, rgb: bool):
    if math.prod(shape) * dtype.itemsize <= WHOLE_BYTES:
        yield data[...]
        return
    plane_ndim = min(len(shape), 3 if rgb else 2)
    leading, plane = shape[: len(shape) - plane_ndim], shape[len(shape) - plane_ndim:]
    n_planes = math.prod(leading)
    picks = np.unique(np.linspace(0, n_planes - 1, min(PLANES, n_planes)).round().astype(int))
    whole_plane = math.prod(plane) * dtype.itemsize <= PLANE_BYTES
    for flat in picks:
        index = tuple(int(i) for i in np.unravel_index(flat, leading)) if leading else ()
        if whole_plane:
            yield data[index]
        else:
            for rows, cols in _tiles(plane[:2] if rgb else plane[-2:]):
                yield data[(*index, rows, cols)]


def _tiles(hw: tuple) -> list[tuple[slice, slice]]:
    """TILES x TILES tiles spread evenly over a plane of ``hw`` pixels, corners included."""
    h, w = hw
    th, tw = min(TILE, h), min(TILE, w)
    starts_r = np.linspace(0, h - th, TILES).round().astype(int)
    starts_c = np.linspace(0, w - tw, TILES).round().astype(int)
    return [(slice(int(r), int(r) + th), slice(int(c), int(c) + tw)) for r in starts_r for c in starts_c]
