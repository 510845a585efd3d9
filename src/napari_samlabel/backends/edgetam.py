"""EdgeTAM through ``transformers`` (>= 5): SAM 2's prompting with a RepViT (timm) image
encoder, the fast model for CPU laptops.

Clicks (positive, negative) and a box on a plane give masks, as with SAM 2: ``EdgeTamModel``
and its processor (``Sam2Processor``). Weights come from a local folder saved with
``save_pretrained`` or a Hugging Face id (default ``yonigozlan/EdgeTAM-hf``, the checkpoint
transformers' own docs and tests name), always as safetensors (``use_safetensors=True``:
nothing is unpickled). Its vision backbone is a timm model, so ``timm`` must be installed.
The model is a :class:`.hf_prompting.TransformersSegmenter` (shared with SAM 3's clicks); tracking
(its ``tracker()``, a :class:`.hf_video.TransformersTracker`) uses ``EdgeTamVideoModel`` and ``Sam2VideoProcessor``
from the same folder or hub id (the hub's checkpoint holds both).

Importing this module imports neither torch nor transformers: they load in
:func:`load_edgetam` and the segmenter's methods, so the registry can say what is missing first.
"""

from __future__ import annotations

import logging
from pathlib import Path

from . import hf_weights
from .base import CheckpointError, ModelUnavailable
from .hf_prompting import TransformersSegmenter
from .hf_video import load_video_tracker

log = logging.getLogger(__name__)

NAME = "edgetam"
DEFAULT_SOURCE = "yonigozlan/EdgeTAM-hf"
DESCRIPTION = "EdgeTAM: the fast model for CPU laptops"
INSTALL = 'pip install "transformers>=5" timm'


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


def load_edgetam(checkpoint: str | Path | None = None, device: str = "auto", download: bool = True,
                 cache=None) -> TransformersSegmenter:  # fmt: skip
    """The segmenter for a local folder or a hub id (see :func:`resolve_source`); ``device``
    "auto" is picked once the weights are found (picking imports torch); ``cache``: where the
    planes' embeddings are kept (an :class:`.embeddings.EmbeddingCache`; None: in memory)."""
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
        hf_weights.check_model_type(NAME, source, ("edgetam", "edgetam_video"), not may_download)
        model = EdgeTamModel.from_pretrained(source, use_safetensors=True, local_files_only=not may_download)
        processor = Sam2Processor.from_pretrained(source, local_files_only=not may_download)
    except CheckpointError:  # said in one line already
        raise
    except Exception as e:  # network lost, files that are not EdgeTAM's: say what to do
        raise hf_weights.load_failed(NAME, source, e, _what_to_do, DEFAULT_SOURCE) from e
    log.info("%s: weights from %s", NAME, source)
    return TransformersSegmenter(model, processor, device=device, source=source, name=NAME, load_tracker=load_tracker,
                                 cache=cache, weights=hf_weights.weights_identity(source))  # fmt: skip


def load_tracker(segmenter: TransformersSegmenter):
    """``EdgeTamVideoModel`` and ``Sam2VideoProcessor`` from the folder or hub id the prompting
    model came from, sharing its equal parts (see :func:`.hf_video.load_video_tracker`)."""
    from transformers import EdgeTamVideoModel, Sam2VideoProcessor  # noqa: PLC0415  (heavy)

    return load_video_tracker(NAME, EdgeTamVideoModel, Sam2VideoProcessor, segmenter.source,
                              segmenter.processor.image_processor, segmenter.device, share_with=segmenter.model)  # fmt: skip
