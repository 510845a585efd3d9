"""SAM 3's clicks, boxes and tracking (issue 24, item 2): the full checkpoint (a ``sam3_video``
folder, as ``facebook/sam3``) gives the concept model, the interactive head and the video
tracker, one image backbone among them; a concept-only folder says what it cannot do.

The model is a SHRUNK random-weight ``Sam3VideoModel`` built from transformers' own config
classes (the concept model of ``test_sam3_concepts`` with SAM 3's four neck scales, and a
32-wide tracker with one memory-attention layer; about 0.5 M parameters), saved with
``save_pretrained``; the tracker's object score head is biased to +2 so that random weights
leave objects present. The backend loads that folder through its real loading code, and every
result is compared with transformers' own on the same inputs.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from hf_helpers import plane, raw_prompting
from napari_samlabel.backends import registry
from napari_samlabel.core.errors import SamlabelError
from napari_samlabel.core.prompts import PromptError, PromptSet
from test_sam3_concepts import SIZE, THRESHOLD, raw_library, same, tiny_sam3

pytestmark = pytest.mark.slow  # a tiny model is built, saved and loaded once per module (about 10 s)
GRID = SIZE // 14  # the backbone's patches per side
WIDE = 128  # its memory is 64 channels (fixed in transformers); object pointers must be split into them (wider)


def tiny_sam3_full(seed: int = 0):
    """(Sam3VideoModel, Sam3Processor, video processor): the full checkpoint's layout, shrunk."""
    import torch
    from transformers import Sam3Model, Sam3VideoConfig, Sam3VideoModel
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor
    from transformers.models.sam3.configuration_sam3 import Sam3VisionConfig
    from transformers.models.sam3_tracker_video.configuration_sam3_tracker_video import (
        Sam3TrackerVideoConfig, Sam3TrackerVideoMaskDecoderConfig, Sam3TrackerVideoPromptEncoderConfig,
    )  # fmt: skip

    concept, processor = tiny_sam3(seed, width=WIDE)
    detector = concept.config
    vision = detector.vision_config  # SAM 3's neck: four scales (the tracker reads the first three)
    vision.scale_factors = [4.0, 2.0, 1.0, 0.5]
    vision.backbone_feature_sizes = [[GRID * 4] * 2, [GRID * 2] * 2, [GRID] * 2, [GRID // 2] * 2]
    tracker_vision = Sam3VisionConfig(backbone_config=copy.deepcopy(vision.backbone_config), fpn_hidden_size=WIDE, scale_factors=[4.0, 2.0, 1.0, 0.5],
                                      backbone_feature_sizes=vision.backbone_feature_sizes[:3])  # fmt: skip
    wide = WIDE
    tracker = Sam3TrackerVideoConfig(
        vision_config=tracker_vision, image_size=SIZE, num_maskmem=3, max_object_pointers_in_encoder=4,
        prompt_encoder_config=Sam3TrackerVideoPromptEncoderConfig(hidden_size=wide, image_size=SIZE, patch_size=14, mask_input_channels=8),
        mask_decoder_config=Sam3TrackerVideoMaskDecoderConfig(hidden_size=wide, mlp_dim=64, num_attention_heads=4, iou_head_hidden_dim=32),
        memory_attention_hidden_size=wide, memory_attention_num_layers=1, memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[GRID] * 2, memory_encoder_hidden_size=wide,  # its memory is 64 channels (fixed in transformers)
        mask_downsampler_embed_dim=wide, memory_fuser_embed_dim=wide, memory_fuser_intermediate_dim=64,
    )  # fmt: skip
    torch.manual_seed(seed)
    Sam3Model(detector)  # the detector's config checked as the concept model alone would be
    model = Sam3VideoModel(Sam3VideoConfig(detector_config=detector, tracker_config=tracker, low_res_mask_size=GRID * 4)).eval()
    with torch.no_grad():
        model.tracker_model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(2.0)
    images = processor.image_processor
    videos = Sam2VideoVideoProcessor(size={"height": SIZE, "width": SIZE}, image_mean=images.image_mean, image_std=images.image_std)
    return model, processor, videos


@pytest.fixture(scope="module")
def full_folder(tmp_path_factory):
    """The folder ``facebook/sam3`` would be: weights, the concept processor, a video processor."""
    pytest.importorskip("transformers.models.sam3_tracker_video")
    model, processor, videos = tiny_sam3_full()
    out = tmp_path_factory.mktemp("sam3-full-tiny")
    model.save_pretrained(out)
    processor.save_pretrained(out)
    videos.save_pretrained(out)  # video_preprocessor_config.json only
    return out


@pytest.fixture(scope="module")
def sam3(full_folder):
    return registry.load_backend("sam3", str(full_folder), device="cpu")


def raw_clicks(folder, rgb, **prompt):
    """transformers on its own: Sam3TrackerModel + Sam3TrackerProcessor on one plane."""
    from transformers import Sam3TrackerModel, Sam3TrackerProcessor

    from napari_samlabel.backends.sam3 import TRACKER_KEYS

    model = Sam3TrackerModel.from_pretrained(folder, use_safetensors=True, key_mapping=TRACKER_KEYS)
    return raw_prompting(model, Sam3TrackerProcessor.from_pretrained(folder), rgb, **prompt)[:2]


def test_clicks_and_a_box_give_what_transformers_gives(full_folder, sam3):
    rgb = plane()
    sam3.set_image(rgb)
    # (row, col) in the plugin, (x, y) for the processor
    pred = sam3.predict(PromptSet([[20, 30], [40, 60]], [1, 0]))
    masks, scores = raw_clicks(full_folder, rgb, input_points=[[[[30, 20], [60, 40]]]], input_labels=[[[1, 0]]])
    assert pred.masks.shape == (3, 60, 80) and np.array_equal(pred.masks, masks)
    assert np.allclose(pred.scores, np.clip(scores, 0, 1), atol=1e-6)
    box = sam3.predict(PromptSet(box=(10, 5, 50, 70)), multimask=True)
    masks, scores = raw_clicks(full_folder, rgb, input_boxes=[[[5, 10, 70, 50]]])
    assert np.array_equal(box.masks, masks) and np.allclose(box.scores, np.clip(scores, 0, 1), atol=1e-6)
    # one image backbone in memory for the concept model and the interactive head
    assert sam3.clicks.model.vision_encoder.backbone is sam3.model.vision_encoder.backbone
    # and the concept model of the same folder is what transformers gives
    same(sam3.segment_text(rgb, "cell nucleus", threshold=THRESHOLD), *raw_library(full_folder, rgb, THRESHOLD, text="cell nucleus"))


def raw_video(folder, frames, start, masks, n, keyframe=None):
    """transformers on its own: Sam3TrackerVideoModel over the whole video, {frame: (masks, logits)}."""
    import torch
    from transformers import Sam3TrackerVideoModel, Sam3TrackerVideoProcessor

    model = Sam3TrackerVideoModel.from_pretrained(folder, use_safetensors=True).eval()
    processor = Sam3TrackerVideoProcessor.from_pretrained(folder)
    session = processor.init_video_session(video=np.stack([frames[t] for t in range(len(frames))]), inference_device="cpu")
    for frame, on in [(start, masks)] + ([keyframe] if keyframe else []):
        processor.add_inputs_to_inference_session(session, frame_idx=frame, obj_ids=list(on),
                                                  input_masks=[torch.from_numpy(m) for m in on.values()])  # fmt: skip
        model(inference_session=session, frame_idx=frame)
    out = {}
    for o in model.propagate_in_video_iterator(session, start_frame_idx=start, max_frame_num_to_track=n):
        logits = processor.post_process_masks([o.pred_masks], [list(frames.hw)], binarize=False)[0][:, 0]
        out[int(o.frame_idx)] = ((logits > 0).numpy(), o.object_score_logits.reshape(-1).numpy())
    return out


@pytest.fixture(scope="module")
def movie():
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane
    from napari_samlabel.synthetic import fluorescence_timelapse

    image, truth = fluorescence_timelapse(n_frames=5, size=64, n_cells=3, seed=2)
    return FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max()))), truth


