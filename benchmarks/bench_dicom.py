"""Reading a 512 x 512 x 600 CT series: napari-samlabel's reader vs a plain pydicom loop.

    python benchmarks/bench_dicom.py [--slices 600] [--size 512] [--repeats 3]

The plain loop is what a user would write: dcmread every file, take pixel_array,
stack. Ours also groups series, orders slices along the normal, checks spacing
and applies the rescale. The series is written once to a temporary folder with
shuffled file names; the OS cache is warm for both (each is run after a warm-up).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> dict:
    import pydicom

    from dicom_helpers import write_dicom_series
    from napari_samlabel.io.dicom import read_dicom_series

    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", type=int, default=600)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ct"
        slab = rng.integers(-1000, 2000, (a.size, a.size)).astype(np.int16)
        write_dicom_series(folder, np.broadcast_to(slab, (a.slices, a.size, a.size)), spacing=(1.0, 0.7, 0.7))
        files = sorted(folder.iterdir())

        def plain():
            return np.stack([pydicom.dcmread(f).pixel_array for f in files])

        def ours():
            return read_dicom_series(folder)[0]

        plain(), ours()  # warm the OS cache
        times = {"plain": [], "ours": []}
        for _ in range(a.repeats):  # interleaved, so a slow spell of the machine hits both
            times["plain"].append(_time(plain))
            times["ours"].append(_time(ours))
        t_plain, t_ours = statistics.median(times["plain"]), statistics.median(times["ours"])
    res = {"slices": a.slices, "size": a.size, "plain_pydicom_s": t_plain, "ours_s": t_ours, "ratio": t_ours / t_plain}
    print(json.dumps(res))
    return res


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
