"""Grow from seeds: the weight-free backend, in the spirit of 3D Slicer's tool.

It needs no weights and no network, so the plugin does its main job anywhere, and it is
the baseline where SAM is weak. Every prompt is a seed, and none is ignored:

- positive clicks are object seeds: the object's level is read around them (a median);
- negative clicks are background seeds: their pixels are never the object's, and an object
  region that holds one is cut between the clicks;
- a box is a hard bound: nothing outside it is ever in the mask, and the ring just
  outside it is background.

Per prompt, on the smoothed grey plane (bright or dark objects alike):

1. The level of what surrounds the object is read next to the seeds, never from a global
   percentile: the plateau the region around the clicks spills into first when its
   threshold is lowered (the organ around a lesion, not the fat or air beyond the organ),
   and the box's border. The nearer of the two to the object's level wins. (A negative
   click's level is not used: it may lie on anything, far away.)
2. Pixels on the object's side of the three-quarter level and connected to the object
   seeds are object markers; pixels past the quarter level, the negative clicks and the
   ring outside the box are background markers. A negative click in a clump of blobs drops
   the split's parts that hold it (``seed_split``), else cuts at the neck between the clicks
   (``cut_at_neck``); only a thick object (an organ) is cut along the intensity valley.
3. A seeded watershed on the gradient magnitude settles the band between: the edge
   lands on the steepest step, wherever the surround is brighter or darker.

Tracking (:class:`SeedTracker`) grows all objects of a frame at once, from their
previous masks, in one seeded watershed, so touching objects compete for pixels and
keep their identities.
"""

from __future__ import annotations

import warnings
from typing import Callable, Iterator

import numpy as np
from scipy import ndimage as ndi

from ..core.prompts import PromptSet
from .base import MaskPrediction
from .seed_split import cores, cut_at_neck, split_touching
from .tracking import AbsenceCounter, ObjectResult, TrackStep, frame_order

SEED_RADIUS = 2  # pixels around a click read for its level
CROP = 48  # first half-width of the window around clicks (grown while the object reaches its edge)
MIN_STEP_SIGMAS = 4.0  # a plateau must lie this many noise sigmas from the object's level
FG_FRAC = 0.85  # Label all: the foreground starts this far from the background to Otsu's threshold


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


def noise_sigma(g: np.ndarray) -> float:
    """Pointwise noise of a plane smoothed with sigma 1, from its neighbour differences (robust
    to edges: a median): the differences of such noise are 0.66 of its sigma times sqrt(2)."""
    if g.shape[0] < 2 or g.shape[1] < 2:
        return 1.0
    d = np.concatenate([np.diff(g, axis=0).ravel(), np.diff(g, axis=1).ravel()])
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / (np.sqrt(2) * 0.66))


def _disc(shape, points, radius: int) -> np.ndarray:
    """The pixels within ``radius`` (a square) of the points that lie in ``shape``."""
    out = np.zeros(shape, bool)
    for r, c in points:
        if 0 <= r < shape[0] and 0 <= c < shape[1]:
            out[max(r - radius, 0) : r + radius + 1, max(c - radius, 0) : c + radius + 1] = True
    return out  # a square neighbourhood: cheap, and enough for a median


def _components_at(s: np.ndarray, level: float, seeds: np.ndarray, window: np.ndarray | None) -> np.ndarray:
    """The connected parts of ``s >= level`` (inside ``window``) that hold a seed pixel."""
    fg = s >= level
    if window is not None:
        fg &= window
    lab, n = ndi.label(fg)
    if n == 0:
        return np.zeros(s.shape, bool)
    ids = np.unique(lab[seeds & fg])
    ids = ids[ids > 0]
    if not len(ids):
        return np.zeros(s.shape, bool)
    keep = np.zeros(n + 1, bool)
    keep[ids] = True
    return keep[lab]


