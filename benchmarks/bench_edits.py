"""Bulk edits on a CT-sized labels layer: our one-undo-step write path against
napari's own ``data_setitem`` (inside ``block_history``) doing the same edit.

    python benchmarks/bench_edits.py [--slices 300] [--size 512]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> dict:
    from napari.components import ViewerModel

    from napari_samlabel.api import start_session
    from napari_samlabel.core import Ontology
    from napari_samlabel.synthetic import disc

    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--size", type=int, default=512)
    a = ap.parse_args()
    viewer = ViewerModel()
    image = viewer.add_image(np.zeros((a.slices, a.size, a.size), np.int16))
    onto = Ontology()
    onto.add("liver")
    s = start_session(viewer, image, ontology=onto)
    mask = disc((a.size, a.size), a.size / 2, a.size / 2, a.size / 5)
    rec = s.commit(mask, region=(a.slices // 2,))
    res = {"slices": a.slices, "size": a.size}

    t0 = time.perf_counter()
    s.annotation.copy_to_frames(rec.id, a.slices // 2, range(a.slices))
    res["ours_copy_to_all_slices_s"] = time.perf_counter() - t0
    before = s.labels.data.copy()

    t0 = time.perf_counter()
    s.annotation.delete_class("liver")
    res["ours_delete_class_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    s.labels.undo()
    res["ours_undo_s"] = time.perf_counter() - t0
    assert (s.labels.data == before).all()

    raw = viewer.add_labels(before.copy())
    t0 = time.perf_counter()
    with raw.block_history():  # napari's own way to make one undo step
        raw.data_setitem(np.nonzero(raw.data == rec.id), 0)
    res["napari_data_setitem_delete_s"] = time.perf_counter() - t0
    res["delete_ratio"] = res["ours_delete_class_s"] / res["napari_data_setitem_delete_s"]
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
