"""Fast mode and reused embeddings, as ratios to raw fp32 sam2 on the same input, in one run.

    python benchmarks/bench_fast.py speed   [--size 512] [--rounds 5] [--frames 4] [--track-rounds 3]
    python benchmarks/bench_fast.py reuse   [--frames 4] [--fast]
    python benchmarks/bench_fast.py explore [--rounds 5] [--compile]
    python benchmarks/bench_fast.py memory  [--frames 6 24] [--model-px 256]
    python benchmarks/bench_fast.py profile [--threads 1]

Model: SAM 2.1 tiny built from the package config (1024 px) with random weights (speed does
not depend on the weights); the plane is the synthetic fluorescence time-lapse windowed to
uint8 RGB. Raw and ours run interleaved (raw, ours, raw, ours...) so a slow spell of a shared
machine hits both; figures are medians.

- ``speed``: fast mode (bf16 autocast, channels-last input) against raw fp32 sam2:
  ``SAM2ImagePredictor.set_image`` (embedding), ``.predict`` (decode) and a tracked frame of
  ``propagate_in_video`` on sam2's own ``init_state`` (a JPEG folder), and our fp32 path
  beside them (the start plane embedded while prompting, as in use); agreement with fp32
  beside it: relative error of the embeddings, IoU of the masks from the same prompts
  (and of the top half of the logits: random weights make near-empty or near-full masks),
  IoU of tracked masks.
- ``reuse``: seconds saved when tracking starts from the plane embedded while prompting,
  and when a tracked range is tracked again after a correction (encoder runs counted).
- ``explore``: encoder-only timings of what else might help on this CPU (kept or rejected).
- ``memory``: peak resident memory (whole process, and above its start) for each frame count,
  each in a fresh process: raw sam2 (``init_state`` on a JPEG folder), the one-shot
  ``samlabel track`` (:func:`headless.track_objects`) and the dock's tracker (every frame's
  features kept for re-tracking); the ratio of the largest count to the smallest.
- ``profile``: where the encoder's FLOPs go (linear layers, attention products, convolutions)
  and an fp32 op-level time profile: what bf16 would need to accelerate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SMALL = [
    "++model.image_size=256",
    "++model.memory_attention.layer.self_attention.feat_sizes=[16,16]",
    "++model.memory_attention.layer.cross_attention.feat_sizes=[16,16]",
]


def _setup(n_frames: int, size: int, overrides=()):
    import torch

    from napari_samlabel.backends.sam2 import build_model
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane
    from napari_samlabel.synthetic import fluorescence_timelapse

    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    model = build_model(CONFIG, None, "cpu", list(overrides))
    image, truth = fluorescence_timelapse(n_frames=n_frames, size=size, n_cells=12, seed=1)
    frames = FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))
    return model, image, truth, frames


CLOCK = {"now": time.perf_counter, "name": "wall"}


def _now() -> float:
    """Wall seconds, or with --clock cpu this process's CPU seconds: with --threads 1 that is the
    work itself, whatever else runs on a shared machine (wall time there is mostly waiting)."""
    return CLOCK["now"]()


def _timed(fn) -> float:
    t0 = _now()
    fn()
    return _now() - t0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _rel(a, b) -> float:
    a, b = a.float(), b.float()
    return float((a - b).norm() / b.norm())


def _jpeg_state(model, frames, tmp: str):
    """sam2 as shipped: a JPEG folder, loaded and frame 0 embedded by init_state."""
    from PIL import Image

    for t in range(len(frames)):
        Image.fromarray(frames[t]).save(Path(tmp) / f"{t:05d}.jpg", quality=95)
    return model.init_state(tmp)


def seg_warm_up(seg, frames, masks):
    return seg.tracker().track(frames, 0, masks, "forward", 3)


def speed(size: int, rounds: int, n: int, track_rounds: int) -> dict:
    import torch
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    from napari_samlabel.backends.sam2 import Sam2Segmenter
    from napari_samlabel.core.prompts import PromptSet

    model, image, truth, frames = _setup(n + 1, size)
    rgb = frames[0]
    raw = SAM2ImagePredictor(model)
    fast = Sam2Segmenter(model, "fast", fast=True)
    exact = Sam2Segmenter(model, "exact")
    if not fast.fast:  # nothing to compare: say why, as the dock does
        raise SystemExit(f"bench_fast.py speed: {fast.fast_message}")

    def raw_embed():
        with torch.inference_mode():
            raw.set_image(rgb)

    def our_embed(seg):
        seg.cache.clear()
        seg._key = None
        seg.set_image(rgb)

    raw_embed(), our_embed(fast), our_embed(exact)  # warm-up (oneDNN picks kernels once)
    emb = {"raw": [], "fast": [], "ours_fp32": []}
    for _ in range(rounds):
        emb["raw"].append(_timed(raw_embed))
        emb["fast"].append(_timed(lambda: our_embed(fast)))
        emb["ours_fp32"].append(_timed(lambda: our_embed(exact)))

    # agreement of the embeddings (fast vs raw fp32)
    raw_embed()
    emb_err = {
        "image_embed": _rel(fast.predictor._features["image_embed"], raw._features["image_embed"]),
        "high_res_feats": [_rel(a, b) for a, b in zip(fast.predictor._features["high_res_feats"], raw._features["high_res_feats"])],
    }

    # prompts on cells of the first frame: a click, a click + a background click, a box
    cells = [int(v) for v in np.unique(truth[0]) if v][:3]
    rows, cols = np.nonzero(truth[0] == cells[0])
    r2, c2 = np.nonzero(truth[0] == cells[1])
    prompts = [
        PromptSet([[int(rows.mean()), int(cols.mean())]], [1]),
        PromptSet([[int(r2.mean()), int(c2.mean())], [int(rows.mean()), int(cols.mean())]], [1, 0]),
        PromptSet(box=[int(rows.min()) - 4, int(cols.min()) - 4, int(rows.max()) + 4, int(cols.max()) + 4]),
    ]

    def predict(predictor, p, ctx):
        with torch.inference_mode(), ctx:
            return predictor.predict(
                point_coords=p.xy if len(p.points) else None, point_labels=p.labels if len(p.points) else None,
                box=p.box_xyxy, multimask_output=True,
            )  # fmt: skip

    mask_iou, top_iou, fg = [], [], []
    for p in prompts:  # candidates in the model's order on both sides
        m_raw, _, l_raw = predict(raw, p, contextlib.nullcontext())
        m_fast, _, l_fast = predict(fast.predictor, p, fast.encoder.autocast())
        for k in range(len(m_raw)):
            a, b = m_raw[k] > 0, m_fast[k] > 0
            mask_iou.append(_iou(a, b))
            fg.append(float(a.mean()))
            cut = np.median(l_raw[k])
            top_iou.append(_iou(l_raw[k] > cut, l_fast[k] > cut))

    predict(raw, prompts[0], contextlib.nullcontext()), fast.predict(prompts[0])  # warm-up
    dec = {"raw": [], "fast": []}
    for i in range(rounds * 3):
        p = prompts[i % len(prompts)]
        dec["raw"].append(_timed(lambda: predict(raw, p, contextlib.nullcontext())))
        dec["fast"].append(_timed(lambda: fast.predict(p)))

    # tracking: per tracked frame, frame 0 already embedded on both sides (sam2's init_state
    # embeds it; ours: the user prompted on it)
    masks = {1: truth[0] == cells[0]}
    trk = {"raw": [], "fast": [], "ours_fp32": []}
    raw_masks = fast_masks = None
    with tempfile.TemporaryDirectory() as tmp:
        with torch.inference_mode():
            state = _jpeg_state(model, frames, tmp)

        def raw_track():
            with torch.inference_mode():
                model.reset_state(state)
                model._get_image_feature(state, 0, 1)  # frame 0 embedded, as init_state left it (not timed)
                t0 = _now()
                model.add_new_mask(state, 0, 1, masks[1])
                out = {f: (m[0, 0] > 0).numpy() for f, _, m in model.propagate_in_video(state, 0, n) if f}
                return out, _now() - t0

        def our_track(seg):
            seg.cache.clear()
            seg._key = None
            seg.set_image(frames[0])  # prompting on frame 0 (not timed)
            t0 = _now()
            out = {s.frame: s.objects[1].mask for s in seg.tracker().track(frames, 0, masks, "forward", n + 1)}
            return out, _now() - t0

        for _ in seg_warm_up(fast, frames, masks):  # oneDNN makes its bf16 kernels once per shape
            pass
        for _ in range(track_rounds):
            raw_masks, secs = raw_track()
            trk["raw"].append(secs / n)
            fast_masks, secs = our_track(fast)
            trk["fast"].append(secs / n)
            exact_masks, secs = our_track(exact)
            trk["ours_fp32"].append(secs / n)
    res = {
        "device": "cpu",
        "model": "sam2.1 tiny, 1024 px input, random weights",
        "plane": [size, size],
        "fast_mode": fast.fast_message,
        "embedding_s": {k: statistics.median(v) for k, v in emb.items()},
        "decode_ms": {k: 1000 * statistics.median(v) for k, v in dec.items()},
        "tracked_frame_s": {k: statistics.median(v) for k, v in trk.items()},
        "agreement": {
            "embedding_rel_error": emb_err,
            "mask_iou_min": min(mask_iou),
            "mask_iou_mean": float(np.mean(mask_iou)),
            "mask_foreground_fraction_mean": float(np.mean(fg)),
            "top_half_logits_iou_min": min(top_iou),
            "tracked_mask_iou_vs_raw_min": min(_iou(raw_masks[f], fast_masks[f]) for f in raw_masks),
            "tracked_mask_iou_vs_ours_fp32_min": min(_iou(exact_masks[f], fast_masks[f]) for f in exact_masks),
            "note": "raw tracking reads JPEG frames resized by PIL; ours reads the planes in memory with the image "
                    "predictor's resize: 'vs_ours_fp32' isolates bf16",
        },  # fmt: skip
    }
    res["speedup"] = {
        "embedding": res["embedding_s"]["raw"] / res["embedding_s"]["fast"],
        "decode": res["decode_ms"]["raw"] / res["decode_ms"]["fast"],
        "tracked_frame": res["tracked_frame_s"]["raw"] / res["tracked_frame_s"]["fast"],
        "ours_fp32_embedding_ratio_to_raw": res["embedding_s"]["ours_fp32"] / res["embedding_s"]["raw"],
        "ours_fp32_tracked_frame_ratio_to_raw": res["tracked_frame_s"]["ours_fp32"] / res["tracked_frame_s"]["raw"],
    }
    return res


def reuse(n: int, rounds: int, fast_mode: bool) -> dict:
    import torch

    from napari_samlabel.backends.sam2 import Sam2Segmenter

    model, image, truth, frames = _setup(n + 1, 512)
    seg = Sam2Segmenter(model, "bench", fast=fast_mode)
    runs = []
    encode = model.forward_image
    model.forward_image = lambda x: runs.append(1) or encode(x)
    cell = int([v for v in np.unique(truth[0]) if v][0])
    first_mask = {1: truth[0] == cell}
    corrected = {1: np.pad(first_mask[1], 2)[:-4, 2:-2] | first_mask[1]}  # drawn a little bigger

    def track(masks) -> tuple[float, int]:
        before = len(runs)
        t0 = _now()
        for _ in seg.tracker().track(frames, 0, masks, "forward", n + 1):
            pass
        return _now() - t0, len(runs) - before

    def cold():
        seg.cache.clear()
        seg._key = None

    start = {"from_prompted_plane": [], "cold": []}
    calls = {}
    for _ in range(rounds):  # interleaved
        cold()
        seg.set_image(frames[0])  # the user prompted on frame 0: not timed
        secs, calls["from_prompted_plane"] = track(first_mask)
        start["from_prompted_plane"].append(secs)
        cold()
        secs, calls["cold"] = track(first_mask)
        start["cold"].append(secs)
    retrack = {"again_after_correction": [], "first": [], "raw_sam2_again": []}
    with tempfile.TemporaryDirectory() as tmp:
        with torch.inference_mode():
            state = _jpeg_state(model, frames, tmp)
        for _ in range(rounds):
            cold()
            secs, calls["first"] = track(first_mask)
            retrack["first"].append(secs)
            secs, calls["again_after_correction"] = track(corrected)
            retrack["again_after_correction"].append(secs)
            before = len(runs)
            t0 = _now()
            with torch.inference_mode():  # sam2 keeps one frame's features: a re-track encodes them all again
                model.reset_state(state)
                model.add_new_mask(state, 0, 1, corrected[1])
                for _ in model.propagate_in_video(state, 0, n):
                    pass
            retrack["raw_sam2_again"].append(_now() - t0)
            calls["raw_sam2_again"] = len(runs) - before
    med = {k: statistics.median(v) for k, v in {**start, **retrack}.items()}
    return {
        "frames_tracked": n,
        "fast_mode": seg.fast,
        "seconds": med,
        "encoder_runs": calls,
        "tracking_start_seconds_saved": med["cold"] - med["from_prompted_plane"],
        "retrack_seconds_saved_vs_first_run": med["first"] - med["again_after_correction"],
        "retrack_seconds_saved_vs_raw_sam2": med["raw_sam2_again"] - med["again_after_correction"],
        "retrack_ratio_to_raw_sam2": med["again_after_correction"] / med["raw_sam2_again"],
    }


def explore(rounds: int, try_compile: bool) -> dict:
    """Encoder-only seconds for each candidate, interleaved; the relative error to fp32."""
    import copy

    import torch

    from napari_samlabel.backends.features import preprocess

    model, image, truth, frames = _setup(1, 1024)
    x = preprocess(frames[0], 1024)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    bf16 = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    threads = torch.get_num_threads()

    def one_thread():
        torch.set_num_threads(1)
        try:
            with bf16():
                return model.forward_image(x_cl)
        finally:
            torch.set_num_threads(threads)

    @contextlib.contextmanager
    def implicit_bf16():  # oneDNN computes fp32 matmuls/convs in bf16, activations stay fp32
        m, c = torch.backends.mkldnn.matmul.fp32_precision, torch.backends.mkldnn.conv.fp32_precision
        torch.backends.mkldnn.matmul.fp32_precision = torch.backends.mkldnn.conv.fp32_precision = "bf16"
        try:
            yield
        finally:
            torch.backends.mkldnn.matmul.fp32_precision, torch.backends.mkldnn.conv.fp32_precision = m, c

    def run(fn, ctx=contextlib.nullcontext):
        def go():
            with torch.inference_mode(), ctx():
                return fn()

        return go

    cands = {
        "fp32": run(lambda: model.forward_image(x)),
        "bf16_autocast": run(lambda: model.forward_image(x), bf16),
        "bf16_autocast_channels_last_input (kept)": run(lambda: model.forward_image(x_cl), bf16),
        "bf16_autocast_channels_last_weights_and_input": run(lambda: model_cl.forward_image(x_cl), bf16),
        "bf16_autocast_channels_last_input_1_thread": run(one_thread),
        "fp32_onednn_implicit_bf16": run(lambda: model.forward_image(x), implicit_bf16),
        "fp32_channels_last_input": run(lambda: model.forward_image(x_cl)),
    }
    notes = {}
    if try_compile:
        compiled = torch.compile(model.image_encoder, dynamic=False)
        t0 = time.perf_counter()
        with torch.inference_mode(), bf16():
            compiled(x_cl)
        notes["compile_first_call_wall_s"] = time.perf_counter() - t0
        cands["bf16_autocast_channels_last_input_torch_compile"] = run(lambda: compiled(x_cl), bf16)
    ref = cands["fp32"]()["backbone_fpn"]
    errors = {}
    for name, fn in cands.items():
        out = fn()
        out = out["backbone_fpn"] if isinstance(out, dict) else out
        errors[name] = max(_rel(a, b) for a, b in zip(out, ref))
    times = {k: [] for k in cands}
    for _ in range(rounds):
        for k, fn in cands.items():
            times[k].append(_timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    # a checkpoint trained at 512 px (none in the registry) would run its encoder at 512
    small, *_ = _setup(1, 512, ["++model.image_size=512",
                                "++model.memory_attention.layer.self_attention.feat_sizes=[32,32]",
                                "++model.memory_attention.layer.cross_attention.feat_sizes=[32,32]"])  # fmt: skip
    x512 = preprocess(frames[0], 512, channels_last=True)
    t512 = []
    for _ in range(rounds):
        with torch.inference_mode(), bf16():
            t512.append(_timed(lambda: small.forward_image(x512)))
    notes["bf16_channels_last_at_512px_s (only for checkpoints trained at 512: none in the registry)"] = statistics.median(t512)
    return {
        "encoder_s": med,
        "speedup_vs_fp32": {k: med["fp32"] / v for k, v in med.items()},
        "max_rel_error_vs_fp32": errors,
        "notes": notes,
    }


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _peak_rss(fn) -> tuple[int, int]:
    """(resident bytes before ``fn``, the most while it ran), sampled every 5 ms."""
    peak, running = [0], [True]

    def sample():
        while running[0]:
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    base = _rss()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        running[0] = False
        thread.join()
    return base, max(peak[0], _rss())


MEMORY_VARIANTS = ("raw_sam2", "samlabel_track", "dock")


def memory_run(n: int, variant: str, model_px: int) -> dict:
    """One variant in this (fresh) process: ``raw_sam2``: sam2's own ``init_state`` on a JPEG
    folder and ``propagate_in_video``; ``samlabel_track``: :func:`headless.track_objects` (the
    one-shot ``samlabel track``: a box prompt on frame 0, then tracked); ``dock``: the dock's
    tracker from the prompted plane, the cache at its default budget (every frame kept)."""
    import torch

    from napari_samlabel.backends.sam2 import Sam2Segmenter
    from napari_samlabel.headless import track_objects

    overrides = SMALL if model_px == 256 else ()
    model, image, truth, frames = _setup(n, 256, overrides)
    seg = Sam2Segmenter(model, "bench")
    size = image.shape[-1]
    held = {}
    if variant == "raw_sam2":
        tmp = tempfile.mkdtemp()
        from PIL import Image

        for t in range(len(frames)):
            Image.fromarray(frames[t]).save(Path(tmp) / f"{t:05d}.jpg", quality=95)

        def go():
            with torch.inference_mode():
                state = model.init_state(tmp)
                model.add_new_mask(state, 0, 1, truth[0] > 0)
                held["tracked"] = sum(1 for f, _, m in model.propagate_in_video(state, 0, n) if f and (m > 0).any())
    elif variant == "samlabel_track":
        objects = [{"id": 1, "class": "cell", "frame": [0], "box": [2, 2, size - 3, size - 3]}]

        def go():
            labels = track_objects(image, objects, seg, n_frames=None)
            held["tracked"] = int((labels[1:] > 0).any(axis=(1, 2)).sum())
    else:
        seg.set_image(frames[0])  # the user prompted on frame 0

        def go():
            steps = list(seg.tracker().track(frames, 0, {1: truth[0] > 0}, "forward", None))
            held["tracked"] = sum(1 for s in steps if s.objects[1].present)

    base, peak = _peak_rss(go)
    return {"frames": n, "variant": variant, "peak_rss_MiB": peak / 2**20, "peak_above_start_MiB": (peak - base) / 2**20,
            "cache_entries": len(seg.cache), "cache_MiB": seg.cache.bytes / 2**20, "frames_with_mask": held["tracked"]}  # fmt: skip


def memory(counts: list[int], model_px: int) -> dict:
    """Each variant for each frame count in a fresh process; ratios of the largest count's
    peak to the smallest's (whole process, as a user sees it; and above the start)."""
    lo, hi = min(counts), max(counts)
    out: dict = {"model": f"sam2.1 tiny at {model_px} px, random weights (no checkpoint here; memory does not depend on them)",
                 "frames": counts, "runs": {}, "ratio": {}}  # fmt: skip
    for variant in MEMORY_VARIANTS:
        for k in counts:
            cmd = [sys.executable, __file__, "_memory_run", "--frames", str(k), "--variant", variant,
                   "--model-px", str(model_px)]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(done.stderr[-3000:])
            out["runs"][f"{variant}_{k}"] = json.loads(done.stdout.strip().splitlines()[-1])
        a, b = out["runs"][f"{variant}_{lo}"], out["runs"][f"{variant}_{hi}"]
        out["ratio"][f"{variant}_{hi}_over_{lo}_peak_rss"] = b["peak_rss_MiB"] / a["peak_rss_MiB"]
        out["ratio"][f"{variant}_{hi}_over_{lo}_above_start"] = b["peak_above_start_MiB"] / max(a["peak_above_start_MiB"], 1e-9)
    return out


