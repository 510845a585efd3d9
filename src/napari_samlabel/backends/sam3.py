"""SAM 3 through ``transformers`` (>= 5): every object on a plane that matches a text
("cell nucleus") or visual exemplars (boxes, positive or negative), clicks and boxes on one
object, and tracking.

SAM 3 labels objects by concept ("Label all" by a class's prompt text: ``Sam3Model``). The
full checkpoint (``facebook/sam3``, a ``sam3_video`` folder) also holds SAM 3's tracker: its
interactive head takes clicks and boxes with the same keys as SAM 2 (``Sam3TrackerModel``, a
:class:`.hf_prompting.TransformersSegmenter`) and its video model tracks
(``Sam3TrackerVideoModel``, a :class:`.hf_video.TransformersTracker`); the three share one image
backbone in memory. A folder with the concept model only (``Sam3Model.save_pretrained``)
labels by concept and says so for clicks and tracking. Weights come from a local folder
saved with ``save_pretrained`` or a Hugging Face id (default ``facebook/sam3``, gated: a token
with the licence accepted), always as safetensors (``use_safetensors=True``).

Importing this module imports neither torch nor transformers: they load in
:func:`load_sam3` and the segmenter's methods, so the registry can say what is missing first.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.prompts import PromptError, PromptSet
from . import hf_weights
from .base import CheckpointError, MaskPrediction
from .hf_prompting import TransformersSegmenter, as_rgb
from .hf_video import load_video_tracker

log = logging.getLogger(__name__)

NAME = "sam3"
DEFAULT_SOURCE = "facebook/sam3"
#: the tracker's weights in a ``sam3_video`` checkpoint are under ``tracker_model.``: transformers
#: 5.x renames them for ``Sam3TrackerVideoModel`` but not for ``Sam3TrackerModel`` (147 weights
#: left random, measured on 5.25), so the prefix is dropped here
TRACKER_KEYS = {r"^tracker_model\.": ""}
CONCEPT_ONLY = ("holds SAM 3's concept model only: it labels by text or exemplars. For clicks and tracking load "
                "the full facebook/sam3 folder, or SAM 2 (or seeds)")


class Sam3Segmenter:
    """Every instance of a concept on a plane, from SAM 3's detector (``Sam3Model``); clicks,
    boxes and tracking from SAM 3's tracker (``clicks``, None for a concept-only folder).

    ``segment_text`` (a noun phrase) and ``segment_exemplars`` (boxes, positive/negative) give
    [(mask (H, W) bool, score)], best first. ``concept`` is the text :meth:`segment_all` looks
    for (Label all with a class sets it from the class's prompt). ``threshold``: the least
    score kept (``post_process_instance_segmentation``'s); ``mask_threshold``: where a mask's
    probability counts as inside. The last plane's vision embedding is kept, so several
    concepts on one plane run the image encoder once.
    """

    name = NAME

    def __init__(self, model, processor, device: str = "cpu", threshold: float = 0.5, mask_threshold: float = 0.5,
                 source: str = "", clicks: TransformersSegmenter | None = None) -> None:  # fmt: skip
        self.model = model.to(device).eval()
        self.clicks = clicks
        self.processor = processor
        self.device = device
        self.threshold = float(threshold)
        self.mask_threshold = float(mask_threshold)
        self.source = source
        self.concept: str | None = None
        self._key: str | None = None
        self._embeds = None  # the vision encoder's output for the plane of ``_key``
        self._size: tuple[int, int] = (0, 0)

    # -- the protocol -------------------------------------------------------------
    def set_image(self, rgb: np.ndarray) -> None:
        """Encode the plane for clicks (the concept encoder runs when a concept is asked for);
        reused while the same pixels come back."""
        if self.clicks is not None:
            self.clicks.set_image(rgb)
        else:
            self._vision(rgb)

    def predict(self, prompts: PromptSet, multimask: bool = True, mask_input: np.ndarray | None = None) -> MaskPrediction:
        """Clicks and a box on one object, with SAM 3's interactive head (as SAM 2's)."""
        if self.clicks is None:
            raise PromptError(f"{NAME}: {self._folder()} {CONCEPT_ONLY}")
        return self.clicks.predict(prompts, multimask, mask_input)

    @property
    def cache(self):
        """The clicks' embedding cache (the Segment dock sets its budget); None without clicks."""
        return self.clicks.cache if self.clicks is not None else None

    @property
    def takes_clicks(self) -> bool:
        return self.clicks is not None

    @property
    def tracker_ready(self) -> bool:
        """See :attr:`.hf_prompting.TransformersSegmenter.tracker_ready`."""
        return self.clicks is None or self.clicks.tracker_ready

    def tracker(self):
        """SAM 3's video tracker (``Sam3TrackerVideoModel``), loaded on first use."""
        if self.clicks is None:
            raise PromptError(f"{NAME}: {self._folder()} {CONCEPT_ONLY}")
        return self.clicks.tracker()

    def _folder(self) -> str:
        return Path(self.source).name or self.source or "this folder"

    def segment_all(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Every instance of :attr:`concept` on the plane."""
        if not self.concept:
            raise PromptError("SAM 3 finds objects by a concept: give a class's prompt text (Label all by class)")
        return self.segment_text(rgb, self.concept)

    # -- concepts -----------------------------------------------------------------
    def segment_text(self, rgb: np.ndarray, text: str, threshold: float | None = None) -> list[tuple[np.ndarray, float]]:
        """Every detection of ``text`` on the plane: [(mask, score)], best first."""
        text = " ".join(str(text).split())
        if not text:
            raise PromptError("SAM 3: the concept text is empty")
        return self._detect(rgb, text, threshold=threshold)

    def segment_exemplars(self, rgb: np.ndarray, boxes: Sequence[Sequence[float]], labels: Sequence[int | bool] | None = None,
                          text: str | None = None, threshold: float | None = None) -> list[tuple[np.ndarray, float]]:  # fmt: skip
        """Every object like the positive exemplar boxes (and unlike the negative ones).

        ``boxes``: (row0, col0, row1, col1) in plane pixels; ``labels``: 1/True positive,
        0/False negative (default: all positive); ``text``: a concept to go with them."""
        boxes = [[float(v) for v in b] for b in boxes]
        if not boxes or any(len(b) != 4 for b in boxes):
            raise PromptError("SAM 3 exemplars: give boxes as (row0, col0, row1, col1)")
        labels = [1] * len(boxes) if labels is None else [int(bool(v)) for v in labels]
        if len(labels) != len(boxes):
            raise PromptError(f"SAM 3 exemplars: {len(boxes)} boxes but {len(labels)} labels")
        xyxy = [[c0, r0, c1, r1] for r0, c0, r1, c1 in boxes]  # the processor takes (x0, y0, x1, y1)
        return self._detect(rgb, text, [xyxy], [labels], threshold)

    # -- inside -------------------------------------------------------------------
    def _vision(self, rgb: np.ndarray):
        import torch  # noqa: PLC0415  (torch loads with the model, not with the plugin)

        rgb = as_rgb(rgb, "SAM 3")
        key = hashlib.blake2b(rgb.tobytes(), digest_size=16, key=repr(rgb.shape).encode()).hexdigest()
        if key != self._key:
            pixels = self.processor(images=rgb, return_tensors="pt")["pixel_values"].to(self.device)
            with torch.inference_mode():
                self._embeds = self.model.get_vision_features(pixel_values=pixels)
            self._key, self._size = key, rgb.shape[:2]
        return self._embeds

    def _detect(self, rgb, text, boxes=None, labels=None, threshold=None) -> list[tuple[np.ndarray, float]]:
        import torch  # noqa: PLC0415  (as above)

        embeds = self._vision(rgb)
        h, w = self._size
        inputs = self.processor(text=text, input_boxes=boxes, input_boxes_labels=labels, original_sizes=[[h, w]],
                                return_tensors="pt")  # fmt: skip
        inputs = {k: v.to(self.device) for k, v in inputs.items() if k != "original_sizes"}
        with torch.inference_mode():
            out = self.model(vision_embeds=embeds, **inputs)
        res = self.processor.post_process_instance_segmentation(
            out, threshold=self.threshold if threshold is None else float(threshold),
            mask_threshold=self.mask_threshold, target_sizes=[(h, w)],
        )[0]  # fmt: skip
        scores = res["scores"].float().cpu().numpy()
        masks = res["masks"].to(torch.bool).cpu().numpy()  # int64 from the processor: 8x the bytes to copy
        order = np.argsort(-scores, kind="stable")
        return [(masks[i], float(scores[i])) for i in order]


# -- where the weights come from ------------------------------------------------------






def resolve_source(checkpoint: str | Path | None = None, download: bool = True) -> tuple[str, bool]:
    """(what ``from_pretrained`` gets, whether it may download): see :func:`.hf_weights.resolve_source`."""
    return hf_weights.resolve_source(NAME, DEFAULT_SOURCE, _what_to_do, checkpoint, download)


def _what_to_do(repo: str) -> str:
    return (
        f"{repo} is gated: accept its licence at https://huggingface.co/{repo}, log in (hf auth login, or set "
        f"HF_TOKEN) and load once online; or pass a folder saved with save_pretrained. "
        "SAM 2 and 'seeds' work without it."
    )


def load_sam3(checkpoint: str | Path | None = None, device: str = "cpu", download: bool = True,
              threshold: float = 0.5, cache=None) -> Sam3Segmenter:  # fmt: skip
    """The segmenter for a local folder or a hub id (see :func:`resolve_source`): the concept
    model, and SAM 3's tracker where the folder holds it (a ``sam3_video`` checkpoint)."""
    from . import registry

    source, may_download = resolve_source(checkpoint, download)  # before torch loads: offline fails fast
    device = registry.pick_device(device)  # "auto" picks by importing torch: only once weights are found
    from .torch_guard import guard_torch_import

    guard_torch_import()  # napari may have loaded Mesa's LLVM: see torch_guard
    from transformers import Sam3Model, Sam3Processor  # noqa: PLC0415  (heavy: loaded with the model only)

    try:
        full = hf_weights.check_model_type(NAME, source, ("sam3", "sam3_video"), not may_download) == "sam3_video"
        local = not may_download
        model = Sam3Model.from_pretrained(source, use_safetensors=True, local_files_only=local)
        processor = Sam3Processor.from_pretrained(source, local_files_only=local)
        clicks = _load_clicks(source, device, model, cache) if full else None
    except CheckpointError:  # said in one line already
        raise
    except Exception as e:  # gated without a token, network lost, files that are not SAM 3's: say what to do
        raise hf_weights.load_failed(NAME, source, e, _what_to_do, DEFAULT_SOURCE, gated=True) from e
    if not full:
        log.info("%s: %s %s", NAME, source, CONCEPT_ONLY)
    return Sam3Segmenter(model, processor, device=device, threshold=threshold, source=source, clicks=clicks)


def _load_clicks(source: str, device: str, concept_model, cache=None) -> TransformersSegmenter:
    """SAM 3's interactive head from a full checkpoint, its backbone the concept model's."""
    from transformers import Sam3TrackerModel, Sam3TrackerProcessor  # noqa: PLC0415  (heavy)

    from transformers.utils import logging as hf_logging  # noqa: PLC0415  (as above)

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "a sam3_video model for a sam3_tracker": meant, not a problem to show
    try:
        model = Sam3TrackerModel.from_pretrained(source, use_safetensors=True, local_files_only=True,
                                                 key_mapping=TRACKER_KEYS)  # fmt: skip
    finally:
        hf_logging.set_verbosity(level)
    processor = Sam3TrackerProcessor.from_pretrained(source, local_files_only=True)
    clicks = TransformersSegmenter(model, processor, device=device, source=source, name=NAME, load_tracker=_load_tracker,
                                   cache=cache, weights=hf_weights.weights_identity(source))  # fmt: skip
    hf_weights.share_equal_parts(clicks.model, concept_model.to(device), ("vision_encoder.backbone",))
    return clicks


def _load_tracker(clicks: TransformersSegmenter):
    """``Sam3TrackerVideoModel`` and its processor from the same checkpoint, sharing the
    interactive head's equal parts (see :func:`.hf_video.load_video_tracker`)."""
    from transformers import Sam3TrackerVideoModel, Sam3TrackerVideoProcessor  # noqa: PLC0415  (heavy)

    return load_video_tracker(NAME, Sam3TrackerVideoModel, Sam3TrackerVideoProcessor, clicks.source,
                              clicks.processor.image_processor, clicks.device, share_with=clicks.model)  # fmt: skip
