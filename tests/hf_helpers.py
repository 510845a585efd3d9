"""Shrunk transformers models in tests (SAM 3, EdgeTAM): a model folder as ``save_pretrained``
writes it, a random plane, and an empty Hugging Face cache."""

from __future__ import annotations

import numpy as np
import pytest

from napari_samlabel.backends import registry


def saved_folder(tmp_path_factory, name: str, model, processor):
    """``model`` and ``processor`` saved as a model folder (safetensors, processor files)."""
    out = tmp_path_factory.mktemp(name)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def plane(h=60, w=80, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


@pytest.fixture(name="empty_hub")
def empty_hub_fixture(tmp_path, monkeypatch):
    """An empty Hugging Face cache, no offline flag set, no earlier network check."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    hub = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hf"))
    registry.forget_network_check()
    yield tmp_path
    registry.forget_network_check()


def backend_tests(module: str):
    """A test module of tests/backends (its shrunk-model builders: ``tiny_sam3`` in
    test_sam3_concepts, ``tiny_edgetam`` and ``tiny_edgetam_video`` in test_edgetam), imported
    by the name pytest gives it, for tests in other folders."""
    import importlib
    import sys
    from pathlib import Path

    here = str(Path(__file__).parent / "backends")
    if here not in sys.path:
        sys.path.append(here)
    return importlib.import_module(module)


def raw_prompting(model, processor, rgb, multimask=True, **prompt):
    """What transformers gives on its own for a SAM-2-style model (EdgeTAM, SAM 3's tracker):
    processor + model + post_process_masks, best first: (masks, scores, low-res logits)."""
    import torch

    inputs = processor(images=rgb, return_tensors="pt", **prompt)
    with torch.no_grad():
        out = model.eval()(**inputs, multimask_output=multimask)
    masks = processor.post_process_masks(out.pred_masks, inputs["original_sizes"])[0][0].numpy()
    scores = out.iou_scores[0, 0].numpy()
    order = np.argsort(-scores, kind="stable")
    return masks[order], scores[order], out.pred_masks[0, 0].numpy()[order]
