import numpy as np
import pytest

from napari_samlabel.core.planes import Plane, plane_digest, window_to_uint8
from napari_samlabel.core.prompts import PromptError, PromptSet


def test_plane_reads_any_orientation_in_display_order():
    vol = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    axial = Plane(vol.shape, (1, 2), (2, 0, 0))
    assert (axial.read(vol) == vol[2]).all() and axial.hw == (5, 6)
    coronal = Plane(vol.shape, (0, 2), (0, 3, 0))
    assert (coronal.read(vol) == vol[:, 3, :]).all()
    swapped = Plane(vol.shape, (2, 1), (1, 0, 0))  # columns before rows: a transposed view
    assert swapped.transposed and (swapped.read(vol) == vol[1].T).all()
    mask = np.zeros(swapped.hw, bool)
    mask[4, 1] = True  # row 4 = data axis 2, col 1 = data axis 1
    labels = np.zeros(vol.shape, bool)
    labels[swapped.region] = swapped.mask_to_region(mask)
    assert labels[1, 1, 4] and labels.sum() == 1


def test_plane_from_point_and_membership():
    p = Plane.from_point((10, 20, 30), (1, 2), (3.4, 7.7, 1.2))
    assert p.index == (3, 0, 0) and p.key == ((1, 2), (3,))
    assert p.contains(np.array([[3.2, 1, 1], [4, 1, 1]])).tolist() == [True, False]
    assert p.data_to_plane(np.array([[3, 5.5, 6.5]])).tolist() == [[5.5, 6.5]]
    with pytest.raises(IndexError):
        Plane((10, 20, 30), (1, 2), (11, 0, 0))
    with pytest.raises(ValueError, match="displayed axes"):
        Plane((10, 20), (1, 1), (0, 0))


def test_window_follows_contrast_limits():
    plane = np.array([[0, 100], [200, 300]], np.uint16)
    rgb = window_to_uint8(plane, (100, 200))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].tolist() == [[0, 0], [255, 255]]
    assert plane_digest(rgb) != plane_digest(window_to_uint8(plane, (0, 300)))


def test_prompts_from_data_keep_only_this_plane_and_convert_to_xy():
    plane = Plane((5, 40, 50), (1, 2), (2, 0, 0))
    pts = np.array([[2, 10, 20], [3, 11, 21], [2, 30, 5]])
    ps = PromptSet.from_data(plane, pts, [True, True, False])
    assert ps.points.tolist() == [[10, 20], [30, 5]] and ps.labels.tolist() == [1, 0]
    assert ps.xy.tolist() == [[20, 10], [5, 30]]
    box = PromptSet.from_data(plane, box_vertices=np.array([[2, 30, 40], [2, 10, 40], [2, 10, 5], [2, 30, 5]]))
    assert box.box.tolist() == [10, 5, 30, 40] and box.box_xyxy.tolist() == [5, 10, 40, 30]


@pytest.mark.parametrize(
    "prompts, message",
    [
        (PromptSet(), "no prompt"),
        (PromptSet([[5, 5]], [0]), "only negative clicks"),
        (PromptSet([[50, 5]], [1]), "outside the 40x50 plane"),
        (PromptSet(box=[5, 5, 5, 30]), "the box is empty"),
    ],
)
def test_unusable_prompts_say_why(prompts, message):
    with pytest.raises(PromptError, match=message):
        prompts.check((40, 50))


def test_windowing_ignores_nan_and_inf_even_in_given_limits():
    import numpy as np

    from napari_samlabel.core.planes import window_to_uint8

    plane = np.linspace(0, 100, 64, dtype=np.float32).reshape(8, 8)
    plane[0, 0], plane[0, 1], plane[0, 2] = np.nan, np.inf, -np.inf
    for limits in (None, (-np.inf, np.inf), (0.0, np.nan)):
        out = window_to_uint8(plane, limits)[..., 0]
        assert out[7, 7] == 255 and out[1, 0] < out[4, 4] < out[7, 7], limits
