"""Tracking with a transformers video model of SAM 2's interface: EdgeTAM
(``EdgeTamVideoModel`` + ``Sam2VideoProcessor``) and SAM 3's tracker
(``Sam3TrackerVideoModel`` + ``Sam3TrackerVideoProcessor``), one class for both, in the
plugin's :class:`~.tracking.Tracker` interface (keyframes, stop, cancel as for SAM 2).

Importing this module imports neither torch nor transformers: they load with the model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import hf_weights
from .base import CheckpointError
from .tracking import AbsenceCounter, FrameSource, ObjectResult, TrackStep, frame_order

log = logging.getLogger(__name__)


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


class TransformersTracker:
    """Tracks many objects with a SAM-2-style transformers video model (``EdgeTamVideoModel``,
    ``Sam3TrackerVideoModel``), in the plugin's :class:`~.tracking.Tracker`
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

    def __init__(self, model, processor, device: str = "cpu", name: str = "model") -> None:
        self.name = name
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


def load_video_tracker(name: str, model_class, processor_class, source: str, image_processor, device: str = "cpu",
                       key_mapping: dict[str, str] | None = None, share_with=None) -> TransformersTracker:  # fmt: skip
    """The video model (``model_class``) and its processor (``processor_class``) from the folder or
    hub id the prompting model came from (already resolved: nothing is downloaded unless it was
    the hub id). A folder with the image model only (no memory weights) is refused in one line.
    Without a saved video processor, one is made from ``image_processor`` (its size and
    normalisation). ``share_with``: the prompting model, whose equal parts the tracker reuses
    rather than holding a second copy (:func:`.hf_weights.share_equal_parts`)."""
    from . import registry

    local = Path(source).exists() or hf_weights.hub_cached(source)
    label = Path(source).name or source
    try:
        model, info = model_class.from_pretrained(source, use_safetensors=True, local_files_only=local,
                                                  output_loading_info=True, key_mapping=key_mapping)  # fmt: skip
    except Exception as e:
        log.warning("%s: video model: %s: %s", name, type(e).__name__, e)
        raise CheckpointError(registry._short(f"{name}: no tracking model in {label}"),
                              f"{name}: {model_class.__name__} could not load {source} ({type(e).__name__}: {e})") from e  # fmt: skip
    missing = [k for k in info.get("missing_keys", ()) if not k.startswith(("vision_encoder.", "prompt_encoder.", "mask_decoder."))]
    if missing:  # the image model's folder: memory attention and encoder would be random
        raise CheckpointError(registry._short(f"{name}: {label} has no tracking weights"),
                              f"{name}: {source} holds the image model only ({len(missing)} video weights missing, "
                              f"e.g. {sorted(missing)[:3]}): save {model_class.__name__} there, or track with SAM 2.")  # fmt: skip
    try:
        processor = processor_class.from_pretrained(source, local_files_only=local)
    except Exception:  # a folder with the image processor only: the same sizes and normalisation
        from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

        images = image_processor
        frames = Sam2VideoVideoProcessor(size={"height": images.size["height"], "width": images.size["width"]},
                                         image_mean=images.image_mean, image_std=images.image_std)  # fmt: skip
        processor = processor_class(image_processor=images, video_processor=frames)
    tracker = TransformersTracker(model, processor, device, name=name)
    if share_with is not None:  # on one device by now
        hf_weights.share_equal_parts(tracker.model, share_with, ("vision_encoder", "prompt_encoder", "mask_decoder",
                                                                 "shared_image_embedding"))  # fmt: skip
    return tracker
