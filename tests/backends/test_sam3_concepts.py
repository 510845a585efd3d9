"""SAM 3 concepts (issue 24): a text or exemplar boxes -> every matching object on a plane,
and "Label all" by a class's prompt text.

No weights can be downloaded here, so the model is a SHRUNK random-weight ``Sam3Model`` built
from transformers' own config classes (2-layer 32-wide ViT on 112 px, one-layer encoders
and decoder, 8 queries; about 0.2 M parameters), saved with ``save_pretrained`` next to a
``Sam3Processor`` whose tokenizer is ``CharTokenizerDouble`` (a CLIP tokenizer over letters,
built offline). The backend loads that folder through its real loading code. Random weights
score every query near 0.25, so the tests ask for detections above 0.2.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from hf_helpers import empty_hub_fixture, plane, saved_folder  # noqa: F401  (the empty_hub fixture)
from napari_samlabel.backends import registry
from napari_samlabel.backends.base import CheckpointError, ModelUnavailable
from napari_samlabel.core.ontology import Ontology
from napari_samlabel.core.prompts import PromptError

SIZE = 112  # the processor's square input (8 x 8 patches of 14 px)
THRESHOLD = 0.2  # random weights score about 0.25 (detection 0.5 x presence 0.5)


def CharTokenizerDouble():
    """A test double for SAM 3's CLIP tokenizer: a CLIPTokenizer (BPE, byte level) whose
    vocabulary is the letters a-z, each alone and ending a word, built without any file."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[])


