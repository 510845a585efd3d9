"""Tracking: per-frame cost against SAM 2's own video predictor, and memory vs stack length.

    python benchmarks/bench_tracking.py speed  [--frames 8]   # ratio to propagate_in_video on a JPEG folder
    python benchmarks/bench_tracking.py memory [--frames 12]  # peak memory, N vs 4N frames

Models are built from the sam2 package config with random weights (speed and
memory do not depend on them). ``speed`` uses the full 1024 px tiny model;
``memory`` the 256 px one so that 4N frames run in a minute or two. Each memory
run is a fresh process; the figure is the peak resident memory during tracking
above the process's resident memory just before it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SMALL = [
    "++model.image_size=256",
    "++model.memory_attention.layer.self_attention.feat_sizes=[16,16]",
    "++model.memory_attention.layer.cross_attention.feat_sizes=[16,16]",
]


def movie(n_frames: int, size: int):
    from napari_samlabel.synthetic import fluorescence_timelapse

    image, truth = fluorescence_timelapse(n_frames=n_frames, size=size, n_cells=6, seed=1)
    return image, truth


def frames_of(image):
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane

    return FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))


def speed(n: int, size: int) -> dict:
    import torch
    from PIL import Image

    from napari_samlabel.backends.sam2 import build_model
    from napari_samlabel.backends.sam2_video import Sam2Tracker

    torch.manual_seed(0)
    model = build_model(CONFIG, None, "cpu")
    image, truth = movie(n + 1, size)
    frames = frames_of(image)
    masks = {1: truth[0] == 2, 2: truth[0] == 3}
    with tempfile.TemporaryDirectory() as tmp:
        for t in range(len(frames)):  # what SAM 2 wants: a JPEG folder
            Image.fromarray(frames[t]).save(Path(tmp) / f"{t:05d}.jpg", quality=95)
        with torch.inference_mode():
            state = model.init_state(tmp)
            for i, m in masks.items():
                model.add_new_mask(state, 0, i, m)
            t0 = time.perf_counter()
            raw = [f for f, _, _ in model.propagate_in_video(state, 0, n)]
            raw_s = time.perf_counter() - t0
    tracker = Sam2Tracker(model)
    t0 = time.perf_counter()
    ours = [s.frame for s in tracker.track(frames, 0, masks, "forward", n_frames=n + 1)]
    ours_s = time.perf_counter() - t0
    # raw includes the conditioning frame 0 (no model work); ours starts at frame 1
    res = {
        "frames": n,
        "plane": [size, size],
        "raw_s_per_frame": raw_s / (len(raw) - 1),
        "ours_s_per_frame": ours_s / len(ours),
        "note": "ours includes init_state, reading and windowing planes; raw excludes init_state (frame loading)",
    }
    res["ratio"] = res["ours_s_per_frame"] / res["raw_s_per_frame"]
    return res


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def memory_run(n: int, size: int, raw: bool) -> dict:
    """One process: peak resident memory while tracking n frames, above the start."""
    import torch

    from napari_samlabel.backends.sam2 import build_model
    from napari_samlabel.backends.sam2_video import Sam2Tracker

    torch.manual_seed(0)
    model = build_model(CONFIG, None, "cpu", SMALL)
    image, truth = movie(n + 1, size)
    frames = frames_of(image)
    masks = {1: truth[0] == 2}
    peak = [0]
    running = [True]

    def sample():
        while running[0]:
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    if raw:  # SAM 2 as shipped: all frames loaded, no pruning
        from PIL import Image

        tmp = tempfile.mkdtemp()
        for t in range(len(frames)):
            Image.fromarray(frames[t]).save(Path(tmp) / f"{t:05d}.jpg", quality=95)
    base = _rss()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    if raw:
        with torch.inference_mode():
            state = model.init_state(tmp)
            model.add_new_mask(state, 0, 1, masks[1])
            for _ in model.propagate_in_video(state, 0, n):
                pass
    else:
        for _ in Sam2Tracker(model).track(frames, 0, masks, "forward", n_frames=n + 1):
            pass
    running[0] = False
    thread.join()
    return {"frames": n, "peak_above_start_MiB": (peak[0] - base) / 2**20}


def memory(n: int, size: int) -> dict:
    out = {}
    for name, raw in (("ours", False), ("raw_sam2", True)):
        for k in (n, 4 * n):
            cmd = [sys.executable, __file__, "_memory_run", "--frames", str(k), "--size", str(size)] + (["--raw"] if raw else [])
            got = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
            out[f"{name}_{k}_MiB"] = got["peak_above_start_MiB"]
        out[f"{name}_ratio_4N_over_N"] = out[f"{name}_{4 * n}_MiB"] / out[f"{name}_{n}_MiB"]
    out.update(frames_N=n, plane=[size, size], model="tiny, 256 px")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["speed", "memory", "_memory_run"])
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--raw", action="store_true")
    a = ap.parse_args()
    if a.what == "speed":
        res = speed(a.frames or 8, a.size or 256)
    elif a.what == "memory":
        res = memory(a.frames or 12, a.size or 256)
    else:
        res = memory_run(a.frames, a.size, a.raw)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
