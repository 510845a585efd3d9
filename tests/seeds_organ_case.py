"""A low-contrast organ on a CT slice (issue 25), with truth: made for these tests, numpy and scipy only.

An abdomen-like slice in HU: air, subcutaneous fat, soft tissue filling the abdomen (bowel and
muscle, 30 HU), a large organ ``contrast_hu`` above it (60 HU: liver-like, a smooth lobulated
boundary), a spine (bone); partial-volume blur, and CT-like noise (Gaussian, slightly correlated).
The organ touches the soft tissue on most of its edge: nothing but 30 HU tells them apart.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_samlabel.core.planes import window_to_uint8

CT_WINDOW = (-160.0, 240.0)  # soft tissue: W400 / L40


def ct_organ_plane(seed: int = 0, contrast_hu: float = 30.0, noise_hu: float = 12.0, size: int = 256) -> dict:
    """dict(hu (size, size), rgb (windowed W400/L40 uint8, as the Segment dock sends it), organ (truth),
    click (row, col): the organ's innermost pixel)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    body = ((yy - 0.5) / 0.42) ** 2 + ((xx - 0.5) / 0.47) ** 2 <= 1
    inner = ((yy - 0.5) / 0.37) ** 2 + ((xx - 0.5) / 0.42) ** 2 <= 1  # inside the subcutaneous fat
    theta = np.arctan2(yy - 0.42, xx - 0.36)
    wobble = 1 + 0.08 * np.sin(3 * theta + rng.uniform(0, 6.3)) + 0.05 * np.sin(5 * theta + rng.uniform(0, 6.3))
    organ = (((yy - 0.42) / 0.17) ** 2 + ((xx - 0.36) / 0.2) ** 2) <= wobble**2
    spine = ((yy - 0.78) / 0.06) ** 2 + ((xx - 0.5) / 0.06) ** 2 <= 1
    organ &= inner & ~spine
    hu = np.full((size, size), -1000.0, np.float32)
    hu[body] = -100.0
    hu[inner] = 30.0
    hu[organ] = 30.0 + contrast_hu
    hu[spine] = 700.0
    hu = ndi.gaussian_filter(hu, 1.0)  # partial volume
    hu += ndi.gaussian_filter(rng.normal(0, noise_hu * 2.0, hu.shape).astype(np.float32), 0.6)  # correlated, ~noise_hu
    d = ndi.distance_transform_edt(organ)
    click = tuple(int(v) for v in np.unravel_index(np.argmax(d), d.shape))
    return dict(hu=hu, rgb=window_to_uint8(hu, CT_WINDOW), organ=organ, click=click, window=CT_WINDOW)