def surround_level(s: np.ndarray, seeds: np.ndarray, mu: float, sigma: float, window: np.ndarray | None,
                   floor: float, edges=(True, True, True, True)) -> float | None:  # fmt: skip
    """The level of the first plateau the seeds' region spills into as its threshold falls from
    ``mu`` (the object is bright in ``s``), read as the median of a ring around the region just
    before it spills (doubles at once, or reaches one of the ``edges`` of ``s``: those that are
    not the plane's own); None when it never does."""
    step = max(sigma, (mu - floor) / 48.0, 0.25)
    start = mu - MIN_STEP_SIGMAS * sigma
    prev = _components_at(s, start, seeds, window)
    if not prev.any():
        return None
    area = prev.sum()
    level = start - step
    while level > floor:
        cur = _components_at(s, level, seeds, window)
        a = cur.sum()
        if a > 2 * area and a - area > 16:  # spilled onto a plateau
            break
        if _touches_edge(cur, edges):  # it escaped the window: the surround (or the window is too small:
            break  # then the mask reaches the edge too, and the caller widens the window)
        prev, area = cur, a
        level -= step
    else:
        return None
    ring = ndi.binary_dilation(prev, iterations=4) & ~ndi.binary_dilation(prev, iterations=1)
    if window is not None:
        ring &= window
    return float(np.median(s[ring])) if ring.any() else None


def _touches_edge(m: np.ndarray, edges=(True, True, True, True)) -> bool:
    """Whether ``m`` reaches its top, bottom, left or right edge (those of ``edges`` that are True)."""
    top, bottom, left, right = edges
    return bool((top and m[0].any()) or (bottom and m[-1].any()) or (left and m[:, 0].any()) or (right and m[:, -1].any()))


def gradient_magnitude(s: np.ndarray) -> np.ndarray:
    return np.hypot(ndi.sobel(s, 0), ndi.sobel(s, 1))


