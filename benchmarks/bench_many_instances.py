"""The cost of one edit against the number of instances (issue 22, item 14): a commit, a lock,
a status change, an undo, at 100, 10,000 and 50,000 instances, in one run; and a commit with a
3-class against a 1,000-class ontology. Each figure is the median of ``--repeat`` edits; the
ratios are against the 100-instance session (same run, same machine), and napari's own
``paint`` of the same pixels on a raw Labels layer of the same size is the library's floor.

    python benchmarks/bench_many_instances.py [--counts 100 10000 50000] [--repeat 15] [--profile]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

SIDE = 1024  # the image; instances are 3x3 squares on a 4-pixel grid, the top rows kept free


def session_with(n: int, classes: int = 3):
    from napari.components import ViewerModel

    from napari_samlabel.api import start_session
    from napari_samlabel.core import Ontology
    from napari_samlabel.synthetic import instance_grid

    onto = Ontology()
    for k in range(classes):
        onto.add(f"class {k}")
    viewer = ViewerModel()
    image = viewer.add_image(np.zeros((SIDE, SIDE), np.uint8), name="tissue")
    labels = viewer.add_labels(instance_grid(n, SIDE), name="cells")
    return viewer, start_session(viewer, image, labels=labels, ontology=onto)


def timed(fn, repeat: int) -> float:
    times = []
    for k in range(repeat):
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def edits(n: int, repeat: int, classes: int = 3) -> dict:
    viewer, s = session_with(n, classes)
    ids = sorted(r.id for r in s.table.present())
    assert len(ids) == n, len(ids)
    disc = np.zeros((SIDE, SIDE), bool)

    def commit(k):
        disc[:] = False
        disc[2 + 4 * (k % 12): 5 + 4 * (k % 12), 8 * k % SIDE: 8 * k % SIDE + 6] = True
        s.commit(disc)

    out = {"commit_ms": timed(commit, repeat) * 1e3}
    out["lock_ms"] = timed(lambda k: s.annotation.set_locked([ids[k]], True), repeat) * 1e3
    out["status_ms"] = timed(lambda k: s.annotation.set_status([ids[k]], "accepted"), repeat) * 1e3
    out["undo_ms"] = timed(lambda k: s.labels.undo(), min(repeat, 10)) * 1e3

    # napari's own floor on the same input: its brush on a raw layer with the session's colours
    # (napari maps every label of a direct colour map at each repaint: napari/napari#6732)
    from napari_samlabel.synthetic import instance_grid

    raw = viewer.add_labels(instance_grid(n, SIDE), name="raw", colormap=s.labels.colormap)
    raw.brush_size = 3
    out["napari_paint_ms"] = timed(lambda k: raw.paint((30, 8 * k % SIDE + 3), n + k + 1), repeat) * 1e3
    out["napari_refresh_ms"] = timed(lambda k: s.labels.refresh(), repeat) * 1e3
    # a commit repaints once: what is ours is the rest
    out["commit_without_repaint_ms"] = out["commit_ms"] - out["napari_refresh_ms"]
    out["undo_without_repaint_ms"] = out["undo_ms"] - out["napari_refresh_ms"]
    s.close()
    return out


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", type=int, nargs="+", default=[100, 10_000, 50_000])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--profile", action="store_true", help="cProfile the commits at the largest count")
    a = ap.parse_args()
    res = {"counts": a.counts}
    edits(a.counts[0], 3)  # warm-up: first calls (imports, napari's caches) are not an edit's cost
    for n in a.counts:
        res[n] = edits(n, a.repeat)
    base = res[a.counts[0]]
    for n in a.counts[1:]:
        res[f"ratio_{n}_vs_{a.counts[0]}"] = {k.replace("_ms", ""): round(res[n][k] / base[k], 2) for k in base}
    res["classes_3"] = edits(100, a.repeat, classes=3)["commit_ms"]
    res["classes_1000"] = edits(100, a.repeat, classes=1000)["commit_ms"]
    res["ratio_commit_1000_vs_3_classes"] = round(res["classes_1000"] / res["classes_3"], 2)
    if a.profile:
        import cProfile
        import pstats

        viewer, s = session_with(a.counts[-1])
        m = np.zeros((SIDE, SIDE), bool)
        m[10:13, 10:16] = True
        pr = cProfile.Profile()
        pr.enable()
        for k in range(5):
            m = np.roll(m, 8, axis=1)
            s.commit(m)
        pr.disable()
        pstats.Stats(pr).sort_stats("cumulative").print_stats(25)
    print(json.dumps(res, indent=1, default=lambda v: round(v, 2)))
    return res


if __name__ == "__main__":
    main()
