"""Synthetic cases where the weight-free 'seeds' backend used to fail (issue 13), with truth.

Made for these tests (not the sample data in ``napari_samlabel.synthetic``), numpy and scipy
only, deterministic for a given seed. Each returns what a user has in the viewer: the image
(HU for CT, counts for fluorescence), the contrast limits they window it with, and the truth.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_samlabel.core.planes import window_to_uint8

CT_WINDOW = (-160.0, 240.0)  # soft tissue: W400 / L40


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return float((a & b).sum() / max((a | b).sum(), 1))


def ellipse(shape, cy, cx, ry, rx) -> np.ndarray:
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def ct_lesion_volume(seed: int = 0, contrast_hu: float = 60.0, noise_hu: float = 12.0, size: int = 192,
                     depth: int = 9) -> dict:  # fmt: skip
    """An abdomen-like CT volume (Z, Y, X) in HU: air, fat, a large organ (60 HU), a small lesion
    ``contrast_hu`` brighter than the organ (an ellipsoid inside it, ~15 px from its edge), a spine
    (bone); partial-volume blur and noise. Windowed W400/L40 the lesion sits ~38 grey levels
    above the organ, which sits ~100 above the fat around it.

    Returns dict(volume, truth (lesion, Z Y X), organ (Z Y X), window, centre (z, y, x))."""
    rng = np.random.default_rng(seed)
    z = np.arange(depth)[:, None, None] - depth // 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    s = size / 192
    body = ((yy - 96 * s) / (80 * s)) ** 2 + ((xx - 96 * s) / (90 * s)) ** 2 <= 1
    organ = ((yy - 80 * s) / (45 * s)) ** 2 + ((xx - 80 * s) / (55 * s)) ** 2 <= 1
    spine = ((yy - 150 * s) / (12 * s)) ** 2 + ((xx - 96 * s) / (12 * s)) ** 2 <= 1
    # near the organ's left edge (as liver lesions often are): fat within a few cm of it
    cy, cx = 80 * s + rng.uniform(-8, 8) * s, 46 * s + rng.uniform(-3, 3) * s
    ry, rx = rng.uniform(6, 8) * s, rng.uniform(6, 9) * s
    vol = np.empty((depth, size, size), np.float32)
    truth = np.zeros((depth, size, size), bool)
    for k in range(depth):
        shrink = np.sqrt(max(1 - (z[k, 0, 0] / (depth / 2 + 0.5)) ** 2, 0.05))
        lesion = ellipse((size, size), cy, cx, ry * shrink, rx * shrink)
        hu = np.full((size, size), -1000.0, np.float32)
        hu[body] = -100.0
        hu[organ] = 60.0
        hu[spine] = 700.0
        hu[lesion] = 60.0 + contrast_hu
        truth[k] = lesion
        hu = ndi.gaussian_filter(hu, 0.8)  # partial volume
        vol[k] = hu + rng.normal(0, noise_hu, hu.shape).astype(np.float32)
    organs = np.broadcast_to(organ, vol.shape)
    return dict(volume=vol, truth=truth, organ=organs, window=CT_WINDOW, centre=(depth // 2, cy, cx))


def ct_lesion_plane(seed: int = 0, **kw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The middle slice of :func:`ct_lesion_volume`, windowed W400/L40 to uint8 RGB as the
    Segment dock sends it: (rgb, lesion truth, organ mask)."""
    case = ct_lesion_volume(seed, **kw)
    k = case["volume"].shape[0] // 2
    return window_to_uint8(case["volume"][k], case["window"]), case["truth"][k], case["organ"][k]