def _cut(s: np.ndarray, mask: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Split ``mask`` between the positive and negative seeds along the valley of ``s``
    (bright objects): the part that floods from the positive seeds."""
    from skimage.segmentation import watershed

    markers = np.zeros(s.shape, np.int32)
    markers[neg & mask] = 2
    markers[pos & mask & (markers == 0)] = 1
    return watershed(-s, markers, mask=mask) == 1


class SeedGrowSegmenter:
    """The weight-free backend ('seeds')."""

    name = "seeds"
    device = "cpu"

    def __init__(self, smoothing: float = 1.0, refine: str = "watershed") -> None:
        if refine not in ("watershed", "random_walker"):
            raise ValueError(f"refine must be 'watershed' or 'random_walker', not {refine!r}")
        self.smoothing = smoothing
        self.refine = refine  # how the band between the markers is settled (measured in bench_seeds)
        self._gray: np.ndarray | None = None

    def set_image(self, rgb: np.ndarray) -> None:
        self._gray = ndi.gaussian_filter(to_gray(rgb), self.smoothing)

    def tracker(self):
        """Propagation that grows every object of a frame at once from its previous mask."""
        return SeedTracker(SeedGrowSegmenter(self.smoothing, self.refine))

    # -- prompting -------------------------------------------------------
    def predict(self, prompts: PromptSet, multimask: bool = True, mask_input: np.ndarray | None = None) -> MaskPrediction:
        if self._gray is None:
            raise RuntimeError("set_image() first")
        g = self._gray
        h, w = g.shape
        prompts.check(g.shape)
        pts = np.clip(np.round(prompts.points).astype(int), 0, [h - 1, w - 1]) if len(prompts.points) else np.zeros((0, 2), int)
        pos, neg = pts[prompts.labels == 1], pts[prompts.labels == 0]
        box = None
        if prompts.box is not None:
            r0, c0, r1, c1 = np.round(prompts.box).astype(int)
            box = (max(r0, 0), max(c0, 0), min(r1, h - 1), min(c1, w - 1))
        if box is not None:  # a click outside the box contradicts it: the box wins
            pos = pos[(pos[:, 0] >= box[0]) & (pos[:, 0] <= box[2]) & (pos[:, 1] >= box[1]) & (pos[:, 1] <= box[3])]
        half = CROP
        while True:
            if box is not None:  # the box and a ring around it (background seeds)
                r0, c0, r1, c1 = box[0] - 2, box[1] - 2, box[2] + 3, box[3] + 3
            else:
                r0, c0 = pos.min(axis=0) - half
                r1, c1 = pos.max(axis=0) + half + 1
            r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, h), min(c1, w)
            edges = (r0 > 0, r1 < h, c0 > 0, c1 < w)  # the window's edges inside the plane
            masks = self._segment(g[r0:r1, c0:c1], pos - (r0, c0), neg - (r0, c0),
                                  None if box is None else (box[0] - r0, box[1] - c0, box[2] - r0, box[3] - c0),
                                  multimask, edges)  # fmt: skip
            if box is not None or not _touches_edge(masks[0], edges):
                break
            half *= 2  # the object reaches the window's edge: look wider
        full = np.zeros((len(masks), h, w), bool)
        full[:, r0:r1, c0:c1] = masks
        scores = np.array([separability(g[r0:r1, c0:c1], m) for m in masks])
        # the main band (the three-quarter / quarter levels) first: on real nuclei the crisper-looking
        # bands (Otsu's eta against the ring) are the worse guess more often (bench_seeds_real)
        order = np.concatenate([[0], 1 + np.argsort(-scores[1:], kind="stable")])
        return MaskPrediction(full[order], scores[order])

    def _segment(self, g, pos, neg, box, multimask: bool, edges=(True,) * 4) -> list[np.ndarray]:
        """Masks in the crop ``g``, the best guess first."""
        if len(neg) and len(pos):  # a negative seed the mask already leaves out changes nothing
            alone = self._segment(g, pos, neg[:0], box, multimask, edges)
            neg_seeds = _disc(g.shape, neg, SEED_RADIUS)
            if not any((m & neg_seeds).any() for m in alone):
                return alone
        shape = g.shape
        inbox = None
        if box is not None:
            inbox = np.zeros(shape, bool)
            inbox[box[0] : box[2] + 1, box[1] : box[3] + 1] = True
        sigma = max(noise_sigma(g), 0.5)
        neg_seeds = _disc(shape, neg, SEED_RADIUS)
        if len(pos):
            pos_seeds = _disc(shape, pos, SEED_RADIUS)
            if inbox is not None:
                pos_seeds &= inbox
            levels = [float(np.median(g[_disc(shape, [p], SEED_RADIUS)])) for p in pos]
        else:  # a box alone: the object is whichever extreme of the box sits nearer its centre
            r0, c0, r1, c1 = box
            qr, qc = max((r1 - r0) // 4, 0), max((c1 - c0) // 4, 0)
            inner = g[r0 + qr : r1 - qr + 1, c0 + qc : c1 - qc + 1]
            lo, hi = np.percentile(inner, (10, 90))
            centre = float(np.median(g[_disc(shape, [((r0 + r1) // 2, (c0 + c1) // 2)], SEED_RADIUS)]))
            level = float(hi if abs(centre - hi) <= abs(centre - lo) else lo)
            levels = [level]
            pos_seeds = np.zeros(shape, bool)
            pos_seeds[r0 + qr : r1 - qr + 1, c0 + qc : c1 - qc + 1] = True
            pos_seeds &= np.abs(g - level) <= max(0.25 * (hi - lo), 2 * sigma)
        pos_seeds &= ~neg_seeds
        if not pos_seeds.any():
            return [np.zeros(shape, bool)] * (3 if multimask else 1)
        # which way is the object: against the box's border, else against the area around
        # (the crop grows with the object, so the object never makes most of it)
        ring = None
        if inbox is not None:
            ring = ndi.binary_dilation(inbox, iterations=2) & ~ndi.binary_erosion(inbox, iterations=1)
        mu_raw = float(np.median(levels))
        if ring is not None and ring.any() and abs(np.median(g[ring]) - mu_raw) > MIN_STEP_SIGMAS * sigma:
            bright = mu_raw > np.median(g[ring])
        else:
            around = float(np.median(g))
            if abs(mu_raw - around) <= MIN_STEP_SIGMAS * sigma:  # a large organ fills the window: its rim tells
                around = float(np.median(np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])))
            bright = mu_raw >= around
        s = g if bright else -g
        mu = min(levels) if bright else -max(levels)  # the dimmest seeded part is still object
        floor = float(np.percentile(s, 1))
        # what surrounds the object: the nearest level below it among those the seeds tell
        candidates = []
        spill = surround_level(s, pos_seeds, mu, sigma, inbox, floor, edges)
        if spill is not None:
            candidates.append(spill)
        if ring is not None and ring.any():
            candidates.append(float(np.median(s[ring])))
        candidates = [c for c in candidates if c < mu - MIN_STEP_SIGMAS * sigma]
        b = max(candidates) if candidates else float(np.percentile(s, 10))
        if b >= mu:
            b = mu - MIN_STEP_SIGMAS * sigma
        # the object's level: the median of what the seeds reach above half-way to the surround, not
        # the clicked spot's (a bright speck in a textured nucleus would leave the rest of it out)
        half = _components_at(s, (mu + b) / 2, pos_seeds, inbox)
        if half.any():
            mu = max(min(mu, float(np.median(s[half]))), b + MIN_STEP_SIGMAS * sigma)
        edge = gradient_magnitude(s)
        pos_only = _disc(shape, pos, 0) if len(pos) else pos_seeds
        bands = ((0.25, 0.75), (0.1, 0.5), (0.5, 0.9)) if multimask else ((0.25, 0.75),)
        masks = []
        no_neg = np.zeros(shape, bool)
        for lo_frac, hi_frac in bands:  # the main edge first, then a little further out, and in
            mask = None
            if neg_seeds.any():  # the split's parts that hold a negative seed go first (touching blobs)
                fg, bg = self._markers(s, mu, b, lo_frac, hi_frac, pos_seeds, no_neg, inbox, ring)
                mask = split_touching(s, self._refine(s, fg, bg, inbox, edge), pos_only, neg_seeds, mu - b, edge)
                if (mask & neg_seeds).any():  # one part: cut at the neck between the clicks
                    mask = cut_at_neck(s, mask, pos_seeds, neg_seeds, mu - b, edge)
            if mask is None:
                fg, bg = self._markers(s, mu, b, lo_frac, hi_frac, pos_seeds, neg_seeds, inbox, ring)
                mask = self._refine(s, fg, bg, inbox, edge)
                mask = split_touching(s, mask, pos_only, neg_seeds, mu - b, edge)  # touching blobs: at the neck
            masks.append(mask)
        return masks

    @staticmethod
    def _markers(s, mu, b, lo_frac, hi_frac, pos_seeds, neg_seeds, inbox, ring):
        """Object markers: connected to the positive seeds above the ``hi_frac`` level (cut away
        from the negative seeds along the valley between them); background markers: below the
        ``lo_frac`` level, the negative seeds and what the cut gave them, the ring outside the box."""
        hi_level, lo_level = b + hi_frac * (mu - b), b + lo_frac * (mu - b)
        fg = _components_at(s, hi_level, pos_seeds, inbox)
        fg |= pos_seeds & (s >= (mu + b) / 2)
        bg = (s <= lo_level) | neg_seeds
        if neg_seeds.any() and (fg & neg_seeds).any():
            both = fg | neg_seeds
            fg = _cut(s, both, pos_seeds, neg_seeds) & ~neg_seeds
            bg |= both & ~fg
        if not fg.any():
            fg = pos_seeds.copy()
        if ring is not None:
            bg |= ring & ~inbox
        return fg, bg & ~fg

    def _refine(self, s, fg, bg, inbox, edge=None) -> np.ndarray:
        """Settle the unmarked band between ``fg`` and ``bg`` markers."""
        markers = np.zeros(s.shape, np.int32)
        markers[bg] = 2
        markers[fg] = 1
        if self.refine == "random_walker":
            from skimage.segmentation import random_walker

            span = float(np.ptp(s)) or 1.0
            labels = markers.copy()
            if inbox is not None:
                labels[~(inbox | bg)] = -1
            try:
                with warnings.catch_warnings():  # its tolerance notes on nearly-settled bands
                    warnings.simplefilter("ignore", UserWarning)
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out = random_walker(s / span, labels, beta=130, mode="cg_j", tol=1e-3) == 1
            except (ValueError, RuntimeError):
                out = fg.copy()
        else:
            from skimage.segmentation import watershed

            mask = None if inbox is None else (inbox | bg)
            out = watershed(gradient_magnitude(s) if edge is None else edge, markers, mask=mask) == 1
        out = _components_at(out.astype(np.float32), 0.5, fg, None)
        out = ndi.binary_fill_holes(out) & ~bg
        if inbox is not None:
            out &= inbox
        return out

    # -- label all -------------------------------------------------------
    def segment_all(self, rgb: np.ndarray, min_size: int = 20) -> list[tuple[np.ndarray, float]]:
        """Bright objects: above half-way from the background to Otsu's threshold, split into locally
        bright cores (``threshold_local``, then a distance-transform watershed at its peaks), each
        grown back to the edge by a watershed on the gradient (see :mod:`.seed_split`)."""
        from skimage.filters import threshold_otsu
        from skimage.segmentation import watershed

        self.set_image(rgb)
        g = self._gray
        if g.max() - g.min() < 1e-6:
            return []
        t = threshold_otsu(g)
        below = g[g <= t]
        bg = float(np.median(below)) if below.size else float(g.min())
        fg = ndi.binary_fill_holes(g > bg + FG_FRAC * (t - bg))  # dim nuclei and edges too: Otsu cuts them
        core = cores(g, fg, float(np.median(g[g > t])) - bg if (g > t).any() else 1.0)
        seg = watershed(gradient_magnitude(g), core, mask=fg)
        out = []
        for i, sl in enumerate(ndi.find_objects(seg), start=1):
            if sl is None:
                continue
            m = np.zeros(g.shape, bool)
            m[sl] = seg[sl] == i
            if m.sum() >= min_size:
                out.append((m, separability(g, m)))
        return out


def _window(mask: np.ndarray, pad: int) -> tuple[slice, slice]:
    """The bounding box of ``mask`` widened by ``pad`` (clipped to the frame)."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    h, w = mask.shape
    return (slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)),
            slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)))  # fmt: skip


