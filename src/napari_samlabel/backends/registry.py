"""Model names -> how to build them; where checkpoints are looked for.

A SAM 2 model is given by a local checkpoint file or by its Hugging Face id,
downloaded once into the cache and reused offline. Nothing here imports torch
until a model is actually loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CACHE_ENV = "SAMLABEL_CACHE"


class CheckpointError(FileNotFoundError):
    """No weights for a model; the message says which file to put where."""


class ModelUnavailable(CheckpointError):
    """The model's libraries are not installed; the message says what to install."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config: str | None = None  # Hydra config name inside the sam2 package
    hf_id: str | None = None
    filename: str | None = None
    description: str = ""

    @property
    def needs_weights(self) -> bool:
        return self.config is not None


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


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="napari_samlabel.backends"):
        if ep.name not in _FACTORIES:
            register_backend(ep.name, ep.load())


def model_names() -> list[str]:
    _load_entry_points()
    return list(MODELS)


def cache_dir() -> Path:
    """Where downloaded checkpoints and persisted embeddings live."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("napari-samlabel"))


def checkpoint_dir() -> Path:
    return cache_dir() / "checkpoints"


def find_checkpoint(spec: ModelSpec) -> Path | None:
    path = checkpoint_dir() / spec.filename
    return path if path.is_file() else None


def resolve_checkpoint(name: str, checkpoint: str | Path | None = None, download: bool = True) -> Path:
    """The checkpoint file to load for a model, downloading it once if allowed."""
    spec = get_spec(name)
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise CheckpointError(f"checkpoint {path} does not exist (model {name})")
        return path
    found = find_checkpoint(spec)
    if found is not None:
        return found
    target = checkpoint_dir() / spec.filename
    if not download:
        raise CheckpointError(_missing_message(spec, target, "downloads are off"))
    try:
        from huggingface_hub import hf_hub_download

        got = Path(hf_hub_download(spec.hf_id, spec.filename))
    except Exception as e:  # no network, no hub, no such file: say what to do
        raise CheckpointError(_missing_message(spec, target, f"download from {spec.hf_id} failed: {e}")) from e
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        try:
            target.symlink_to(got)
        except OSError:
            import shutil

            shutil.copyfile(got, target)
    return target


def _missing_message(spec: ModelSpec, target: Path, why: str) -> str:
    return (
        f"no weights for {spec.name}: {why}. Put {spec.filename} (from the Hugging Face repo "
        f"{spec.hf_id}) at {target}, or pass a checkpoint file; 'seeds' works without weights."
    )


def get_spec(name: str) -> ModelSpec:
    _load_entry_points()
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]


def pick_device(device: str = "auto") -> str:
    """auto -> CUDA, then MPS, then CPU."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def load_backend(
    name: str,
    checkpoint: str | Path | None = None,
    device: str = "auto",
    download: bool = True,
    embeddings_on_disk: bool = False,
):
    """Build the backend for a model name (weights resolved as above).

    ``embeddings_on_disk`` keeps SAM 2 embeddings under the cache folder, keyed
    by plane content and model, so reopening the same stack skips the encoder."""
    spec = get_spec(name)
    if name in _FACTORIES:
        return _FACTORIES[name](checkpoint=checkpoint, device=device)
    if name == "seeds":
        from .seeds import SeedGrowSegmenter

        return SeedGrowSegmenter()
    try:
        from .sam2 import Sam2Segmenter  # torch and sam2 load here, not at import
    except ImportError as e:
        raise ModelUnavailable(
            f"{name} needs PyTorch and sam2 ({e}): pip install 'napari-samlabel[sam]'; 'seeds' works without them."
        ) from e
    from .embeddings import EmbeddingCache

    path = resolve_checkpoint(name, checkpoint, download=download)
    cache = EmbeddingCache(disk_dir=cache_dir() / "embeddings" / name if embeddings_on_disk else None)
    return Sam2Segmenter.from_checkpoint(spec, path, device=pick_device(device), cache=cache)


def describe_models() -> list[dict]:
    """For `samlabel models`: each model, where its weights are looked for, and whether present."""
    out = []
    for name in model_names():
        spec = MODELS[name]
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
