"""Clicks and boxes with a transformers model of SAM 2's prompting interface: EdgeTAM
(``EdgeTamModel`` + ``Sam2Processor``) and SAM 3's interactive head (``Sam3TrackerModel`` +
``Sam3TrackerProcessor``). One class for both, so a click means the same with either.

Importing this module imports neither torch nor transformers (the model arrives built)."""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from ..core.planes import plane_digest
from ..core.prompts import PromptError, PromptSet
from .base import MaskPrediction
from .embeddings import EmbeddingCache


class TransformersSegmenter:
    """Interactive segmentation with a SAM-2-style transformers model.

    :meth:`set_image` encodes the plane once (kept while the same pixels come back);
    :meth:`predict` runs the prompt encoder and mask decoder on that embedding, prompts in
    (row, col) plane pixels handed to the processor as (x, y). Masks come from the
    processor's ``post_process_masks`` (logits > 0, upsampled to the plane), scores are the
    predicted IoU clipped to 0-1, best first. ``load_tracker(segmenter)``: makes the tracker of
    the same weights on first use (None: this model does not track). ``cache``: the planes'
    embeddings (in memory within a budget, on disk if it has a folder), so going back to a
    plane skips the encoder; ``weights``: the weights' identity in its keys
    (:func:`.hf_weights.weights_identity`; two folders under one name never share entries).
    """

    def __init__(self, model, processor, device: str = "cpu", source: str = "", name: str = "model",
                 load_tracker: Callable[[TransformersSegmenter], object] | None = None,
                 cache: EmbeddingCache | None = None, weights: str = "") -> None:  # fmt: skip
        self.model = model.to(device).eval()
        self.cache = cache if cache is not None else EmbeddingCache()
        self.weights = weights
        self.processor = processor
        self.device = device
        self.source = source
        self.name = name
        self._load_tracker = load_tracker
        self._tracker = None
        self._lock = threading.RLock()  # one model call at a time (GUI prefetch + preview)
        self._key: str | None = None
        self._embeddings = None  # the image embeddings (a list of feature maps) of the plane of ``_key``
        self._hw: tuple[int, int] = (0, 0)

    fast_message = ""

    def set_fast(self, on: bool) -> bool:
        """No fast mode (bf16) for these models yet: they stay fp32, and say so."""
        self.fast_message = f"fast mode: none for {self.name} yet (it runs in fp32)" if on else "fast mode off"
        return False

    # -- embeddings ------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray) -> None:
        import torch  # noqa: PLC0415  (torch loads with the model, not with the plugin)

        rgb = as_rgb(rgb, self.name)
        key = f"{self.name}-{self.weights}-{plane_digest(rgb)}"
        with self._lock:
            if key == self._key:
                return
            embeddings = self.cache.get(key)
            if embeddings is None:
                pixels = self.processor(images=rgb, return_tensors="pt")["pixel_values"].to(self.device)
                with torch.inference_mode():
                    embeddings = list(self.model.get_image_embeddings(pixels))
                self.cache.put(key, embeddings)
            self._embeddings = [e.to(self.device) for e in embeddings]  # from disk: on the CPU
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
        import torch  # noqa: PLC0415  (as above)

        self.set_image(rgb)
        h, w = self._hw
        rows = (np.arange(points_per_side) + 0.5) * h / points_per_side
        cols = (np.arange(points_per_side) + 0.5) * w / points_per_side
        grid = [[float(c), float(r)] for r in rows for c in cols]
        found: list[tuple[np.ndarray, float]] = []
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

    @property
    def tracker_ready(self) -> bool:
        """Whether :meth:`tracker` returns at once (False: it loads a video model first,
        seconds: the Track dock calls it off the GUI thread)."""
        return self._tracker is not None or self._load_tracker is None

    def tracker(self):
        """The tracker of the same weights, loaded on first use (see ``load_tracker``)."""
        if self._load_tracker is None:
            raise PromptError(f"{self.name} does not track")
        with self._lock:
            if self._tracker is None:
                self._tracker = self._load_tracker(self)
        return self._tracker


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def as_rgb(rgb: np.ndarray, name: str) -> np.ndarray:
    """An (H, W, 3) uint8 plane (a grey plane repeated); any other shape refused naming ``name``."""
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise PromptError(f"{name} needs an (H, W, 3) plane, got shape {rgb.shape}")
    return np.ascontiguousarray(rgb, dtype=np.uint8)
