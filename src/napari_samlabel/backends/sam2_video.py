"""SAM 2's video predictor, fed from memory, with bounded memory.

``SAM2VideoPredictor.init_state`` only reads a JPEG folder or an mp4, so we
build the same inference state around :class:`LazyFrames`, which windows,
resizes and normalises each plane when SAM 2 asks for it and keeps none.
SAM 2 never prunes ``non_cond_frame_outputs``; we keep the frames its memory
can still reach (``num_maskmem`` masks, ``max_obj_ptrs_in_encoder`` object
pointers) and drop the rest, so memory does not grow with the stack and the
results equal an unpruned run. Each frame's backbone features come from a
:class:`~.features.FeatureEncoder` (the prompting backend's, with its cache and
fast mode), so frames already embedded are not encoded again.

Keyframes (the user's frames in the range) are added as masks next to the start
frame before propagating, so SAM 2 conditions on all of them, as its interactive
video segmentation does with corrections: its memory attention reads every
conditioning frame, which is never pruned.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np
from .torch_guard import guard_torch_import

guard_torch_import()  # before torch: see torch_guard
import torch  # noqa: E402

from .embeddings import EmbeddingCache
from .features import FeatureEncoder, VideoFeatures, preprocess
from .tracking import AbsenceCounter, FrameSource, ObjectResult, TrackStep, frame_order


def _quiet_progress() -> None:
    """sam2 wraps propagation in a tqdm bar; in a viewer our progress bar says it."""
    import sam2.sam2_video_predictor as svp

    svp.tqdm = lambda iterable, *args, **kwargs: iterable


_quiet_progress()


class LazyFrames:
    """SAM 2's ``images`` sequence, computed on demand from a frame source with the same
    :func:`~.features.preprocess` as prompting (sam2 only falls back to it when its
    ``cached_features`` miss, which :class:`~.features.VideoFeatures` never does)."""

    def __init__(self, frames: FrameSource, image_size: int, device) -> None:
        self.frames, self.image_size, self.device = frames, image_size, device

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> torch.Tensor:
        return preprocess(self.frames[int(index)], self.image_size, self.device)[0]


def init_state(
    predictor,
    frames: FrameSource,
    offload_state_to_cpu: bool = False,
    encoder: FeatureEncoder | None = None,
    keep: Callable[[int], bool] | None = None,
) -> dict:
    """The inference state ``init_state`` builds, around in-memory frames; the frames'
    backbone features come from ``encoder`` (and its cache, which keeps the frames ``keep``
    says a later run will need: all by default)."""
    device = predictor.device
    h, w = frames.hw
    encoder = encoder if encoder is not None else FeatureEncoder(predictor, cache=EmbeddingCache(0))
    return {
        "images": LazyFrames(frames, predictor.image_size, device),
        "num_frames": len(frames),
        "offload_video_to_cpu": False,
        "offload_state_to_cpu": offload_state_to_cpu,
        "video_height": h,
        "video_width": w,
        "device": device,
        "storage_device": torch.device("cpu") if offload_state_to_cpu else device,
        "point_inputs_per_obj": {},
        "mask_inputs_per_obj": {},
        "cached_features": VideoFeatures(encoder, frames, keep),
        "constants": {},
        "obj_id_to_idx": OrderedDict(),
        "obj_idx_to_id": OrderedDict(),
        "obj_ids": [],
        "output_dict_per_obj": {},
        "temp_output_dict_per_obj": {},
        "frames_tracked_per_obj": {},
    }


def memory_reach(predictor) -> int:
    """How many past frames SAM 2's memory attention can still read."""
    return max(int(predictor.num_maskmem), int(getattr(predictor, "max_obj_ptrs_in_encoder", 16))) + 1


def prune(state: dict, frame: int, keep: int) -> int:
    """Drop tracked outputs further than ``keep`` frames from ``frame``; return how many."""
    dropped = 0
    for obj_out in state["output_dict_per_obj"].values():
        outs = obj_out["non_cond_frame_outputs"]
        for t in [t for t in outs if abs(t - frame) > keep]:
            del outs[t]
            dropped += 1
    for tracked in state["frames_tracked_per_obj"].values():
        for t in [t for t in tracked if abs(t - frame) > keep]:
            del tracked[t]
    return dropped


def _each(steps: Iterator, context: Callable) -> Iterator:
    """The items of ``steps``, each computed inside a fresh ``context()``."""
    while True:
        with context():
            item = next(steps, None)
        if item is None:
            return
        yield item


