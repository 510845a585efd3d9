"""The real SAM 2 code path, with a model built from the package's config and random
weights, shrunk to 256 px for speed (outputs are meaningless; the plumbing is real)."""

import numpy as np
import pytest

from napari_samlabel.backends.torch_guard import guard_torch_import  # noqa: E402

guard_torch_import()  # a napari test before this one may have loaded Mesa's LLVM
torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from napari_samlabel.backends.embeddings import EmbeddingCache  # noqa: E402
from napari_samlabel.backends.registry import (  # noqa: E402
    CheckpointError,
    describe_models,
    get_spec,
    load_backend,
    resolve_checkpoint,
)
from napari_samlabel.backends.sam2 import Sam2Segmenter, build_model  # noqa: E402
from napari_samlabel.core.prompts import PromptSet  # noqa: E402

from sam2_helpers import CONFIG, SMALL  # noqa: E402


@pytest.fixture
def rgb():
    return (np.random.default_rng(0).random((90, 120, 3)) * 255).astype(np.uint8)


def test_predict_returns_candidates_on_the_plane(model, rgb):
    seg = Sam2Segmenter(model, "tiny-256")
    seg.set_image(rgb)
    pred = seg.predict(PromptSet([[40, 60], [10, 10]], [1, 0]))
    assert pred.masks.shape == (3, 90, 120) and pred.masks.dtype == bool
    assert (np.diff(pred.scores) <= 0).all() and ((pred.scores >= 0) & (pred.scores <= 1)).all()
    assert pred.logits.shape == (3, 64, 64)  # low-res logits at image_size / 4
    single = seg.predict(PromptSet(box=[20, 30, 70, 100]), multimask=False, mask_input=pred.logits[0])
    assert single.masks.shape == (1, 90, 120)


def test_embeddings_are_cached_in_memory_and_on_disk(model, rgb, tmp_path, monkeypatch):
    seg = Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(disk_dir=tmp_path))
    seg.set_image(rgb)
    first = seg.predict(PromptSet([[40, 60]], [1]))
    other = np.ascontiguousarray(rgb[::-1])
    seg.set_image(other)
    seg.set_image(rgb)  # back to the first plane: from memory
    assert seg.cache.hits == 1
    np.testing.assert_allclose(seg.predict(PromptSet([[40, 60]], [1])).scores, first.scores, rtol=1e-5)
    assert len(list(tmp_path.glob("*.pt"))) == 2

    reopened = Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(disk_dir=tmp_path))
    calls = []
    encoder = model.forward_image
    monkeypatch.setattr(model, "forward_image", lambda *a, **k: calls.append(1) or encoder(*a, **k))
    reopened.set_image(rgb)  # the encoder must not run
    assert calls == [] and reopened.cache.hits == 1
    np.testing.assert_allclose(reopened.predict(PromptSet([[40, 60]], [1])).scores, first.scores, rtol=1e-5)


@pytest.mark.slow
def test_checkpoint_round_trip_and_clear_errors(model, rgb, tmp_path):
    ckpt = tmp_path / "fine_tuned.pt"
    torch.save({"model": model.state_dict()}, ckpt)
    loaded = Sam2Segmenter(build_model(CONFIG, ckpt, "cpu", SMALL), "fine-tune")
    ref = Sam2Segmenter(model, "ref")
    for seg in (loaded, ref):
        seg.set_image(rgb)
    np.testing.assert_allclose(
        loaded.predict(PromptSet([[40, 60]], [1])).scores, ref.predict(PromptSet([[40, 60]], [1])).scores, rtol=1e-5
    )
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pt is not a readable PyTorch checkpoint"):
        build_model(CONFIG, broken, "cpu", SMALL)
    partial = {k: v for i, (k, v) in enumerate(model.state_dict().items()) if i % 2}
    torch.save({"model": partial}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="does not fit the model config .* missing keys"):
        build_model(CONFIG, tmp_path / "partial.pt", "cpu", SMALL)


