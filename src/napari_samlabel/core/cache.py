"""The plugin's cache folder (model checkpoints, embeddings, labels kept on disk, autosaves).

It lives in core so that every layer can find it: models (backends), on-disk labels (io) and
autosave (_napari) all keep their files under it. ``SAMLABEL_CACHE`` moves it.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SAMLABEL_CACHE"


def cache_dir() -> Path:
    """Where downloaded checkpoints, persisted embeddings and on-disk labels live."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("napari-samlabel"))
