"""Autosave: each session into its own project folder, never another's.

A session that was saved or opened as a project autosaves there; one that was
not goes to ``<cache>/autosave/<image name>-<image key>.samlabel``, the name
made safe (a DICOM SeriesDescription like ``../../x`` stays a plain name) and
the key telling apart two images of the same name (two patients' "CT AXIAL").
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..io.labelstore import safe_name
from ..io.project import inside, is_project

if TYPE_CHECKING:
    from .session import AnnotationSession


def autosave_root() -> Path:
    from ..backends.registry import cache_dir

    return cache_dir() / "autosave"


def autosave_folder(session: AnnotationSession, root: Path | None = None) -> Path:
    root = Path(root) if root is not None else autosave_root()
    folder = root / f"{safe_name(session.image.name)}-{session.image_key[:10]}.samlabel"
    return inside(root, folder)


def forget_autosave(session, root: Path | None = None) -> None:
    """The cache's autosave of ``session``'s image, once its labels are kept where the user chose
    (saved, or discarded on close): the next start must not offer stale labels."""
    root = Path(root) if root is not None else autosave_root()
    folder = autosave_folder(session, root)
    if folder.is_dir() and is_project(folder) and root in folder.parents:
        shutil.rmtree(folder, ignore_errors=True)


def autosave(sessions: Iterable[AnnotationSession], root: Path | None = None) -> list[Path]:
    """Save every session changed since its last save; returns the folders written."""
    written = []
    for s in sessions:
        if s.version in (s.saved_version, s.autosaved_version):
            continue
        if s.project_folder is None and not s.table.present():
            continue  # nothing to lose, and it would overwrite a crash's autosave of this image
        if s.project_folder is not None:
            written.append(s.save_project())
        else:
            written.append(s.save_project(autosave_folder(s, root), remember=False))
    return written