def test_missing_weights_say_which_file_goes_where(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMLABEL_CACHE", str(tmp_path))
    with pytest.raises(CheckpointError) as err:
        resolve_checkpoint("sam2.1-tiny", download=False)
    msg = err.value.details  # the dock's tooltip; str() is one short line
    assert "sam2.1_hiera_tiny.pt" in msg and str(tmp_path / "checkpoints") in msg and "seeds" in msg
    with pytest.raises(CheckpointError, match="checkpoint file not found: nope.pt"):
        resolve_checkpoint("sam2.1-tiny", tmp_path / "nope.pt")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "sam2.1_hiera_tiny.pt").write_bytes(b"x")
    assert resolve_checkpoint("sam2.1-tiny", download=False).name == "sam2.1_hiera_tiny.pt"
    listed = {m["name"]: m for m in describe_models()}
    assert listed["sam2.1-tiny"]["present"] and not listed["sam2.1-large"]["present"]
    assert listed["seeds"]["present"] and get_spec("sam2-small").hf_id == "facebook/sam2-hiera-small"
    with pytest.raises(KeyError, match="unknown model"):
        get_spec("sam9")
    assert load_backend("seeds").name == "seeds"


def test_label_all_uses_the_automatic_mask_generator(model, rgb):
    seg = Sam2Segmenter(model, "tiny-256")
    found = seg.segment_all(rgb, points_per_side=4)
    for mask, score in found:
        assert mask.shape == (90, 120) and mask.dtype == bool and 0 <= score <= 1


@pytest.mark.slow
def test_through_the_prompt_controller(model, classes):
    from napari.components import ViewerModel

    from napari_samlabel._napari.prompting import PromptController
    from napari_samlabel.api import start_session

    viewer = ViewerModel()
    image = viewer.add_image(np.random.default_rng(3).random((4, 64, 80)).astype(np.float32))
    session = start_session(viewer, image, ontology=classes)
    pc = PromptController(session, Sam2Segmenter(model, "tiny-256"))
    viewer.dims.set_current_step(0, 2)
    pc.add_point([2, 30, 40])
    result = pc.update_preview()
    assert result.prediction.masks.shape[1:] == (64, 80)
    if not result.prediction.masks[0].any():  # random weights may predict nothing; pick any non-empty candidate
        nonempty = [i for i, m in enumerate(result.prediction.masks) if m.any()]
        if not nonempty:
            pytest.skip("random weights predicted no mask at all")
        pc.choice = nonempty[0]
    mask, _score = pc.chosen
    rec = pc.commit()
    assert rec.sources == "manual" and rec.mean_confidence == 1.0 and rec.frames == {2}  # accepted by the user
    assert ((session.labels.data[2] == rec.id) == mask).all()


# -- tracking with the video predictor ------------------------------------------


@pytest.fixture(scope="module")
def sam2_movie():
    from napari_samlabel.synthetic import fluorescence_timelapse

    return fluorescence_timelapse(n_frames=12, size=64, n_cells=3, seed=5)


def frames_of(image):
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane

    return FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))


@pytest.mark.slow
def test_video_tracking_plumbing_direction_and_range(model, sam2_movie):
    from napari_samlabel.backends.sam2_video import Sam2Tracker

    image, truth = sam2_movie
    tracker = Sam2Tracker(model)
    masks = {7: truth[5] == 1, 9: truth[5] == 2}
    steps = list(tracker.track(frames_of(image), 5, masks, "both", n_frames=4))
    assert [s.frame for s in steps] == [6, 7, 8, 4, 3, 2]
    for s in steps:
        assert set(s.objects) == {7, 9}
        for res in s.objects.values():
            assert res.mask.shape == (64, 64) and 0 <= res.score <= 1
            assert res.present == bool(res.mask.any())


