"""Model names -> how to build them; where checkpoints are looked for.

A SAM 2 model is given by a local checkpoint file or by its Hugging Face id,
downloaded once into the cache and reused offline. Nothing here imports torch
until a model is actually loaded.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from ..core.cache import cache_dir
from .base import CheckpointError, ModelSpec, ModelUnavailable, UnknownModel

log = logging.getLogger(__name__)

SHORT = 90  # the most characters an error line in a dock may take


def short_error(exc: BaseException) -> tuple[str, str]:
    """(one line of at most ``SHORT`` characters, the full text) for any error a dock shows."""
    full = str(exc) or type(exc).__name__
    details = getattr(exc, "details", None) or full
    line = " ".join(full.split())
    if len(line) > SHORT:
        line = line[: SHORT - 1].rstrip() + "\u2026"
    return line, details


def _sam2(name: str, cfg: str, hf: str, fname: str, desc: str) -> ModelSpec:
    return ModelSpec(name, cfg, hf, fname, desc)


MODELS: dict[str, ModelSpec] = {
    "seeds": ModelSpec("seeds", description="Grow from seeds: weight-free, classical (no download)"),
    **{
        s.name: s
        for s in [
            _sam2("sam2.1-tiny", "configs/sam2.1/sam2.1_hiera_t.yaml", "facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt", "SAM 2.1 Hiera tiny (39M)"),
            _sam2("sam2.1-small", "configs/sam2.1/sam2.1_hiera_s.yaml", "facebook/sam2.1-hiera-small", "sam2.1_hiera_small.pt", "SAM 2.1 Hiera small (46M)"),
            _sam2("sam2.1-base-plus", "configs/sam2.1/sam2.1_hiera_b+.yaml", "facebook/sam2.1-hiera-base-plus", "sam2.1_hiera_base_plus.pt", "SAM 2.1 Hiera base+ (81M)"),
            _sam2("sam2.1-large", "configs/sam2.1/sam2.1_hiera_l.yaml", "facebook/sam2.1-hiera-large", "sam2.1_hiera_large.pt", "SAM 2.1 Hiera large (224M)"),
            _sam2("sam2-tiny", "configs/sam2/sam2_hiera_t.yaml", "facebook/sam2-hiera-tiny", "sam2_hiera_tiny.pt", "SAM 2 Hiera tiny"),
            _sam2("sam2-small", "configs/sam2/sam2_hiera_s.yaml", "facebook/sam2-hiera-small", "sam2_hiera_small.pt", "SAM 2 Hiera small"),
            _sam2("sam2-base-plus", "configs/sam2/sam2_hiera_b+.yaml", "facebook/sam2-hiera-base-plus", "sam2_hiera_base_plus.pt", "SAM 2 Hiera base+"),
            _sam2("sam2-large", "configs/sam2/sam2_hiera_l.yaml", "facebook/sam2-hiera-large", "sam2_hiera_large.pt", "SAM 2 Hiera large"),
        ]
    },
}  # fmt: skip

# User-added backends: name -> factory(checkpoint=None, device="auto") -> backend
_FACTORIES: dict[str, Callable] = {}


def register_backend(name: str, factory: Callable, description: str = "") -> None:
    """Make a backend selectable by name in the docks and the CLI."""
    _FACTORIES[name] = factory
    MODELS.setdefault(name, ModelSpec(name, description=description or "user backend"))


_entry_points_read = False


def _load_entry_points() -> None:
    """Plugins' backends, read once per process: scanning every installed distribution took
    70-140 ms in a full environment, on the GUI thread each time Track was pressed."""
    global _entry_points_read
    if _entry_points_read:
        return
    from importlib.metadata import entry_points

    for ep in entry_points(group="napari_samlabel.backends"):
        if ep.name not in _FACTORIES:
            register_backend(ep.name, ep.load())
    _entry_points_read = True


def model_names() -> list[str]:
    _load_entry_points()
    return list(MODELS)


def checkpoint_dir() -> Path:
    return cache_dir() / "checkpoints"


def find_checkpoint(spec: ModelSpec) -> Path | None:
    path = checkpoint_dir() / spec.filename
    return path if path.is_file() else None


def resolve_checkpoint(name: str, checkpoint: str | Path | None = None, download: bool = True) -> Path:
    """The checkpoint file to load for a model, downloading it once if allowed.

    Offline (``HF_HUB_OFFLINE`` or the hub unreachable within about a second) this
    fails at once with a one-line :class:`CheckpointError`, instead of waiting out
    huggingface_hub's retries."""
    spec = get_spec(name)
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise CheckpointError(
                _short(f"{name}: checkpoint file not found: {path.name}"),
                f"checkpoint {path} does not exist (model {name})",
            )
        return path
    found = find_checkpoint(spec) or _hub_cached(spec)
    if found is not None:
        log.info("%s: weights %s", name, found)
        return found
    target = checkpoint_dir() / spec.filename
    if not download:
        raise CheckpointError(f"{name}: no weights here (downloads are off)", _missing_message(spec, target, "downloads are off"))
    problem = _download_problem(name)
    if problem:
        raise CheckpointError(problem[0], _missing_message(spec, target, problem[1]))
    log.info("%s: downloading %s from %s/%s", name, spec.filename, hub_endpoint(), spec.hf_id)
    try:
        from huggingface_hub import hf_hub_download

        got = Path(hf_hub_download(spec.hf_id, spec.filename))
    except Exception as e:  # no hub, no such file, network lost: say what to do
        forget_network_check()
        why = f"download from {spec.hf_id} failed ({type(e).__name__}: {e})"
        log.warning("%s: %s", name, why)
        raise CheckpointError(f"{name}: weights download failed", _missing_message(spec, target, why)) from e
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        try:
            target.symlink_to(got)
        except OSError:
            import shutil

            shutil.copyfile(got, target)
    return target


