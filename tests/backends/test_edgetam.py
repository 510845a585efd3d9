"""EdgeTAM (issue 24, item 3): SAM 2's clicks and boxes with a RepViT encoder, the fast model
for CPUs, through transformers' ``EdgeTamModel`` + ``Sam2Processor``.

No weights can be downloaded here, so the model is a SHRUNK random-weight ``EdgeTamModel``
built from transformers' own config classes: a one-block-per-stage RepViT (timm's
``repvit_m1`` with 8-32 channels, the architecture name set in the config: transformers'
default leaves it at resnet50) on 128 px, a 32-wide prompt encoder and mask decoder (about
72 k parameters), saved with ``save_pretrained`` next to a 128 px ``Sam2Processor``. The
backend loads that folder through its real loading code (``registry.load_backend``).
Tracking uses a second folder, as the hub's checkpoint is laid out: a shrunk random-weight
``EdgeTamVideoModel`` (see ``tiny_edgetam_video``) and a ``Sam2VideoProcessor``, from which
the prompting model loads too.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from hf_helpers import empty_hub_fixture, plane, raw_prompting, saved_folder  # noqa: F401  (the empty_hub fixture)
from napari_samlabel.backends import registry
from napari_samlabel.backends.base import CheckpointError, ModelUnavailable
from napari_samlabel.core.prompts import PromptError, PromptSet

SIZE = 128  # the processor's square input; the backbone's strides give 32, 16, 8 (and 4) px maps


def tiny_edgetam(seed: int = 0):
    """(model, processor): EdgeTAM shrunk, random weights, from transformers' config classes."""
    import torch
    from transformers import EdgeTamModel, Sam2ImageProcessor, Sam2Processor, TimmWrapperConfig
    from transformers.models.edgetam.configuration_edgetam import (
        EdgeTamConfig, EdgeTamMaskDecoderConfig, EdgeTamPromptEncoderConfig, EdgeTamVisionConfig,
    )  # fmt: skip

    backbone = TimmWrapperConfig(architecture="repvit_m1", model_args={
        "in_chans": 3, "features_only": True, "out_indices": (0, 1, 2, 3),
        "embed_dim": (8, 16, 24, 32), "depth": (1, 1, 1, 1)})  # fmt: skip
    vision = EdgeTamVisionConfig(backbone_config=backbone, backbone_channel_list=[32, 24, 16, 8],
                                 backbone_feature_sizes=[[SIZE // 4] * 2, [SIZE // 8] * 2, [SIZE // 16] * 2],
                                 fpn_hidden_size=32)  # fmt: skip
    config = EdgeTamConfig(
        vision_config=vision,
        prompt_encoder_config=EdgeTamPromptEncoderConfig(hidden_size=32, image_size=SIZE, patch_size=16, mask_input_channels=8),
        mask_decoder_config=EdgeTamMaskDecoderConfig(hidden_size=32, mlp_dim=64, num_attention_heads=4, iou_head_hidden_dim=32),
    )
    torch.manual_seed(seed)
    model = EdgeTamModel(config).eval()
    images = Sam2ImageProcessor(size={"height": SIZE, "width": SIZE}, mask_size={"height": SIZE // 4, "width": SIZE // 4})
    return model, Sam2Processor(image_processor=images)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An EdgeTAM model folder as ``save_pretrained`` writes it (safetensors and the processor)."""
    pytest.importorskip("transformers.models.edgetam")
    pytest.importorskip("timm")
    model, processor = tiny_edgetam()
    return saved_folder(tmp_path_factory, "edgetam-tiny", model, processor)


@pytest.fixture(scope="module")
def edgetam(folder):
    return registry.load_backend("edgetam", str(folder), device="cpu")



def raw_library(folder, rgb, multimask=True, **prompt):
    """What transformers gives on its own: processor + model + post_process_masks, best first."""
    from transformers import EdgeTamModel, Sam2Processor

    model = EdgeTamModel.from_pretrained(folder, use_safetensors=True)
    return raw_prompting(model, Sam2Processor.from_pretrained(folder), rgb, multimask, **prompt)


def same(pred, masks, scores, logits):
    assert len(pred) == len(scores) > 0
    assert np.allclose(pred.scores, np.clip(scores, 0, 1), atol=1e-6)
    assert pred.masks.dtype == bool and pred.masks.shape == masks.shape and np.array_equal(pred.masks, masks)
    assert np.allclose(pred.logits, logits, atol=1e-5)


# -- (a) a click gives masks; the wiring adds nothing ----------------------------------
@pytest.mark.slow  # the tiny model is built, saved and loaded once (about 10 s with transformers' import)
def test_a_click_gives_masks_of_the_planes_shape_with_scores(edgetam):
    rgb = plane()
    t0 = time.perf_counter()
    edgetam.set_image(rgb)
    pred = edgetam.predict(PromptSet([[20, 30]], [1]))
    print(f"tiny EdgeTAM on 60x80: embedding + a click {time.perf_counter() - t0:.3f} s")
    assert pred.masks.shape == (3, 60, 80) and pred.masks.dtype == bool
    assert pred.scores.shape == (3,) and ((0 <= pred.scores) & (pred.scores <= 1)).all()
    assert list(pred.scores) == sorted(pred.scores, reverse=True)  # best first
    assert pred.logits.shape == (3, SIZE // 4, SIZE // 4)
    one = edgetam.predict(PromptSet([[20, 30]], [1]), multimask=False)
    assert one.masks.shape == (1, 60, 80)
    with pytest.raises(PromptError, match="only negative"):
        edgetam.predict(PromptSet([[20, 30]], [0]))
    with pytest.raises(PromptError, match="outside"):
        edgetam.predict(PromptSet([[70, 30]], [1]))
    assert edgetam.name == "edgetam" and registry.MODELS["edgetam"].description == "EdgeTAM: the fast model for CPU laptops"
    assert registry.apply_fast(edgetam, True) == (False, "fast mode: none for edgetam yet (it runs in fp32)")


@pytest.mark.slow  # as above
def test_clicks_and_a_box_give_what_transformers_gives(folder, edgetam):
    rgb = plane(seed=1)
    edgetam.set_image(rgb)
    # (row, col) plane pixels: the processor takes (x, y) = (col, row)
    prompts = PromptSet([[20, 30], [40, 60]], [1, 0])
    same(edgetam.predict(prompts), *raw_library(folder, rgb, input_points=[[[[30, 20], [60, 40]]]],
                                                 input_labels=[[[1, 0]]]))  # fmt: skip
    boxed = PromptSet([[20, 30]], [1], box=[5, 10, 50, 70])  # (row0, col0, row1, col1)
    same(edgetam.predict(boxed, multimask=False), *raw_library(
        folder, rgb, multimask=False, input_points=[[[[30, 20]]]], input_labels=[[[1]]], input_boxes=[[[10, 5, 70, 50]]]))
    box_only = PromptSet(box=[50, 70, 5, 10])  # corners in any order
    same(edgetam.predict(box_only), *raw_library(folder, rgb, input_boxes=[[[10, 5, 70, 50]]]))
    other = plane(seed=2)  # a new plane is encoded again
    edgetam.set_image(other)
    same(edgetam.predict(PromptSet([[10, 10]], [1])), *raw_library(folder, other, input_points=[[[[10, 10]]]],
                                                                    input_labels=[[[1]]]))  # fmt: skip


@pytest.mark.slow  # as above
def test_refining_with_the_last_logits_and_label_all(edgetam):
    rgb = plane(seed=3)
    edgetam.set_image(rgb)
    first = edgetam.predict(PromptSet([[20, 30]], [1]))
    again = edgetam.predict(PromptSet([[20, 30], [30, 40]], [1, 1]), multimask=False, mask_input=first.logits[0])
    plain = edgetam.predict(PromptSet([[20, 30], [30, 40]], [1, 1]), multimask=False)
    assert again.masks.shape == (1, 60, 80) and not np.allclose(again.logits, plain.logits)  # the mask was used
    found = edgetam.segment_all(rgb, points_per_side=4, min_score=0.0)
    assert found and all(m.shape == (60, 80) and m.dtype == bool and 0 <= s <= 1 for m, s in found)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert edgetam.segment_all(rgb, points_per_side=4, min_score=1.01) == []


# -- (b) a click in a session commits an instance ---------------------------------------
@pytest.mark.slow  # as above
def test_planes_embedded_once_in_memory_and_on_disk_for_the_same_weights(folder, own_cache, tmp_path):
    """Going back to a plane skips the encoder (the dock's cache budget holds for EdgeTAM as for
    SAM 2); with embeddings on disk a model loaded again reuses them, and the same folder saved
    again (other weights) does not read them."""
    import shutil

    first = registry.load_backend("edgetam", str(folder), device="cpu", embeddings_on_disk=True)
    encoded, real = [], first.model.get_image_embeddings
    first.model.get_image_embeddings = lambda pixels, **kw: encoded.append(1) or real(pixels, **kw)
    a, b = plane(seed=5), plane(seed=6)
    for rgb in (a, b, a, b):
        first.set_image(rgb)
    assert len(encoded) == 2 and first.cache.hits == 2
    pred = first.predict(PromptSet([[20, 30]], [1]))
    again = registry.load_backend("edgetam", str(folder), device="cpu", embeddings_on_disk=True)
    again.model.get_image_embeddings = lambda pixels, **kw: encoded.append(1) or real(pixels, **kw)
    again.set_image(b)
    again.set_image(a)
    assert len(encoded) == 2, "read from disk"
    assert np.array_equal(again.predict(PromptSet([[20, 30]], [1])).masks, pred.masks)
    copy = shutil.copytree(folder, tmp_path / "retrained")  # another folder: other weights as far as anyone knows
    other = registry.load_backend("edgetam", str(copy), device="cpu", embeddings_on_disk=True)
    other.model.get_image_embeddings = lambda pixels, **kw: encoded.append(1) or real(pixels, **kw)
    other.set_image(a)
    assert len(encoded) == 3 and other.weights != first.weights


@pytest.mark.slow  # as above
def test_a_click_in_a_session_commits_an_instance_from_edgetam(edgetam, viewer, classes):
    from napari_samlabel._napari.prompting import PromptController, model_image
    from napari_samlabel.api import start_session

    data = plane(60, 80, seed=4)[..., 0].astype(np.float32)
    image = viewer.add_image(np.stack([data, data[::-1]]), name="cells")  # two frames (60, 80)
    s = start_session(viewer, image, ontology=classes)
    viewer.dims.set_current_step(0, 1)
    pc = PromptController(s, edgetam)
    pc.add_point([1, 25, 35])  # data (frame, row, col)
    pc.update_preview()
    best = pc.result.prediction
    assert best.masks[0].any()  # random weights still give a mask here
    rec = pc.commit()
    assert rec.frames == {1} and rec.sources == "manual"
    assert np.array_equal(s.labels.data[1] == rec.id, best.masks[0]) and not (s.labels.data[0] == rec.id).any()
    # the backend on what the model saw (the frame shown, windowed to uint8 RGB) gives the same mask
    edgetam.set_image(pc.plane_rgb(pc.current_plane(), *model_image(s)))
    assert np.array_equal(edgetam.predict(PromptSet([[25, 35]], [1])).masks[0], best.masks[0])


# -- (c) what is missing, said in one line ---------------------------------------------
def one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text and len(text) <= registry.SHORT, text
    return text



def needs_libraries():
    """Skip where EdgeTAM's libraries are missing, found without importing them (torch takes seconds)."""
    from napari_samlabel.backends.edgetam import missing_libraries

    if missing_libraries():
        pytest.skip(f"EdgeTAM needs {', '.join(missing_libraries())}")


def test_missing_weights_offline_are_said_at_once_in_one_line(empty_hub, monkeypatch, tmp_path):
    needs_libraries()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError) as e:
        registry.load_backend("edgetam", device="cpu")
    assert time.perf_counter() - t0 < 1.0
    assert one_line(e.value) == "edgetam: no weights here and no network"
    assert "yonigozlan/EdgeTAM-hf" in e.value.details and "HF_HUB_OFFLINE" in e.value.details
    assert registry.model_status("edgetam")[:2] == (False, "edgetam: no weights here and no network")
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError) as e:
        registry.load_backend("edgetam", download=False)  # device "auto": picked only once weights are found
    assert time.perf_counter() - t0 < 1.0
    assert one_line(e.value) == "edgetam: yonigozlan/EdgeTAM-hf is not downloaded (downloads are off)"
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError) as e:
        registry.load_backend("edgetam", str(tmp_path / "empty"))
    assert "holds no model.safetensors" in one_line(e.value)
    with pytest.raises(CheckpointError, match="is not a folder"):
        registry.load_backend("edgetam", str(tmp_path / "nowhere"))
    listed = {m["name"]: m for m in registry.describe_models()}
    assert listed["edgetam"]["present"] is False and listed["edgetam"]["hf_id"] == "yonigozlan/EdgeTAM-hf"


def test_missing_timm_is_one_line_naming_the_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "timm" else real(name, *a))
    with pytest.raises(ModelUnavailable) as e:
        registry.load_backend("edgetam")
    assert one_line(e.value) == 'edgetam needs PyTorch, transformers>=5 and timm: pip install "transformers>=5" timm'
    assert "timm missing" in e.value.details
    ready, line, _ = registry.model_status("edgetam")
    assert not ready and line == str(e.value)


