"""Closing the window with unsaved labels asks Save / Discard / Cancel and names what would
be lost (napari's own dialog only asked "close?", with a box to never ask again).

A clean close (saved or discarded) removes the sessions' autosaves from the cache, so the
next start offers to recover only what a crash left behind.
"""

from __future__ import annotations

import time
import weakref

from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QMessageBox

from .._napari.autosave import forget_autosave
from .._napari.registry import sessions
from ._common import StatusLine, once_per_window
from .project_dialog import save_session

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def unsaved(session) -> bool:
    """Changed since the user last saved it where they chose (an autosave to the cache is
    not a save), and something to lose: instances, or a project on disk to bring up to date."""
    if session.version == session.saved_version:
        return False
    return bool(session.table.present()) or session.project_folder is not None


def what_is_lost(session) -> str:
    n = len(session.table.present())
    if session.project_folder is None:
        since = "never saved"
    else:
        when = time.strftime("%H:%M", time.localtime(session.saved_at)) if session.saved_at else "its last save"
        since = f"changed since {when} ({session.project_folder.name})"
    return f"{session.image.name!r}: {n} instance{'s' if n != 1 else ''}, {since}"


class UnsavedGuard(QObject):
    """One per viewer window (see :func:`unsaved_guard`)."""

    def __init__(self, viewer) -> None:
        window = viewer.window._qt_window  # napari's main window (and its QtViewer, below)
        super().__init__(window)
        self._window_ref = weakref.ref(window)
        self._qt_viewer_ref = weakref.ref(viewer.window._qt_viewer)
        self.registry = sessions(viewer)
        #: (the lines that would be lost) -> SAVE, DISCARD or CANCEL; tests replace it
        self.ask = self._ask
        self.status = StatusLine()  # what a save said; a failed save is also shown in the viewer
        self._closing = False
        window.installEventFilter(self)

    def close(self) -> None:
        window = self._window_ref()
        if window is not None:
            window.removeEventFilter(self)
        self.setParent(None)

    def _by_user(self, event) -> bool:
        """The window's X (spontaneous) or napari's Close/Quit (its viewer still shown); not
        ``viewer.close()`` from a script, which closes the viewer first."""
        qt_viewer = self._qt_viewer_ref()
        return event.spontaneous() or (qt_viewer is not None and qt_viewer.isVisible())

    def eventFilter(self, obj, event) -> bool:
        if event.type() != QEvent.Type.Close or obj is not self._window_ref() or self._closing:
            return False
        if not self._by_user(event):
            return False
        pending = [s for s in self.registry.sessions if unsaved(s)]
        if not pending:  # all kept where the user chose: their cache autosaves are stale
            for s in self.registry.sessions:
                forget_autosave(s)
            return False
        choice = self.ask([what_is_lost(s) for s in pending])
        if choice == SAVE and not all(save_session(obj, s, self.status) is not None for s in pending):
            choice = CANCEL  # a save was cancelled or failed: nothing closes
        if choice == CANCEL:
            event.ignore()
            return True
        for s in self.registry.sessions:
            forget_autosave(s)
        self._closing = True
        if event.spontaneous():  # napari would ask again ("close?"): close as a script does
            event.ignore()
            QTimer.singleShot(0, obj.close)
            return True
        return False

    def _ask(self, lines: list[str]) -> str:
        box = QMessageBox(self._window_ref())
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved labels")
        box.setText("Save the labels before closing?")
        box.setInformativeText("Not saved yet:\n" + "\n".join(f"• {line}" for line in lines))
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)  # fmt: skip
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: SAVE, QMessageBox.StandardButton.Discard: DISCARD}.get(
            QMessageBox.StandardButton(answer), CANCEL
        )


def unsaved_guard(viewer) -> UnsavedGuard | None:
    """The viewer's close guard, made once; None for a viewer without a window (scripts)."""
    return once_per_window(viewer, UnsavedGuard)