def _fluorescence(frames_cells, size: int, rng, noise: float = 400.0, extra=None) -> tuple[np.ndarray, np.ndarray]:
    """Render (T, size, size) uint16 frames of soft-edged bright ellipses on a dim background,
    Poisson noise; ``frames_cells[t]`` is a list of (label, cy, cx, ry, rx, brightness)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    T = len(frames_cells)
    image = np.empty((T, size, size), np.uint16)
    truth = np.zeros((T, size, size), np.uint16)
    for t, cells in enumerate(frames_cells):
        frame = np.full((size, size), 0.08, np.float32)
        for label, cy, cx, ry, rx, b in cells:
            r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
            truth[t][(r <= 1.0) & (truth[t] == 0)] = label
            frame += b / (1 + np.exp(np.minimum((r - 1.0) * 10, 50)))
        if extra is not None:
            frame += extra(t, yy, xx)
        counts = rng.poisson(np.clip(frame, 0, None) * noise).astype(np.float32)
        image[t] = np.clip(counts * 8 + 200, 0, 65535).astype(np.uint16)
    return image, truth


def crossing_cells(seed: int = 0, n_frames: int = 16, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Two nuclei that meet and pass each other: they move towards each other on nearly the
    same row, touch edge to edge in the middle frames (never overlap in the truth), and part.
    Returns (image uint16 (T, Y, X), truth uint16 labels 1 and 2)."""
    rng = np.random.default_rng(seed)
    r1, r2 = 9.0, 8.0
    gap_rows = r1 + r2 + 0.5  # rows apart when they pass: edges touch
    cells = []
    for t in range(n_frames):
        u = t / (n_frames - 1)
        x1 = 16 + u * (size - 32)
        x2 = size - 16 - u * (size - 32)
        y1 = size / 2 - gap_rows / 2
        y2 = size / 2 + gap_rows / 2
        cells.append([(1, y1, x1, r1, r1 * 1.1, 0.9), (2, y2, x2, r2, r2 * 1.15, 0.75)])
    return _fluorescence(cells, size, rng)


def leaving_cell(seed: int = 0, n_frames: int = 14, size: int = 96) -> tuple[np.ndarray, np.ndarray, int]:
    """A nucleus drifting right, out of the field; once it is gone, speckled glow at the right
    border where it left (out-of-focus light, bright noise), and a second nucleus that stays.
    Returns (image, truth (1 = the leaver, 2 = the stayer), the first frame without the leaver)."""
    rng = np.random.default_rng(seed)
    speed = 6.0
    cells = []
    for t in range(n_frames):
        cells.append([(1, size * 0.45, size * 0.55 + speed * t, 9.0, 10.0, 0.9), (2, size * 0.75, size * 0.3, 9.0, 9.0, 0.8)])
    image, truth = _fluorescence(cells, size, rng)
    gone = next(t for t in range(n_frames) if not (truth[t] == 1).any())

    def glow(t, yy, xx):  # from the frame it leaves on: a dim halo at the border, with bright specks
        if t < gone:
            return 0.0
        halo = 0.3 * np.exp(-(((yy - size * 0.45) / 14) ** 2) - ((xx - (size - 1)) / 6) ** 2)
        specks = (rng.random(yy.shape) < 0.04) * 0.9 * np.exp(-((xx - (size - 1)) / 8) ** 2)
        return halo + ndi.gaussian_filter(specks.astype(np.float32), 1.0) * 4

    image, truth = _fluorescence(cells, size, np.random.default_rng(seed), extra=glow)
    return image, truth, gone


def object_in_organ(size: int = 64, cy: float = 32, cx: float = 32, ry: float = 7, rx: float = 8,
                    organ_level: float = 140, contrast: float = 40, fat_level: float = 40,
                    noise: float = 3.0, blur: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """A grey uint8 RGB plane: an object ``contrast`` above (or below, when negative) a large
    organ, which sits on a darker surround; blur and noise. Returns (rgb, object truth)."""
    rng = np.random.default_rng(seed)
    shape = (size, size)
    organ = ellipse(shape, size / 2, size / 2, size * 0.42, size * 0.45)
    obj = ellipse(shape, cy, cx, ry, rx)
    img = np.full(shape, fat_level, np.float32)
    img[organ] = organ_level
    img[obj] = organ_level + contrast
    img = ndi.gaussian_filter(img, blur) + rng.normal(0, noise, shape).astype(np.float32)
    return window_to_uint8(np.clip(img, 0, 255), (0, 255)), obj


def jumping_cell(seed: int = 0, n_frames: int = 10, jump_at: int = 5, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A nucleus that drifts slowly, then is somewhere else from frame ``jump_at`` on (the stage
    moved, or frames were dropped): no tracker can follow it without being shown.
    Returns (image, truth with label 1)."""
    cells = []
    for t in range(n_frames):
        cy, cx = (size * 0.3, size * 0.3 + t) if t < jump_at else (size * 0.7, size * 0.65 + (t - jump_at))
        cells.append([(1, cy, cx, 9.0, 10.0, 0.9)])
    return _fluorescence(cells, size, np.random.default_rng(seed))