def test_lazy_frames_match_sam2_preprocessing(model, sam2_movie):
    """One preprocessing for prompting and tracking (so cached features serve both):
    SAM2ImagePredictor's own transforms (to float, antialiased bilinear resize, ImageNet
    mean/std), not the video loader's PIL resize."""
    from sam2.utils.transforms import SAM2Transforms

    from napari_samlabel.backends.sam2_video import LazyFrames

    image, _ = sam2_movie
    frames = frames_of(image)
    lazy = LazyFrames(frames, model.image_size, "cpu")
    t = lazy[3]
    assert t.shape == (3, 256, 256) and len(lazy) == 12
    ref = SAM2Transforms(resolution=256, mask_threshold=0.0)(frames[3])
    np.testing.assert_allclose(t.numpy(), ref.numpy(), atol=1e-5)


@pytest.mark.slow
def test_memory_is_pruned_and_results_equal_an_unpruned_run(model, sam2_movie):
    from napari_samlabel.backends.sam2_video import Sam2Tracker, memory_reach

    image, truth = sam2_movie
    masks = {1: truth[0] == 1}
    pruned = Sam2Tracker(model, keep_frames=3)
    sizes = []
    steps_pruned = []
    for s in pruned.track(frames_of(image), 0, masks, "forward", n_frames=None):
        steps_pruned.append(s)
        sizes.append(len(pruned.last_state["output_dict_per_obj"][0]["non_cond_frame_outputs"]))
    assert max(sizes) <= 3 + 1 and len(steps_pruned) == 11  # bounded, whatever the length
    default = Sam2Tracker(model)  # keeps what SAM 2's memory can reach: same answers
    unpruned = Sam2Tracker(model, keep_frames=10**6)
    assert default.keep == memory_reach(model) >= model.num_maskmem
    a = [s.objects[1].mask for s in default.track(frames_of(image), 0, masks, "forward", n_frames=None)]
    b = [s.objects[1].mask for s in unpruned.track(frames_of(image), 0, masks, "forward", n_frames=None)]
    assert all((x == y).all() for x, y in zip(a, b)) and len(a) == len(b) == 11


@pytest.mark.slow
def test_video_tracking_cancel_and_stop_after(model, sam2_movie):
    from napari_samlabel.backends.sam2_video import Sam2Tracker

    image, truth = sam2_movie
    seen = []
    for s in Sam2Tracker(model).track(frames_of(image), 0, {1: truth[0] == 1}, cancelled=lambda: len(seen) >= 2):
        seen.append(s.frame)
    assert seen == [1, 2]
    # stop-after: with random weights objects vanish early; whatever happens, no object is
    # reported after it stopped
    stopped_at = {}
    for s in Sam2Tracker(model).track(frames_of(image), 0, {1: truth[0] == 1, 2: truth[0] == 2}, n_frames=None, stop_after=1):
        for i in s.objects:
            assert i not in stopped_at
        for i in s.stopped:
            stopped_at[i] = s.frame


@pytest.mark.slow  # over a second: the quick tier stays under two minutes
def test_session_tracking_with_sam2_is_one_undo_step(model, sam2_movie, classes):
    from napari.components import ViewerModel

    from napari_samlabel._napari.tracking import TrackOptions, make_job
    from napari_samlabel.api import start_session
    from napari_samlabel.backends.sam2 import Sam2Segmenter

    image, truth = sam2_movie
    viewer = ViewerModel()
    s = start_session(viewer, viewer.add_image(image), ontology=classes)
    viewer.dims.set_current_step(0, 2)
    rec = s.commit(truth[2] == 1, region=(2,))
    before = s.labels.data.copy()
    job = make_job(s, Sam2Segmenter(model).tracker(), [rec.id], TrackOptions("forward", 5)).run()
    assert job.done == 4
    assert s.table[rec.id].frames <= {2, 3, 4, 5, 6} and 2 in s.table[rec.id].frames
    s.labels.undo()
    assert (s.labels.data == before).all()
