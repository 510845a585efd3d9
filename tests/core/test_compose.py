import numpy as np
import pytest

from napari_samlabel.core.compose import Mode, allowed_pixels, normalize_region, region_indices


@pytest.fixture
def scene():
    labels = np.zeros((6, 6), np.uint32)
    labels[:, :3] = 1  # instance 1 on the left
    labels[0, :] = 2  # instance 2 on the top row
    mask = np.zeros((6, 6), bool)
    mask[:4, 1:5] = True
    return labels, mask


def test_exclude_takes_only_background_and_own_pixels(scene):
    labels, mask = scene
    ok = allowed_pixels(labels, mask, 3, Mode.EXCLUDE)
    assert not (ok & (labels != 0)).any()
    assert ok.sum() == ((labels == 0) & mask).sum() == 6


def test_overwrite_takes_all_but_locked(scene):
    labels, mask = scene
    assert allowed_pixels(labels, mask, 3, "overwrite").sum() == mask.sum()
    ok = allowed_pixels(labels, mask, 3, "overwrite", locked=[2])
    assert not (ok & (labels == 2)).any() and (ok & (labels == 1)).any()


def test_inside_only_touches_the_instance_being_edited(scene):
    labels, mask = scene
    ok = allowed_pixels(labels, mask, 3, "inside", within=1)
    assert ok.any() and (labels[ok] == 1).all()


def test_locked_excluded_in_every_mode(scene):
    labels, mask = scene
    for mode in Mode:
        ok = allowed_pixels(labels, mask, 3, mode, locked=[1], within=1)
        assert not (ok & (labels == 1)).any()


def test_mismatched_mask_is_refused(scene):
    labels, _ = scene
    with pytest.raises(ValueError, match="does not match"):
        allowed_pixels(labels, np.ones((5, 6), bool), 3)


def test_region_indices_map_plane_to_volume():
    vol = np.zeros((4, 5, 6))
    region = normalize_region((slice(None), 2), vol.shape)  # a coronal plane
    plane = np.zeros((4, 6), bool)
    plane[1, 3] = plane[3, 0] = True
    idx = region_indices(region, np.nonzero(plane))
    vol[idx] = 1
    assert vol[1, 2, 3] == 1 and vol[3, 2, 0] == 1 and vol.sum() == 2
    with pytest.raises(IndexError):
        normalize_region((9,), vol.shape)
