"""The plugin's path against transformers used directly, for EdgeTAM and SAM 3 (issue 24: overhead <= 10 %).

    python benchmarks/bench_overhead.py [--rounds 5] [--frames 3] [--only edgetam|sam3] [--threads N]
                                        [--full] [--json out.json]

Each operation runs on the same inputs through the plugin's backend and through transformers
as its docs show it (processor + model + post-processing), interleaved (plugin, raw, raw,
plugin, ... the order swapped each round so neither always runs second) after one warm-up
run of each, which also checks that both give the same masks and scores (else the script
stops: the ratio must compare the same work). Figures are medians over ``--rounds``; the
ratio is plugin / raw.

EdgeTAM (``EdgeTamModel`` / ``EdgeTamVideoModel`` from their full-size default configs, the
timm backbone set to ``repvit_m1`` as ``bench_edgetam.py`` does; 1024 px; random weights):

- a click on a new plane: plugin ``TransformersSegmenter.set_image`` + ``predict``; raw
  ``Sam2Processor(images)`` + ``get_image_embeddings`` + ``Sam2Processor(points)`` +
  ``model(image_embeddings=...)`` + ``post_process_masks``;
- a further click on that plane (decode only);
- tracking ``--frames`` frames from a start mask (one object): plugin
  ``TransformersTracker.track``; raw ``Sam2VideoProcessor.init_video_session(video=...)`` (the
  whole video preprocessed), the mask added, ``propagate_in_video_iterator``,
  ``post_process_masks`` each frame. The time is the whole run (start frame included) over
  the frames tracked.

SAM 3 (the real architecture, ``Sam3VideoModel``'s layout saved as ``facebook/sam3`` is, at
the full 1008 px input with the full-size necks, heads, query count and tracker, but its ViT
and text encoder shrunk in depth and width; see ``sam3_config``; ``--full``: the default
config, 848 M parameters). The plugin loads the saved folder through its real loading code
(``registry.load_backend``); raw loads ``Sam3Model``, ``Sam3TrackerModel`` and
``Sam3TrackerVideoModel`` from the same folder:

- a text prompt on a new plane: plugin ``Sam3Segmenter.segment_text``; raw
  ``Sam3Processor(images, text)`` + ``Sam3Model`` + ``post_process_instance_segmentation``;
- a further text on that plane (raw: ``get_vision_features`` kept, ``model(vision_embeds=...)``);
- a click on a new plane and a further click (``Sam3TrackerModel``, as EdgeTAM's);
- tracking (``Sam3TrackerVideoModel``, as EdgeTAM's).

Random weights score SAM 3's queries alike, so the text threshold is set between the 20th and
21st best score of the first run: 20 instances are post-processed, as on a busy plane.
The planes are 1024 x 1024 synthetic fluorescence frames windowed to uint8 RGB. The CPU,
torch threads and the load average before and after are printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_edgetam import cpu_info, edgetam_config  # noqa: E402

SIZE = 1024  # the planes
INSTANCES = 20  # SAM 3 detections kept per text prompt


# -- inputs ---------------------------------------------------------------------------
def movie(n_frames: int):
    """(FrameSource over a synthetic 1024 px time-lapse, the uint8 RGB frames, one cell's mask on frame 0, a click in it)."""
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane
    from napari_samlabel.synthetic import fluorescence_timelapse

    image, truth = fluorescence_timelapse(n_frames=n_frames, size=SIZE, n_cells=12, seed=1)
    frames = FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))
    video = np.stack([frames[t] for t in range(len(frames))])
    first = [v for v in np.unique(truth[0]) if v][0]
    mask = truth[0] == first
    rows, cols = np.nonzero(mask)
    return frames, video, mask, (int(rows.mean()), int(cols.mean()))


