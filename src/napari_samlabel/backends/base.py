"""What a model must offer to be used for prompting, labeling all, and tracking.

A backend is any object with these methods; nothing here imports torch.
Add your own (a fine-tuned SAM 2, another model) with
:func:`napari_samlabel.backends.registry.register_backend` or the
``napari_samlabel.backends`` entry point group: the widgets find it by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..core.errors import SamlabelError
from ..core.prompts import PromptSet


@dataclass
class MaskPrediction:
    """Candidate masks for one prompt set on one plane, best first."""

    masks: np.ndarray  # (K, H, W) bool
    scores: np.ndarray  # (K,) in 0-1: the confidence an instance gets
    logits: np.ndarray | None = None  # (K, h, w) low-res logits, fed back to refine

    def __post_init__(self) -> None:
        self.masks = np.asarray(self.masks, bool)
        self.scores = np.asarray(self.scores, float).reshape(-1)
        if self.masks.ndim != 3 or len(self.masks) != len(self.scores):
            raise ValueError("MaskPrediction needs (K, H, W) masks and K scores")

    def __len__(self) -> int:
        return len(self.scores)


@runtime_checkable
class PromptSegmenter(Protocol):
    name: str

    def set_image(self, rgb: np.ndarray) -> None:
        """Prepare for prompts on this (H, W, 3) uint8 plane (compute or reuse its embedding)."""

    def predict(self, prompts: PromptSet, multimask: bool = True, mask_input: np.ndarray | None = None) -> MaskPrediction:
        """Masks for prompts in (row, col) pixels of the plane given to ``set_image``."""

    def segment_all(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Every object on the plane as (mask, score)."""


class UnknownModel(SamlabelError, KeyError):
    """A model name the registry does not know; the message lists the known ones."""


class CheckpointError(SamlabelError, FileNotFoundError):
    """No weights for a model. ``str()`` is one short line for a status bar; ``details``
    says which file to put where (the dock's tooltip, the command line's second line)."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details or message


class ModelUnavailable(CheckpointError):
    """The model's libraries are not installed; the message says what to install."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config: str | None = None  # Hydra config name inside the sam2 package
    hf_id: str | None = None
    filename: str | None = None
    description: str = ""

    @property
    def needs_weights(self) -> bool:
        return self.config is not None
