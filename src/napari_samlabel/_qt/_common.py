"""Small pieces the dock widgets share."""

from __future__ import annotations

from typing import Callable

from qtpy.QtCore import QEvent, QObject, Signal
from qtpy.QtWidgets import QComboBox, QLabel, QSizePolicy, QWidget

from .._napari.registry import unwrap
from ..core.errors import SamlabelError, message

#: Errors a user can act on: shown in the viewer and the dock, never a traceback. Anything
#: else (a plain KeyError or ValueError too) is a bug and keeps its traceback.
USER_ERRORS = (SamlabelError,)


class StatusLine(QLabel):
    """One line under a dock that says what happened last, errors in red."""

    said = Signal(str, bool)  # text, is an error: the panel echoes lines of hidden tabs

    def __init__(self) -> None:
        super().__init__("")
        self.setWordWrap(True)
        self._undo_of = None  # the session whose next undo or redo this line's promise is about

    def ok(self, text: str, undo_of=None) -> None:
        """``undo_of``: the session a "Ctrl+Z undoes it" is about; its next undo or redo
        replaces the line (the promise is kept, or spent: it must not stay on screen)."""
        self._show(text, "", undo_of)
        self.said.emit(text, False)

    def error(self, text: str) -> None:
        self._show(text, "color: #ff6060", None)
        self.said.emit(text, True)

    def _show(self, text: str, style: str, undo_of) -> None:
        if self._undo_of is not None:
            self._undo_of.said.disconnect(self._on_session_said)
        self._undo_of = undo_of
        if undo_of is not None:
            undo_of.said.connect(self._on_session_said)
        self.setStyleSheet(style)
        self.setText(text)

    def _on_session_said(self, text: str) -> None:
        if text.startswith(("Undid", "Redid")) and alive(self):
            self.ok(text, undo_of=self._undo_of)  # the next undo or redo is said here too


def guarded(status: StatusLine, fn: Callable, *args, **kwargs):
    """Run a user action; a user error becomes a message in the dock and the viewer."""
    from napari.utils.notifications import show_error

    try:
        return fn(*args, **kwargs)
    except USER_ERRORS as e:
        msg = message(e)
        status.error(msg)
        show_error(msg)
        return None


def show_failure(status: StatusLine, exc: BaseException, text: str, viewer_text: str | None = None) -> None:
    """A worker's error (it cannot raise into the GUI): ``text`` in the dock; in the viewer
    the same line for a user error, napari's error notification with the traceback for
    anything else (a bug)."""
    from napari.utils.notifications import notification_manager, show_error

    status.error(text)
    if isinstance(exc, SamlabelError):
        show_error(viewer_text or text)
    else:
        notification_manager.receive_error(type(exc), exc, exc.__traceback__)


NO_SESSION = "No session: start annotating in the Classes dock first."


def require_session(registry, status: StatusLine):
    """The viewer's current session, or None with a message saying how to get one."""
    session = registry.current
    if session is None:
        status.error(NO_SESSION)
    return session


def collapsible(title: str, form, expanded: bool = False):
    """A form folded under a title (superqt's QCollapsible): rarely used options stay out
    of a slim panel's way."""
    from superqt import QCollapsible

    box = QWidget()
    box.setLayout(form)
    # unfolded, it keeps the height it asks for (a tab with little room scrolls instead of
    # squashing the form's rows into each other)
    box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    section = QCollapsible(title)
    section.addWidget(box)
    section.expand(animate=False) if expanded else section.collapse(animate=False)
    return section


def refit(section) -> None:
    """An unfolded section takes the height its content asks for now (QCollapsible sizes
    itself when it unfolds; forms that change afterwards would be cut off)."""
    if section.isExpanded():
        section.expand(animate=False)


def compact(widget: QWidget, chars: int = 8) -> QWidget:
    """Let a form shrink to a slim panel: combo boxes stop asking for their longest item's
    width (a layer called "nuclei (synthetic time-lapse)" widened the whole dock)."""
    for combo in widget.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(chars)
    return widget


def narrow(widget, chars: int | None = None):
    """A narrower spin box or combo box than napari's theme gives (the docks fit a slim panel)."""
    if isinstance(widget, QComboBox):
        widget.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        widget.setMinimumContentsLength(chars or 8)
    else:
        widget.setStyleSheet("QAbstractSpinBox { min-width: 30px; padding: 1px 2px; }")
    return widget


def once_per_window(viewer, hook: type):
    """The viewer window's ``hook`` object (a QObject child of napari's main window, built
    from the viewer), made on first use; None for a viewer without a window (scripts)."""
    viewer = unwrap(viewer)
    window = getattr(getattr(viewer, "window", None), "_qt_window", None)
    if window is None:
        return None
    return window.findChild(hook) or hook(viewer)


def alive(widget: QObject) -> bool:
    """False once Qt has deleted the widget (a dock releasing as its window is destroyed)."""
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True


class _Release:
    """``release`` when the dock is removed, ``forget`` when its window is destroyed:
    whichever comes first, once. Holds no reference to the widget's wrapper."""

    def __init__(self, release: Callable[[], None], forget: Callable[[], None] | None) -> None:
        self._release, self._forget = release, forget
        self._done = False

    def removed(self) -> None:
        self._run(self._release)

    def destroyed(self, *_args) -> None:
        self._run(self._forget or self._release)

    def _run(self, fn: Callable[[], None]) -> None:
        if not self._done:
            self._done = True
            fn()


class _ReleaseWhenRemoved(QObject):
    def __init__(self, widget: QWidget, release: _Release) -> None:
        super().__init__(widget)
        self._release = release
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ParentChange and obj.parent() is None:
            self._release.removed()
        return False


def release_when_removed(widget: QWidget, release: Callable[[], None], forget: Callable[[], None] | None = None) -> None:
    """Call ``release`` once when the dock's X removes ``widget`` or its window is closed.
    napari takes a removed dock out (``setParent(None)``) without closing it, so
    ``closeEvent`` never comes and keys it bound stayed bound to a widget nobody sees (and
    were bound twice once it was reopened); a closed window deletes its docks, and a dock
    still subscribed to the viewer's sessions then raised on the next one. ``forget``: what
    to do instead when the window is destroyed (nothing that redraws: its canvas is gone)."""
    hook = _Release(release, forget)
    _ReleaseWhenRemoved(widget, hook)
    widget.destroyed.connect(hook.destroyed)
