"""Test doubles: stand-ins for a model, for tests of plumbing only (never shipped)."""

import numpy as np

from napari_samlabel.backends.base import MaskPrediction
from napari_samlabel.synthetic import disc


class DiscSegmenterDouble:
    """A fake model: a disc centred on the first positive click (or the box centre).

    Candidates: radius 4 (score 0.9) then radius 7 (score 0.6). Records what it saw.
    """

    name = "disc-double"
    device = "cpu"

    def __init__(self):
        self.images = []
        self.calls = []

    def set_image(self, rgb):
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        self.images.append(rgb)

    def predict(self, prompts, multimask=True, mask_input=None):
        hw = self.images[-1].shape[:2]
        prompts.check(hw)
        self.calls.append((prompts, mask_input))
        if (prompts.labels == 1).any():
            r, c = prompts.points[prompts.labels == 1][0]
        else:
            r0, c0, r1, c1 = prompts.box
            r, c = (r0 + r1) / 2, (c0 + c1) / 2
        masks = np.stack([disc(hw, r, c, 4), disc(hw, r, c, 7)])
        scores = np.array([0.9, 0.6])
        k = 2 if multimask else 1
        return MaskPrediction(masks[:k], scores[:k], np.zeros((k, 16, 16), np.float32) + np.arange(k)[:, None, None])

    def segment_all(self, rgb):
        hw = rgb.shape[:2]
        return [(disc(hw, 8, 8, 3), 0.8), (disc(hw, hw[0] - 9, hw[1] - 9, 3), 0.3)]