def _window_of(box: tuple[slice, slice], shape, pad: int) -> tuple[slice, slice]:
    return tuple(slice(max(b.start - pad, 0), min(b.stop + pad, n)) for b, n in zip(box, shape))


SHRUNK, REGROWN = 0.7, 1.3  # below this share of its peak area, growing this much more is another object
NARROWING, NESTED = 0.85, 0.6  # below this share of its peak area, this much of a mask must lie in its prediction


class _Track:
    """What the tracker knows of one object: its last mask, level, surround and motion."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask  # the last mask it was found with (full frame)
        self.area = int(mask.sum())
        self.peak = self.low = self.area  # its largest area in this run, and its least since that peak
        self.velocity = np.zeros(2)
        self.missed = 0  # frames since it was last found
        self.bright, self.mu, self.b = True, 1.0, 0.0  # in s = +/- grey: the object is bright in s

    def learn(self, gray: np.ndarray, others: np.ndarray, blend: float = 1.0) -> None:
        """Read its level (a median inside) and its surround's (a ring 3-8 px out, other
        objects left out: far enough not to read its own blurred edge)."""
        win = _window(self.mask, 10)
        m, g, others = self.mask[win], gray[win], others[win]
        core = ndi.binary_erosion(m, iterations=1)
        core = core if core.sum() >= 4 else m
        ring = ndi.binary_dilation(m, iterations=8) & ~ndi.binary_dilation(m, iterations=3) & ~others
        if not ring.any():
            ring = ~m
        inside, around = float(np.median(g[core])), float(np.median(g[ring]))
        if blend >= 1.0:
            self.bright = inside >= around
        sign = 1.0 if self.bright else -1.0
        mu, b = sign * inside, sign * around
        if blend < 1.0:
            mu, b = blend * mu + (1 - blend) * self.mu, blend * b + (1 - blend) * self.b
        self.mu, self.b = mu, min(b, mu - 1.0)

    def moved(self, mask: np.ndarray) -> None:
        """Found again with ``mask``: its step since the last mask is the next one's guess."""
        self.velocity = _centroid(mask) - _centroid(self.mask)
        self.mask, self.area = mask, int(mask.sum())
        self.peak = max(self.peak, self.area)
        self.low = self.area if self.area >= self.peak else min(self.low, self.area)

    def regrows(self, area: int) -> bool:
        """Whether ``area`` would have it grow again after it shrank: through the slices of a
        volume an object narrows to its end, and a larger mask after that is the next object
        stacked beyond it (a nucleus above or below), not this one. Measured from its least
        area since its peak, so slow regrowth over several sections counts too."""
        return self.low < SHRUNK * self.peak and area > REGROWN * self.low

    def strays(self, inside: float) -> bool:
        """Whether a mask with this share ``inside`` its prediction leaves the object: once it
        narrows (past its peak) an object's next section lies within its last one; one that
        spreads outside it follows a neighbour."""
        return self.area < NARROWING * self.peak and inside < NESTED

    def predicted(self) -> np.ndarray:
        """Its last mask moved on by its last step (no further than half its size)."""
        win = _window(self.mask, 0)
        reach = 0.5 * max(win[0].stop - win[0].start, win[1].stop - win[1].start, 2)
        dy, dx = np.clip(np.round(self.velocity), -reach, reach).astype(int)
        return _shifted(self.mask, dy, dx)


