"""Fast mode (bf16 autocast) chosen by the user reaches the model: the Segment dock's
checkbox (kept between sessions) and ``samlabel segment/track --fast``; it agrees with fp32
within a tolerance; where bf16 is unsupported it says so and stays fp32. The real SAM 2
code path, random weights, shrunk to 256 px."""

import json

import numpy as np
import pytest

from napari_samlabel.backends.torch_guard import guard_torch_import

guard_torch_import()
torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from napari_samlabel.backends import registry  # noqa: E402
from napari_samlabel.backends.embeddings import EmbeddingCache  # noqa: E402
from napari_samlabel.backends.fast import bf16_support  # noqa: E402
from napari_samlabel.backends.sam2 import Sam2Segmenter  # noqa: E402
from napari_samlabel.core.prompts import PromptSet  # noqa: E402

needs_bf16 = pytest.mark.skipif(not bf16_support("cpu")[0], reason=f"no bf16 here: {bf16_support('cpu')[1]}")


@pytest.fixture
def precision_seen(model, monkeypatch):
    """For each part of SAM 2 that ran: the autocast dtype it ran under (None: fp32)."""
    seen = []

    def spy(name, fn):
        def wrapped(*args, **kwargs):
            on = torch.is_autocast_enabled("cpu")
            seen.append((name, torch.get_autocast_dtype("cpu") if on else None))
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(model, "forward_image", spy("encoder", model.forward_image))
    for part in ("sam_mask_decoder", "memory_attention", "memory_encoder"):
        module = getattr(model, part)
        monkeypatch.setattr(module, "forward", spy(part, module.forward))
    return seen


@pytest.fixture(scope="module")
def fast_movie():
    from napari_samlabel.synthetic import fluorescence_timelapse

    return fluorescence_timelapse(n_frames=6, size=96, n_cells=4, seed=3)


def frames_of(image):
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane

    return FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


@needs_bf16
@pytest.mark.slow  # the first bf16 run of each shape takes seconds here (measured: 5-7 s a frame)
def test_fast_mode_runs_encoder_decoder_and_tracking_in_bf16(model, fast_movie, precision_seen):
    image, truth = fast_movie
    frames = frames_of(image)
    seg = Sam2Segmenter(model, "tiny-256", fast=True)
    assert seg.fast and "bf16" in seg.fast_message
    seg.set_image(frames[0])
    seg.predict(PromptSet([[40, 40]], [1]))
    list(seg.tracker().track(frames, 0, {1: truth[0] == 1}, "forward", n_frames=3))
    parts = {name for name, _ in precision_seen}
    assert parts == {"encoder", "sam_mask_decoder", "memory_attention", "memory_encoder"}
    assert all(dtype == torch.bfloat16 for _, dtype in precision_seen), precision_seen
    precision_seen.clear()
    seg.set_fast(False)  # off again: fp32 everywhere, and the plane is embedded again in fp32
    seg.set_image(frames[0])
    seg.predict(PromptSet([[40, 40]], [1]))
    assert ("encoder", None) in precision_seen and all(dtype is None for _, dtype in precision_seen)


@needs_bf16
@pytest.mark.slow  # the first bf16 run of each shape takes seconds here (measured: 5-7 s a frame)
def test_fast_mode_agrees_with_fp32(model, fast_movie):
    image, truth = fast_movie
    frames = frames_of(image)
    exact = Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(0))
    fast = Sam2Segmenter(model, "tiny-256", cache=EmbeddingCache(0), fast=True)
    for seg in (exact, fast):
        seg.set_image(frames[2])
    a, b = exact.predictor._features["image_embed"], fast.predictor._features["image_embed"].float()
    assert (b - a).norm() / a.norm() < 0.03  # ~1% measured at 1024 px
    for prompts in (PromptSet([[40, 40]], [1]), PromptSet([[20, 60], [70, 20]], [1, 0]), PromptSet(box=[10, 10, 60, 70])):
        pa, pb = exact.predict(prompts), fast.predict(prompts)
        assert all(iou(x, y) > 0.9 for x, y in zip(pa.masks, pb.masks))
        np.testing.assert_allclose(pa.scores, pb.scores, atol=0.05)
    ta = [s.objects[1].mask for s in exact.tracker().track(frames, 0, {1: truth[0] == 1}, "forward", n_frames=4)]
    tb = [s.objects[1].mask for s in fast.tracker().track(frames, 0, {1: truth[0] == 1}, "forward", n_frames=4)]
    assert len(ta) == len(tb) == 3 and all(iou(x, y) > 0.9 for x, y in zip(ta, tb))