def tiny_sam3(seed: int = 0, width: int = 32):
    """(model, processor): a shrunk random-weight SAM 3 from transformers' config classes, ``width``
    wide (its tracker, in the full checkpoint, needs 64)."""
    import torch
    from transformers import Sam3ImageProcessor, Sam3Model, Sam3Processor
    from transformers.models.sam3.configuration_sam3 import (
        Sam3Config, Sam3DETRDecoderConfig, Sam3DETREncoderConfig, Sam3GeometryEncoderConfig,
        Sam3MaskDecoderConfig, Sam3VisionConfig, Sam3ViTConfig,
    )  # fmt: skip

    small = dict(hidden_size=width, num_attention_heads=4, intermediate_size=2 * width)
    vit = Sam3ViTConfig(**small, num_hidden_layers=2, image_size=SIZE, patch_size=14, window_size=4,
                        global_attn_indexes=[0, 1], pretrain_image_size=SIZE)  # fmt: skip
    vision = Sam3VisionConfig(backbone_config=vit, fpn_hidden_size=width, scale_factors=[2.0, 1.0],
                              backbone_feature_sizes=[[SIZE // 7] * 2, [SIZE // 14] * 2])  # fmt: skip
    text = dict(vocab_size=64, hidden_size=width, intermediate_size=2 * width, projection_dim=width, num_hidden_layers=1,
                num_attention_heads=4, max_position_embeddings=32, hidden_act="gelu",
                bos_token_id=0, eos_token_id=1, pad_token_id=1)  # fmt: skip
    config = Sam3Config(
        vision_config=vision, text_config=text,
        geometry_encoder_config=Sam3GeometryEncoderConfig(**small, num_layers=1),
        detr_encoder_config=Sam3DETREncoderConfig(**small, num_layers=1),
        detr_decoder_config=Sam3DETRDecoderConfig(**small, num_layers=1, num_queries=8),
        mask_decoder_config=Sam3MaskDecoderConfig(hidden_size=width, num_upsampling_stages=2),
    )  # fmt: skip
    torch.manual_seed(seed)
    model = Sam3Model(config).eval()
    images = Sam3ImageProcessor(size={"height": SIZE, "width": SIZE}, mask_size={"height": SIZE // 4, "width": SIZE // 4})
    return model, Sam3Processor(image_processor=images, tokenizer=CharTokenizerDouble())


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A SAM 3 model folder as ``save_pretrained`` writes it (safetensors, processor, tokenizer)."""
    pytest.importorskip("transformers.models.sam3")
    model, processor = tiny_sam3()
    return saved_folder(tmp_path_factory, "sam3-tiny", model, processor)


@pytest.fixture(scope="module")
def sam3(folder):
    return registry.load_backend("sam3", str(folder), device="cpu")



def raw_library(folder, rgb, threshold, **prompt):
    """What transformers gives on its own: processor + model + post_process_instance_segmentation."""
    import torch
    from transformers import Sam3Model, Sam3Processor

    model = Sam3Model.from_pretrained(folder, use_safetensors=True).eval()
    processor = Sam3Processor.from_pretrained(folder)
    inputs = processor(images=rgb, return_tensors="pt", **prompt)
    with torch.no_grad():
        out = model(**inputs)
    res = processor.post_process_instance_segmentation(out, threshold=threshold, mask_threshold=0.5,
                                                       target_sizes=inputs["original_sizes"].tolist())[0]  # fmt: skip
    scores = res["scores"].numpy()
    order = np.argsort(-scores, kind="stable")
    return res["masks"].numpy().astype(bool)[order], scores[order]


def same(found, masks, scores):
    assert len(found) == len(scores) > 0
    assert np.allclose([s for _, s in found], scores, atol=1e-6)
    for (m, _), want in zip(found, masks):
        assert m.dtype == bool and m.shape == want.shape and np.array_equal(m, want)


# -- (a) the wiring adds nothing --------------------------------------------------------
@pytest.mark.slow  # the tiny model is built, saved and loaded once (about 10 s)
def test_text_and_exemplars_give_what_transformers_gives(folder, sam3):
    rgb = plane()
    t0 = time.perf_counter()
    found = sam3.segment_text(rgb, "cell nucleus", threshold=THRESHOLD)
    first = time.perf_counter() - t0
    same(found, *raw_library(folder, rgb, THRESHOLD, text="cell nucleus"))
    t0 = time.perf_counter()
    again = sam3.segment_text(rgb, "mitochondrion", threshold=THRESHOLD)  # the plane's embedding is reused
    print(f"tiny SAM 3 on 60x80: text {first:.2f} s first, {time.perf_counter() - t0:.2f} s on the same plane")
    same(again, *raw_library(folder, rgb, THRESHOLD, text="mitochondrion"))
    # exemplar boxes in (row0, col0, row1, col1) pixels: the processor's are (x0, y0, x1, y1)
    boxes, labels = [(5, 10, 30, 40), (20, 50, 50, 70)], [1, 0]
    found = sam3.segment_exemplars(rgb, boxes, labels, threshold=THRESHOLD)
    same(found, *raw_library(folder, rgb, THRESHOLD, input_boxes=[[[10, 5, 40, 30], [50, 20, 70, 50]]],
                             input_boxes_labels=[[1, 0]]))  # fmt: skip
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)  # best first


@pytest.mark.slow  # the tiny model is built, saved and loaded once (about 10 s)
def test_threshold_segment_all_and_clicks(sam3):
    rgb = plane(seed=1)
    assert sam3.segment_text(rgb, "cell", threshold=0.99) == []  # none that sure
    assert sam3.threshold == 0.5 and sam3.segment_text(rgb, "cell") == []  # the default keeps only sure ones
    with pytest.raises(PromptError, match="concept"):
        sam3.segment_all(rgb)  # no concept given
    sam3.concept = "cell"
    try:
        all_ = sam3.segment_all(rgb)
    finally:
        sam3.concept = None
    assert [s for _, s in all_] == [s for _, s in sam3.segment_text(rgb, "cell")]
    with pytest.raises(PromptError, match="concept model only.*For clicks and tracking load the full facebook/sam3"):
        sam3.predict(None)
    with pytest.raises(PromptError, match="4 .*boxes|boxes but"):
        sam3.segment_exemplars(rgb, [(0, 0, 10, 10)], [1, 0])


# -- (b) Label all by a class's prompt -------------------------------------------------
@pytest.mark.slow  # the tiny model is built, saved and loaded once (about 10 s)
def test_label_all_by_the_class_prompt_is_instances_of_the_class_with_their_scores(folder, sam3):
    from napari.components import ViewerModel

    from napari_samlabel._napari.label_all import LabelAllJob
    from napari_samlabel.api import start_session

    ontology = Ontology.from_dict({"classes": [{"name": "nucleus", "prompt": "cell nucleus"}, {"name": "cell"}]})
    viewer = ViewerModel()
    image = viewer.add_image(plane(64, 80, seed=3)[..., 0].astype(np.float32), name="cells")
    s = start_session(viewer, image, ontology=ontology)
    asked = []
    real = sam3.segment_text

    def noting(rgb, text, threshold=None):
        asked.append((rgb.copy(), text))
        return real(rgb, text, threshold=THRESHOLD)

    sam3.segment_text = noting  # the real model, each call noted
    try:
        t0 = time.perf_counter()
        made = LabelAllJob(s, sam3, "nucleus").run().made
        print(f"label all (tiny SAM 3, 64x80): {time.perf_counter() - t0:.2f} s")
    finally:
        del sam3.segment_text
    assert [t for _, t in asked] == ["cell nucleus"]  # the class's prompt, not its name
    expected = real(asked[0][0], "cell nucleus", threshold=THRESHOLD)
    assert made and {r.class_name for r in made} == {"nucleus"} and {r.sources for r in made} == {"model"}
    scores = [round(sc, 6) for _, sc in expected]
    assert all(round(r.confidence, 6) in scores for r in made)
    assert made[0].confidence == pytest.approx(expected[0][1])  # the best first, whole
    assert np.array_equal(s.labels.data == made[0].id, expected[0][0])
    s.labels.undo()  # one step
    assert not s.labels.data.any() and not any(r.present for r in s.table)
    # a class without a prompt is looked for by its name
    sam3.segment_text = noting
    try:
        LabelAllJob(s, sam3, "cell").run()
    finally:
        del sam3.segment_text
    assert asked[-1][1] == "cell"
    # with a box ("One object per box" off): the class's prompt on the box's crop
    sam3.segment_text = noting
    try:
        job = LabelAllJob(s, sam3, "nucleus", box=(8, 10, 48, 70), min_size=1).run()
    finally:
        del sam3.segment_text
    assert asked[-1][1] == "cell nucleus" and asked[-1][0].shape == (40, 60, 3)
    assert job.made and all(not (s.labels.data == r.id)[:8].any() for r in job.made)  # inside the box only


def test_the_prompt_survives_the_ontology_file(tmp_path):
    o = Ontology.from_dict({"classes": [{"name": "nucleus", "prompt": "  cell   nucleus "}, {"name": "cell"}]})
    assert o["nucleus"].prompt == "cell nucleus" and o["nucleus"].prompt_text == "cell nucleus"
    assert o["cell"].prompt is None and o["cell"].prompt_text == "cell"
    assert "prompt" not in o["cell"].to_dict()
    o.save(tmp_path / "o.json")
    back = Ontology.load(tmp_path / "o.json")
    assert back["nucleus"].prompt == "cell nucleus" and "prompt" not in back["nucleus"].extra
    back.update("cell", prompt="whole cell")
    back.rename("nucleus", "nuclei")
    assert back["cell"].prompt_text == "whole cell" and back["nuclei"].prompt == "cell nucleus"
    back.update("cell", prompt="")
    assert back["cell"].prompt is None
    with pytest.raises(Exception, match="prompt"):
        Ontology.from_dict({"classes": [{"name": "x", "prompt": 3}]})  # the schema: text or null


# -- (c) what is missing, said in one line ---------------------------------------------
def one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text and len(text) <= registry.SHORT, text
    return text


def test_missing_transformers_is_one_line_naming_the_install(monkeypatch):
    import importlib.metadata as md

    real = md.version
    monkeypatch.setattr(md, "version", lambda name: (_ for _ in ()).throw(md.PackageNotFoundError(name))
                        if name == "transformers" else real(name))  # fmt: skip
    with pytest.raises(ModelUnavailable) as e:
        registry.load_backend("sam3")
    assert one_line(e.value) == 'sam3 needs PyTorch and transformers>=5: pip install "transformers>=5"'
    ready, line, details = registry.model_status("sam3")
    assert not ready and line == str(e.value) and "transformers>=5" in details
    monkeypatch.setattr(md, "version", lambda name: "4.57.1" if name == "transformers" else real(name))
    with pytest.raises(ModelUnavailable, match="transformers>=5"):
        registry.load_backend("sam3")



def test_missing_weights_are_said_at_once_in_one_line(empty_hub, monkeypatch, tmp_path):
    pytest.importorskip("transformers.models.sam3")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError) as e:
        registry.load_backend("sam3", device="cpu")
    assert time.perf_counter() - t0 < 1.0
    assert one_line(e.value) == "sam3: no weights here and no network"
    assert "facebook/sam3 is gated" in e.value.details and "HF_HUB_OFFLINE" in e.value.details
    assert registry.model_status("sam3")[:2] == (False, "sam3: no weights here and no network")
    with pytest.raises(CheckpointError) as e:
        registry.load_backend("sam3", download=False)
    assert one_line(e.value) == "sam3: facebook/sam3 is not downloaded (downloads are off)"
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError) as e:
        registry.load_backend("sam3", str(tmp_path / "empty"))
    assert "holds no model.safetensors" in one_line(e.value)
    with pytest.raises(CheckpointError, match="is not a folder"):
        registry.load_backend("sam3", str(tmp_path / "nowhere"))


def test_a_gated_repo_without_a_token_says_log_in(empty_hub, monkeypatch):
    """What the hub answers for a gated repo without a token (a double: no network here)."""
    pytest.importorskip("transformers.models.sam3")
    import transformers

    from napari_samlabel.backends import sam3 as sam3_module

    def refuse(source, **kwargs):
        raise OSError(f"You are trying to access a gated repo.\n401 Client Error for {source}: Unauthorized")

    monkeypatch.setattr(sam3_module, "resolve_source", lambda checkpoint, download: ("facebook/sam3", True))
    monkeypatch.setattr(transformers.Sam3Model, "from_pretrained", refuse)
    monkeypatch.setattr(transformers.PretrainedConfig, "get_config_dict", refuse)  # any file of the repo: the same
    with pytest.raises(CheckpointError) as e:
        registry.load_backend("sam3", device="cpu")
    assert one_line(e.value) == "sam3: facebook/sam3 is gated: log in with a token (hf auth login)"
    assert "https://huggingface.co/facebook/sam3" in e.value.details


# -- (d) the plugin stays light ----------------------------------------------------------
def test_importing_the_plugin_and_the_sam3_module_loads_no_torch_nor_transformers():
    code = (
        "import sys, napari_samlabel, napari_samlabel.backends.registry as r, napari_samlabel.backends.sam3; "
        "import napari_samlabel._napari.label_all; r.model_status('sam3', '/nowhere'); "
        "print([m for m in ('torch', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