def _shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    src = mask[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    out[max(dy, 0) : max(dy, 0) + src.shape[0], max(dx, 0) : max(dx, 0) + src.shape[1]] = src
    return out


def _centroid(mask: np.ndarray) -> np.ndarray:
    win = _window(mask, 0)
    rows, cols = np.nonzero(mask[win])
    return np.array([rows.mean() + win[0].start, cols.mean() + win[1].start])


class SeedTracker:
    """Weight-free propagation: every object of a frame is grown at once from where its previous
    mask predicts it (moved on by its last step), in seeded watersheds over all of them, so
    touching objects compete for pixels and keep their identities. An object is accepted only
    mostly inside its prediction, of a similar size and with an edge (after a miss: at least
    half inside, half to twice its size); one absent for ``stop_after`` frames stays stopped
    (unless the user draws it on a keyframe)."""

    name = "seeds"

    def __init__(self, segmenter: SeedGrowSegmenter | None = None, min_overlap: float = 0.2, min_score: float = 0.35) -> None:
        self.segmenter = segmenter or SeedGrowSegmenter()
        self.min_overlap = min_overlap  # of the new mask inside the predicted one, to be the same object
        self.min_score = min_score  # edge contrast below which it is background, not the object

    def track(
        self,
        frames,
        start: int,
        masks: dict[int, np.ndarray],
        direction: str = "forward",
        n_frames: int | None = 30,
        stop_after: int | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        keyframes: dict[int, dict[int, np.ndarray]] | None = None,
    ) -> Iterator[TrackStep]:
        """See :class:`~.tracking.Tracker`. On a keyframe the user's mask of an object is its
        result there (present, score 1) and the seed of the frames after it; no other object
        takes its pixels; an object that had stopped is tracked again from there."""
        masks = {int(i): np.asarray(m, bool) for i, m in masks.items() if np.asarray(m).any()}
        if not masks:
            return
        start_gray = None
        for order in frame_order(start, len(frames), direction, n_frames):
            keys = {}
            for f in order:
                mine = {int(i): np.asarray(m, bool) for i, m in (keyframes or {}).get(f, {}).items() if int(i) in masks}
                mine = {i: m for i, m in mine.items() if m.any()}
                if mine:
                    keys[f] = mine
            if start_gray is None:
                start_gray = self._gray(frames[start])
            tracks = {i: _Track(m) for i, m in masks.items()}
            every = np.logical_or.reduce(list(masks.values()))
            for i, t in tracks.items():
                t.learn(start_gray, every & ~t.mask)
            counter = AbsenceCounter(tracks, stop_after)
            for k, f in enumerate(order):
                if cancelled():
                    break
                if not counter.active and not any(order.index(kf) >= k for kf in keys):
                    break
                mine = keys.get(f, {})
                gray = self._gray(frames[f])
                live = [i for i in sorted(counter.active) if i not in mine]
                found = self._grow(gray, {i: tracks[i] for i in live}, mine)
                step = TrackStep(f)
                stopped = []
                taken = np.logical_or.reduce([m for m, _ in found.values()] + list(mine.values())) if (found or mine) else None
                for i, m in mine.items():  # the user's keyframe: their mask, and the seed from here
                    t = tracks[i]
                    t.mask, t.area, t.velocity, t.missed = m, int(m.sum()), np.zeros(2), 0
                    t.peak = t.low = t.area  # the user drew it here: its size starts again
                    t.learn(gray, taken & ~m)
                    counter.update(i, True)
                    counter.active.add(i)
                    step.objects[i] = ObjectResult(m.copy(), 1.0, True)
                for i in live:
                    t = tracks[i]
                    mask, score = found.get(i, (None, 0.0))
                    present = mask is not None
                    if present:
                        t.moved(mask)
                        t.learn(gray, taken & ~mask, blend=0.5)
                    else:
                        mask = np.zeros(gray.shape, bool)
                    t.missed = 0 if present else t.missed + 1
                    step.objects[i] = ObjectResult(mask, score if present else 0.0, present)
                    if counter.update(i, present):
                        stopped.append(i)
                step.stopped = tuple(stopped)
                yield step

    def _gray(self, rgb: np.ndarray) -> np.ndarray:
        return ndi.gaussian_filter(to_gray(rgb), self.segmenter.smoothing)

    def _grow(self, gray: np.ndarray, tracks: dict[int, _Track], fixed: dict[int, np.ndarray]) -> dict[int, tuple[np.ndarray, float]]:
        """Each object's new mask and score, found where it was predicted; objects not found are
        left out. Two seeded watersheds over all objects at once: object against background on
        the gradient (the edge on the steepest step), then object against object on the intensity
        (touching objects part along the valley between them)."""
        from skimage.segmentation import watershed

        if not tracks:
            return {}
        h, w = gray.shape
        preds = {i: t.predicted() for i, t in tracks.items()}
        union = np.logical_or.reduce(list(preds.values()) + [t.mask for t in tracks.values()])
        size = max(max(np.sqrt(t.area) for t in tracks.values()), 8)
        crop = _window(union, max(8, int(size)))
        g = gray[crop]
        markers = np.zeros(g.shape, np.int32)
        claimed = np.zeros(g.shape, np.int32)
        background = np.ones(g.shape, bool)
        for i, t in tracks.items():
            s = g if t.bright else -g
            background &= s <= t.b + 0.25 * (t.mu - t.b)  # below every object's quarter level
            pred = preds[i][crop]
            if not pred.any():
                continue
            win = _window(pred, 1)
            pred, hi = pred[win], s[win] >= t.b + 0.75 * (t.mu - t.b)
            radius = np.sqrt(max(t.area, 1) / np.pi)
            seed = ndi.binary_erosion(pred, iterations=max(1, int(0.3 * radius))) & hi
            if not seed.any():
                seed = pred & hi
            claimed[win][seed] += 1
            markers[win][seed] = i
        markers[claimed > 1] = 0  # where two predictions meet, the watersheds decide
        for i, m in fixed.items():  # keyframes: fixed, and no one else's
            markers[m[crop]] = i
        if not markers.any():
            return {}
        two = np.where(markers > 0, 1, np.where(background, 2, 0)).astype(np.int32)
        objects = watershed(gradient_magnitude(g), two) == 1
        bright = [t.bright for t in tracks.values()]
        surface = -g if all(bright) else (g if not any(bright) else gradient_magnitude(g))
        basins = watershed(surface, markers, mask=objects | (markers > 0))
        out = {}
        boxes = ndi.find_objects(basins)
        for i, t in tracks.items():
            if i > len(boxes) or boxes[i - 1] is None:
                continue
            win = _window_of(boxes[i - 1], g.shape, 5)
            seed = markers[win] == i
            if not seed.any():
                continue
            region = _components_at((basins[win] == i).astype(np.float32), 0.5, seed, None)
            region = ndi.binary_fill_holes(region)
            for m in fixed.values():
                region &= ~m[crop][win]
            if not region.any():
                continue
            pred = preds[i][crop][win]
            inside = (region & pred).sum() / region.sum()
            growth = region.sum() / max(t.area, 1)
            score = separability(g[win], region)
            least, (small, large) = (0.5, (0.5, 2.0)) if t.missed else (self.min_overlap, (0.25, 4.0))
            if inside < least or not small <= growth <= large or score < self.min_score or t.regrows(int(region.sum())) \
                    or t.strays(inside):
                continue
            full = np.zeros((h, w), bool)
            full[crop][win] = region
            out[i] = (full, score)
        return out


def warm_up() -> None:
    """Load what a first click needs (scikit-image loads its modules lazily, 150 ms) by
    segmenting a small blob: call it in a worker before the user clicks."""
    from ..core.prompts import PromptSet

    rr, cc = np.mgrid[:48, :64]
    touching = ((rr - 24) ** 2 + (cc - 22) ** 2 < 100) | ((rr - 24) ** 2 + (cc - 40) ** 2 < 100)  # two discs
    image = np.repeat((30 + 170 * touching).astype(np.uint8)[..., None], 3, axis=2)
    seg = SeedGrowSegmenter()
    seg.set_image(image)
    seg.predict(PromptSet(points=np.array([[24.0, 22.0]]), labels=np.array([1])))  # the split's modules too
