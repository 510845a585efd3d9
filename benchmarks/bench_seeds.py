"""Grow from seeds: a click and a tracked frame, new against the algorithm before issue 13.

    python benchmarks/bench_seeds.py [--size 512] [--rounds 7] [--frames 8] [--old-rev 13f8203] [--clock wall|cpu]

The old algorithm is the package's own code at ``--old-rev`` (``git show`` of
backends/seeds.py and backends/tracking.py, loaded as modules beside the installed
package), so both run on the same inputs in the same process, interleaved (old, new,
old, new...) so a slow spell of a shared machine hits both; figures are medians, and
``speedup`` is old / new (above 1: the new one is faster).

- ``click``: what the Segment dock does per prompt change: ``set_image`` of the windowed
  uint8 plane, then ``predict(multimask=True)``. Planes: the sample fluorescence movie at
  ``--size`` (one click at a nucleus's centre) and a CT-like slice (tests/seeds_cases.py)
  at ``--size`` windowed W400/L40 (a lesion 60 HU above its organ: one click, a box,
  box + 3 clicks). Dice to the truth beside each, and the new segmenter with
  ``refine="random_walker"`` (the alternative to the watershed on the gradient).
- ``track``: seconds per tracked frame (the tracker's generator, ``--frames`` frames): one
  nucleus and all nuclei of the fluorescence movie at ``--size``, the crossing cells of
  tests/seeds_cases.py; IoU to the truth beside each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the cases with truth

CLOCK = {"now": time.perf_counter, "name": "wall"}


def load_old(rev: str) -> tuple:
    """(SeedGrowSegmenter, SeedTracker) as they were at ``rev``, imported beside today's package."""
    out = {}
    for name in ("seeds", "tracking"):
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:src/napari_samlabel/backends/{name}.py"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        modname = f"napari_samlabel.backends._old_{name}"
        mod = types.ModuleType(modname)
        mod.__package__ = "napari_samlabel.backends"
        sys.modules[modname] = mod
        exec(compile(src, f"{rev}:backends/{name}.py", "exec"), mod.__dict__)
        out[name] = mod
    return out["seeds"].SeedGrowSegmenter, out["tracking"].SeedTracker


def _timed(fn):
    t0 = CLOCK["now"]()
    res = fn()
    return CLOCK["now"]() - t0, res


def _dice(a, b) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def _iou(a, b) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def click_cases(size: int) -> list[tuple[str, np.ndarray, object, np.ndarray]]:
    from scipy import ndimage as ndi
    from seeds_cases import ct_lesion_plane

    from napari_samlabel.core.planes import window_to_uint8
    from napari_samlabel.core.prompts import PromptSet
    from napari_samlabel.synthetic import fluorescence_timelapse

    def centre(m):
        d = ndi.distance_transform_edt(m)
        return np.unravel_index(np.argmax(d), d.shape)

    image, truth = fluorescence_timelapse(n_frames=1, size=size, n_cells=12, seed=1)
    cell = truth[0] == 2
    rgb_f = window_to_uint8(image[0], (float(image.min()), float(image.max())))
    rgb_ct, lesion, organ = ct_lesion_plane(0, size=size)
    rows, cols = np.nonzero(lesion)
    box = [rows.min() - 2, cols.min() - 2, rows.max() + 2, cols.max() + 2]
    near = organ & ~ndi.binary_dilation(lesion, iterations=2)
    corner = (box[0] + 1, box[1] + 1) if near[box[0] + 1, box[1] + 1] else (box[2] - 1, box[3] - 1)
    far = np.argwhere(organ & ~ndi.binary_dilation(lesion, iterations=15))[0]
    return [
        ("nucleus, one click", rgb_f, PromptSet([centre(cell)], [1]), cell),
        ("CT lesion, one click", rgb_ct, PromptSet([centre(lesion)], [1]), lesion),
        ("CT lesion, box", rgb_ct, PromptSet(box=box), lesion),
        ("CT lesion, box + 3 clicks", rgb_ct, PromptSet([centre(lesion), corner, far], [1, 0, 0], box), lesion),
    ]


def click(size: int, rounds: int, Old) -> dict:
    from napari_samlabel.backends.seeds import SeedGrowSegmenter

    segs = {"old": Old(), "new": SeedGrowSegmenter(), "new_random_walker": SeedGrowSegmenter(refine="random_walker")}
    out = {}
    for name, rgb, prompts, truth in click_cases(size):
        times = {k: [] for k in segs}
        dices = {}
        for _ in range(rounds):
            for k, seg in segs.items():
                t, pred = _timed(lambda: (seg.set_image(rgb), seg.predict(prompts, multimask=True))[1])
                times[k].append(t)
                dices[k] = round(_dice(pred.masks[0], truth), 3)
        med = {k: statistics.median(v) for k, v in times.items()}
        out[name] = {
            "ms": {k: round(v * 1000, 1) for k, v in med.items()},
            "speedup": round(med["old"] / med["new"], 2),
            "random_walker_vs_watershed": round(med["new_random_walker"] / med["new"], 2),
            "dice": dices,
        }
    return out


def track(size: int, rounds: int, n_frames: int, Old, OldTracker) -> dict:
    from seeds_cases import crossing_cells

    from napari_samlabel.backends.seeds import SeedTracker
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane
    from napari_samlabel.synthetic import fluorescence_timelapse

    image, truth = fluorescence_timelapse(n_frames=n_frames, size=size, n_cells=12, seed=1)
    ids = [int(i) for i in np.unique(truth[0]) if i and i != 1]  # 1 leaves the field
    cross, cross_truth = crossing_cells(n_frames=max(n_frames, 12))
    cases = [
        ("one nucleus", image, truth, [ids[0]]),
        (f"all {len(ids)} nuclei", image, truth, ids),
        ("crossing cells (96 px)", cross, cross_truth, [1, 2]),
    ]
    out = {}
    for name, img, tr, which in cases:
        frames = FrameSource(img, Plane(img.shape, (1, 2), (0, 0, 0)), 0, (float(img.min()), float(img.max())))
        start = {i: tr[0] == i for i in which}
        trackers = {"old": OldTracker(Old()), "new": SeedTracker()}
        times = {k: [] for k in trackers}
        quality = {}
        for _ in range(rounds):
            for k, tracker in trackers.items():
                t, steps = _timed(lambda: list(tracker.track(frames, 0, start, "forward", n_frames=None)))
                times[k].append(t / max(len(steps), 1))
                ious = [_iou(s.objects[i].mask, tr[s.frame] == i) if i in s.objects else 0.0 for s in steps for i in which]
                quality[k] = {"iou_mean": round(float(np.mean(ious)), 3), "iou_min": round(float(np.min(ious)), 3)}
        med = {k: statistics.median(v) for k, v in times.items()}
        out[name] = {"ms_per_frame": {k: round(v * 1000, 1) for k, v in med.items()},
                     "speedup": round(med["old"] / med["new"], 2), "iou": quality}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512, help="plane size in pixels")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--old-rev", default="13f8203", help="the commit whose seeds code is 'old'")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    a = ap.parse_args()
    if a.clock == "cpu":
        CLOCK.update(now=time.process_time, name="cpu")
    Old, OldTracker = load_old(a.old_rev)
    res = {"clock": CLOCK["name"], "size": a.size, "old": a.old_rev, "click": click(a.size, a.rounds, Old),
           "track": track(a.size, a.rounds, a.frames, Old, OldTracker)}  # fmt: skip
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
