"""Picking and loading a SAM 2 model offline: said at once, in one short line, with the
what-to-do text (file, folder, Hugging Face repo) kept for a tooltip."""

import socket
import sys
import threading
import time

import pytest

from hf_helpers import empty_hub_fixture  # noqa: F401  (the empty_hub fixture)
from napari_samlabel.backends import registry
from napari_samlabel.backends.registry import CheckpointError, load_backend, model_status, short_error


@pytest.fixture
def cache(empty_hub, monkeypatch):
    """An empty samlabel cache besides the empty Hugging Face cache of ``empty_hub``, and no proxy."""
    monkeypatch.setenv("SAMLABEL_CACHE", str(empty_hub / "samlabel"))
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return empty_hub


@pytest.fixture
def no_network(monkeypatch):
    """Every connection refused, as on a laptop without Wi-Fi; counts the attempts."""
    tries = []

    def refuse(address, *a, **k):
        tries.append(address)
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return tries


def _fails_fast(name="sam2.1-tiny"):
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError) as err:
        load_backend(name)
    return time.perf_counter() - t0, err.value


@pytest.mark.parametrize("how", ["socket", "HF_HUB_OFFLINE"])
def test_offline_load_fails_at_once_in_one_short_line(cache, no_network, monkeypatch, how):
    pytest.importorskip("huggingface_hub")
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    took, e = _fails_fast()
    assert took < 2.0, f"took {took:.1f} s"  # was 27 s: huggingface_hub's five retries
    line = str(e)
    assert "\n" not in line and len(line) <= 90 and "sam2.1-tiny" in line and "network" in line
    assert "sam2.1_hiera_tiny.pt" in e.details and "facebook/sam2.1-hiera-tiny" in e.details
    assert str(cache / "samlabel" / "checkpoints") in e.details and "seeds" in e.details
    assert short_error(e) == (line, e.details)
    if how == "HF_HUB_OFFLINE":
        assert no_network == [] and "HF_HUB_OFFLINE" in e.details  # not even one connection tried


def test_reachability_is_checked_once_and_remembered(cache, no_network):
    for _ in range(3):
        _fails_fast()
        assert model_status("sam2.1-small")[0] is False
    assert len(no_network) == 1
    registry.forget_network_check()
    model_status("sam2.1-tiny")
    assert len(no_network) == 2


def test_a_hanging_dns_lookup_costs_about_a_second(cache, monkeypatch):
    release = threading.Event()

    def hang(*a, **k):  # a resolver that never answers (until the test ends)
        release.wait(30)
        raise OSError("gave up")

    monkeypatch.setattr(socket, "create_connection", hang)
    try:
        took, e = _fails_fast()
    finally:
        release.set()
    assert took < 2.0 and "did not answer" in e.details


def test_model_status_says_before_loading(cache, no_network, monkeypatch):
    ready, line, details = model_status("sam2.1-tiny")
    assert not ready and len(line) <= 90 and "network" in line and "sam2.1_hiera_tiny.pt" in details

    ckpt = cache / "samlabel" / "checkpoints" / "sam2.1_hiera_tiny.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"weights")  # presence is what counts: nothing is loaded
    loaded = [m for m in ("napari_samlabel.backends.sam2",) if m in sys.modules]
    ready, line, details = model_status("sam2.1-tiny")
    assert ready and line == "sam2.1-tiny: weights present" and str(ckpt) in details
    assert [m for m in ("napari_samlabel.backends.sam2",) if m in sys.modules] == loaded
    assert model_status("sam2.1-small")[0] is False  # only the tiny weights are here

    given = cache / "mine.pt"
    assert model_status("sam2.1-large", given)[:2] == (False, "sam2.1-large: checkpoint file not found: mine.pt")
    given.write_bytes(b"w")
    assert model_status("sam2.1-large", given)[0]

    assert model_status("seeds")[:2] == (True, "seeds: ready, no weights needed")
    assert model_status("sam9")[:2] == (False, "sam9: unknown model")


def test_weights_in_the_hugging_face_cache_count_offline(cache, no_network, monkeypatch):
    """An earlier download lives in huggingface_hub's own cache: found without the network."""
    snap = cache / "hf" / "models--facebook--sam2.1-hiera-tiny"
    (snap / "refs").mkdir(parents=True)
    (snap / "refs" / "main").write_text("abc123")
    (snap / "snapshots" / "abc123").mkdir(parents=True)
    (snap / "snapshots" / "abc123" / "sam2.1_hiera_tiny.pt").write_bytes(b"w")
    assert model_status("sam2.1-tiny")[0]
    assert registry.resolve_checkpoint("sam2.1-tiny").name == "sam2.1_hiera_tiny.pt"
    assert no_network == []


def test_online_status_says_it_will_download(cache, monkeypatch):
    tries = []

    class Conn:
        def close(self):
            pass

    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: tries.append(address) or Conn())
    ready, line, details = model_status("sam2.1-tiny")
    assert ready and "download" in line and "facebook/sam2.1-hiera-tiny" in details
    assert tries == [("huggingface.co", 443)]


def test_missing_libraries_are_said_first_and_short(cache, no_network, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as on a machine without the sam extra
    ready, line, details = model_status("sam2.1-tiny")
    assert not ready and len(line) <= 90 and "pip install 'napari-samlabel[sam]'" in line
    with pytest.raises(registry.ModelUnavailable) as err:
        load_backend("sam2.1-tiny")
    assert len(str(err.value)) <= 90 and "seeds" in err.value.details
    assert no_network == []  # libraries first: no network check for a model that cannot run


def test_short_error_for_any_long_message():
    line, details = short_error(ValueError("x" * 300))
    assert len(line) <= 90 and details == "x" * 300
