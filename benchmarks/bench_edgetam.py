"""EdgeTAM against SAM 2.1 tiny on the CPU: a plane's image embedding and a prompt's decode.

    python benchmarks/bench_edgetam.py [--rounds 7] [--decodes 5] [--track 4] [--threads N] [--json out.json]

Both at 1024 px with random weights built from each library's own full-size config (speed does
not depend on the weights; no weights can be downloaded here):

- SAM 2.1 tiny through the ``sam2`` package: ``configs/sam2.1/sam2.1_hiera_t.yaml`` built as
  the plugin builds it (``backends.sam2.build_model``), timed through sam2's own
  ``SAM2ImagePredictor``: ``set_image`` (embedding) and ``predict`` (decode, masks upsampled
  to the plane).
- EdgeTAM through transformers: ``EdgeTamConfig()`` with its RepViT backbone named
  (``repvit_m1``: transformers' default config leaves the timm architecture at resnet50, see
  ``edgetam_config``), timed through the plugin's ``TransformersSegmenter``, which is
  ``Sam2Processor`` + ``EdgeTamModel.get_image_embeddings`` (embedding) and processor +
  ``EdgeTamModel(image_embeddings=...)`` + ``post_process_masks`` (decode); the tests show it
  gives exactly what transformers gives.

``--track N`` (0: none) also times a tracked frame, each model through the plugin's tracker on
the same N + 1 frames, one object from its true mask: SAM 2.1 tiny's ``Sam2Tracker`` (sam2's
video predictor) against ``TransformersTracker`` (``EdgeTamVideoModel`` from its full-size config,
the backbone named and the released checkpoint's flags), two runs each, interleaved; a frame's
time is its step's (the first step of a run, which also encodes the start frame and its mask, left
out).

The plane is a 1024 x 1024 synthetic fluorescence frame windowed to uint8 RGB; the prompt is
one positive click on a cell. Runs are interleaved (SAM 2, EdgeTAM, SAM 2, ...) after a
warm-up, so a slow spell of a shared machine hits both; figures are medians. The CPU model and
whether it has AMX / avx512_bf16 are printed with the figures (all fp32 here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import numpy as np

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SIZE = 1024


def cpu_info() -> dict:
    """lscpu's model name and the bf16 / AMX flags (what fast mode could use)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = set(fields.get("Flags", "").split())
    return {
        "model": fields.get("Model name", platform.processor()).strip(),
        "cpus": os.cpu_count(),
        "amx": sorted(f for f in flags if f.startswith("amx")),
        "avx512_bf16": "avx512_bf16" in flags,
        "load": os.getloadavg(),
    }


def edgetam_config():
    """EdgeTAM's full-size config from transformers, the RepViT backbone named: ``EdgeTamVisionConfig``'s
    default spells the timm key ``archirecture`` (transformers 5.x), so the architecture stays
    TimmWrapperConfig's default, resnet50, and the model is not EdgeTAM. (The released checkpoint's
    config names it: transformers' conversion script takes the backbone config from
    ``timm/repvit_m1.dist_in1k``.)"""
    from transformers import EdgeTamConfig, EdgeTamVisionConfig, TimmWrapperConfig

    backbone = TimmWrapperConfig(architecture="repvit_m1",
                                 model_args={"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]})  # fmt: skip
    return EdgeTamConfig(vision_config=EdgeTamVisionConfig(backbone_config=backbone))


def build(threads: int | None):
    import torch
    from sam2.sam2_image_predictor import SAM2ImagePredictor
    from transformers import EdgeTamModel, Sam2ImageProcessor, Sam2Processor

    from napari_samlabel.backends.hf_prompting import TransformersSegmenter
    from napari_samlabel.backends.sam2 import build_model

    if threads:
        torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    sam2 = build_model(CONFIG, None, "cpu")
    torch.manual_seed(0)
    edgetam = EdgeTamModel(edgetam_config()).eval()
    processor = Sam2Processor(image_processor=Sam2ImageProcessor())  # 1024 px, as the hub checkpoint's
    params = {"sam2.1-tiny": sum(p.numel() for p in sam2.parameters()),
              "edgetam": sum(p.numel() for p in edgetam.parameters()),
              "edgetam_image_encoder": sum(p.numel() for p in edgetam.vision_encoder.parameters()),
              "sam2.1-tiny_image_encoder": sum(p.numel() for p in sam2.image_encoder.parameters())}  # fmt: skip
    return SAM2ImagePredictor(sam2), TransformersSegmenter(edgetam, processor, name="edgetam"), params


def plane():
    from napari_samlabel.core.planes import window_to_uint8
    from napari_samlabel.synthetic import fluorescence_timelapse

    image, truth = fluorescence_timelapse(n_frames=1, size=SIZE, n_cells=12, seed=1)
    rgb = window_to_uint8(image[0], (float(image.min()), float(image.max())), rgb=False)
    rows, cols = np.nonzero(truth[0] == [v for v in np.unique(truth[0]) if v][0])
    return rgb, (int(rows.mean()), int(cols.mean()))


def track_times(n: int, runs: int = 2) -> dict:
    """Seconds per tracked frame: {"sam2": [...], "edgetam": [...]} (torch threads as set)."""
    import torch
    from transformers import EdgeTamVideoConfig, EdgeTamVideoModel, Sam2ImageProcessor, Sam2VideoProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    from napari_samlabel.backends.hf_video import TransformersTracker
    from napari_samlabel.backends.sam2 import Sam2Segmenter, build_model
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane
    from napari_samlabel.synthetic import fluorescence_timelapse

    torch.manual_seed(0)
    sam2 = Sam2Segmenter(build_model(CONFIG, None, "cpu"), "sam2.1-tiny").tracker()
    vision = edgetam_config().vision_config
    config = EdgeTamVideoConfig(vision_config=vision, enable_temporal_pos_encoding_for_object_pointers=False,
                                enable_occlusion_spatial_embedding=False)  # fmt: skip
    torch.manual_seed(0)
    processor = Sam2VideoProcessor(image_processor=Sam2ImageProcessor(), video_processor=Sam2VideoVideoProcessor())
    edgetam = TransformersTracker(EdgeTamVideoModel(config).eval(), processor, name="edgetam")
    image, truth = fluorescence_timelapse(n_frames=n + 1, size=SIZE, n_cells=12, seed=1)
    frames = FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))
    first = [v for v in np.unique(truth[0]) if v][0]
    masks = {1: truth[0] == first}
    out = {"sam2": [], "edgetam": []}
    for _ in range(runs):
        for name, tracker in (("sam2", sam2), ("edgetam", edgetam)):
            steps = []
            t0 = time.perf_counter()
            for _step in tracker.track(frames, 0, masks, "forward", n_frames=None):
                t1 = time.perf_counter()
                steps.append(t1 - t0)
                t0 = t1
            out[name] += steps[1:]  # the first step also encodes the start frame and its mask
    return out


