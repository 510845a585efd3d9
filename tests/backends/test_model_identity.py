"""Embeddings on disk belong to the weights that made them (issue 22, item 4): a fine-tuned
checkpoint loaded under its base model's name (as the README says to) gets its own
embeddings, not the base model's; a cache file holding features of another shape is removed
and the plane encoded again, once, instead of failing every prompt. The real SAM 2 code path,
random weights, shrunk to 256 px; the "checkpoints" are random-weight state dicts saved here."""

import copy
import logging

import numpy as np
import pytest

from napari_samlabel.backends.torch_guard import guard_torch_import

guard_torch_import()
torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from napari_samlabel.backends import embeddings  # noqa: E402
from napari_samlabel.backends import sam2 as sam2_backend  # noqa: E402
from napari_samlabel.backends.embeddings import EmbeddingCache  # noqa: E402
from napari_samlabel.backends.registry import load_backend  # noqa: E402
from napari_samlabel.backends.sam2 import Sam2Segmenter  # noqa: E402
from napari_samlabel.core.prompts import PromptSet  # noqa: E402


@pytest.fixture
def rgb():
    return (np.random.default_rng(3).random((80, 96, 3)) * 255).astype(np.uint8)


@pytest.fixture
def checkpoints(model, tmp_path):
    """base.pt (the test model's weights) and tuned.pt (the same, one layer changed: a fine-tune)."""
    base, tuned = tmp_path / "base.pt", tmp_path / "tuned.pt"
    state = model.state_dict()
    torch.save({"model": state}, base)
    changed = dict(state)
    name = next(k for k in changed if k.startswith("image_encoder.") and k.endswith(".weight"))
    changed[name] = changed[name] + 0.05
    torch.save({"model": changed}, tuned)
    return base, tuned


@pytest.fixture
def small_models(model, monkeypatch, tmp_path):
    """load_backend builds its models as the test model (256 px; a copy, quicker than sam2's
    config machinery) with the checkpoint's weights loaded, and its cache in a test folder."""
    monkeypatch.setenv("SAMLABEL_CACHE", str(tmp_path / "cache"))

    def build(config, checkpoint=None, device="cpu", overrides=()):
        built = copy.deepcopy(model)
        sam2_backend.load_weights(built, checkpoint)
        return built.eval()

    monkeypatch.setattr(sam2_backend, "build_model", build)


def loaded(checkpoint):
    """What `samlabel segment --model sam2.1-tiny --checkpoint FILE` or the dock loads, with
    'Embeddings on disk' on."""
    return load_backend("sam2.1-tiny", checkpoint, device="cpu", embeddings_on_disk=True)


@pytest.mark.slow  # three models loaded from their checkpoints
def test_a_fine_tuned_checkpoint_under_its_base_models_name_gets_its_own_embeddings(
    checkpoints, small_models, rgb, tmp_path
):
    base, tuned = checkpoints
    first = loaded(base)
    first.set_image(rgb)
    assert first.encoder.encoded == 1

    fine = loaded(tuned)
    fine.set_image(rgb)
    assert fine.encoder.encoded == 1, "the fine-tuned model was served the base model's embeddings"
    assert len(list((tmp_path / "cache" / "embeddings" / "sam2.1-tiny").glob("*.pt"))) == 2

    again = loaded(base)  # the base model's embeddings are still reused
    again.set_image(rgb)
    assert again.encoder.encoded == 0


def test_embeddings_on_disk_are_keyed_by_the_checkpoint_file(model, rgb, tmp_path):
    """The same, without loading models: the key holds the hash of the file the weights came
    from (two small files stand for the checkpoints)."""
    base, tuned = tmp_path / "base.pt", tmp_path / "tuned.pt"
    base.write_bytes(b"base weights")
    tuned.write_bytes(b"tuned weights")
    segmenters = [Sam2Segmenter(model, "sam2.1-tiny", cache=EmbeddingCache(disk_dir=tmp_path / "emb"),
                                weights=embeddings.weights_digest(f)) for f in (base, tuned, base)]  # fmt: skip
    for seg in segmenters:
        seg.set_image(rgb)
    assert [seg.encoder.encoded for seg in segmenters] == [1, 1, 0]


def test_the_checkpoint_is_hashed_once_per_file_version(tmp_path, monkeypatch):
    """Hashing a 900 MB checkpoint on every load or image would cost seconds: it is read once,
    and again only when the file changes."""
    base = tmp_path / "weights.pt"
    base.write_bytes(b"weights" * 1000)
    reads = []
    real_open = open

    def counting_open(path, *a, **k):
        reads.append(str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(embeddings, "open", counting_open, raising=False)
    first = embeddings.weights_digest(base)
    assert embeddings.weights_digest(base) == first and reads.count(str(base.resolve())) == 1
    base.write_bytes(b"other weights")  # the file replaced by another
    assert embeddings.weights_digest(base) != first and reads.count(str(base.resolve())) == 2


def test_a_cache_file_of_the_wrong_shape_is_removed_and_encoded_again(model, rgb, tmp_path, caplog):
    """It raised on every prompt, and stayed."""
    seg = Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(disk_dir=tmp_path))
    seg.set_image(rgb)
    want = seg.predict(PromptSet([[40, 50]], [1]))
    (path,) = tmp_path.glob("*.pt")
    good = torch.load(path, weights_only=True)
    torch.save({**good, "fpn": [f[:, :, :8, :8] for f in good["fpn"]]}, path)  # another model's shapes

    reopened = Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(disk_dir=tmp_path))
    with caplog.at_level(logging.WARNING, "napari_samlabel"):
        reopened.set_image(rgb)
        got = reopened.predict(PromptSet([[40, 50]], [1]))
        reopened.predict(PromptSet([[40, 50]], [1]))
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5)
    assert reopened.encoder.encoded == 1
    said = [r.getMessage() for r in caplog.records if path.name in r.getMessage()]
    assert len(said) == 1 and "shape" in said[0], said  # said once
    fresh = torch.load(path, weights_only=True)  # the file now holds the right features
    assert [f.shape for f in fresh["fpn"]] == [f.shape for f in good["fpn"]]