def char_tokenizer():
    """A CLIP tokenizer over letters, built offline (SAM 3's own needs a download): the text
    encoder is shrunk anyway, and a phrase is padded to the same 32 tokens."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[])


# -- models ---------------------------------------------------------------------------
def edgetam_models():
    import torch
    from transformers import (EdgeTamModel, EdgeTamVideoConfig, EdgeTamVideoModel, Sam2ImageProcessor,
                              Sam2Processor, Sam2VideoProcessor)  # fmt: skip
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    torch.manual_seed(0)
    image = EdgeTamModel(edgetam_config()).eval()
    config = EdgeTamVideoConfig(vision_config=edgetam_config().vision_config, enable_occlusion_spatial_embedding=False,
                                enable_temporal_pos_encoding_for_object_pointers=False)  # the released checkpoint's flags
    torch.manual_seed(0)
    video = EdgeTamVideoModel(config).eval()
    with torch.no_grad():  # random weights would leave the object absent on every frame
        video.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(2.0)
    processor = Sam2Processor(image_processor=Sam2ImageProcessor())
    vprocessor = Sam2VideoProcessor(image_processor=Sam2ImageProcessor(), video_processor=Sam2VideoVideoProcessor())
    return image, processor, video, vprocessor


def sam3_config(full: bool):
    """``Sam3VideoConfig``: the default (848 M parameters) with ``full``, else the same layout at
    1008 px with the ViT 4 layers x 256 wide (the last global; default 32 x 1024), the text
    encoder 1 layer x 256 (default 24 x 1024, 49408 tokens: here 54), the DETR encoder, decoder
    and geometry encoder 1 layer each (default 6, 6, 3; full width, 200 queries) and the
    tracker's memory attention 1 layer (default 4). Necks, mask decoders, prompt encoder and
    memory encoder are full size."""
    from transformers import Sam3VideoConfig
    from transformers.models.sam3.configuration_sam3 import (
        Sam3Config, Sam3DETRDecoderConfig, Sam3DETREncoderConfig, Sam3GeometryEncoderConfig, Sam3VisionConfig, Sam3ViTConfig,
    )  # fmt: skip
    from transformers.models.sam3_tracker_video.configuration_sam3_tracker_video import Sam3TrackerVideoConfig

    if full:
        return Sam3VideoConfig()
    vit = dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4, global_attn_indexes=[3])
    text = dict(vocab_size=64, hidden_size=256, intermediate_size=1024, projection_dim=256, num_hidden_layers=1,
                num_attention_heads=4, max_position_embeddings=32, hidden_act="gelu", bos_token_id=0, eos_token_id=1,
                pad_token_id=1)  # fmt: skip
    detector = Sam3Config(vision_config=Sam3VisionConfig(backbone_config=Sam3ViTConfig(**vit)), text_config=text,
                          geometry_encoder_config=Sam3GeometryEncoderConfig(num_layers=1),
                          detr_encoder_config=Sam3DETREncoderConfig(num_layers=1),
                          detr_decoder_config=Sam3DETRDecoderConfig(num_layers=1))  # fmt: skip
    tracker = Sam3TrackerVideoConfig(vision_config=Sam3VisionConfig(backbone_config=Sam3ViTConfig(**vit)),
                                     memory_attention_num_layers=1)  # fmt: skip
    return Sam3VideoConfig(detector_config=detector, tracker_config=tracker)


def sam3_folder(full: bool, out: Path) -> tuple[Path, int]:
    """The folder ``facebook/sam3`` would be (weights, processor, video processor), and its parameter count."""
    import torch
    from transformers import Sam3ImageProcessor, Sam3Processor, Sam3VideoModel
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    torch.manual_seed(0)
    model = Sam3VideoModel(sam3_config(full)).eval()
    with torch.no_grad():
        model.tracker_model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(2.0)
    params = sum(p.numel() for p in model.parameters())
    images = Sam3ImageProcessor()
    processor = Sam3Processor(image_processor=images, tokenizer=char_tokenizer())
    model.save_pretrained(out)
    processor.save_pretrained(out)
    Sam2VideoVideoProcessor(size=dict(images.size), image_mean=images.image_mean, image_std=images.image_std).save_pretrained(out)
    return out, params


# -- raw transformers -----------------------------------------------------------------
class RawClicks:
    """transformers' docs for SAM 2 style models: the image embedded once, then prompts."""

    def __init__(self, model, processor) -> None:
        self.model, self.processor = model, processor

    def embed(self, rgb):
        import torch

        inputs = self.processor(images=rgb, return_tensors="pt")
        with torch.inference_mode():
            self.embeddings = self.model.get_image_embeddings(inputs["pixel_values"])
        self.sizes = inputs["original_sizes"]

    def click(self, rc):
        import torch

        inputs = self.processor(input_points=[[[[rc[1], rc[0]]]]], input_labels=[[[1]]], original_sizes=self.sizes,
                                return_tensors="pt")  # fmt: skip
        inputs.pop("original_sizes")
        with torch.inference_mode():
            out = self.model(image_embeddings=self.embeddings, multimask_output=True, **inputs)
        masks = self.processor.post_process_masks(out.pred_masks, self.sizes)[0][0]
        return masks.numpy(), out.iou_scores[0, 0].numpy()