def profile() -> dict:
    """FLOPs of one 1024 px ``forward_image`` by kind, and its fp32 time by op (one run)."""
    import torch
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    from torch.utils.flop_counter import FlopCounterMode

    from napari_samlabel.backends.features import preprocess

    model, image, truth, frames = _setup(1, 512)
    x = preprocess(frames[0], 1024)
    attention, sdpa = [0], F.scaled_dot_product_attention

    def counted(q, k, *args, **kw):  # the flop counter misses CPU flash attention: QK^T and AV here
        attention[0] += 4 * q.shape[:-2].numel() * q.shape[-2] * k.shape[-2] * q.shape[-1]
        return sdpa(q, k, *args, **kw)

    counter = FlopCounterMode(display=False)
    F.scaled_dot_product_attention = counted
    try:
        with torch.inference_mode(), counter:
            model.forward_image(x)
    finally:
        F.scaled_dot_product_attention = sdpa
    by_op = {str(k): v / 1e9 for k, v in counter.get_flop_counts()["Global"].items()}
    gflop = {"linear (addmm)": by_op.pop("aten.addmm", 0.0), "attention products": attention[0] / 1e9,
             "convolutions": by_op.pop("aten.convolution", 0.0), **by_op}  # fmt: skip
    with torch.inference_mode():
        seconds = _timed(lambda: model.forward_image(x))
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            model.forward_image(x)
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ops)
    return {
        "encoder_gflop": {**gflop, "total": sum(gflop.values())},
        "fp32_encoder_s": seconds,
        "fp32_self_time_share_by_op": {e.key: round(e.self_cpu_time_total / total, 4) for e in ops[:12]},
        "note": "fp32, random weights, 1024 px input; the profiler's own overhead is in the shares",
    }


