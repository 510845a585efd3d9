"""Autosave: each session into its own project folder, never another's.

A session that was saved or opened as a project autosaves there; one that was
not goes to ``<cache>/autosave/<image name>-<image key>.samlabel``, the name
made safe (a DICOM SeriesDescription like ``../../x`` stays a plain name) and
the key telling apart two images of the same name (two patients' "CT AXIAL").
"""

from __future__ import annotations

import shutil
import weakref
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


_failures: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # session -> what it said last failed


def autosave(sessions: Iterable[AnnotationSession], root: Path | None = None) -> list[Path]:
    """Save every session changed since its last save; returns the folders written.

    A session that cannot be saved (a read-only share, a full disk) fails alone: the others
    are still saved, and it says so once (again only after a save of it worked)."""
    written = []
    for s in sessions:
        try:
            folder = _autosave_one(s, root)
        except Exception as e:  # any failure of one session must not cost the others their autosave
            _tell_failure(s, e)
            continue
        _failures.pop(s, None)
        if folder is not None:
            written.append(folder)
    return written


def _tell_failure(session: AnnotationSession, error: Exception) -> None:
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    text = f"Autosave of {session.image.name!r} failed (the other sessions are still autosaved): {first_line}"
    if _failures.get(session) != text:
        _failures[session] = text
        session.say(text, warn=True)


def _autosave_one(s: AnnotationSession, root: Path | None) -> Path | None:
    """The folder ``s`` was autosaved into, or None where it had nothing to save."""
    if s.version in (s.saved_version, s.autosaved_version):
        return None
    if s.project_folder is None and not s.table.present():
        return None  # nothing to lose, and it would overwrite a crash's autosave of this image
    if s.project_folder is not None and not s.read_only:  # (read-only: someone else's, the cache keeps it)
        return s.save_project()
    return s.save_project(autosave_folder(s, root), remember=False)
