"""SAM 2 / 2.1 through the ``sam2`` package. torch is imported here only.

The plane arrives as (H, W, 3) uint8, windowed as the user sees it; prompts in
(row, col) are handed to ``SAM2ImagePredictor`` as (x, y). Embeddings go
through :class:`FeatureEncoder` (one preprocessing and one cache for prompting
and tracking), keyed by plane content, model (name and checkpoint hash) and precision.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

import numpy as np
from .torch_guard import guard_torch_import

guard_torch_import()  # before torch: see torch_guard
import torch  # noqa: E402

from ..core.prompts import PromptSet
from .base import CheckpointError, MaskPrediction, ModelSpec
from .embeddings import EmbeddingCache, weights_digest
from .features import FeatureEncoder


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
    """Interactive segmentation with SAM 2's image predictor.

    Embeddings come from a :class:`FeatureEncoder` shared with :meth:`tracker`, so the
    plane prompted on is not encoded again when tracking starts from it. ``fast``
    (see :meth:`set_fast`) runs the encoder, the decoder and tracking under bf16 autocast.
    ``weights``: the weights' identity in the cache keys (:meth:`from_checkpoint` gives the
    checkpoint's hash).
    """

    def __init__(
        self, model, name: str = "sam2", cache: EmbeddingCache | None = None, fast: bool = False, weights: str = ""
    ) -> None:
        guard_torch_import()  # torchvision comes in here; napari may have loaded Mesa's LLVM since
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        self.name = name
        self.model = model
        self.predictor = SAM2ImagePredictor(model)
        # sam2 hard-codes the 1024 px feature sizes; follow the model's image size
        self.predictor._bb_feat_sizes = feature_sizes(model.image_size)
        self.encoder = FeatureEncoder(model, name, cache, weights)
        self._lock = threading.RLock()  # one model call at a time (GUI prefetch + preview)
        self._key: str | None = None
        self._last_rgb: np.ndarray | None = None
        self.fast_message = ""
        if fast:
            self.set_fast(True)

    @property
    def cache(self) -> EmbeddingCache:
        return self.encoder.cache

    @property
    def device(self) -> str:
        return str(next(self.model.parameters()).device)

    @property
    def fast(self) -> bool:
        return self.encoder.fast

    def set_fast(self, on: bool) -> bool:
        """Fast mode (bf16 autocast) on or off; ``fast_message`` says what it did (e.g. that
        this CPU has no bf16). Returns whether it is on."""
        active, self.fast_message = self.encoder.set_fast(on)  # no lock: never waits for the model
        self._last_rgb = None  # set_image looks the plane up again (keys carry the precision)
        return active

    @classmethod
    def from_checkpoint(cls, spec: ModelSpec, checkpoint: str | Path, device: str = "cpu", **kw) -> Sam2Segmenter:
        # keyed by the file's bytes: a fine-tuned checkpoint under its base model's name is another model
        return cls(build_model(spec.config, checkpoint, device), name=spec.name, weights=weights_digest(checkpoint), **kw)

    # -- embeddings ------------------------------------------------------
    def embedding_key(self, rgb: np.ndarray) -> str:
        return self.encoder.key(rgb)

    def set_image(self, rgb: np.ndarray) -> None:
        if rgb is self._last_rgb and self._key is not None:
            return  # the very array embedded last: callers never mutate it
        key = self.embedding_key(rgb)
        with self._lock:
            if key == self._key:
                return
            self._load(self.predictor, rgb, key)
            self._key = key
            self._last_rgb = rgb

    def _load(self, predictor, rgb: np.ndarray, key: str | None = None) -> None:
        """What ``predictor.set_image(rgb)`` does, with the features from the shared encoder."""
        entry = self.encoder.features(np.asarray(rgb), key)
        predictor.reset_predictor()
        predictor._features = self.encoder.image_features(entry, predictor._bb_feat_sizes)
        predictor._orig_hw = [tuple(int(v) for v in entry["hw"])]
        predictor._is_image_set, predictor._is_batch = True, False

    # -- prompting -------------------------------------------------------
    def predict(self, prompts: PromptSet, multimask: bool = True, mask_input: np.ndarray | None = None) -> MaskPrediction:
        with self._lock:
            if self._key is None:
                raise RuntimeError("set_image() first")
            prompts.check(tuple(self.predictor._orig_hw[0]))
            has_points = len(prompts.points) > 0
            with torch.inference_mode(), self.encoder.autocast():
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

        return Sam2Tracker(self.model, encoder=self.encoder)

    def segment_all(self, rgb: np.ndarray, points_per_side: int = 32) -> list[tuple[np.ndarray, float]]:
        """SAM 2's automatic mask generator: every object, with its predicted IoU as score."""
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

        with self._lock, torch.inference_mode(), self.encoder.autocast():
            gen = SAM2AutomaticMaskGenerator(self.model, points_per_side=points_per_side)
            gen.predictor._bb_feat_sizes = feature_sizes(self.model.image_size)
            gen.predictor.set_image = lambda image, p=gen.predictor: self._load(p, image)  # the cached embedding
            found = gen.generate(np.ascontiguousarray(rgb))
        found.sort(key=lambda m: -m["predicted_iou"])
        return [(np.asarray(m["segmentation"], bool), float(np.clip(m["predicted_iou"], 0, 1))) for m in found]


def feature_sizes(image_size: int) -> list[tuple[int, int]]:
    return [(image_size // 4,) * 2, (image_size // 8,) * 2, (image_size // 16,) * 2]
