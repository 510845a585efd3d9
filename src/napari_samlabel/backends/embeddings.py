"""Embedding cache: in memory (LRU), optionally on disk.

Keys are a content hash of the windowed plane plus the model name, so moving
back to a plane is instant, and reopening the same stack with the same model
and contrast skips the encoder when the disk cache is on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any


class EmbeddingCache:
    def __init__(self, max_items: int = 24, disk_dir: str | Path | None = None) -> None:
        self.max_items = max_items
        self.disk_dir = Path(disk_dir) if disk_dir else None
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __contains__(self, key: str) -> bool:
        return key in self._items or (self._path(key) is not None and self._path(key).exists())

    def _path(self, key: str) -> Path | None:
        return self.disk_dir / f"{key}.pt" if self.disk_dir else None

    def get(self, key: str) -> Any | None:
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
            except Exception:  # a half-written or stale file: recompute
                path.unlink(missing_ok=True)
            else:
                self._remember(key, value)
                self.hits += 1
                return value
        self.misses += 1
        return None

    def put(self, key: str, value: Any) -> None:
        self._remember(key, value)
        path = self._path(key)
        if path is not None and not path.exists():
            import torch

            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            torch.save(value, tmp)
            tmp.replace(path)  # never a half-written cache entry

    def _remember(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
