"""Size on disk, save and open time of a project of an MNI-like CT/MR volume labelled with organs.

    python benchmarks/bench_project_size.py [--shape 189 233 197] [--repeats 5]

The labels are what a session holds in memory (uint32, 189 slices of 233 x 197, the MNI
template's grid): six ellipsoid "organs" over about a third of the volume, a few voxels of
noise at their borders as brushing leaves. ``save_project`` then ``load_project``, medians of
``--repeats`` runs (the OS cache warm). Run it with another checkout's ``src`` first on
PYTHONPATH to measure that version (labels.npy before labels.zarr).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def organs(shape, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[tuple(slice(0, n) for n in shape)]
    out = np.zeros(shape, np.uint32)
    for label in range(1, 7):
        c = [rng.uniform(0.3, 0.7) * n for n in shape]
        r = [rng.uniform(0.08, 0.2) * n for n in shape]
        inside = ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2
        ragged = inside < 1 + 0.05 * rng.standard_normal(shape)  # a brushed border, not a perfect one
        out[ragged] = label
    return out


def main() -> dict:
    from napari_samlabel.core.instances import InstanceTable
    from napari_samlabel.core.ontology import Ontology
    from napari_samlabel.io.project import load_project, save_project

    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", type=int, nargs=3, default=[189, 233, 197])
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    labels = organs(tuple(a.shape))
    onto = Ontology()
    onto.add("organ")
    table = InstanceTable()
    for i in range(1, 7):
        table.adopt(i, "organ")
    saves, opens = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ct.samlabel"
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            save_project(folder, labels, onto, table, {"frame_axis": 0})
            saves.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            back = load_project(folder)[0]
            opens.append(time.perf_counter() - t0)
        assert np.array_equal(np.asarray(back), labels)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        names = sorted(p.name for p in folder.iterdir())
    result = {"shape": list(labels.shape), "in_memory_bytes": labels.nbytes, "project_bytes": size,
              "save_s": round(statistics.median(saves), 3), "open_s": round(statistics.median(opens), 3),
              "opened_dtype": str(back.dtype), "files": names}  # fmt: skip
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