def _short(line: str) -> str:
    return line if len(line) <= SHORT else line[: SHORT - 1] + "\u2026"


def _missing_message(spec: ModelSpec, target: Path, why: str) -> str:
    return (
        f"No weights for {spec.name}: {why}.\n"
        f"Put {spec.filename} (from the Hugging Face repo {spec.hf_id}, "
        f"https://huggingface.co/{spec.hf_id}) at {target}, or pass a checkpoint file; "
        "'seeds' works without weights."
    )


def _hub_cached(spec: ModelSpec) -> Path | None:
    """The file in huggingface_hub's own cache (an earlier download), found without network."""
    if not spec.hf_id or find_spec("huggingface_hub") is None:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        got = try_to_load_from_cache(spec.hf_id, spec.filename)
    except (OSError, ValueError):  # an unreadable cache is no cache
        return None
    return Path(got) if isinstance(got, str) and Path(got).is_file() else None


# -- is the hub reachable? ---------------------------------------------------------
NETWORK_TIMEOUT = 1.0  # seconds for one reachability check
NETWORK_TTL = 20.0  # seconds a check's answer is reused
_TRUE = {"1", "on", "yes", "true"}
_net_lock = threading.Lock()
_net_cache: dict[str, tuple[float, str]] = {}  # endpoint -> (time checked, "" or why unreachable)


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _offline_reason() -> str:
    """'' when the Hugging Face hub can be reached now, else why not (said in a few words)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"{var} is set (offline mode)"
    endpoint = hub_endpoint()
    with _net_lock:
        hit = _net_cache.get(endpoint)
        if hit is not None and time.monotonic() - hit[0] < NETWORK_TTL:
            return hit[1]
    why = _probe(endpoint)
    log.info("network check: %s", why or f"{endpoint} reachable")
    with _net_lock:
        _net_cache[endpoint] = (time.monotonic(), why)
    return why


def _download_problem(name: str) -> tuple[str, str] | None:
    """(short line, why) when weights cannot be downloaded now; None when they can."""
    if find_spec("huggingface_hub") is None:
        return _short(f"{name}: no weights here, and huggingface_hub is missing"), (
            "huggingface_hub is not installed to download them (pip install 'napari-samlabel[sam]')"
        )
    why = _offline_reason()
    return (_short(f"{name}: no weights here and no network"), why) if why else None


def hub_reachable() -> bool:
    """Whether weights can be downloaded now (answered within about a second, then cached)."""
    return not _offline_reason()


def forget_network_check() -> None:
    """Ask again next time (after a failed download, or when the user retries)."""
    with _net_lock:
        _net_cache.clear()


def _probe(endpoint: str) -> str:
    """Open a TCP connection to the hub (or the configured proxy), in a thread so a slow
    DNS lookup cannot hold the caller past ``NETWORK_TIMEOUT``."""
    url = urlsplit(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    proxy = next((os.environ[v] for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy") if os.environ.get(v)), "")
    if proxy and not _no_proxy(host):
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = p.hostname or host, p.port or 8080
    result: list[str] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=NETWORK_TIMEOUT).close()
            result.append("")
        except OSError as e:
            result.append(f"{host} unreachable ({e.strerror or type(e).__name__})")

    t = threading.Thread(target=connect, name="samlabel-hub-check", daemon=True)
    t.start()
    t.join(NETWORK_TIMEOUT + 0.2)
    return result[0] if result else f"{host} did not answer within {NETWORK_TIMEOUT:g} s"


def _no_proxy(host: str) -> bool:
    rules = (os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or "").split(",")
    return any(r.strip() and (r.strip() == "*" or host.endswith(r.strip().lstrip("."))) for r in rules)


def get_spec(name: str) -> ModelSpec:
    _load_entry_points()
    if name not in MODELS:
        raise UnknownModel(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]


def pick_device(device: str = "auto") -> str:
    """auto -> CUDA, then MPS, then CPU."""
    if device != "auto":
        return device
    from .torch_guard import guard_torch_import

    guard_torch_import()
    import torch

    if torch.cuda.is_available():
        picked = "cuda"
    else:
        mps = getattr(torch.backends, "mps", None)
        picked = "mps" if mps is not None and mps.is_available() else "cpu"
    log.info("device auto: %s", picked)
    return picked


from .embeddings import DEFAULT_BUDGET as DEFAULT_CACHE_BYTES  # noqa: E402  (no torch in there)


def load_backend(
    name: str,
    checkpoint: str | Path | None = None,
    device: str = "auto",
    download: bool = True,
    embeddings_on_disk: bool = False,
    fast: bool = False,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
):
    """Build the backend for a model name (weights resolved as above).

    ``embeddings_on_disk`` keeps SAM 2 embeddings under the cache folder, keyed
    by plane content and model, so reopening the same stack skips the encoder.
    ``fast``: bf16 autocast where the device supports it (:func:`apply_fast`; the
    backend's ``fast_message`` says what happened). ``cache_bytes``: the memory
    budget of the embeddings kept for prompting and (re-)tracking."""
    backend = _build_backend(name, checkpoint, device, download, embeddings_on_disk, cache_bytes)
    if fast:
        apply_fast(backend, True)
    return backend


def apply_fast(backend, on: bool) -> tuple[bool, str]:
    """Fast mode on or off for any backend: (whether it is on, a line for the user)."""
    set_fast = getattr(backend, "set_fast", None)
    if set_fast is None:
        name = getattr(backend, "name", "this backend")
        return False, (f"fast mode: {name} has none" if on else "fast mode off")
    active = bool(set_fast(on))
    return active, getattr(backend, "fast_message", "") or ("fast mode on" if active else "fast mode off")


def _build_backend(name, checkpoint, device, download, embeddings_on_disk, cache_bytes):
    """Every backend, built-in or a plugin's, is a registered factory called with the
    options it takes (a plugin's factory may take only ``checkpoint`` and ``device``)."""
    import inspect

    get_spec(name)  # an unknown name: a message listing the known ones
    _load_entry_points()
    factory = _FACTORIES[name]
    options = {"checkpoint": checkpoint, "device": device, "download": download,
               "embeddings_on_disk": embeddings_on_disk, "cache_bytes": cache_bytes}  # fmt: skip
    params = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        options = {k: v for k, v in options.items() if k in params}
    return factory(**options)


def _seeds(**_options):
    from .seeds import SeedGrowSegmenter

    return SeedGrowSegmenter()


def _sam2_factory(name: str) -> Callable:
    def build(checkpoint=None, device="auto", download=True, embeddings_on_disk=False, cache_bytes=DEFAULT_CACHE_BYTES):
        missing = _missing_libraries()
        if missing:  # said before looking for weights, and without importing torch
            log.warning("%s: %s not installed", name, " and ".join(missing))
            raise _unavailable(name, f"{' and '.join(missing)} not installed")
        path = resolve_checkpoint(name, checkpoint, download=download)  # fails fast offline, before torch loads
        try:
            from .sam2 import Sam2Segmenter  # torch and sam2 load here, not at import
        except ImportError as e:
            raise _unavailable(name, str(e)) from e
        cache = _embedding_cache(name, embeddings_on_disk, cache_bytes)
        return Sam2Segmenter.from_checkpoint(MODELS[name], path, device=pick_device(device), cache=cache)

    return build


def _embedding_cache(name: str, on_disk: bool, max_bytes: int):
    """A model's embedding cache: ``max_bytes`` in memory, and under the cache folder when on disk."""
    from .embeddings import EmbeddingCache  # no torch in there

    return EmbeddingCache(max_bytes, disk_dir=cache_dir() / "embeddings" / name if on_disk else None)


# the built-in backends register exactly as a plugin's do
register_backend("seeds", _seeds)
for _name, _spec in list(MODELS.items()):
    if _spec.needs_weights:
        register_backend(_name, _sam2_factory(_name))


def _sam3(checkpoint=None, device="auto", download=True, embeddings_on_disk=False, cache_bytes=DEFAULT_CACHE_BYTES):
    """SAM 3 concepts (text, exemplar boxes) through transformers: ``checkpoint`` is a folder
    saved with ``save_pretrained`` or a hub id (default facebook/sam3)."""
    missing = _missing_sam3_libraries()
    if missing:  # said before looking for weights, and without importing torch
        raise _sam3_unavailable(missing)
    from .sam3 import load_sam3  # no torch in there until a model loads

    cache = _embedding_cache("sam3", embeddings_on_disk, cache_bytes)
    return load_sam3(checkpoint, device=device, download=download, cache=cache)  # the device is picked once weights are found


register_backend("sam3", _sam3, "SAM 3: label all by a class's text; clicks and tracking with the full folder "
                                "(transformers, gated weights)")  # fmt: skip
MODELS["sam3"] = ModelSpec("sam3", hf_id="facebook/sam3", filename="model.safetensors",
                           description=MODELS["sam3"].description)  # fmt: skip


def _edgetam(checkpoint=None, device="auto", download=True, embeddings_on_disk=False, cache_bytes=DEFAULT_CACHE_BYTES):
    """EdgeTAM through transformers (clicks and boxes, fast on CPUs): ``checkpoint`` is a folder
    saved with ``save_pretrained`` or a hub id (default yonigozlan/EdgeTAM-hf)."""
    from .edgetam import load_edgetam, missing_libraries, unavailable  # no torch in there

    missing = missing_libraries()
    if missing:  # said before looking for weights, and without importing torch
        raise unavailable(missing)
    cache = _embedding_cache("edgetam", embeddings_on_disk, cache_bytes)
    return load_edgetam(checkpoint, device=device, download=download, cache=cache)  # the device is picked once weights are found


register_backend("edgetam", _edgetam, "EdgeTAM: the fast model for CPU laptops")
MODELS["edgetam"] = ModelSpec("edgetam", hf_id="yonigozlan/EdgeTAM-hf", filename="model.safetensors",
                              description=MODELS["edgetam"].description)  # fmt: skip
_BUILT_IN = frozenset(_FACTORIES)


def _missing_sam3_libraries() -> list[str]:
    """What SAM 3 needs and lacks: PyTorch, transformers >= 5 (nothing imported)."""
    from .hf_weights import missing_libraries

    return missing_libraries()


def _sam3_unavailable(missing: list[str]) -> ModelUnavailable:
    return ModelUnavailable(
        'sam3 needs PyTorch and transformers>=5: pip install "transformers>=5"',
        f"sam3 needs PyTorch and transformers>=5 ({' and '.join(missing)} missing): pip install \"transformers>=5\" "
        "(or pip install 'napari-samlabel[sam]'); SAM 2 and 'seeds' work without it.",
    )


def describe_models() -> list[dict]:
    """For `samlabel models`: each model, where its weights are looked for, and whether present."""
    out = []
    for name in model_names():
        spec = MODELS[name]
        if name in ("edgetam", "sam3"):  # transformers models: a hub snapshot, or a folder given on Load
            from .hf_weights import hub_cached

            gated = ", gated" if name == "sam3" else ""
            out.append({"name": name, "description": spec.description, "present": hub_cached(spec.hf_id),
                        "weights": f"huggingface_hub's cache ({spec.hf_id}{gated}) or a folder", "hf_id": spec.hf_id})  # fmt: skip
            continue
        if not spec.needs_weights:
            out.append({"name": name, "description": spec.description, "weights": "none needed", "present": True})
            continue
        found = find_checkpoint(spec)
        out.append(
            {
                "name": name,
                "description": spec.description,
                "weights": str(found or checkpoint_dir() / spec.filename),
                "present": found is not None,
                "hf_id": spec.hf_id,
            }
        )
    return out


def _missing_libraries() -> list[str]:
    """Libraries a SAM 2 model needs that are not installed (found without importing them)."""
    out = []
    for mod, label in (("torch", "PyTorch"), ("sam2", "sam2")):
        try:
            if find_spec(mod) is None:
                out.append(label)
        except (ImportError, ValueError):
            out.append(label)
    return out


def _unavailable(name: str, why: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"{name} needs PyTorch and sam2: pip install 'napari-samlabel[sam]'",
        f"{name} needs PyTorch and sam2 ({why}): pip install 'napari-samlabel[sam]'; 'seeds' works without them.",
    )


def model_status(name: str, checkpoint: str | Path | None = None) -> tuple[bool, str, str]:
    """(ready, one short line, details): can this model be loaded now? Loads nothing.

    For the Segment dock to show the moment a model is picked: weights present,
    downloadable, missing while offline, or libraries missing (``checkpoint``: a file
    the user gave instead). At most one reachability check of about a second, reused
    for ``NETWORK_TTL`` seconds."""
    try:
        spec = get_spec(name)
    except KeyError as e:
        return False, _short(f"{name}: unknown model"), str(e.args[0])
    if name not in _BUILT_IN and name in _FACTORIES:
        return True, _short(f"{name}: ready (plugin backend)"), spec.description
    if name == "edgetam":
        from .edgetam import status  # no torch in there

        return status(checkpoint)
    if name == "sam3":
        return _sam3_status(checkpoint)
    if not spec.needs_weights:
        return True, _short(f"{name}: ready, no weights needed"), spec.description
    missing = _missing_libraries()
    if missing:
        e = _unavailable(name, f"{' and '.join(missing)} not installed")
        return False, str(e), e.details
    if checkpoint:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            return False, _short(f"{name}: checkpoint file not found: {path.name}"), f"{path} does not exist."
        return True, _short(f"{name}: weights from {path.name}"), f"{spec.description}\nWeights: {path}"
    target = checkpoint_dir() / spec.filename
    found = find_checkpoint(spec) or _hub_cached(spec)
    if found is not None:
        return True, _short(f"{name}: weights present"), f"{spec.description}\nWeights: {found}"
    problem = _download_problem(name)
    if problem:
        return False, problem[0], _missing_message(spec, target, problem[1])
    return True, _short(f"{name}: weights download once on Load"), (
        f"{spec.description}\n{spec.filename} comes from https://huggingface.co/{spec.hf_id} "
        f"and is kept at {target}."
    )


def _sam3_status(checkpoint: str | Path | None) -> tuple[bool, str, str]:
    """model_status for SAM 3 (loads nothing)."""
    from . import hf_weights
    from .sam3 import resolve_source  # no torch in there

    return hf_weights.status("sam3", MODELS["sam3"].description, _missing_sam3_libraries, _sam3_unavailable,
                             resolve_source, checkpoint, " (gated: needs a token)")  # fmt: skip