@pytest.mark.slow
def test_unsupported_bf16_is_said_and_stays_fp32(model, monkeypatch, precision_seen):
    import napari_samlabel.backends.features as features

    monkeypatch.setattr(features, "bf16_support", lambda device: (False, "this CPU (AVX2) has no bf16"))
    seg = Sam2Segmenter(model, "tiny-256")
    active, line = registry.apply_fast(seg, True)
    assert not active and not seg.fast and line == "fast mode unavailable: this CPU (AVX2) has no bf16"
    seg.set_image((np.random.default_rng(0).random((50, 60, 3)) * 255).astype(np.uint8))
    assert precision_seen == [("encoder", None)]
    from napari_samlabel.backends.seeds import SeedGrowSegmenter

    active, line = registry.apply_fast(SeedGrowSegmenter(), True)
    assert not active and "seeds has none" in line


@pytest.fixture
def small_backend(model, monkeypatch):
    """'tiny-256' in the model list: a factory that builds the shrunk random-weight model."""
    made = []

    def factory(checkpoint=None, device="auto"):
        made.append(Sam2Segmenter(model, "tiny-256"))
        return made[-1]

    monkeypatch.setitem(registry._FACTORIES, "tiny-256", factory)
    monkeypatch.setitem(registry.MODELS, "tiny-256", registry.ModelSpec("tiny-256", description="test"))
    return made


@needs_bf16
@pytest.mark.parametrize("command", ["segment", "track"])
@pytest.mark.slow  # the first bf16 run of each shape takes seconds here (measured: 5-7 s a frame)
def test_cli_fast_flag_reaches_the_model(command, fast_movie, small_backend, precision_seen, tmp_path, capsys):
    from napari_samlabel.cli import main

    image, truth = fast_movie
    np.save(tmp_path / "movie.npy", image)
    rows, cols = np.nonzero(truth[0] == 1)
    prompts = {"objects": [{"id": 1, "frame": [0], "points": [[int(rows.mean()), int(cols.mean())]]}]}
    (tmp_path / "p.json").write_text(json.dumps(prompts))
    args = [command, str(tmp_path / "movie.npy"), "--prompts", str(tmp_path / "p.json"), "--model", "tiny-256"]
    if command == "track":
        args += ["--frames", "3"]
    assert main([*args, "--fast", "-o", str(tmp_path / "fast.npy")]) == 0
    assert "fast mode on" in capsys.readouterr().err
    assert small_backend[-1].fast
    seen = {name for name, _ in precision_seen}
    assert seen >= ({"encoder", "sam_mask_decoder"} | ({"memory_attention"} if command == "track" else set()))
    assert all(dtype == torch.bfloat16 for _, dtype in precision_seen)
    precision_seen.clear()
    assert main([*args, "-o", str(tmp_path / "exact.npy")]) == 0  # off by default
    assert precision_seen and all(dtype is None for _, dtype in precision_seen)
    fast, exact = np.load(tmp_path / "fast.npy"), np.load(tmp_path / "exact.npy")
    frames = [0, 1, 2] if command == "track" else [0]
    assert all(iou(fast[f] == 1, exact[f] == 1) > 0.9 for f in frames)


