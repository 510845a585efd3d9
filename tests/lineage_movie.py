"""A small time-lapse of dividing cells with its lineage, and its Cell Tracking Challenge
ground truth folder written straight with tifffile (not through the plugin's writer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_samlabel.synthetic import disc

SHAPE = (64, 64)
N_FRAMES = 10
R = 4
# id: (first frame, last frame, parent, centre on its first frame, drift per frame)
CELLS = {
    1: (0, 2, 0, (20, 20), (0, 1)),  # divides after frame 2 ...
    2: (3, 6, 1, (13, 24), (-1, 0)),  # ... into 2 (divides again after frame 6) ...
    3: (3, 9, 1, (28, 24), (1, 0)),  # ... and 3
    4: (7, 9, 2, (6, 19), (-1, -1)),
    5: (7, 9, 2, (11, 31), (0, 1)),
    6: (0, 4, 0, (46, 46), (0, 0)),  # divides after frame 4
    7: (5, 9, 6, (46, 38), (0, -1)),
    8: (5, 9, 6, (46, 54), (0, 1)),
    9: (0, 9, 0, (48, 12), (0, 0)),  # never divides
}
DIVISIONS = 3


def truth() -> np.ndarray:
    """Label movie (T, Y, X): one id per cell, each daughter its own id."""
    labels = np.zeros((N_FRAMES, *SHAPE), np.uint16)
    for i, (b, e, _, (cy, cx), (vy, vx)) in CELLS.items():
        for t in range(b, e + 1):
            d = disc(SHAPE, cy + vy * (t - b), cx + vx * (t - b), R)
            assert not labels[t][d].any(), "cells overlap"
            labels[t][d] = i
    return labels


def image(labels: np.ndarray) -> np.ndarray:
    """Bright soft nuclei on a dim background: what a user would see."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(0)
    img = np.stack([ndi.gaussian_filter((f > 0).astype(np.float32), 1.0) for f in labels])
    return (img * 800 + 100 + rng.normal(0, 10, img.shape)).astype(np.float32)


def roots_tracked_whole(labels: np.ndarray) -> np.ndarray:
    """What a tracker that follows "the cell" gives: each founder's id on all its
    descendants' pixels (one instance that becomes two, then three pieces)."""
    root = {i: i for i in CELLS}
    for i, (_, _, p, _, _) in CELLS.items():
        while p:
            root[i] = p
            p = CELLS[p][2]
    lut = np.zeros(max(CELLS) + 1, np.uint32)
    for i, r in root.items():
        lut[i] = r
    return lut[labels]


def write_gt(folder: Path, labels: np.ndarray) -> Path:
    """The CTC GT layout: TRA/man_trackTTT.tif + man_track.txt, SEG/man_segTTT.tif."""
    import tifffile

    tra, seg = Path(folder) / "TRA", Path(folder) / "SEG"
    tra.mkdir(parents=True)
    seg.mkdir()
    for t, frame in enumerate(labels):
        tifffile.imwrite(tra / f"man_track{t:03d}.tif", frame.astype(np.uint16))
        tifffile.imwrite(seg / f"man_seg{t:03d}.tif", frame.astype(np.uint16))
    rows = [f"{i} {b} {e} {p}\n" for i, (b, e, p, _, _) in sorted(CELLS.items())]
    (tra / "man_track.txt").write_text("".join(rows))
    return Path(folder)
