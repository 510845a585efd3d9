"""Where a transformers model's weights come from (SAM 3, EdgeTAM): a local folder saved with
``save_pretrained``, or a Hugging Face hub id, found in huggingface_hub's cache or downloaded
once. Decided before torch or transformers load, so offline or a folder without weights is
said at once in one line. One place for every transformers backend."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
from pathlib import Path
from typing import Callable

from .base import CheckpointError

log = logging.getLogger(__name__)

#: what makes a folder a model folder (transformers writes one of them)
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")


def missing_libraries(extra: tuple[str, ...] = ()) -> list[str]:
    """What a transformers model needs and lacks: PyTorch, transformers >= 5 and ``extra``
    (EdgeTAM: timm), found without importing any of them."""

    def absent(mod: str) -> bool:
        try:
            return importlib.util.find_spec(mod) is None
        except (ImportError, ValueError):
            return True

    out = ["PyTorch"] if absent("torch") else []
    try:
        major = int(importlib.metadata.version("transformers").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        major = 0
    if major < 5 or absent("transformers"):
        out.append("transformers>=5")
    return out + [mod for mod in extra if absent(mod)]


def looks_like_hub_id(source: str) -> bool:
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not source.startswith((".", "~", "/")) and not Path(source).exists()


def folder_problem(folder: Path) -> str:
    """'' for a model folder, else what is wrong (naming the folder, not its whole path)."""
    if not folder.is_dir():
        return f"{folder.name} is not a folder"
    if not any((folder / f).is_file() for f in WEIGHT_FILES):
        return f"{folder.name} holds no model.safetensors (save_pretrained writes one)"
    return ""


def hub_cached(repo: str) -> bool:
    """Whether an earlier download is in huggingface_hub's cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return any(isinstance(try_to_load_from_cache(repo, f), str) for f in WEIGHT_FILES) and isinstance(
            try_to_load_from_cache(repo, "config.json"), str
        )
    except (OSError, ValueError):
        return False


def check_model_type(name: str, source: str, kinds: tuple[str, ...], local_only: bool) -> str:
    """The ``model_type`` of a folder or hub id's config; refused, in one line, when it is another
    model's (a SAM 3 folder given to EdgeTAM loads with most weights left random, and
    transformers only warns): ``kinds`` are the ``model_type`` values ``name`` reads."""
    from transformers import PretrainedConfig  # noqa: PLC0415  (called while loading a model)

    from . import registry

    config, _ = PretrainedConfig.get_config_dict(source, local_files_only=local_only)
    kind = config.get("model_type", "")
    if kind and kind not in kinds:  # no config or no type: from_pretrained says what is wrong
        label = Path(source).name or source
        raise CheckpointError(registry._short(f"{name}: {label} is a {kind} model, not {name}"),
                              f"{name}: {source}/config.json says model_type {kind!r}; {name} reads {', '.join(kinds)}. "
                              "Each model in the Model list has its own folder (Browse).")  # fmt: skip
    return kind


def load_failed(name: str, source: str, error: BaseException, what_to_do: Callable[[str], str], default: str,
                gated: bool = False) -> CheckpointError:  # fmt: skip
    """The one-line error for a transformers model that could not load (network lost, files
    that are not its own; ``gated``: a repository that needs a token may be why), the full text
    in its details with what to do."""
    from . import registry

    registry.forget_network_check()
    text = f"{type(error).__name__}: {error}"
    locked = gated and any(w in text.lower() for w in ("gated", "401", "403", "unauthorized", "restricted"))
    line = f"{name}: {source} is gated: log in with a token (hf auth login)" if locked else \
        f"{name}: could not load {Path(source).name or source}"  # fmt: skip
    log.warning("%s: %s", name, text)
    return CheckpointError(registry._short(line), f"{line} ({' '.join(text.split())[:400]}). " + what_to_do(
        default if Path(source).exists() else source))  # fmt: skip