def cpu_info() -> dict:
    """The CPU every figure was measured on, and whether PyTorch has fast bf16 on it."""
    flags, name = set(), "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name == "unknown":
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    from napari_samlabel.backends.fast import bf16_support

    ok, why = bf16_support("cpu")
    return {"model": name, "amx_bf16": "amx_bf16" in flags, "avx512_bf16": "avx512_bf16" in flags,
            "avx512f": "avx512f" in flags, "torch_bf16": ok, "torch_bf16_says": why}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["speed", "reuse", "explore", "memory", "profile", "_memory_run"])
    ap.add_argument("--variant", choices=MEMORY_VARIANTS, default="samlabel_track", help=argparse.SUPPRESS)
    ap.add_argument("--model-px", type=int, choices=[256, 1024], default=256, help="memory: the model's input size")
    ap.add_argument("--size", type=int, default=512, help="plane size in pixels")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, nargs="+", default=None, help="memory: the frame counts (default 6 24)")
    ap.add_argument("--track-rounds", type=int, default=3)
    ap.add_argument("--fast", action="store_true", help="reuse: in fast mode")
    ap.add_argument("--compile", action="store_true", help="explore: try torch.compile too (minutes)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: process CPU seconds (use with --threads 1)")
    a = ap.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    if a.clock == "cpu":
        CLOCK.update(now=time.process_time, name="cpu")
    frames = (a.frames or [None])[0]
    if a.what == "speed":
        res = speed(a.size, a.rounds, frames or 4, a.track_rounds)
    elif a.what == "reuse":
        res = reuse(frames or 4, max(1, a.rounds // 2), a.fast)
    elif a.what == "explore":
        res = explore(a.rounds, a.compile)
    elif a.what == "memory":
        res = memory(a.frames or [6, 24], a.model_px)
    elif a.what == "profile":
        res = profile()
    else:
        res = memory_run(frames, a.variant, a.model_px)
    if a.what != "_memory_run":  # every figure with the CPU it was measured on
        res = {"cpu": cpu_info(), "clock": CLOCK["name"], "threads": torch.get_num_threads(), **res}
    print(json.dumps(res, indent=None if a.what == "_memory_run" else 2))


if __name__ == "__main__":
    main()