@pytest.mark.slow  # transformers and torch are imported (about 5 s alone)
def test_a_folder_that_is_not_edgetam_says_could_not_load(tmp_path):
    needs_libraries()
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError) as e:
        registry.load_backend("edgetam", str(tmp_path), device="cpu")
    assert one_line(e.value) == f"edgetam: could not load {tmp_path.name}"
    # another model's folder (SAM 3's, picked for EdgeTAM): refused before any weight is read
    (tmp_path / "config.json").write_text('{"model_type": "sam3_video"}')
    with pytest.raises(CheckpointError) as e:
        registry.load_backend("edgetam", str(tmp_path), device="cpu")
    assert one_line(e.value) == f"edgetam: {tmp_path.name} is a sam3_video model, not edgetam"


# -- (d) the plugin stays light ----------------------------------------------------------
def test_importing_the_plugin_and_the_edgetam_module_loads_no_torch_nor_transformers():
    code = (
        "import sys, napari_samlabel, napari_samlabel.backends.registry as r, napari_samlabel.backends.edgetam; "
        "r.model_status('edgetam', '/nowhere'); r.model_names(); "
        "print([m for m in ('torch', 'transformers', 'timm') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


# -- (e) tracking with EdgeTAM's video model ---------------------------------------------
def tiny_edgetam_video(seed: int = 0):
    """(model, processor): EdgeTamVideoModel shrunk, random weights, the checkpoint layout of the
    hub's (one folder for the image and the video model, a ``Sam2VideoProcessor``: transformers'
    conversion script saves EdgeTamVideoModel, and EdgeTamModel loads its subset). Its memory
    reads 64 channels (fixed in transformers) and splits object pointers into them, so the
    model is 128 wide (about 1 M parameters). The object score head is biased to +2: with
    random weights the objects would otherwise be absent on every frame."""
    import torch
    from transformers import EdgeTamVideoConfig, EdgeTamVideoModel, Sam2ImageProcessor, Sam2VideoProcessor, TimmWrapperConfig
    from transformers.models.edgetam.configuration_edgetam import EdgeTamVisionConfig
    from transformers.models.edgetam_video.configuration_edgetam_video import (
        EdgeTamVideoMaskDecoderConfig, EdgeTamVideoPromptEncoderConfig,
    )  # fmt: skip
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    wide = 128
    backbone = TimmWrapperConfig(architecture="repvit_m1", model_args={
        "in_chans": 3, "features_only": True, "out_indices": (0, 1, 2, 3),
        "embed_dim": (8, 16, 24, 32), "depth": (1, 1, 1, 1)})  # fmt: skip
    vision = EdgeTamVisionConfig(backbone_config=backbone, backbone_channel_list=[32, 24, 16, 8],
                                 backbone_feature_sizes=[[SIZE // 4] * 2, [SIZE // 8] * 2, [SIZE // 16] * 2],
                                 fpn_hidden_size=wide)  # fmt: skip
    config = EdgeTamVideoConfig(
        vision_config=vision, image_size=SIZE,
        prompt_encoder_config=EdgeTamVideoPromptEncoderConfig(hidden_size=wide, image_size=SIZE, patch_size=16, mask_input_channels=8),
        mask_decoder_config=EdgeTamVideoMaskDecoderConfig(hidden_size=wide, mlp_dim=64, num_attention_heads=4, iou_head_hidden_dim=32),
        memory_attention_hidden_size=wide, memory_attention_mlp_hidden_size=64, memory_attention_num_layers=1,
        memory_attention_rope_feat_sizes=[SIZE // 16] * 2, memory_attention_rope_k_sizes=[2, 2],
        perceiver_resampler_num_latents=8, perceiver_resampler_num_latents_2d=4, perceiver_resampler_mlp_intermediate_size=64,
        perceiver_resampler_num_layers=1, memory_encoder_hidden_size=wide, mask_downsampler_embed_dim=wide,
        memory_fuser_intermediate_dim=64, memory_fuser_embed_dim=wide, memory_fuser_num_layers=1,
        # as transformers' conversion of the released checkpoint (convert_edgetam_video_to_hf.py) sets them
        enable_temporal_pos_encoding_for_object_pointers=False, enable_occlusion_spatial_embedding=False,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = EdgeTamVideoModel(config).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(2.0)
    images = Sam2ImageProcessor(size={"height": SIZE, "width": SIZE}, mask_size={"height": SIZE // 4, "width": SIZE // 4})
    videos = Sam2VideoVideoProcessor(size={"height": SIZE, "width": SIZE})
    return model, Sam2VideoProcessor(image_processor=images, video_processor=videos)


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    pytest.importorskip("transformers.models.edgetam_video")
    pytest.importorskip("timm")
    model, processor = tiny_edgetam_video()
    return saved_folder(tmp_path_factory, "edgetam-video-tiny", model, processor)


@pytest.fixture(scope="module")
def movie_frames():
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane
    from napari_samlabel.synthetic import fluorescence_timelapse

    image, truth = fluorescence_timelapse(n_frames=6, size=64, n_cells=3, seed=2)
    frames = FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))
    return frames, truth


def raw_video_library(folder, frames, start, masks, n, reverse, keyframe=None):
    """transformers on its own: the whole video through the video processor, the masks added on
    the start frame (and ``keyframe`` (frame, {id: mask}) after it), propagated:
    {frame: (masks (N, H, W) bool, object score logits (N,))}."""
    import torch
    from transformers import EdgeTamVideoModel, Sam2VideoProcessor

    model = EdgeTamVideoModel.from_pretrained(folder, use_safetensors=True).eval()
    processor = Sam2VideoProcessor.from_pretrained(folder)
    video = np.stack([frames[t] for t in range(len(frames))])
    session = processor.init_video_session(video=video, inference_device="cpu")
    for frame, on in [(start, masks)] + ([keyframe] if keyframe else []):
        processor.add_inputs_to_inference_session(session, frame_idx=frame, obj_ids=list(on),
                                                  input_masks=[torch.from_numpy(m) for m in on.values()])  # fmt: skip
        model(inference_session=session, frame_idx=frame)
    out = {}
    for o in model.propagate_in_video_iterator(session, start_frame_idx=start, max_frame_num_to_track=n, reverse=reverse):
        logits = processor.post_process_masks([o.pred_masks], [list(frames.hw)], binarize=False)[0][:, 0]
        out[int(o.frame_idx)] = ((logits > 0).numpy(), o.object_score_logits.reshape(-1).numpy())
    return out


@pytest.mark.slow  # the tiny video model is built, saved and loaded (about 10 s)
def test_tracking_gives_what_transformers_gives(video_folder, movie_frames):
    from napari_samlabel.backends.hf_video import TransformersTracker

    frames, truth = movie_frames
    backend = registry.load_backend("edgetam", str(video_folder), device="cpu")  # the hub's layout: one folder
    tracker = backend.tracker()
    assert isinstance(tracker, TransformersTracker) and backend.tracker() is tracker and tracker.name == "edgetam"
    # one copy of the parts both models hold (the image encoder and the decoder), not two
    assert tracker.model.vision_encoder is backend.model.vision_encoder
    assert tracker.model.mask_decoder is backend.model.mask_decoder
    start = 2
    ids = [int(i) for i in np.unique(truth[start]) if i][:2]
    masks = {i: truth[start] == i for i in ids}
    encoded, real = [], tracker.model.get_image_features
    tracker.model.get_image_features = lambda pixels, **kw: encoded.append(1) or real(pixels, **kw)
    t0 = time.perf_counter()
    try:
        forward = list(tracker.track(frames, start, masks, "forward", n_frames=None))
    finally:
        del tracker.model.get_image_features
    print(f"tiny EdgeTAM tracking, 2 objects, 3 frames of 64x64: {time.perf_counter() - t0:.2f} s")
    assert len(encoded) == 4  # each frame once (the start frame, then 3), whatever the number of objects
    backward = list(tracker.track(frames, start, masks, "backward", n_frames=None))
    assert [s.frame for s in forward] == [3, 4, 5] and [s.frame for s in backward] == [1, 0]
    for steps, reverse in ((forward, False), (backward, True)):
        raw = raw_video_library(video_folder, frames, start, masks, len(steps), reverse)
        assert sorted(raw) == sorted([start] + [s.frame for s in steps])
        for step in steps:
            want, logits = raw[step.frame]
            for k, i in enumerate(ids):
                got = step.objects[i]
                assert got.present == (bool(want[k].any()) and logits[k] > 0)
                assert got.score == pytest.approx(1 / (1 + np.exp(-logits[k])), abs=1e-6)
                assert got.mask.dtype == bool and np.array_equal(got.mask, want[k] if got.present else np.zeros_like(want[k]))
    assert any(o.present and o.mask.any() for s in forward for o in s.objects.values())  # not all empty


@pytest.mark.slow  # as above
def test_tracking_keyframes_cancel_and_an_image_only_folder(video_folder, movie_frames, folder):
    frames, truth = movie_frames
    tracker = registry.load_backend("edgetam", str(video_folder), device="cpu").tracker()
    ids = [int(i) for i in np.unique(truth[0]) if i][:2]
    masks = {i: truth[0] == i for i in ids}
    steps = list(tracker.track(frames, 0, masks, "forward", n_frames=None, keyframes={3: {ids[0]: truth[3] == ids[0]}}))
    assert [s.frame for s in steps] == [1, 2, 3, 4, 5]
    assert ids[0] not in steps[2].objects and ids[1] in steps[2].objects  # the user's keyframe stays theirs
    # past its keyframe the object follows what transformers gives when conditioned on both masks
    raw = raw_video_library(video_folder, frames, 0, {ids[0]: masks[ids[0]]}, 5, False, (3, {ids[0]: truth[3] == ids[0]}))
    for step in steps[3:]:
        want, logits = raw[step.frame]
        got = step.objects[ids[0]]
        assert got.score == pytest.approx(1 / (1 + np.exp(-logits[0])), abs=1e-6)
        assert np.array_equal(got.mask, want[0] if got.present else np.zeros_like(want[0]))
    without = list(tracker.track(frames, 0, masks, "forward", n_frames=None))
    assert not np.array_equal(without[4].objects[ids[0]].mask, steps[4].objects[ids[0]].mask) or \
        without[4].objects[ids[0]].score != steps[4].objects[ids[0]].score  # the keyframe changed what follows
    seen = []
    for step in tracker.track(frames, 0, masks, "forward", n_frames=None, cancelled=lambda: len(seen) >= 2):
        seen.append(step.frame)
    assert seen == [1, 2]
    assert list(tracker.track(frames, 0, {ids[0]: np.zeros_like(masks[ids[0]])})) == []  # no object: nothing to do
    image_only = registry.load_backend("edgetam", str(folder), device="cpu")
    with pytest.raises(CheckpointError) as e:
        image_only.tracker()
    assert one_line(e.value) == f"edgetam: {folder.name} has no tracking weights" and "SAM 2" in e.value.details


@pytest.mark.slow  # as above
def test_a_session_tracks_an_instance_with_edgetam(video_folder, movie_frames, classes):
    from napari.components import ViewerModel

    from napari_samlabel._napari.tracking import TrackOptions, make_job
    from napari_samlabel.api import start_session

    frames, truth = movie_frames
    viewer = ViewerModel()
    s = start_session(viewer, viewer.add_image(frames.data), ontology=classes)
    viewer.dims.set_current_step(0, 1)
    i = int([v for v in np.unique(truth[1]) if v][0])
    rec = s.commit(truth[1] == i, region=(1,))
    tracker = registry.load_backend("edgetam", str(video_folder), device="cpu").tracker()
    job = make_job(s, tracker, [rec.id], TrackOptions("forward", None)).run()
    expected = list(tracker.track(frames, 1, {rec.id: truth[1] == i}, "forward", n_frames=None))
    written = {st.frame for st in expected if st.objects[rec.id].present}
    assert written and s.table[rec.id].frames == {1} | written and job.total == 4
    for st in expected:
        assert np.array_equal(s.labels.data[st.frame] == rec.id, st.objects[rec.id].mask)
        if st.frame in written:
            assert s.table[rec.id].frame_scores[st.frame] == pytest.approx(st.objects[rec.id].score)


@pytest.mark.slow  # as above
def test_clicks_from_the_hubs_layout_a_video_models_folder(video_folder):
    edgetam = registry.load_backend("edgetam", str(video_folder), device="cpu")
    rgb = plane(seed=5)
    edgetam.set_image(rgb)
    same(edgetam.predict(PromptSet([[20, 30], [40, 60]], [1, 0])),
         *raw_library(video_folder, rgb, input_points=[[[[30, 20], [60, 40]]]], input_labels=[[[1, 0]]]))  # fmt: skip