def weights_identity(source: str) -> str:
    """A short hash naming the weights of a model folder (or a hub id's cached snapshot): its
    config and each safetensors file's name, size and time. It keys cached embeddings, so a
    model saved again into the same folder never reads the old model's entries; no weight
    file is read (SAM 3's is 3.4 GB)."""
    folder = Path(source)
    if not folder.is_dir():
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(source, "config.json")
        except (ImportError, OSError, ValueError):
            found = None
        folder = Path(found).parent if isinstance(found, str) else None
    digest = hashlib.blake2b(source.encode(), digest_size=8)
    if folder is not None:
        config = folder / "config.json"
        digest.update(config.read_bytes() if config.is_file() else b"")
        for f in sorted(folder.glob("*.safetensors")):
            stat = f.stat()
            digest.update(f"{f.name} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def resolve_source(name: str, default: str, what_to_do: Callable[[str], str], checkpoint: str | Path | None = None,
                   download: bool = True) -> tuple[str, bool]:  # fmt: skip
    """(what ``from_pretrained`` gets, whether it may download) for model ``name``: the folder or
    hub id ``checkpoint``, else the hub id ``default``; a one-line :class:`CheckpointError` at
    once when nothing can be loaded (offline, downloads off, a folder without weights), its
    details ending with ``what_to_do(repo)``. Imports neither torch nor transformers."""
    from . import registry

    source = str(checkpoint) if checkpoint is not None else default
    if checkpoint is not None and not looks_like_hub_id(source):
        folder = Path(source).expanduser()
        why = folder_problem(folder)
        if why:
            raise CheckpointError(registry._short(f"{name}: {why}"), f"{name}: {why} ({folder}). " + what_to_do(default))
        return str(folder), False
    if hub_cached(source):
        return source, False
    if not download:
        raise CheckpointError(registry._short(f"{name}: {source} is not downloaded (downloads are off)"),
                              f"{name}: {source} is not downloaded and downloads are off. " + what_to_do(source))  # fmt: skip
    problem = registry._download_problem(name)
    if problem:
        raise CheckpointError(problem[0], f"{name}: {source} is not downloaded: {problem[1]}. " + what_to_do(source))
    return source, True


def status(name: str, description: str, missing: Callable[[], list[str]], unavailable: Callable, resolve: Callable,
           checkpoint: str | Path | None = None, note: str = "") -> tuple[bool, str, str]:  # fmt: skip
    """``registry.model_status`` of a transformers model: its libraries (``missing()``, said by
    ``unavailable``), then its folder or hub id (``resolve``); loads nothing."""
    from . import registry

    lacking = missing()
    if lacking:
        e = unavailable(lacking)
        return False, str(e), e.details
    try:
        source, downloads = resolve(checkpoint, download=True)
    except CheckpointError as e:
        return False, str(e), e.details
    if downloads:
        return True, registry._short(f"{name}: {source} downloads once on Load{note}"), description
    return True, registry._short(f"{name}: weights present ({Path(source).name or source})"), f"{description}\nWeights: {source}"


def share_equal_parts(model, other, names) -> list[str]:
    """Make ``model`` use ``other``'s sub-modules (dotted ``names``: "vision_encoder",
    "vision_encoder.backbone") where both have one with the same weights, so one checkpoint
    loaded as two models (SAM 3's detector and tracker, EdgeTAM's image and video models)
    holds each shared part once. Returns the names shared; one that differs stays as it is."""
    import torch  # noqa: PLC0415  (called with models already built: torch is loaded)

    shared = []
    for name in names:
        *parents, leaf = name.split(".")
        mine, theirs = model, other
        for part in parents:
            mine, theirs = getattr(mine, part, None), getattr(theirs, part, None)
        a, b = getattr(mine, leaf, None), getattr(theirs, leaf, None)
        if a is None or b is None or a is b:
            continue
        sa, sb = a.state_dict(), b.state_dict()
        if sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape and torch.equal(sa[k], sb[k]) for k in sa):
            setattr(mine, leaf, b)
            shared.append(name)
    return shared
