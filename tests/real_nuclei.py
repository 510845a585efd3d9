"""Real (and others' realistic) nuclei for the weight-free backend's goals (issue 25): the images
in tests/data (see its README: a DSB 2018 fluorescence field with hand-made masks, StarDist's
synthetic 3D stack), where a user clicks, and how a mask is judged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

DATA = Path(__file__).parent / "data"


def nuclei_2d() -> tuple[np.ndarray, np.ndarray]:
    """(image (512, 512) uint8, labels (512, 512) uint8): DSB 2018, 125 nuclei."""
    with np.load(DATA / "dsb2018_nuclei_2d.npz") as f:
        return f["image"], f["labels"]


def nuclei_3d() -> tuple[np.ndarray, np.ndarray]:
    """(image (31, 61, 57) uint16, labels uint8): StarDist's synthetic stack, 52 nuclei."""
    with np.load(DATA / "stardist_nuclei_3d.npz") as f:
        return f["image"], f["labels"]


def as_rgb(gray: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """The plane as the viewer windows it (min-max unless given), as (H, W, 3) uint8."""
    g = gray.astype(np.float32)
    lo = float(g.min()) if lo is None else lo
    hi = float(g.max()) if hi is None else hi
    u8 = np.clip((g - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    return np.repeat(u8[..., None], 3, axis=2)


def click_point(mask: np.ndarray) -> tuple[int, int]:
    """Where a person clicks on an object: its most inner pixel (the distance transform's peak)."""
    d = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    return tuple(int(v) for v in np.unravel_index(np.argmax(d), d.shape))


def touching(labels: np.ndarray, i: int, gap: int = 2) -> list[int]:
    """The objects within ``gap`` pixels of object ``i`` (its touching neighbours)."""
    grown = ndi.binary_dilation(labels == i, iterations=gap)
    return [int(j) for j in np.unique(labels[grown]) if j and j != i]


def objects(labels: np.ndarray, min_size: int = 30, border: bool = False) -> list[int]:
    """Object ids large enough to click (and, unless ``border``, not cut by the image's edge)."""
    out = []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None or (labels[sl] == i).sum() < min_size:
            continue
        if not border and any(s.start == 0 or s.stop == n for s, n in zip(sl, labels.shape)):
            continue
        out.append(i)
    return out


def dice(a: np.ndarray, b: np.ndarray) -> float:
    s = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / s) if s else 1.0