def add_masks(predictor, state: dict, masks_by_frame: dict[int, dict[int, np.ndarray]]) -> None:
    """Add each frame's masks as conditioning inputs, a frame at a time, and encode their
    memories at once (sam2's preflight): each frame is encoded once for all its objects,
    where one preflight at the end would encode it again per object."""
    for frame, masks in masks_by_frame.items():
        for obj_id, mask in masks.items():
            predictor.add_new_mask(state, frame, obj_id, mask)
        predictor.propagate_in_video_preflight(state)


def pass_keyframes(keyframes, order: list[int], ids) -> dict[int, dict[int, np.ndarray]]:
    """The keyframes among a pass's frames, of the objects tracked, in the pass's order."""
    out = {}
    for f in order:
        masks = {int(i): np.asarray(m, bool) for i, m in (keyframes or {}).get(f, {}).items() if int(i) in ids}
        masks = {i: m for i, m in masks.items() if m.any()}
        if masks:
            out[f] = masks
    return out


class Sam2Tracker:
    """Tracks many objects at once with a ``SAM2VideoPredictor``."""

    name = "sam2"

    def __init__(self, predictor, keep_frames: int | None = None, encoder: FeatureEncoder | None = None) -> None:
        self.predictor = predictor
        self.keep = keep_frames if keep_frames is not None else memory_reach(predictor)
        self.last_state: dict | None = None  # for tests and benchmarks
        # the prompting backend's encoder (its cache, budget and fast mode); alone, no cache:
        # nothing outlives the frame in use, so memory stays flat in the stack's length
        self.encoder = encoder if encoder is not None else FeatureEncoder(predictor, "sam2-video", EmbeddingCache(0))
        #: frame -> whether a later run will ask for its features again; None (the dock): every
        #: frame may be (re-tracking after a correction, tracking again, prompting on a tracked
        #: frame), so the encoder's cache keeps them within its budget. A one-shot run
        #: (``samlabel track``) names the frames it will revisit; the others' features are
        #: dropped once used, so memory stays flat in the stack's length (SAM 2's memory
        #: needs no past frame's features: it keeps their memory encodings, pruned above).
        self.reuse: Callable[[int], bool] | None = None

    def track(
        self,
        frames: FrameSource,
        start: int,
        masks: dict[int, np.ndarray],
        direction: str = "forward",
        n_frames: int | None = 30,
        stop_after: int | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        keyframes: dict[int, dict[int, np.ndarray]] | None = None,
    ) -> Iterator[TrackStep]:
        """See :class:`~.tracking.Tracker`. An object on one of its keyframes is left out of
        that step (its mask is the user's) and counts as present: one that had stopped
        is tracked again from there."""
        p = self.predictor
        masks = {int(i): np.asarray(m, bool) for i, m in masks.items() if np.asarray(m).any()}
        if not masks:
            return
        for order in frame_order(start, len(frames), direction, n_frames):
            if not order:
                continue
            keys = pass_keyframes(keyframes, order, masks)
            last_key = max((order.index(f) for f in keys), default=-1)  # past it, none is left
            with torch.inference_mode():
                state = init_state(p, frames, encoder=self.encoder, keep=self.reuse)
                self.last_state = state
                with self.encoder.autocast():  # fast mode: bf16 (entered around model work only, never
                    add_masks(p, state, {start: masks, **keys})  # held across a yield to the caller)
                reverse = order[0] < start
                counter = AbsenceCounter(masks, stop_after)
                steps = p.propagate_in_video(state, start, len(order), reverse=reverse)
                for pos, (frame_idx, obj_ids, video_res_masks) in enumerate(_each(steps, self.encoder.autocast), -1):
                    if frame_idx == start:
                        continue  # the user's own mask stays as drawn
                    step = TrackStep(int(frame_idx))
                    stopped = []
                    mine = keys.get(int(frame_idx), {})
                    for k, obj_id in enumerate(obj_ids):
                        if obj_id in mine:  # the user's keyframe: their mask stays, and it is there
                            counter.update(int(obj_id), True)
                            counter.active.add(int(obj_id))
                            continue
                        if obj_id not in counter.active:
                            continue
                        out = state["output_dict_per_obj"][k]["non_cond_frame_outputs"].get(frame_idx)
                        obj_logit = float(out["object_score_logits"].flatten()[0]) if out is not None else 1.0
                        mask = (video_res_masks[k, 0] > 0).cpu().numpy()
                        present = bool(mask.any()) and obj_logit > 0
                        score = float(torch.sigmoid(torch.tensor(obj_logit)))
                        step.objects[int(obj_id)] = ObjectResult(mask if present else np.zeros_like(mask), score, present)
                        if counter.update(int(obj_id), present):
                            stopped.append(int(obj_id))
                    step.stopped = tuple(stopped)
                    prune(state, int(frame_idx), self.keep)
                    yield step
                    if cancelled() or (not counter.active and pos >= last_key):
                        break
                steps.close()
