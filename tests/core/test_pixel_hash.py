"""pixel_hash: one image's pixels, one hash; a large image sampled, never read whole."""

import numpy as np

from napari_samlabel.core.image_identity import WHOLE_BYTES, pixel_hash


class Counting:
    """An array-like that records which parts were read (a lazy image's reads)."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.read = array, array.shape, array.dtype, 0

    def __getitem__(self, index):
        part = self.array[index]
        self.read += part.nbytes
        return part


def test_pixels_dtype_and_shape_tell_images_apart():
    image = np.random.default_rng(0).integers(0, 255, (3, 40, 50), dtype=np.uint8)
    assert pixel_hash(image) == pixel_hash(image.copy())
    other = image.copy()
    other[2, 39, 49] += 1
    assert pixel_hash(other) != pixel_hash(image)
    assert pixel_hash(image.astype(np.uint16)) != pixel_hash(image)
    assert pixel_hash(image.reshape(3, 50, 40)) != pixel_hash(image)


def test_a_large_image_is_sampled_in_planes_and_tiles():
    big = np.zeros((4, 3000, 3000), np.float32)  # 144 MB: planes of 36 MB, sampled as tiles
    lazy = Counting(big)
    first = pixel_hash(lazy)
    assert 0 < lazy.read < WHOLE_BYTES // 4
    big[3, -1, -1] = 1  # the last plane's far corner is in the sample
    assert pixel_hash(big) != first


def test_rgb_keeps_its_channels_in_every_tile():
    rgb = np.zeros((6000, 6000, 3), np.uint8)  # 108 MB
    first = pixel_hash(rgb, rgb=True)
    rgb[0, 0, 2] = 9
    assert pixel_hash(rgb, rgb=True) != first
