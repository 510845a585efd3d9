"""Grow from seeds: a weight-free backend, in the spirit of 3D Slicer's tool.

It needs no weights and no network, so the plugin does its main job anywhere,
and it is the baseline where SAM is weak. Per prompt:

1. Smooth the plane; estimate the seed intensity (median around the positive
   clicks, or the most contrasting part of the box) and the local background
   (a low percentile around it).
2. Keep pixels on the seed's side of the half-way level between the two
   ("half maximum", the usual edge of a blurred fluorescent object), inside
   the box if there is one.
3. Take the connected component(s) under the positive seeds; negative clicks
   inside it cut it by a seeded watershed on the intensity.
4. Fill holes. Candidates at other levels give the multimask choice; each
   mask's score is how well it separates from its surrounding ring.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..core.prompts import PromptSet
from .base import MaskPrediction

LEVELS = (0.5, 0.35, 0.65)  # fraction of the way from background to seed


def to_gray(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, np.float32)
    if rgb.ndim == 2:
        return rgb
    return rgb[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)


def separability(gray: np.ndarray, mask: np.ndarray, ring: int = 4) -> float:
    """Otsu's eta of mask vs the ring around it: 1 = a crisp edge, 0 = no contrast."""
    if not mask.any():
        return 0.0
    around = ndi.binary_dilation(mask, iterations=ring) & ~mask
    if not around.any():
        return 0.0
    a, b = gray[mask], gray[around]
    allv = np.concatenate([a, b])
    total = allv.var()
    if total <= 1e-12:
        return 0.0
    w0, w1 = len(a) / len(allv), len(b) / len(allv)
    return float(np.clip(w0 * w1 * (a.mean() - b.mean()) ** 2 / total, 0.0, 1.0))


class SeedGrowSegmenter:
    """The weight-free backend ('seeds')."""

    name = "seeds"
    device = "cpu"

    def __init__(self, smoothing: float = 1.0) -> None:
        self.smoothing = smoothing
        self._gray: np.ndarray | None = None

    def set_image(self, rgb: np.ndarray) -> None:
        self._gray = ndi.gaussian_filter(to_gray(rgb), self.smoothing)

    def tracker(self):
        """Propagation seeded frame by frame from the previous mask."""
        from .tracking import SeedTracker

        return SeedTracker(SeedGrowSegmenter(self.smoothing))

    # -- prompting -------------------------------------------------------
    def predict(self, prompts: PromptSet, multimask: bool = True, mask_input: np.ndarray | None = None) -> MaskPrediction:
        if self._gray is None:
            raise RuntimeError("set_image() first")
        g = self._gray
        prompts.check(g.shape)
        pos = np.round(prompts.points[prompts.labels == 1]).astype(int)
        neg = np.round(prompts.points[prompts.labels == 0]).astype(int)
        window = np.ones(g.shape, bool)
        if prompts.box is not None:
            r0, c0, r1, c1 = np.round(prompts.box).astype(int)
            window[:] = False
            window[max(r0, 0) : r1 + 1, max(c0, 0) : c1 + 1] = True
        seed, bg = self._levels(g, pos, prompts.box)
        masks = []
        for level in LEVELS if multimask else LEVELS[:1]:
            masks.append(self._grow(g, seed, bg, level, pos, neg, window))
        scores = np.array([separability(g, m) for m in masks])
        order = np.argsort(-scores, kind="stable") if multimask else np.arange(1)
        return MaskPrediction(np.stack(masks)[order], scores[order])

    def _levels(self, g: np.ndarray, pos: np.ndarray, box) -> tuple[float, float]:
        h, w = g.shape
        if len(pos):
            vals = [np.median(g[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3]) for r, c in pos]
            seed = float(np.median(vals))
            cy, cx = pos.mean(axis=0)
            radius = max(32, max(h, w) // 8)
        else:
            r0, c0, r1, c1 = np.round(box).astype(int)
            inner = g[max(r0, 0) : r1 + 1, max(c0, 0) : c1 + 1]
            cy, cx = (r0 + r1) / 2, (c0 + c1) / 2
            radius = int(max(r1 - r0, c1 - c0))
            lo, hi = np.percentile(inner, (10, 90))
            # the object is whichever extreme of the box sits nearer its centre
            centre = g[int(np.clip(cy, 0, h - 1)), int(np.clip(cx, 0, w - 1))]
            seed = float(hi if abs(centre - hi) <= abs(centre - lo) else lo)
        r0, r1 = int(max(cy - radius, 0)), int(min(cy + radius + 1, h))
        c0, c1 = int(max(cx - radius, 0)), int(min(cx + radius + 1, w))
        local = g[r0:r1, c0:c1]
        bright = seed >= np.median(local)
        bg = float(np.percentile(local, 10 if bright else 90))
        return seed, bg

    def _grow(self, g, seed, bg, level, pos, neg, window) -> np.ndarray:
        t = bg + level * (seed - bg)
        fg = (g >= t) if seed >= bg else (g <= t)
        fg &= window
        lab, n = ndi.label(fg)
        if n == 0:
            return np.zeros(g.shape, bool)
        if len(pos):
            ids = {int(lab[r, c]) for r, c in pos if lab[r, c]}
            if not ids:
                return np.zeros(g.shape, bool)
        else:  # box only: the largest component
            sizes = ndi.sum(np.ones_like(lab), lab, index=np.arange(1, n + 1))
            ids = {int(np.argmax(sizes)) + 1}
        mask = np.isin(lab, list(ids))
        inside_neg = [(r, c) for r, c in neg if mask[r, c]]
        if inside_neg and len(pos):
            mask = self._cut(g, mask, pos, inside_neg, seed >= bg)
        elif len(neg):
            for r, c in neg:  # a negative click just outside still wins its own pixel
                mask[r, c] = False
        return ndi.binary_fill_holes(mask)

    @staticmethod
    def _cut(g, mask, pos, neg, bright: bool) -> np.ndarray:
        from skimage.segmentation import watershed

        markers = np.zeros(g.shape, np.int32)
        for r, c in pos:
            markers[r, c] = 1
        for r, c in neg:
            markers[r, c] = 2
        # flood from the seeds; dim valleys between objects are the ridges
        surface = -g if bright else g
        return watershed(surface, markers, mask=mask) == 1

    # -- label all -------------------------------------------------------
    def segment_all(self, rgb: np.ndarray, min_size: int = 20) -> list[tuple[np.ndarray, float]]:
        """Objects brighter than an Otsu threshold, touching ones split by watershed."""
        from skimage.feature import peak_local_max
        from skimage.filters import threshold_otsu
        from skimage.segmentation import watershed

        self.set_image(rgb)
        g = self._gray
        if g.max() - g.min() < 1e-6:
            return []
        fg = ndi.binary_fill_holes(g > threshold_otsu(g))
        dist = ndi.distance_transform_edt(fg)
        min_distance = max(3, int(np.percentile(dist[fg], 90) * 0.8)) if fg.any() else 3
        lab, _ = ndi.label(fg)
        peaks = peak_local_max(dist, min_distance=min_distance, labels=lab, exclude_border=False)
        markers = np.zeros(g.shape, np.int32)
        markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
        seg = watershed(-dist, markers, mask=fg)
        out = []
        for i in range(1, seg.max() + 1):
            m = seg == i
            if m.sum() >= min_size:
                out.append((m, separability(g, m)))
        return out