def raw_track(model, processor, video, mask, n):
    """transformers' docs for video: the whole video in the session, a mask, propagated: [(masks, logits)]."""
    import torch

    session = processor.init_video_session(video=video, inference_device="cpu")
    with torch.inference_mode():
        processor.add_inputs_to_inference_session(session, frame_idx=0, obj_ids=[1], input_masks=[torch.from_numpy(mask)])
        model(inference_session=session, frame_idx=0)
        out = []
        for o in model.propagate_in_video_iterator(session, start_frame_idx=0, max_frame_num_to_track=n):
            if int(o.frame_idx) == 0:
                continue
            masks = processor.post_process_masks([o.pred_masks], [list(video.shape[1:3])], binarize=False)[0][:, 0] > 0
            out.append((masks[0].numpy(), float(o.object_score_logits.reshape(-1)[0])))
    return out


def plugin_track(tracker, frames, mask, n):
    return [(s.objects[1].mask, s.objects[1].score) for s in tracker.track(frames, 0, {1: mask}, "forward", n_frames=n + 1)]


# -- equality ---------------------------------------------------------------------------
def same_click(pred, raw) -> None:
    masks, scores = raw
    order = np.argsort(-scores, kind="stable")
    assert np.array_equal(pred.masks, masks[order]), "plugin and raw masks differ"
    assert np.allclose(pred.scores, np.clip(scores[order], 0, 1), atol=1e-6), "plugin and raw scores differ"


def same_track(ours, raw) -> None:
    assert len(ours) == len(raw) > 0, (len(ours), len(raw))
    for (mask, score), (want, logit) in zip(ours, raw):
        assert abs(score - 1 / (1 + np.exp(-logit))) < 1e-5, "plugin and raw object scores differ"
        assert np.array_equal(mask, want if logit > 0 and want.any() else np.zeros_like(want)), "tracked masks differ"
    assert any(m.any() for m, _ in ours), "the object was lost on every frame: nothing compared"


def same_detections(ours, res) -> None:
    scores = res["scores"].numpy()
    order = np.argsort(-scores, kind="stable")
    assert len(ours) == len(scores) > 0, (len(ours), len(scores))
    for (mask, score), i in zip(ours, order):
        assert abs(score - float(scores[i])) < 1e-6 and np.array_equal(mask, res["masks"][i].numpy().astype(bool))


# -- timing ---------------------------------------------------------------------------
def interleave(ops: dict, rounds: int) -> dict:
    """{op: (plugin fn, raw fn, per)} -> {op: {"plugin": [s], "raw": [s]}}, each time divided by ``per``."""
    t = {op: {"plugin": [], "raw": []} for op in ops}
    for r in range(rounds):
        for op, (plugin, raw, per) in ops.items():
            for name, fn in ((("plugin", plugin), ("raw", raw)) if r % 2 == 0 else (("raw", raw), ("plugin", plugin))):
                t0 = time.perf_counter()
                fn()
                t[op][name].append((time.perf_counter() - t0) / per)
    return t