def test_cli_fast_flag_with_a_model_without_it_says_so(fast_movie, tmp_path, capsys):
    from napari_samlabel.cli import main

    image, _ = fast_movie
    np.save(tmp_path / "movie.npy", image)
    (tmp_path / "p.json").write_text(json.dumps({"objects": [{"id": 1, "frame": [0], "points": [[40, 40]]}]}))
    rc = main(["segment", str(tmp_path / "movie.npy"), "--prompts", str(tmp_path / "p.json"), "--fast",
               "-o", str(tmp_path / "out.npy")])  # fmt: skip
    assert rc == 0 and "seeds has none" in capsys.readouterr().err


@needs_bf16
@pytest.mark.slow
def test_dock_checkbox_runs_the_loaded_model_in_bf16_and_is_kept(make_napari_viewer, qtbot, small_backend, precision_seen):
    from napari_samlabel._qt.segment_widget import SegmentWidget
    from napari_samlabel.api import start_session
    from napari_samlabel.core import Ontology

    viewer = make_napari_viewer()
    viewer.open_sample("napari-samlabel", "timelapse")
    onto = Ontology()
    onto.add("nucleus")
    start_session(viewer, viewer.layers[0], ontology=onto)
    dock = SegmentWidget(viewer)
    assert dock.fast_mode.text() == "Fast mode (bf16)" and not dock.fast_mode.isChecked()  # off by default
    dock.model_combo.setCurrentText("tiny-256")
    dock.fast_mode.setChecked(True)  # before loading: the model comes in fast
    dock.load_model()
    qtbot.waitUntil(lambda: dock.backend is not None and dock.backend.name == "tiny-256", timeout=60_000)
    assert dock.backend.fast and "Fast mode on: bf16" in dock.model_line.text()
    c = dock.start_prompting()
    viewer.dims.set_current_step(0, 0)
    c.add_point([0, 100, 100])
    precision_seen.clear()
    c.apply(c.run(c.request()))  # what the preview worker runs
    assert {"encoder", "sam_mask_decoder"} <= {name for name, _ in precision_seen}
    assert all(dtype == torch.bfloat16 for _, dtype in precision_seen)
    assert dock.backend.tracker().encoder is dock.backend.encoder  # the Track dock tracks in the same mode
    dock.fast_mode.setChecked(False)
    assert not dock.backend.fast and "fast mode off" in dock.model_line.text()
    dock.fast_mode.setChecked(True)
    dock.cache_spin.setValue(0.5)  # the embedding memory budget reaches the model's cache
    assert dock.backend.cache.max_bytes == 2**29
    dock.close_keys()
    dock.close()

    again = SegmentWidget(viewer)  # the setting is kept between sessions
    assert again.fast_mode.isChecked() and again.cache_spin.value() == 0.5
    again.set_backend(Sam2Segmenter(dock.backend.model, "tiny-256"))  # any model it is given runs fast
    assert again.backend.fast and again.backend.cache.max_bytes == 2**29
    again.close_keys()


@pytest.mark.slow
def test_opening_the_docks_with_fast_mode_kept_on_imports_no_torch(tmp_path):
    """The stored setting is only applied to a loaded model: opening the panel probes nothing."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from qtpy.QtCore import QSettings\n"
        f"QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, {str(tmp_path)!r})\n"
        "from napari_samlabel._qt import segment_widget\n"
        "segment_widget.settings().setValue(segment_widget.FAST_KEY, True)\n"
        "import napari\n"
        "viewer = napari.Viewer(show=False)\n"
        "_, panel = viewer.window.add_plugin_dock_widget('napari-samlabel', 'SAM Label')\n"
        "assert panel.segment.fast_mode.isChecked()\n"
        "print([m for m in ('torch', 'sam2', 'torchvision') if m in sys.modules], flush=True)\n"
        "import os; os._exit(0)\n"  # no teardown: the dock's own start-up workers are not this test's matter
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
