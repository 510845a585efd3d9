"""SAM 2 / 2.1 through the ``sam2`` package. torch is imported here only.

The plane arrives as (H, W, 3) uint8, windowed as the user sees it; prompts in
(row, col) are handed to ``SAM2ImagePredictor`` as (x, y). Embeddings go
through :class:`EmbeddingCache` keyed by plane content and model.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

import numpy as np
from .torch_guard import guard_torch_import

guard_torch_import()  # before torch: see torch_guard
import torch  # noqa: E402

from ..core.planes import plane_digest
from ..core.prompts import PromptSet
from .base import MaskPrediction
from .embeddings import EmbeddingCache
from .registry import CheckpointError, ModelSpec


def build_model(config: str, checkpoint: str | Path | None = None, device: str = "cpu", overrides: Sequence[str] = ()):
    """A SAM 2 model from a package config; weights from ``checkpoint`` if given.

    Built as a ``SAM2VideoPredictor`` so one set of weights serves both the
    image predictor (prompting) and tracking. Loads with ``weights_only=True``
    and says clearly when a file is not a SAM 2 checkpoint for this config
    (sam2's own loader raises a bare RuntimeError).
    """
    guard_torch_import()  # napari may have loaded Mesa's LLVM since this module was imported
    from sam2.build_sam import build_sam2_video_predictor

    model = build_sam2_video_predictor(config, None, device="cpu", hydra_overrides_extra=list(overrides))
    if checkpoint is not None:
        load_weights(model, checkpoint, config)
    return model.to(device).eval()


def load_weights(model, checkpoint: str | Path, config: str = "") -> None:
    path = Path(checkpoint)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from e
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # the layout of Meta's released checkpoints
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no state dict")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not fit the model config {config or '(given)'}: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}). "
            "Is it the right size (tiny/small/base+/large) and version (2.0/2.1)?"
        )


class Sam2Segmenter:
    """Interactive segmentation with SAM 2's image predictor."""

    def __init__(self, model, name: str = "sam2", cache: EmbeddingCache | None = None) -> None:
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        self.name = name
        self.model = model
        self.predictor = SAM2ImagePredictor(model)
        # sam2 hard-codes the 1024 px feature sizes; follow the model's image size
        self.predictor._bb_feat_sizes = feature_sizes(model.image_size)
        self.cache = cache if cache is not None else EmbeddingCache()
        self._lock = threading.RLock()  # one model call at a time (GUI prefetch + preview)
        self._key: str | None = None
        self._last_rgb: np.ndarray | None = None

    @property
    def device(self) -> str:
        return str(next(self.model.parameters()).device)

    @classmethod
    def from_checkpoint(cls, spec: ModelSpec, checkpoint: str | Path, device: str = "cpu", **kw) -> Sam2Segmenter:
        return cls(build_model(spec.config, checkpoint, device), name=spec.name, **kw)

    # -- embeddings ------------------------------------------------------
    def embedding_key(self, rgb: np.ndarray) -> str:
        return f"{self.name}-{self.model.image_size}-{plane_digest(rgb)}"

    def set_image(self, rgb: np.ndarray) -> None:
        if rgb is self._last_rgb and self._key is not None:
            return  # the very array embedded last: callers never mutate it
        key = self.embedding_key(rgb)
        with self._lock:
            if key == self._key:
                return
            hit = self.cache.get(key)
            p = self.predictor
            if hit is not None:
                p._features = {
                    "image_embed": hit["image_embed"].to(self.device),
                    "high_res_feats": [f.to(self.device) for f in hit["high_res_feats"]],
                }
                p._orig_hw = [tuple(int(v) for v in hit["orig_hw"])]
                p._is_image_set, p._is_batch = True, False
            else:
                with torch.inference_mode():
                    p.set_image(rgb)
                self.cache.put(
                    key,
                    {
                        "image_embed": p._features["image_embed"],
                        "high_res_feats": list(p._features["high_res_feats"]),
                        "orig_hw": torch.tensor(p._orig_hw[0]),
                    },
                )
            self._key = key
            self._last_rgb = rgb

    # -- prompting -------------------------------------------------------
    def predict(self, prompts: PromptSet, multimask: bool = True, mask_input: np.ndarray | None = None) -> MaskPrediction:
        with self._lock:
            if self._key is None:
                raise RuntimeError("set_image() first")
            prompts.check(tuple(self.predictor._orig_hw[0]))
            has_points = len(prompts.points) > 0
            with torch.inference_mode():
                masks, scores, logits = self.predictor.predict(
                    point_coords=prompts.xy if has_points else None,
                    point_labels=prompts.labels if has_points else None,
                    box=prompts.box_xyxy,
                    mask_input=None if mask_input is None else np.asarray(mask_input, np.float32)[None],
                    multimask_output=multimask,
                )
        order = np.argsort(-scores, kind="stable")
        return MaskPrediction(masks[order] > 0, np.clip(scores[order], 0, 1), logits[order])

    def tracker(self):
        """Tracking with the same weights."""
        from .sam2_video import Sam2Tracker

        return Sam2Tracker(self.model)

    def segment_all(self, rgb: np.ndarray, points_per_side: int = 32) -> list[tuple[np.ndarray, float]]:
        """SAM 2's automatic mask generator: every object, with its predicted IoU as score."""
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

        with self._lock, torch.inference_mode():
            gen = SAM2AutomaticMaskGenerator(self.model, points_per_side=points_per_side)
            gen.predictor._bb_feat_sizes = feature_sizes(self.model.image_size)
            found = gen.generate(np.ascontiguousarray(rgb))
        found.sort(key=lambda m: -m["predicted_iou"])
        return [(np.asarray(m["segmentation"], bool), float(np.clip(m["predicted_iou"], 0, 1))) for m in found]


def feature_sizes(image_size: int) -> list[tuple[int, int]]:
    return [(image_size // 4,) * 2, (image_size // 8,) * 2, (image_size // 16,) * 2]