def run(rounds: int, decodes: int, threads: int | None) -> dict:
    import torch

    from napari_samlabel.core.prompts import PromptSet

    info = cpu_info()
    predictor, seg, params = build(threads)
    rgb, (r, c) = plane()
    assert rgb.shape == (SIZE, SIZE, 3), rgb.shape
    click = PromptSet([[r, c]], [1])

    def sam2_embed():
        with torch.inference_mode():
            predictor.set_image(rgb)

    def edgetam_embed():
        seg._key = None  # encode again
        seg.set_image(rgb)

    def sam2_decode():
        with torch.inference_mode():
            predictor.predict(point_coords=click.xy, point_labels=click.labels, multimask_output=True)

    def edgetam_decode():
        seg.predict(click, multimask=True)

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    for fn in (sam2_embed, edgetam_embed, sam2_decode, edgetam_decode):  # warm-up: oneDNN picks kernels once
        fn()
    t = {"sam2_embed": [], "edgetam_embed": [], "sam2_decode": [], "edgetam_decode": []}
    for _ in range(rounds):
        t["sam2_embed"].append(timed(sam2_embed))
        t["edgetam_embed"].append(timed(edgetam_embed))
        for _ in range(decodes):
            t["sam2_decode"].append(timed(sam2_decode))
            t["edgetam_decode"].append(timed(edgetam_decode))
    med = {k: statistics.median(v) for k, v in t.items()}
    info["load_after"] = os.getloadavg()
    return {"track_frames": 0, 
        "cpu": info,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "params": params,
        "median_s": med,
        "runs": {k: len(v) for k, v in t.items()},
        "spread_s": {k: [min(v), max(v)] for k, v in t.items()},
        "sam2_over_edgetam": {"embed": med["sam2_embed"] / med["edgetam_embed"],
                              "decode": med["sam2_decode"] / med["edgetam_decode"]},  # fmt: skip
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7, help="embeddings of each model (interleaved)")
    ap.add_argument("--decodes", type=int, default=5, help="decodes of each model per round")
    ap.add_argument("--track", type=int, default=4, help="frames tracked per run (0: no tracking)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--json", default=None, help="write the figures here too")
    args = ap.parse_args()
    out = run(args.rounds, args.decodes, args.threads)
    if args.track:
        tracked = track_times(args.track)
        out["track_frames"] = args.track
        out["cpu"]["load_after_tracking"] = os.getloadavg()
        out["median_s"].update({f"{k}_track": statistics.median(v) for k, v in tracked.items()})
        out["spread_s"].update({f"{k}_track": [min(v), max(v)] for k, v in tracked.items()})
        out["runs"].update({f"{k}_track": len(v) for k, v in tracked.items()})
        out["sam2_over_edgetam"]["track"] = out["median_s"]["sam2_track"] / out["median_s"]["edgetam_track"]
    cpu, med, ratio = out["cpu"], out["median_s"], out["sam2_over_edgetam"]
    print(f"CPU: {cpu['model']} ({cpu['cpus']} CPUs seen, torch threads {out['torch_threads']}); "
          f"AMX: {', '.join(cpu['amx']) or 'no'}; avx512_bf16: {'yes' if cpu['avx512_bf16'] else 'no'}; "
          f"load average {cpu['load'][0]:.2f} before, {cpu['load_after'][0]:.2f} after")  # fmt: skip
    p = out["params"]
    print(f"parameters: SAM 2.1 tiny {p['sam2.1-tiny'] / 1e6:.1f} M (image encoder {p['sam2.1-tiny_image_encoder'] / 1e6:.1f} M), "
          f"EdgeTAM {p['edgetam'] / 1e6:.1f} M (image encoder {p['edgetam_image_encoder'] / 1e6:.1f} M)")  # fmt: skip
    print(f"{'1024 px, fp32, medians':<28}{'SAM 2.1 tiny':>14}{'EdgeTAM':>12}{'SAM 2 / EdgeTAM':>18}")
    labels = {"embed": "image embedding", "decode": "a click decoded", "track": "a frame tracked (1 object)"}
    for what in [w for w in labels if w in ratio]:
        print(f"{labels[what]:<28}{med['sam2_' + what]:>13.3f}s"
              f"{med['edgetam_' + what]:>11.3f}s{ratio[what]:>17.2f}x")  # fmt: skip
    print(f"runs: {out['runs']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
