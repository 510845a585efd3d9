"""Images larger than memory: a lazy (dask) image whose labels live in a chunked zarr array
on disk, against the numpy labels path at a size that fits.

For each path, in a fresh process: session start, commit and undo of one frame, then
"copy to all frames" and "delete the class" over every frame (the bulk edits), each with
its time and its peak resident memory above what the process held just before (sampled
every 2 ms). The image is a dask array of uint8 noise, one chunk per frame, given its
contrast limits so napari does not read it to guess them; the runs also count the image
frames read (none: neither the session nor these edits read the image).

    python benchmarks/bench_large.py                   # 5000 x 1024 x 1024 on disk; 2000 x 512 x 512 both ways
    python benchmarks/bench_large.py --quick           # 300 x 512 x 512 on disk; 200 x 256 x 256 both ways
    python benchmarks/bench_large.py --frames 1000 --size 1024 --ref-frames 500 --ref-size 512
    python benchmarks/bench_large.py --compare-src /path/to/old/src   # also the numpy path of another checkout

Prints one JSON object: ``large`` (the big lazy image, absolute figures), ``disk`` and
``numpy`` at the reference size, and ``ratios`` (disk / numpy: seconds and peak memory).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time


class Peak:
    """Peak RSS above the level at entry, sampled in a thread."""

    def __init__(self, proc) -> None:
        self.proc = proc

    def __enter__(self):
        self.base = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.perf_counter()
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def extra_mb(self) -> float:
        return round((self.peak - self.base) / 2**20, 1)


def one(path: str, frames: int, size: int) -> dict:
    """One path in this process: ``disk`` (zarr labels) or ``numpy``."""
    import numpy as np
    import psutil

    if "SAMLABEL_CACHE" not in os.environ:  # the working arrays go to a folder removed at exit
        import atexit
        import shutil

        os.environ["SAMLABEL_CACHE"] = tempfile.mkdtemp(prefix="samlabel-bench-")
        atexit.register(shutil.rmtree, os.environ["SAMLABEL_CACHE"], True)
    proc = psutil.Process()
    import dask.array as da
    from napari.components import ViewerModel

    from napari_samlabel.api import AnnotationSession
    from napari_samlabel.core import Ontology
    from napari_samlabel.synthetic import disc

    read: set[int] = set()

    def noise(block_id=None):
        read.add(block_id[0])
        return np.random.default_rng(block_id[0]).integers(0, 255, (1, size, size), dtype=np.uint8)

    image = da.map_blocks(noise, dtype=np.uint8, chunks=((1,) * frames, (size,), (size,)))
    onto = Ontology()
    onto.add("cell")
    viewer = ViewerModel()
    layer = viewer.add_image(image, contrast_limits=(0, 255), name="big")
    res = {"path": path, "frames": frames, "size": size, "labels_gib": round(frames * size * size * 4 / 2**30, 2)}
    res["rss_before_start_mb"] = round(proc.memory_info().rss / 2**20)
    kwargs = {"labels_on_disk": path == "disk"}
    with Peak(proc) as p:
        try:
            s = AnnotationSession(layer, ontology=onto, viewer=viewer, **kwargs)
        except TypeError:  # a checkout from before labels on disk: numpy only
            s = AnnotationSession(layer, ontology=onto, viewer=viewer)
    res["start_s"], res["start_extra_mb"] = round(p.seconds, 3), p.extra_mb
    res["labels_type"] = type(s.labels.data).__module__.split(".")[0]
    mid = frames // 2
    mask = disc((size, size), size / 2, size / 2, size / 5)
    s.commit(mask, region=(0,))  # warm-up (napari's colour tables, first allocations)
    s.labels.undo()
    commits, undos = [], []
    for f in (mid - 1, mid + 1, mid):  # the median of three, each on a frame of its own
        with Peak(proc) as p:
            rec = s.commit(mask, region=(f,))
        commits.append(p.seconds)
        with Peak(proc) as p:
            s.labels.undo()
        undos.append(p.seconds)
        assert not (np.asarray(s.labels.data[f]) == rec.id).any()
    res["commit_one_frame_s"] = round(sorted(commits)[1], 4)
    res["undo_one_frame_s"] = round(sorted(undos)[1], 4)
    s.labels.redo()
    with Peak(proc) as p:
        s.annotation.copy_to_frames(rec.id, mid, range(frames))
    res["copy_to_all_frames_s"], res["copy_to_all_frames_extra_mb"] = round(p.seconds, 2), p.extra_mb
    with Peak(proc) as p:
        n = s.annotation.delete_class("cell")
    res["delete_class_s"], res["delete_class_extra_mb"] = round(p.seconds, 2), p.extra_mb
    res["pixels_deleted"] = int(n)
    with Peak(proc) as p:
        s.labels.undo()
    res["undo_delete_s"], res["undo_delete_extra_mb"] = round(p.seconds, 2), p.extra_mb
    back = sum(int((np.asarray(s.labels.data[f]) == rec.id).sum()) for f in (0, mid, frames - 1))
    assert back == 3 * int(mask.sum()), "undo did not bring the class back"
    res["peak_rss_mb"] = round(proc.memory_info().rss / 2**20)
    try:
        import resource

        res["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    except ImportError:
        pass
    res["image_frames_read"] = len(read)
    return res


def run(path: str, frames: int, size: int, src: str | None = None) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--one", path, "--frames", str(frames), "--size", str(size)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        return {"path": path, "frames": frames, "size": size, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes: a minute, not a quarter of an hour")
    ap.add_argument("--frames", type=int, help="frames of the large lazy image (default 5000; quick 300)")
    ap.add_argument("--size", type=int, help="its plane size (default 1024; quick 512)")
    ap.add_argument("--ref-frames", type=int, help="frames for the numpy comparison (default 2000; quick 200)")
    ap.add_argument("--ref-size", type=int, help="its plane size (default 512; quick 256)")
    ap.add_argument("--compare-src", help="also run the numpy path with this src folder first on sys.path")
    ap.add_argument("--one", choices=("disk", "numpy"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.frames, a.size)))
        return {}
    frames = a.frames or (300 if a.quick else 5000)
    size = a.size or (512 if a.quick else 1024)
    ref_frames = a.ref_frames or (200 if a.quick else 2000)
    ref_size = a.ref_size or (256 if a.quick else 512)
    res = {"large": run("disk", frames, size)}
    res["disk"] = run("disk", ref_frames, ref_size)
    res["numpy"] = run("numpy", ref_frames, ref_size)
    if a.compare_src:
        res["numpy_compare_src"] = run("numpy", ref_frames, ref_size, a.compare_src)
    d, n = res["disk"], res["numpy"]
    if "error" not in d and "error" not in n:
        keys = ("start_s", "commit_one_frame_s", "undo_one_frame_s", "copy_to_all_frames_s", "delete_class_s",
                "undo_delete_s", "copy_to_all_frames_extra_mb", "delete_class_extra_mb", "undo_delete_extra_mb")
        res["ratios"] = {f"disk/numpy {k}": round(d[k] / n[k], 2) if n[k] else None for k in keys}
        labels_mb = n["labels_gib"] * 1024
        res["ratios"]["numpy delete_class_extra / labels"] = round(n["delete_class_extra_mb"] / labels_mb, 3)
        res["ratios"]["disk delete_class_extra / labels"] = round(d["delete_class_extra_mb"] / labels_mb, 3)
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
