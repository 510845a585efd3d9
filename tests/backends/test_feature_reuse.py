"""Nothing computed twice: the plane embedded while prompting is not encoded again when
tracking starts from it, re-tracking a range reuses its frames' features, prompting on a
tracked frame needs no encoder run, and the cache keeps to its budget in bytes, least
recently used first. The real SAM 2 code path, random weights, shrunk to 256 px."""

import numpy as np
import pytest

from napari_samlabel.backends.torch_guard import guard_torch_import

guard_torch_import()
torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from napari_samlabel.backends.embeddings import EmbeddingCache, nbytes  # noqa: E402
from napari_samlabel.backends.sam2 import Sam2Segmenter  # noqa: E402
from napari_samlabel.core.prompts import PromptSet  # noqa: E402


@pytest.fixture
def encoder_runs(model, monkeypatch):
    """Frames the image encoder ran on, in order (its input's first pixel identifies nothing,
    so the count is what is checked)."""
    runs = []
    encode = model.forward_image
    monkeypatch.setattr(model, "forward_image", lambda x: runs.append(x.shape) or encode(x))
    return runs


@pytest.fixture(scope="module")
def reuse_movie():
    from napari_samlabel.synthetic import fluorescence_timelapse

    return fluorescence_timelapse(n_frames=10, size=64, n_cells=3, seed=5)


def frames_of(image):
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane

    return FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))


def masks_of(steps):
    return {s.frame: s.objects[1].mask for s in steps}


@pytest.mark.slow  # over a second: the quick tier stays under two minutes
def test_tracking_starts_from_the_prompted_plane_without_encoding_it_again(model, reuse_movie, encoder_runs):
    image, truth = reuse_movie
    frames = frames_of(image)
    seg = Sam2Segmenter(model, "tiny-256")
    seg.set_image(frames[4])  # the user prompts on frame 4
    seg.predict(PromptSet([[30, 30]], [1]))
    assert len(encoder_runs) == 1
    tracker = seg.tracker()
    steps = list(tracker.track(frames, 4, {1: truth[4] == 1}, "forward", n_frames=4))
    assert [s.frame for s in steps] == [5, 6, 7]
    assert len(encoder_runs) == 1 + 3, "the start frame was encoded again"
    assert tracker.last_state["cached_features"].sources == {4: "cache", 5: "encoder", 6: "encoder", 7: "encoder"}


@pytest.mark.slow
def test_retracking_a_range_reuses_its_features_and_gives_the_same_masks(model, reuse_movie, encoder_runs):
    image, truth = reuse_movie
    frames = frames_of(image)
    seg = Sam2Segmenter(model, "tiny-256")
    tracker = seg.tracker()
    first = masks_of(tracker.track(frames, 2, {1: truth[2] == 1}, "forward", n_frames=5))
    assert len(encoder_runs) == 5
    # a correction on frame 2 (the object drawn bigger), then the same range again
    corrected = masks_of(tracker.track(frames, 2, {1: (truth[2] == 1) | (truth[2] == 2)}, "forward", n_frames=5))
    assert len(encoder_runs) == 5, "re-tracking encoded frames it had already seen"
    assert seg.cache.hits >= 5
    # the reused features are the features: a tracker with no cache finds the same masks
    fresh = Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(0)).tracker()
    again = masks_of(fresh.track(frames, 2, {1: (truth[2] == 1) | (truth[2] == 2)}, "forward", n_frames=5))
    assert corrected.keys() == again.keys() == first.keys() == {3, 4, 5, 6}
    assert all((corrected[f] == again[f]).all() for f in corrected)


