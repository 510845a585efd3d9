"""Choosing a project folder to save into, and saving every unsaved session.

A save dialog treats an existing folder as a place to look into: choosing the project's own
folder to save over it opened it instead. Here an existing project folder is an answer.
"""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import QFileDialog, QWidget

from ..io.labelstore import safe_name
from ..io.project import is_project
from ._common import StatusLine, guarded


class ProjectFolderDialog(QFileDialog):
    """A save dialog where choosing an existing project folder means "save into it"."""

    def __init__(self, parent: QWidget | None, title: str, start: str) -> None:
        super().__init__(parent, title, start)
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        self.setFileMode(QFileDialog.FileMode.AnyFile)
        self.setOption(QFileDialog.Option.DontUseNativeDialog)  # accept() below must be ours
        self.setOption(QFileDialog.Option.DontConfirmOverwrite)  # a project is replaced atomically
        self.chosen: Path | None = None

    def accept(self) -> None:
        names = self.selectedFiles()
        picked = Path(names[0]) if names else None
        if picked is not None and picked.is_dir() and is_project(picked):
            self.chosen = picked
            self.done(QFileDialog.DialogCode.Accepted)
            return
        super().accept()
        if self.result() == QFileDialog.DialogCode.Accepted and self.selectedFiles():
            self.chosen = Path(self.selectedFiles()[0])


def ask_project_folder(parent: QWidget | None, session) -> Path | None:
    """Where to save ``session``'s project (its current folder preselected); None if cancelled."""
    if session.project_folder is not None:
        start = str(session.project_folder)
    else:
        start = f"{safe_name(session.image.name)}.samlabel"
    dialog = ProjectFolderDialog(parent, f"Save project of {session.image.name!r}", start)
    if dialog.exec() != QFileDialog.DialogCode.Accepted:
        return None
    return dialog.chosen


def save_session(parent: QWidget | None, session, status: StatusLine, folder=None, ask: bool = False) -> Path | None:
    """Save ``session`` into ``folder``, else its project folder, else (or with ``ask``) the
    folder the user picks. None if the user cancelled or the save failed (said in ``status``)."""
    if folder is None and (ask or session.project_folder is None):
        folder = ask_project_folder(parent, session)
        if folder is None:
            return None
    out = guarded(status, session.save_project, folder)
    if out is not None:
        status.ok(f"Saved {out}")
    return out