def edgetam_ops(n: int):
    from napari_samlabel.backends.hf_prompting import TransformersSegmenter
    from napari_samlabel.backends.hf_video import TransformersTracker
    from napari_samlabel.core.prompts import PromptSet

    image, processor, video_model, vprocessor = edgetam_models()
    frames, video, mask, rc = movie(n + 1)
    rgb = video[0]
    seg = TransformersSegmenter(image, processor, name="edgetam")
    tracker = TransformersTracker(video_model, vprocessor, name="edgetam")
    raw = RawClicks(image, processor)
    click = PromptSet([list(rc)], [1])

    def plugin_new():
        seg._key = None  # a new plane: hashed, preprocessed, encoded
        seg.set_image(rgb)
        return seg.predict(click)

    def raw_new():
        raw.embed(rgb)
        return raw.click(rc)

    same_click(plugin_new(), raw_new())
    same_click(seg.predict(click), raw.click(rc))
    same_track(plugin_track(tracker, frames, mask, n), raw_track(video_model, vprocessor, video, mask, n))
    params = {"edgetam": sum(p.numel() for p in image.parameters()), "edgetam_video": sum(p.numel() for p in video_model.parameters())}
    return {
        "EdgeTAM: a click on a new plane (embedding + decode)": (plugin_new, raw_new, 1),
        "EdgeTAM: a further click (decode)": (lambda: seg.predict(click), lambda: raw.click(rc), 1),
        f"EdgeTAM: a frame tracked (run of {n} / {n})": (lambda: plugin_track(tracker, frames, mask, n),
                                                          lambda: raw_track(video_model, vprocessor, video, mask, n), n),
    }, params  # fmt: skip


