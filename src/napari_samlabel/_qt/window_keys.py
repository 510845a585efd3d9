"""The plugin's keys wherever the focus is in the viewer's window, except in a text field.

napari hears keys on its canvas, and from a dock only the keys the focused widget ignores
(``QtViewerDockWidget`` hands those to the viewer). A list or a combo box takes letters for
its own type-ahead search, so after a click on an Instances row Shift+T, the class hotkeys
and the arrows did nothing; a line edit ignores Return, so Return in a search box (or in
napari's frame-number box) reached the viewer and saved a mask. One filter per window fixes
both: the plugin's keys (and napari's frame-stepping arrows) pressed on any widget that is
not a text field go to the canvas as if it had the focus, Enter and Escape only count on
the canvas, and nothing counts while the user types.
"""

from __future__ import annotations

import weakref

from app_model.backends.qt import qkey2modelkey, qmods2modelmods
from app_model.types import KeyBinding
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtGui import QKeyEvent
from qtpy.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
    QWidget,
)

from .._napari.registry import sessions
from ._common import once_per_window

#: keys that mean "this object" and only count where the object is: on the canvas
CANVAS_ONLY = ("Enter", "Escape")
#: napari's own keys a person expects from anywhere: step through frames or slices
NAPARI_STEPS = ("Left", "Right")
_KEY_EVENTS = (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride)


def typing_into(widget: QWidget | None) -> bool:
    """Whether ``widget`` takes text: a line edit, a spin box, a text box, an editable combo."""
    if widget is None:
        return False
    if isinstance(widget, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)):
        return True
    return isinstance(widget, QComboBox) and widget.isEditable()


def event_binding(event) -> KeyBinding | None:
    """The key of a Qt key event as napari binds it (Shift+T -> KeyBinding 'Shift+T')."""
    try:
        code = qkey2modelkey(Qt.Key(event.key()))
        return KeyBinding.validate(int(qmods2modelmods(event.modifiers())) | int(code))
    except (ValueError, KeyError, TypeError):
        return None


class WindowKeys(QObject):
    """One per viewer window (see :func:`window_keys`); ``close()`` lets go of both hooks."""

    def __init__(self, viewer) -> None:
        window = viewer.window._qt_window  # napari's main window: the only private names used here
        super().__init__(window)  # Qt owns it: it goes with the window
        # weak: a filter that held the window would keep a closed viewer alive
        self._window_ref = weakref.ref(window)
        self._canvas_ref = weakref.ref(viewer.window._qt_viewer.canvas.native)
        self._router = sessions(viewer).keys
        self._router.accepts = self.accepts
        self._forwarded: set[int] = set()  # Qt keys whose press went to the canvas (their release follows)
        QApplication.instance().installEventFilter(self)

    def close(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        if getattr(self._router, "accepts", None) == self.accepts:
            del self._router.accepts
        self.setParent(None)

    @property
    def _window(self):
        return self._window_ref()

    @property
    def _canvas(self):
        return self._canvas_ref()

    # -- which keys count
    def _on_canvas(self, widget: QWidget | None) -> bool:
        """The window, its canvas, or a linked view's canvas (the three views: napari hears its
        keys there itself, Enter and Escape included)."""
        return (widget is None or widget is self._canvas or widget is self._window
                or hasattr(widget, "_vispy_canvas"))  # fmt: skip

    def accepts(self, key: str) -> bool:
        """The router asks before a key acts: nothing while the user types in a text field,
        Enter and Escape only from the canvas (a Return in a search box saves nothing)."""
        focus = QApplication.focusWidget()
        if focus is not None and focus.window() is not self._window:
            return True  # a key pressed elsewhere was sent here on purpose (a script, a test)
        if typing_into(focus):
            return False
        return key not in CANVAS_ONLY or self._on_canvas(focus)

    def _wanted(self, binding: KeyBinding, focus: QWidget) -> bool:
        names = set(self._router.bound_keys()) - set(CANVAS_ONLY)
        if not self._on_canvas(focus) and not isinstance(focus, (QAbstractSlider, QTabBar)):
            names |= set(NAPARI_STEPS)  # sliders and tab bars step with the arrows themselves
        return binding in self._router.bindings(names)

    # -- the filter
    def eventFilter(self, obj, event) -> bool:
        if event.type() not in _KEY_EVENTS:
            return False
        focus = QApplication.focusWidget()
        # each key event is offered once per widget it travels through: act on the first only
        if obj is not focus or focus is None or self._window is None or focus.window() is not self._window:
            return False
        if typing_into(focus):
            return False
        if event.type() == QEvent.Type.ShortcutOverride:
            # a key the plugin binds beats a menu's shortcut (napari's Ctrl+S saves layers)
            binding = event_binding(event)
            if binding is None or not self._wanted(binding, focus):
                return False
            event.accept()
            return True
        if self._on_canvas(focus):
            return False  # napari hears it itself
        if event.type() == QEvent.Type.KeyRelease:
            if event.key() not in self._forwarded or event.isAutoRepeat():
                return False
            self._forwarded.discard(event.key())
        else:
            binding = event_binding(event)
            if binding is None or not self._wanted(binding, focus):
                return False
            self._forwarded.add(event.key())
        # straight to the canvas's handler: sent through the application, the copy would first
        # be offered to the menus' shortcuts (napari's Ctrl+S opened its save dialog)
        copy = QKeyEvent(event.type(), event.key(), event.modifiers(), event.text(), event.isAutoRepeat())
        if event.type() == QEvent.Type.KeyPress:
            self._canvas.keyPressEvent(copy)
        else:
            self._canvas.keyReleaseEvent(copy)
        return True


def window_keys(viewer) -> WindowKeys | None:
    """The viewer's key filter, made once; None for a viewer without a window (scripts)."""
    return once_per_window(viewer, WindowKeys)
