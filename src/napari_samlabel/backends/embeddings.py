"""Embedding cache: in memory (least recently used goes first, within a budget in
bytes), optionally on disk.

Keys are a content hash of the windowed plane plus the model (its name and, when loaded
from a checkpoint file, a hash of that file: :func:`weights_digest`) and precision,
so moving back to a plane is instant, tracking starts from the plane embedded
while prompting, re-tracking a range reuses its frames' features, and reopening
the same stack with the same weights and contrast skips the encoder when the disk
cache is on. A disk entry the model could not use (another shape) is removed on read.
Entries are SAM 2's backbone features (what ``forward_image``
returns), valid for both the image predictor and the video predictor.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


DEFAULT_BUDGET = 2 * 2**30  # bytes: ~120 frames of SAM 2 tiny features at 1024 px (fp32)


_digests: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> digest of the file
_digests_lock = threading.Lock()


def weights_digest(checkpoint: str | Path) -> str:
    """A short hash of a checkpoint file's bytes: the weights' identity in cache keys (a
    fine-tuned checkpoint loaded under its base model's name is another model). Read in
    chunks, once per version of the file (path, size, mtime), so a model loaded again or a
    new image does not read a large checkpoint again."""
    path = Path(checkpoint).resolve()
    stat = path.stat()
    version = (str(path), stat.st_size, stat.st_mtime_ns)
    with _digests_lock:
        known = _digests.get(version)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    with _digests_lock:
        return _digests.setdefault(version, digest.hexdigest()[:16])


def nbytes(value: Any) -> int:
    """Bytes held by the tensors and arrays in a (nested) cache entry."""
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    if hasattr(value, "untyped_storage"):  # a torch tensor, without importing torch
        return value.numel() * value.element_size()
    return int(getattr(value, "nbytes", 0))


class EmbeddingCache:
    """``max_bytes``: the memory budget; least recently used entries leave first when a new
    one would pass it (an entry larger than the whole budget is not kept)."""

    def __init__(self, max_bytes: int = DEFAULT_BUDGET, disk_dir: str | Path | None = None) -> None:
        self.max_bytes = int(max_bytes)
        self.disk_dir = Path(disk_dir) if disk_dir else None
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self.bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evicted = 0
        self.generation = 0  # counts clear(): holders of an entry outside the cache drop it

    def __len__(self) -> int:
        return len(self._items)

    def set_budget(self, max_bytes: int) -> None:
        with self._lock:
            self.max_bytes = int(max_bytes)
            self._evict()

    def __contains__(self, key: str) -> bool:
        return key in self._items or (self._path(key) is not None and self._path(key).exists())

    def _path(self, key: str) -> Path | None:
        return self.disk_dir / f"{key}.pt" if self.disk_dir else None

    def get(self, key: str, problem: Callable[[Any], str] | None = None) -> Any | None:
        """The entry under ``key``, from memory or disk. ``problem(entry)`` says why an entry
        read from disk cannot be used ('' when it can): such a file is deleted, said once."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        path = self._path(key)
        if path is not None and path.exists():
            import torch

            try:
                value = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as e:  # a half-written or stale file: recompute
                log.warning("embedding cache: %s cannot be read (%s: %s); deleted, the plane is encoded again",
                            path, type(e).__name__, e)  # fmt: skip
                path.unlink(missing_ok=True)
            else:
                why = problem(value) if problem is not None else ""
                if not why:
                    self._remember(key, value)
                    self.hits += 1
                    return value
                # features this model cannot use failed every prompt: gone, and encoded anew
                log.warning("embedding cache: %s %s; deleted, the plane is encoded again", path, why)
                path.unlink(missing_ok=True)
        self.misses += 1
        return None

    def put(self, key: str, value: Any, memory: bool = True) -> None:
        """Keep ``value`` under ``key``: in memory (``memory=False``: not, for an entry no one
        will ask for again in this process) and on disk where the cache has a folder."""
        if memory:
            self._remember(key, value)
        path = self._path(key)
        if path is not None and not path.exists():
            import torch

            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            torch.save(value, tmp)
            tmp.replace(path)  # never a half-written cache entry

    def _remember(self, key: str, value: Any) -> None:
        size = nbytes(value)
        with self._lock:
            if key in self._items:
                self.bytes -= self._sizes.pop(key)
                del self._items[key]
            if size > self.max_bytes:
                return  # would push out everything and still not fit
            self._items[key] = value
            self._items.move_to_end(key)
            self._sizes[key] = size
            self.bytes += size
            self._evict()

    def _evict(self) -> None:
        while self._items and self.bytes > self.max_bytes:
            key, _ = self._items.popitem(last=False)
            self.bytes -= self._sizes.pop(key)
            self.evicted += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self.bytes = 0
            self.generation += 1