def test_tracking_with_a_keyframe_gives_what_transformers_gives(full_folder, sam3, movie):
    frames, truth = movie
    tracker = sam3.tracker()
    assert sam3.tracker() is tracker and tracker.name == "sam3"
    assert tracker.model.vision_encoder is sam3.clicks.model.vision_encoder  # one copy, not two
    i = int([v for v in np.unique(truth[0]) if v][0])
    key = {i: truth[3] == i}
    steps = list(tracker.track(frames, 0, {i: truth[0] == i}, "forward", n_frames=None, keyframes={3: key}))
    assert [s.frame for s in steps] == [1, 2, 3, 4] and i not in steps[2].objects  # the keyframe stays the user's
    raw = raw_video(full_folder, frames, 0, {i: truth[0] == i}, 4, (3, key))
    for step in (s for s in steps if s.frame != 3):
        want, logits = raw[step.frame]
        got = step.objects[i]
        assert got.present == (bool(want[0].any()) and logits[0] > 0)
        assert got.score == pytest.approx(1 / (1 + np.exp(-logits[0])), abs=1e-6)
        assert np.array_equal(got.mask, want[0] if got.present else np.zeros_like(want[0]))
    assert any(s.objects[i].present for s in steps if i in s.objects)  # not all empty


def test_a_concept_only_folder_labels_and_says_what_it_cannot_do(tmp_path):
    from napari_samlabel._napari.registry import SessionList

    model, processor = tiny_sam3()
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    concept = registry.load_backend("sam3", str(tmp_path), device="cpu")
    assert concept.clicks is None
    rgb = plane()
    concept.set_image(rgb)
    assert isinstance(concept.segment_text(rgb, "cell", threshold=THRESHOLD), list)
    for ask in (lambda: concept.predict(PromptSet([[20, 30]], [1])), concept.tracker):
        with pytest.raises(PromptError) as e:
            ask()
        assert str(e.value) == (f"sam3: {tmp_path.name} holds SAM 3's concept model only: it labels by text or "
                                "exemplars. For clicks and tracking load the full facebook/sam3 folder, or SAM 2 (or seeds)")  # fmt: skip
    models = SessionList.__new__(SessionList)
    models.backend = concept
    with pytest.raises(SamlabelError, match="concept model only"):
        models.tracker()


def test_samlabel_track_with_the_full_sam3_folder(full_folder, tmp_path, capsys):
    """The command line takes SAM 3's clicks and tracker as it takes SAM 2's."""
    import json

    from napari_samlabel.cli import main

    np.save(tmp_path / "stack.npy", np.stack([plane(60, 80, seed=s)[..., 0] for s in range(3)]))
    one = {"id": 4, "class": "cell", "points": [[20, 30]], "labels": [1], "frame": [1]}
    (tmp_path / "p.json").write_text(json.dumps({"objects": [one]}))
    rc = main(["track", str(tmp_path / "stack.npy"), "--prompts", str(tmp_path / "p.json"), "--model", "sam3",
               "--checkpoint", str(full_folder), "--direction", "both", "-o", str(tmp_path / "trk.npy")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    out = np.load(tmp_path / "trk.npy")
    assert out.shape == (3, 60, 80) and (out[1] == 4).any() and (out[[0, 2]] == 4).any()
