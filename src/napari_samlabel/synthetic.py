"""Synthetic data with known ground truth, for the sample and for tests.

Numpy only. Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np


def fluorescence_timelapse(
    n_frames: int = 20,
    size: int = 192,
    n_cells: int = 9,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A 2D+t fluorescence-like movie of drifting, deforming nuclei.

    Returns ``(image, truth)``: ``image`` is uint16 (T, Y, X) with blur-like
    soft edges, uneven brightness, background and shot noise; ``truth`` is the
    uint16 label array of the same shape, one id per nucleus, constant in time.
    Nuclei never overlap (so the truth is unambiguous); one drifts out of the
    field of view.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    margin = size * 0.15
    times = np.arange(n_frames)[:, None]
    pos, vel, radii, tracks = [], [], [], []
    for i in range(n_cells):  # place one at a time: close, but never overlapping
        for _ in range(2000):
            p = rng.uniform(margin, size - margin, 2)
            v = rng.normal(0, size * 0.006, 2)
            if i == 0:  # the leaver: starts right of centre, out of the field within ~12 frames
                p[1], v = rng.uniform(0.6, 0.8) * size, np.array([0.0, size * 0.04])
            r = rng.uniform(size * 0.045, size * 0.075, 2)
            track = p + v * times  # (T, 2)
            reach = r.max() * 1.15 + 1  # breathing included
            if all((np.linalg.norm(track - tr, axis=1) >= reach + rr).all() for tr, rr in tracks):
                break
        else:
            raise ValueError(f"cannot place {n_cells} separate nuclei in {size}x{size}; use fewer or a larger size")
        pos.append(p), vel.append(v), radii.append(r), tracks.append((track, reach))
    pos, vel, radii = np.array(pos), np.array(vel), np.array(radii)
    angle = rng.uniform(0, np.pi, n_cells)
    spin = rng.normal(0, 0.05, n_cells)
    brightness = rng.uniform(0.5, 1.0, n_cells)
    phase = rng.uniform(0, 2 * np.pi, n_cells)
    image = np.empty((n_frames, size, size), np.uint16)
    truth = np.zeros((n_frames, size, size), np.uint16)
    for t in range(n_frames):
        frame = np.full((size, size), 0.08, np.float32)
        frame += 0.04 * np.sin(xx / size * 3.0 + 0.3 * t) * np.cos(yy / size * 2.0)
        for i in range(n_cells):
            cy, cx = pos[i] + vel[i] * t
            a = angle[i] + spin[i] * t
            # gentle breathing deformation
            ry, rx = radii[i] * (1 + 0.12 * np.sin(0.4 * t + phase[i]) * np.array([1, -1]))
            dy, dx = yy - cy, xx - cx
            u = (dy * np.cos(a) + dx * np.sin(a)) / ry
            v = (-dy * np.sin(a) + dx * np.cos(a)) / rx
            r = np.sqrt(u * u + v * v)
            inside = r <= 1.0
            truth[t][inside & (truth[t] == 0)] = i + 1
            texture = 0.85 + 0.15 * np.cos(3 * u + phase[i]) * np.cos(2 * v)
            frame += brightness[i] * texture / (1 + np.exp((r - 1.0) * 12))
        counts = rng.poisson(np.clip(frame, 0, None) * 400).astype(np.float32)
        image[t] = np.clip(counts * 8 + 200, 0, 65535).astype(np.uint16)
    return image, truth


def blobs_volume(shape: tuple[int, int, int] = (24, 64, 64), seed: int = 0, n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A small 3D volume of separate bright ellipsoids on a dim background, with truth."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[0 : shape[0], 0 : shape[1], 0 : shape[2]].astype(np.float32)
    truth = np.zeros(shape, np.uint16)
    image = np.full(shape, 0.1, np.float32)
    placed: list[tuple[np.ndarray, np.ndarray]] = []
    for i in range(n):
        for _ in range(1000):
            c = rng.uniform(0.25, 0.75, 3) * np.array(shape)
            r = rng.uniform(0.1, 0.17, 3) * np.array(shape)
            # separate in voxels: centres farther apart than the two largest radii, plus a gap
            if all(np.linalg.norm(c - c2) > r.max() + r2.max() + 2 for c2, r2 in placed):
                break
        else:
            raise ValueError(f"cannot place {n} separate blobs in {shape}")
        placed.append((c, r))
        d = ((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + ((xx - c[2]) / r[2]) ** 2
        truth[d <= 1] = i + 1
        image += 0.8 / (1 + np.exp((np.sqrt(d) - 1) * 10))
    image += rng.normal(0, 0.03, shape).astype(np.float32)
    return image, truth


def disc(shape: tuple[int, int], cy: float, cx: float, r: float) -> np.ndarray:
    """A boolean disc: the simplest object with a known mask."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def instance_grid(n: int, side: int = 1024, free_rows: int = 64) -> np.ndarray:
    """A ``side`` x ``side`` labels image of ``n`` instances (ids 1..n, 3 x 3 squares on a
    4-pixel grid), rows above ``free_rows`` left empty for new ones: a dense tissue."""
    per_row = side // 4
    if n > per_row * ((side - free_rows) // 4):
        raise ValueError(f"{n} instances do not fit a {side} px grid")
    lab = np.zeros((side, side), np.uint32)
    k = np.arange(n)
    rows, cols = free_rows + 4 * (k // per_row), 4 * (k % per_row)
    for dr in range(3):
        for dc in range(3):
            lab[rows + dr, cols + dc] = k + 1
    return lab