def sam3_ops(n: int, full: bool, tmp: Path):
    import torch
    from transformers import (Sam3Model, Sam3Processor, Sam3TrackerModel, Sam3TrackerProcessor, Sam3TrackerVideoModel,
                              Sam3TrackerVideoProcessor)  # fmt: skip

    from napari_samlabel.backends import registry
    from napari_samlabel.backends.sam3 import TRACKER_KEYS
    from napari_samlabel.core.prompts import PromptSet

    folder, params = sam3_folder(full, tmp)
    sam3 = registry.load_backend("sam3", str(folder), device="cpu")
    tracker = sam3.tracker()
    concept = Sam3Model.from_pretrained(folder, use_safetensors=True).eval()
    cprocessor = Sam3Processor.from_pretrained(folder)
    raw = RawClicks(Sam3TrackerModel.from_pretrained(folder, use_safetensors=True, key_mapping=TRACKER_KEYS).eval(),
                    Sam3TrackerProcessor.from_pretrained(folder))  # fmt: skip
    video_model = Sam3TrackerVideoModel.from_pretrained(folder, use_safetensors=True).eval()
    vprocessor = Sam3TrackerVideoProcessor.from_pretrained(folder)
    frames, video, mask, rc = movie(n + 1)
    rgb = video[0]
    click = PromptSet([list(rc)], [1])
    texts = ["cell nucleus", "mitotic cell"]
    with torch.inference_mode():  # the threshold: between the 20th and 21st best score (random weights score alike)
        inputs = cprocessor(images=rgb, text=texts[0], return_tensors="pt")
        scores = cprocessor.post_process_instance_segmentation(concept(**inputs), threshold=0.0, target_sizes=[(8, 8)])[0]["scores"]
    top = np.sort(scores.numpy())[::-1]
    threshold = float((top[INSTANCES - 1] + top[INSTANCES]) / 2)
    kept = {}

    def raw_text_new():
        inputs = cprocessor(images=rgb, text=texts[0], return_tensors="pt")
        with torch.inference_mode():
            kept["vision"] = concept.get_vision_features(pixel_values=inputs["pixel_values"])
            out = concept(vision_embeds=kept["vision"], input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        return cprocessor.post_process_instance_segmentation(out, threshold=threshold, mask_threshold=0.5,
                                                              target_sizes=inputs["original_sizes"].tolist())[0]  # fmt: skip

    def raw_text_more():
        inputs = cprocessor(text=texts[1], return_tensors="pt")
        with torch.inference_mode():
            out = concept(vision_embeds=kept["vision"], **inputs)
        return cprocessor.post_process_instance_segmentation(out, threshold=threshold, mask_threshold=0.5,
                                                              target_sizes=[list(rgb.shape[:2])])[0]  # fmt: skip

    def plugin_text_new():
        sam3._key = None  # a new plane
        return sam3.segment_text(rgb, texts[0], threshold=threshold)

    def plugin_click_new():
        sam3.clicks._key = None
        sam3.set_image(rgb)
        return sam3.predict(click)

    def raw_click_new():
        raw.embed(rgb)
        return raw.click(rc)

    same_detections(plugin_text_new(), raw_text_new())
    same_detections(sam3.segment_text(rgb, texts[1], threshold=threshold), raw_text_more())
    same_click(plugin_click_new(), raw_click_new())
    same_click(sam3.predict(click), raw.click(rc))
    same_track(plugin_track(tracker, frames, mask, n), raw_track(video_model, vprocessor, video, mask, n))
    return {
        "SAM 3: a text on a new plane (encoding + detection)": (plugin_text_new, raw_text_new, 1),
        "SAM 3: a further text on that plane": (lambda: sam3.segment_text(rgb, texts[1], threshold=threshold), raw_text_more, 1),
        "SAM 3: a click on a new plane (embedding + decode)": (plugin_click_new, raw_click_new, 1),
        "SAM 3: a further click (decode)": (lambda: sam3.predict(click), lambda: raw.click(rc), 1),
        f"SAM 3: a frame tracked (run of {n} / {n})": (lambda: plugin_track(tracker, frames, mask, n),
                                                        lambda: raw_track(video_model, vprocessor, video, mask, n), n),
    }, {"sam3": params, "sam3_threshold": threshold}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed runs of each path per operation (interleaved)")
    ap.add_argument("--frames", type=int, default=3, help="frames tracked per run")
    ap.add_argument("--only", choices=("edgetam", "sam3"), default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--full", action="store_true", help="SAM 3 at its default (full) size: 848 M parameters")
    ap.add_argument("--json", default=None, help="write the figures here too")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    info = cpu_info()
    t_start = time.perf_counter()
    ops, params = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "edgetam"):
            o, p = edgetam_ops(args.frames)
            ops.update(o)
            params.update(p)
        if args.only in (None, "sam3"):
            o, p = sam3_ops(args.frames, args.full, Path(tmp))
            ops.update(o)
            params.update(p)
        print(f"built and checked (plugin == raw on every operation) in {time.perf_counter() - t_start:.0f} s", flush=True)
        times = interleave(ops, args.rounds)
    info["load_after"] = os.getloadavg()
    med = {op: {k: statistics.median(v) for k, v in t.items()} for op, t in times.items()}
    sam3_size = "default config (full size)" if args.full else "shrunk: ViT 4 x 256, text 1 x 256, DETR/geometry 1 layer, memory attention 1 layer"
    print(f"CPU: {info['model']} ({info['cpus']} CPUs seen), torch {torch.__version__}, {torch.get_num_threads()} threads, fp32; "
          f"load average {'/'.join(f'{x:.2f}' for x in info['load'])} before, "
          f"{'/'.join(f'{x:.2f}' for x in info['load_after'])} after")  # fmt: skip
    if "edgetam" in params:
        print(f"EdgeTAM: default config (repvit_m1), 1024 px, {params['edgetam'] / 1e6:.1f} M parameters "
              f"(video model {params['edgetam_video'] / 1e6:.1f} M)")  # fmt: skip
    if "sam3" in params:
        print(f"SAM 3: 1008 px, {sam3_size}: {params['sam3'] / 1e6:.1f} M parameters; text threshold "
              f"{params['sam3_threshold']:.4f} ({INSTANCES} instances)")  # fmt: skip
    print(f"planes {SIZE} x {SIZE}, {args.frames} frames tracked per run, medians of {args.rounds} interleaved rounds")
    width = max(len(op) for op in med)
    print(f"{'operation':<{width}}{'raw':>10}{'plugin':>10}{'plugin/raw':>12}   each round's plugin/raw")
    for op, m in med.items():
        paired = [p / r for p, r in zip(times[op]["plugin"], times[op]["raw"])]
        print(f"{op:<{width}}{m['raw']:>9.3f}s{m['plugin']:>9.3f}s{m['plugin'] / m['raw']:>11.3f}x   "
              f"{min(paired):.2f}-{max(paired):.2f}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": info, "threads": torch.get_num_threads(), "params": params, "rounds": args.rounds,
                       "frames": args.frames, "full": args.full, "median_s": med, "times_s": times}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    main()
