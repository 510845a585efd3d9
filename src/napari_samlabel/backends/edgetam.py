"""EdgeTAM through ``transformers`` (>= 5): SAM 2's prompting with a RepViT (timm) image
encoder, the fast model for CPU laptops.

Clicks (positive, negative) and a box on a plane give masks, as with SAM 2: ``EdgeTamModel``
and its processor (``Sam2Processor``). Weights come from a local folder saved with
``save_pretrained`` or a Hugging Face id (default ``yonigozlan/EdgeTAM-hf``, the checkpoint
transformers' own docs and tests name), always as safetensors (``use_safetensors=True``:
nothing is unpickled). Its vision backbone is a timm model, so ``timm`` must be installed.
Tracking (:meth:`EdgeTamSegmenter.tracker`) uses ``EdgeTamVideoModel`` and ``Sam2VideoProcessor``
from the same folder or hub id (the hub's checkpoint holds both).

Importing this module imports neither torch nor transformers: they load in
:func:`load_edgetam` and the segmenter's methods, so the registry can say what is missing first.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..core.prompts import PromptError, PromptSet
from . import hf_weights
from .base import CheckpointError, MaskPrediction, ModelUnavailable
from .tracking import AbsenceCounter, FrameSource, ObjectResult, TrackStep, frame_order

log = logging.getLogger(__name__)

NAME = "edgetam"
DEFAULT_SOURCE = "yonigozlan/EdgeTAM-hf"
DESCRIPTION = "EdgeTAM: the fast model for CPU laptops"
#: what a model folder must hold (the processor's files come with it from ``save_pretrained``)
INSTALL = 'pip install "transformers>=5" timm'


class EdgeTamSegmenter:
    """Interactive segmentation with EdgeTAM (``EdgeTamModel`` + ``Sam2Processor``).

    :meth:`set_image` encodes the plane once (kept while the same pixels come back);
    :meth:`predict` runs the prompt encoder and mask decoder on that embedding, prompts in
    (row, col) plane pixels handed to the processor as (x, y). Masks come from the
    processor's ``post_process_masks`` (logits > 0, upsampled to the plane), scores are the
    predicted IoU clipped to 0-1, best first.
    """

    name = NAME

    def __init__(self, model, processor, device: str = "cpu", source: str = "") -> None:
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device
        self.source = source
        self._lock = threading.RLock()  # one model call at a time (GUI prefetch + preview)
        self._key: str | None = None
        self._embeddings = None  # the image embeddings (a list of feature maps) of the plane of ``_key``
        self._hw: tuple[int, int] = (0, 0)

    fast_message = ""

    def set_fast(self, on: bool) -> bool:
        """No fast mode (bf16) for EdgeTAM yet: it stays fp32, and says so (without this the
        registry would say it runs no neural network)."""
        self.fast_message = "fast mode: none for EdgeTAM yet (it runs in fp32)" if on else "fast mode off"
        return False

    # -- embeddings ------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray) -> None:
        import torch  # noqa: PLC0415  (torch loads with the model, not with the plugin)

        rgb = _as_rgb(rgb)
        key = hashlib.blake2b(rgb.tobytes(), digest_size=16, key=repr(rgb.shape).encode()).hexdigest()
        with self._lock:
            if key == self._key:
                return
            pixels = self.processor(images=rgb, return_tensors="pt")["pixel_values"].to(self.device)
            with torch.inference_mode():
                self._embeddings = self.model.get_image_embeddings(pixels)
            self._key, self._hw = key, (int(rgb.shape[0]), int(rgb.shape[1]))

    # -- prompting -------------------------------------------------------------------
    def predict(self, prompts: PromptSet, multimask: bool = True, mask_input: np.ndarray | None = None) -> MaskPrediction:
        with self._lock:
            if self._key is None:
                raise RuntimeError("set_image() first")
            prompts.check(self._hw)
            points = labels = boxes = None
            if len(prompts.points):
                points = [[prompts.xy.tolist()]]  # (image, object, point, xy)
                labels = [[prompts.labels.tolist()]]
            if prompts.box is not None:
                boxes = [[prompts.box_xyxy.tolist()]]  # (image, box, x0 y0 x1 y1)
            logits, scores = self._decode(points, labels, boxes, multimask, mask_input)
            masks = self.processor.post_process_masks(logits, [list(self._hw)])[0][0]  # (K, H, W) bool
        scores = scores[0, 0].float().cpu().numpy()
        order = np.argsort(-scores, kind="stable")
        return MaskPrediction(masks.cpu().numpy()[order], np.clip(scores[order], 0, 1),
                              logits[0, 0].float().cpu().numpy()[order])  # fmt: skip

    def _decode(self, points, labels, boxes, multimask: bool, mask_input=None):
        """(low-res mask logits (1, P, K, h, w), predicted IoU (1, P, K)) on the kept embedding."""
        import torch  # noqa: PLC0415  (as above)

        inputs = self.processor(input_points=points, input_labels=labels, input_boxes=boxes,
                                original_sizes=[list(self._hw)], return_tensors="pt")  # fmt: skip
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k != "original_sizes"}
        if mask_input is not None:
            inputs["input_masks"] = torch.as_tensor(np.asarray(mask_input, np.float32))[None, None].to(self.device)
        with torch.inference_mode():
            out = self.model(image_embeddings=self._embeddings, multimask_output=multimask, **inputs)
        return out.pred_masks, out.iou_scores

    def segment_all(self, rgb: np.ndarray, points_per_side: int = 16, min_score: float = 0.5,
                    max_overlap: float = 0.7, batch: int = 64) -> list[tuple[np.ndarray, float]]:  # fmt: skip
        """Every object on the plane: one click on each point of a grid, the best of each
        click's masks kept when its predicted IoU reaches ``min_score``, then a mask that
        overlaps a better one by more than ``max_overlap`` (IoU) dropped. Best first."""
        self.set_image(rgb)
        h, w = self._hw
        rows = (np.arange(points_per_side) + 0.5) * h / points_per_side
        cols = (np.arange(points_per_side) + 0.5) * w / points_per_side
        grid = [[float(c), float(r)] for r in rows for c in cols]
        found: list[tuple[np.ndarray, float]] = []
        import torch  # noqa: PLC0415  (as above)

        with self._lock:
            for i in range(0, len(grid), batch):
                part = grid[i : i + batch]
                logits, scores = self._decode([[[p] for p in part]], [[[1] for _ in part]], None, True)
                each, best = torch.arange(len(part)), scores[0].argmax(-1)  # the best mask of each click
                pick = logits[0, each, best][:, None]  # (P, 1, h, w)
                masks = self.processor.post_process_masks(pick[None], [[h, w]])[0][:, 0].cpu().numpy()
                for mask, score in zip(masks, scores[0, each, best].float().cpu().numpy()):
                    if score >= min_score and mask.any():
                        found.append((mask, float(np.clip(score, 0, 1))))
        found.sort(key=lambda ms: -ms[1])
        kept: list[tuple[np.ndarray, float]] = []
        for mask, score in found:
            if all(_iou(mask, k) <= max_overlap for k, _ in kept):
                kept.append((mask, score))
        return kept

    def tracker(self):
        """Tracking with EdgeTAM's video model (``EdgeTamVideoModel`` + ``Sam2VideoProcessor``)
        from the same folder or hub id, loaded on first use; a folder with the image model
        only (no memory weights) is refused in one line."""
        with self._lock:
            if self._tracker is None:
                self._tracker = load_tracker(self.source, self.processor, self.device)
        return self._tracker

    _tracker = None


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise PromptError(f"EdgeTAM needs an (H, W, 3) plane, got shape {rgb.shape}")
    return np.ascontiguousarray(rgb, dtype=np.uint8)


# -- what it needs, where the weights come from (no torch here) --------------------------
def missing_libraries() -> list[str]:
    """What EdgeTAM needs and lacks: PyTorch, transformers >= 5, timm (nothing imported)."""
    return hf_weights.missing_libraries(("timm",))


def unavailable(missing: list[str]) -> ModelUnavailable:
    return ModelUnavailable(
        f"{NAME} needs PyTorch, transformers>=5 and timm: {INSTALL}",
        f"{NAME} needs PyTorch, transformers>=5 and timm ({' and '.join(missing)} missing): {INSTALL} "
        "(or pip install 'napari-samlabel[sam]'); SAM 2 and 'seeds' work without them.",
    )








def _what_to_do(repo: str) -> str:
    return (f"Load once online to download {repo} (https://huggingface.co/{repo}), or pass a folder saved with "
            "save_pretrained. SAM 2 and 'seeds' work without it.")  # fmt: skip


def resolve_source(checkpoint: str | Path | None = None, download: bool = True) -> tuple[str, bool]:
    """(what ``from_pretrained`` gets, whether it may download): see :func:`.hf_weights.resolve_source`."""
    return hf_weights.resolve_source(NAME, DEFAULT_SOURCE, _what_to_do, checkpoint, download)


def status(checkpoint: str | Path | None = None) -> tuple[bool, str, str]:
    """registry.model_status for EdgeTAM (loads nothing)."""
    return hf_weights.status(NAME, DESCRIPTION, missing_libraries, unavailable, resolve_source, checkpoint)


def load_edgetam(checkpoint: str | Path | None = None, device: str = "auto", download: bool = True) -> EdgeTamSegmenter:
    """The segmenter for a local folder or a hub id (see :func:`resolve_source`); ``device``
    "auto" is picked once the weights are found (picking imports torch)."""
    from . import registry

    missing = missing_libraries()
    if missing:  # said before looking for weights, and without importing torch
        raise unavailable(missing)
    source, may_download = resolve_source(checkpoint, download)  # before torch loads: offline fails fast
    device = registry.pick_device(device)
    from .torch_guard import guard_torch_import

    guard_torch_import()  # napari may have loaded Mesa's LLVM: see torch_guard
    from transformers import EdgeTamModel, Sam2Processor  # noqa: PLC0415  (heavy: loaded with the model only)

    try:
        model = EdgeTamModel.from_pretrained(source, use_safetensors=True, local_files_only=not may_download)
        processor = Sam2Processor.from_pretrained(source, local_files_only=not may_download)
    except Exception as e:  # network lost, files that are not EdgeTAM's: say what to do
        registry.forget_network_check()
        text = f"{type(e).__name__}: {e}"
        line = f"{NAME}: could not load {Path(source).name or source}"
        log.warning("%s: %s", NAME, text)
        raise CheckpointError(registry._short(line), f"{line} ({' '.join(text.split())[:400]}). " + _what_to_do(
            DEFAULT_SOURCE if Path(source).exists() else source)) from e  # fmt: skip
    log.info("%s: weights from %s", NAME, source)
    return EdgeTamSegmenter(model, processor, device=device, source=source)


# -- tracking ---------------------------------------------------------------------------
class _LazyPixels(dict):
    """The session's ``processed_frames``, each frame windowed and preprocessed by the video
    processor when the model asks for it and never kept (transformers reads only ``len`` and
    ``[frame]``): memory does not grow with the stack."""

    def __init__(self, frames: FrameSource, video_processor) -> None:
        super().__init__()
        self.frames, self.video_processor = frames, video_processor

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, frame: int):
        video = self.video_processor(videos=[self.frames[int(frame)][None]], return_tensors="pt")
        return video.pixel_values_videos[0][0]


class EdgeTamTracker:
    """Tracks many objects with ``EdgeTamVideoModel``, in the plugin's :class:`~.tracking.Tracker`
    interface (as :class:`~.sam2_video.Sam2Tracker`): the start masks and the pass's keyframes
    are conditioning masks, the model propagates from the start frame, each frame's masks come
    from the processor's ``post_process_masks`` (logits > 0), an object is present where its
    mask is not empty and its object score logit > 0 (score: the logit's sigmoid). Outputs
    further than the model's memory can reach are dropped.

    Each object has its own inference session, all reading one vision-feature cache and run in
    step, so a frame is encoded once for all. The model computes objects one by one anyway, so
    results equal one session for all; but one session for all fails in transformers 5.x
    (``torch.cat`` of object score logits of different ranks) on a frame where one object is
    conditioned (a keyframe) and another tracked. An object that has stopped and has no
    keyframe ahead costs nothing more."""

    name = NAME

    def __init__(self, model, processor, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device
        config = model.config
        self.keep = max(int(config.num_maskmem), int(config.max_object_pointers_in_encoder)) + 1
        self.last_sessions: dict = {}  # for tests

    def _session(self, frames: FrameSource, cache, conditions: dict[int, np.ndarray]):
        """A session over the lazy frames, conditioned on {frame: mask} of one object."""
        import torch  # noqa: PLC0415  (torch loads with the model, not with the plugin)

        session = self.processor.init_video_session(inference_device=self.device)
        session.processed_frames = _LazyPixels(frames, self.processor.video_processor)
        session.video_height, session.video_width = frames.hw
        if cache is not None:
            session.cache = cache
        with torch.inference_mode():
            for frame, mask in conditions.items():
                self.processor.add_inputs_to_inference_session(session, frame_idx=frame, obj_ids=[0],
                                                               input_masks=[torch.from_numpy(mask)])  # fmt: skip
                self.model(inference_session=session, frame_idx=frame)
        return session

    def track(self, frames: FrameSource, start: int, masks: dict[int, np.ndarray], direction: str = "forward",
              n_frames: int | None = 30, stop_after: int | None = None, cancelled: Callable[[], bool] = lambda: False,
              keyframes: dict[int, dict[int, np.ndarray]] | None = None) -> Iterator[TrackStep]:  # fmt: skip
        """See :class:`~.tracking.Tracker`: an object on one of its keyframes is left out of that
        step (its mask is the user's) and counts as present: one that had stopped is tracked
        again from there."""
        import torch  # noqa: PLC0415  (as above)

        masks = {int(i): np.asarray(m, bool) for i, m in masks.items() if np.asarray(m).any()}
        if not masks:
            return
        h, w = frames.hw
        for order in frame_order(start, len(frames), direction, n_frames):
            if not order:
                continue
            keys: dict[int, dict[int, np.ndarray]] = {}  # object -> {frame: the user's mask} in this pass
            for f in order:
                for i, m in (keyframes or {}).get(f, {}).items():
                    if int(i) in masks and np.asarray(m).any():
                        keys.setdefault(int(i), {})[f] = np.asarray(m, bool)
            last_key = max((order.index(f) for k in keys.values() for f in k), default=-1)  # past it, none is left
            sessions, cache = {}, None
            for i, mask in masks.items():
                sessions[i] = self._session(frames, cache, {start: mask, **keys.get(i, {})})
                cache = sessions[i].cache
            self.last_sessions = sessions
            runs = {i: self.model.propagate_in_video_iterator(s, start_frame_idx=start, max_frame_num_to_track=len(order),
                                                              reverse=order[0] < start) for i, s in sessions.items()}  # fmt: skip
            counter = AbsenceCounter(masks, stop_after)
            for pos in range(-1, len(order)):
                with torch.inference_mode():  # never held across a yield to the caller
                    outs = {i: next(run, None) for i, run in runs.items()}
                outs = {i: o for i, o in outs.items() if o is not None}
                if not outs:
                    break
                frame = int(next(iter(outs.values())).frame_idx)
                if frame == start:
                    continue  # the user's own mask stays as drawn
                step, stopped = TrackStep(frame), []
                for i, out in outs.items():
                    if frame in keys.get(i, {}):  # the user's keyframe: their mask stays, and it is there
                        counter.update(i, True)
                        counter.active.add(i)
                        continue
                    if i not in counter.active:
                        continue
                    logit = out.object_score_logits.reshape(-1)[0].float().cpu()
                    mask = (self.processor.post_process_masks([out.pred_masks], [[h, w]], binarize=False)[0][0, 0] > 0).cpu().numpy()
                    present = bool(mask.any()) and float(logit) > 0
                    step.objects[i] = ObjectResult(mask if present else np.zeros_like(mask), float(torch.sigmoid(logit)), present)
                    if counter.update(i, present):
                        stopped.append(i)
                step.stopped = tuple(stopped)
                for i in list(runs):
                    _prune(sessions[i], frame, self.keep)
                    if i not in counter.active and not any(order.index(f) > pos for f in keys.get(i, {})):
                        runs.pop(i).close()  # stopped for good in this pass: no more work for it
                yield step
                if cancelled() or (not counter.active and pos >= last_key):
                    break
            for run in runs.values():
                run.close()


def _prune(session, frame: int, keep: int) -> None:
    """Drop tracked outputs further than ``keep`` frames from ``frame`` (conditioning frames stay)."""
    for out in session.output_dict_per_obj.values():
        far = [t for t in out["non_cond_frame_outputs"] if abs(t - frame) > keep]
        for t in far:
            del out["non_cond_frame_outputs"][t]
    for tracked in session.frames_tracked_per_obj.values():
        for t in [t for t in tracked if abs(t - frame) > keep]:
            del tracked[t]


def load_tracker(source: str, processor, device: str = "cpu") -> EdgeTamTracker:
    """``EdgeTamVideoModel`` and ``Sam2VideoProcessor`` from the folder or hub id the prompting
    model came from (already resolved: nothing is downloaded unless it was the hub id)."""
    from . import registry

    from transformers import EdgeTamVideoModel, Sam2VideoProcessor  # noqa: PLC0415  (heavy)

    local = Path(source).exists() or hf_weights.hub_cached(source)
    try:
        model, info = EdgeTamVideoModel.from_pretrained(source, use_safetensors=True, local_files_only=local,
                                                        output_loading_info=True)  # fmt: skip
    except Exception as e:
        log.warning("%s: video model: %s: %s", NAME, type(e).__name__, e)
        raise CheckpointError(registry._short(f"{NAME}: no tracking model in {Path(source).name or source}"),
                              f"{NAME}: EdgeTamVideoModel could not load {source} ({type(e).__name__}: {e})") from e  # fmt: skip
    missing = [k for k in info.get("missing_keys", ()) if not k.startswith(("vision_encoder.", "prompt_encoder.", "mask_decoder."))]
    if missing:  # the image model's folder: memory attention and encoder would be random
        raise CheckpointError(registry._short(f"{NAME}: {Path(source).name or source} has no tracking weights"),
                              f"{NAME}: {source} holds the image model only ({len(missing)} video weights missing, "
                              f"e.g. {missing[:3]}): save EdgeTamVideoModel there, or track with SAM 2.")  # fmt: skip
    try:
        video_processor = Sam2VideoProcessor.from_pretrained(source, local_files_only=local)
    except Exception:  # a folder with the image processor only: the same sizes and normalisation
        from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

        images = processor.image_processor
        size = {"height": images.size["height"], "width": images.size["width"]}
        video_processor = Sam2VideoProcessor(image_processor=images, video_processor=Sam2VideoVideoProcessor(size=size))
    return EdgeTamTracker(model, video_processor, device)