@pytest.mark.slow  # over a second: the quick tier stays under two minutes
def test_prompting_on_a_tracked_frame_uses_the_tracked_features(model, reuse_movie, encoder_runs):
    image, truth = reuse_movie
    frames = frames_of(image)
    seg = Sam2Segmenter(model, "tiny-256")
    list(seg.tracker().track(frames, 0, {1: truth[0] == 1}, "forward", n_frames=4))
    ran = len(encoder_runs)
    seg.set_image(frames[2])  # the user goes to a tracked frame to correct it
    assert len(encoder_runs) == ran
    got = seg.predict(PromptSet([[30, 30], [5, 5]], [1, 0]))
    # the same masks as SAM 2's image predictor on its own (its own transforms and encoder run)
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    from napari_samlabel.backends.sam2 import feature_sizes

    raw = SAM2ImagePredictor(model)
    raw._bb_feat_sizes = feature_sizes(model.image_size)
    with torch.inference_mode():
        raw.set_image(frames[2])
        masks, scores, _ = raw.predict(point_coords=np.array([[30.0, 30.0], [5.0, 5.0]]), point_labels=np.array([1, 0]))
    order = np.argsort(-scores, kind="stable")
    np.testing.assert_array_equal(got.masks, masks[order] > 0)
    np.testing.assert_allclose(got.scores, np.clip(scores[order], 0, 1), atol=1e-6)


def test_the_budget_evicts_least_recently_used_by_bytes():
    cache = EmbeddingCache(max_bytes=10_000)
    cache.put("a", {"fpn": [np.zeros(1000, np.float32)]})  # 4 000 bytes
    cache.put("b", {"fpn": [np.zeros(500, np.float32)]})  # 2 000
    cache.put("c", {"fpn": [np.zeros(500, np.float32)]})  # 2 000: 8 000 in all
    assert cache.get("a") is not None  # a is now the most recently used; b the least
    cache.put("d", {"fpn": [np.zeros(1000, np.float32)]})  # 12 000 > 10 000: b goes, then it fits
    assert "b" not in cache and all(k in cache for k in "acd") and cache.bytes == 10_000
    cache.put("e", {"fpn": [np.zeros(250, np.float32)]})  # 1 000 more: c (least recent) goes
    assert "c" not in cache and all(k in cache for k in "ade")
    cache.put("huge", {"fpn": [np.zeros(5000, np.float32)]})  # larger than the budget: not kept
    assert "huge" not in cache and all(k in cache for k in "ade"), "one oversized entry emptied the cache"
    cache.set_budget(5_000)  # a smaller budget drops the oldest at once
    assert cache.bytes <= 5_000 and "e" in cache and "a" not in cache


@pytest.mark.slow  # over a second: the quick tier stays under two minutes
def test_a_small_budget_keeps_the_latest_frames_and_still_reuses_the_prompted_plane(model, reuse_movie, encoder_runs):
    image, truth = reuse_movie
    frames = frames_of(image)
    seg = Sam2Segmenter(model, "tiny-256")
    seg.set_image(frames[0])
    one = seg.cache.bytes
    assert one == nbytes(seg.cache.get(seg.embedding_key(frames[0])))
    seg.cache.set_budget(int(2.5 * one))  # room for two frames' features
    list(seg.tracker().track(frames, 0, {1: truth[0] == 1}, "forward", n_frames=5))  # frames 1-4 encoded
    assert len(encoder_runs) == 5 and len(seg.cache) == 2 and seg.cache.bytes <= 2.5 * one
    seg.set_image(frames[4])  # the last two tracked frames stayed
    seg.set_image(frames[3])
    assert len(encoder_runs) == 5
    seg.set_image(frames[1])  # the least recently used went first
    assert len(encoder_runs) == 6


@pytest.mark.slow  # over a second: the quick tier stays under two minutes
def test_tracking_from_a_plane_embedded_in_an_earlier_session(model, reuse_movie, encoder_runs, tmp_path):
    """Embeddings on disk (the dock's 'Embeddings on disk'): a new session tracks from a plane
    embedded in the last one without encoding it, and finds the same masks."""
    image, truth = reuse_movie
    frames = frames_of(image)
    Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(disk_dir=tmp_path)).set_image(frames[3])
    assert len(encoder_runs) == 1
    reopened = Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(disk_dir=tmp_path))
    tracker = reopened.tracker()
    got = masks_of(tracker.track(frames, 3, {1: truth[3] == 1}, "forward", n_frames=3))
    assert len(encoder_runs) == 1 + 2 and tracker.last_state["cached_features"].sources[3] == "cache"
    fresh = Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(0)).tracker()
    want = masks_of(fresh.track(frames, 3, {1: truth[3] == 1}, "forward", n_frames=3))
    assert got.keys() == want.keys() == {4, 5} and all((got[f] == want[f]).all() for f in got)
