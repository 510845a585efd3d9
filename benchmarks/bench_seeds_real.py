"""Grow from seeds on a real image (issue 25): the DSB 2018 fluorescence field in tests/data
(125 hand-made nuclei), each half on its own (tune on one, check the other).

    python benchmarks/bench_seeds_real.py [--old-rev 0310f1a~1]

- ``click``: one click at each nucleus' innermost pixel (objects not cut by the border):
  mean Dice of isolated and of touching nuclei; for each touching pair, a negative click on the
  neighbour added (Dice change); click median (ms, ``predict`` only).
- ``label_all``: average precision at IoU 0.5 (TP / (TP + FP + FN), the DSB 2018 measure at one
  threshold) of ``segment_all`` against scikit-image's classical pipeline (Otsu, holes filled,
  distance-transform watershed seeded by ``peak_local_max``).

``--old-rev`` loads the seeds code of that commit beside today's for the same figures ("before").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def load_old(rev: str):
    """SeedGrowSegmenter as it was at ``rev`` (its seeds.py, imported beside today's package)."""
    import subprocess
    import types

    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:src/napari_samlabel/backends/seeds.py"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    mod = types.ModuleType("napari_samlabel.backends._old_seeds")
    mod.__package__ = "napari_samlabel.backends"
    sys.modules[mod.__name__] = mod
    exec(compile(src, f"{rev}:backends/seeds.py", "exec"), mod.__dict__)
    return mod.SeedGrowSegmenter


def halves(lab):
    from real_nuclei import click_point, objects

    out = {"left": [], "right": []}
    for i in objects(lab):
        out["left" if click_point(lab == i)[1] < lab.shape[1] // 2 else "right"].append(i)
    return out


def click(seg, img, lab) -> dict:
    from real_nuclei import as_rgb, click_point, dice, touching

    from napari_samlabel.core.prompts import PromptSet

    seg.set_image(as_rgb(img))
    res, times = {}, []
    for side, ids in halves(lab).items():
        iso, tch, neg = [], [], []
        for i in ids:
            m = lab == i
            p = click_point(m)
            t0 = time.perf_counter()
            d = dice(seg.predict(PromptSet([p], [1])).masks[0], m)
            times.append(time.perf_counter() - t0)
            nb = touching(lab, i)
            (tch if nb else iso).append(d)
            for j in nb:
                q = click_point(lab == j)
                neg.append(dice(seg.predict(PromptSet([p, q], [1, 0])).masks[0], m) - d)
        neg = np.array(neg)
        res[side] = {"isolated": [len(iso), round(float(np.mean(iso)), 3)],
                     "touching": [len(tch), round(float(np.mean(tch)), 3)],
                     "negative_clicks": len(neg), "worse_by_0.02": int((neg < -0.02).sum()),
                     "worse_by_0.05": int((neg < -0.05).sum()), "worst": round(float(neg.min()), 2)}  # fmt: skip
    res["click_ms_median"] = round(float(np.median(times)) * 1000, 1)
    return res


def classical(img) -> np.ndarray:
    """scikit-image's textbook nuclei: Otsu, holes filled, distance-transform watershed at peak_local_max."""
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.segmentation import watershed

    g = ndi.gaussian_filter(img.astype(np.float32), 1.0)
    fg = ndi.binary_fill_holes(g > threshold_otsu(g))
    d = ndi.distance_transform_edt(fg)
    peaks = peak_local_max(d, min_distance=7, labels=ndi.label(fg)[0], exclude_border=False)
    markers = np.zeros(g.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-d, markers, mask=fg)


def to_labels(found, shape) -> np.ndarray:
    out = np.zeros(shape, np.int32)
    for k, (m, _) in enumerate(found, start=1):
        out[m & (out == 0)] = k
    return out


def average_precision(pred: np.ndarray, truth: np.ndarray, cols: slice, thr: float = 0.5) -> float:
    """TP / (TP + FP + FN) at IoU ``thr`` for the objects whose centre lies in ``cols``."""
    from scipy import ndimage as ndi

    def ids_in(lab):
        out = []
        for i, sl in enumerate(ndi.find_objects(lab), start=1):
            if sl is not None:
                c = (sl[1].start + sl[1].stop) / 2
                if cols.start <= c < cols.stop:
                    out.append(i)
        return out

    t_ids, p_ids = ids_in(truth), ids_in(pred)
    matched, tp = set(), 0
    for i in t_ids:
        t = truth == i
        cand = np.unique(pred[t])
        best = 0.0, None
        for j in cand[cand > 0]:
            pj = pred == j
            iou = (t & pj).sum() / (t | pj).sum()
            if iou > best[0]:
                best = iou, j
        if best[0] > thr and best[1] not in matched:
            matched.add(best[1])
            tp += 1
    fp = len([j for j in p_ids if j not in matched])
    fn = len(t_ids) - tp
    return tp / max(tp + fp + fn, 1)


def label_all(seg, img, lab) -> dict:
    from real_nuclei import as_rgb

    w = lab.shape[1]
    ours = to_labels(seg.segment_all(as_rgb(img)), lab.shape)
    ref = classical(img)
    out = {}
    for side, cols in (("left", slice(0, w // 2)), ("right", slice(w // 2, w))):
        out[side] = {"seeds": round(average_precision(ours, lab, cols), 3),
                     "classical": round(average_precision(ref, lab, cols), 3)}  # fmt: skip
    return out


def main() -> None:
    from real_nuclei import nuclei_2d

    from napari_samlabel.backends.seeds import SeedGrowSegmenter

    ap = argparse.ArgumentParser()
    ap.add_argument("--old-rev", default=None, help="also measure the seeds code of this commit")
    a = ap.parse_args()
    img, lab = nuclei_2d()
    segs = {"now": SeedGrowSegmenter()}
    if a.old_rev:
        segs[a.old_rev] = load_old(a.old_rev)()
    res = {name: {"click": click(seg, img, lab), "label_all_ap50": label_all(seg, img, lab)} for name, seg in segs.items()}
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
