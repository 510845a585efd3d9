"""The views that show one viewer's layers, and which of them the user works in.

No Qt. A viewer is one view; the three-view layout (``_qt/three_views.py``) adds two
linked ones (napari ``ViewerModel`` s of napari-orthogonal-views, each with copies of the
viewer's layers). Whatever acts on "the plane shown" (a prompt, Enter, Shift+T, Label all,
Ctrl+C) acts on the plane of the *working* view: the one the mouse was last on, as the
linked views' own keys (T) do. Mouse gestures that must work in every view (SAM mode's
click, drag and box) are registered here once and reach views added later too.
"""

from __future__ import annotations

from typing import Any, Callable

from psygnal import Signal


class ViewSet:
    """The main viewer and its linked views; one per viewer, owned by its ``SessionList``."""

    changed = Signal()  # a linked view came or went

    def __init__(self, viewer) -> None:
        self.main = viewer
        self.linked: list[Any] = []
        self.working = viewer
        self._gestures: list[Callable] = []
        self._track(viewer)

    @property
    def all(self) -> list[Any]:
        return [self.main, *self.linked]

    # -- linked views (the three-view layout adds and removes them)
    def add(self, view) -> None:
        if any(v is view for v in self.all):
            return
        self.linked.append(view)
        self._track(view)
        for gesture in self._gestures:
            view.mouse_drag_callbacks.append(gesture)
        self.changed.emit()

    def remove(self, view) -> None:
        if not any(v is view for v in self.linked):
            return
        self.linked = [v for v in self.linked if v is not view]
        self._untrack(view)
        for gesture in self._gestures:
            if gesture in view.mouse_drag_callbacks:
                view.mouse_drag_callbacks.remove(gesture)
        if self.working is view:
            self.working = self.main
        self.changed.emit()

    # -- gestures that work in every view: ``fn(view, event)``, napari's drag-callback form
    def on_drag(self, gesture: Callable) -> None:
        self._gestures.append(gesture)
        for view in self.all:
            view.mouse_drag_callbacks.append(gesture)

    def off_drag(self, gesture: Callable) -> None:
        self._gestures = [g for g in self._gestures if g is not gesture]
        for view in self.all:
            if gesture in view.mouse_drag_callbacks:
                view.mouse_drag_callbacks.remove(gesture)

    # -- the working view: the mouse's
    def _track(self, view) -> None:
        view.mouse_move_callbacks.append(self._mouse_on)
        view.mouse_drag_callbacks.insert(0, self._mouse_on)  # before any gesture reads the plane

    def _untrack(self, view) -> None:
        for callbacks in (view.mouse_move_callbacks, view.mouse_drag_callbacks):
            if self._mouse_on in callbacks:
                callbacks.remove(self._mouse_on)

    def _mouse_on(self, view, _event) -> None:
        """A move or a press over ``view``: it is the one worked in."""
        self.working = view

    def close(self) -> None:
        for view in list(self.linked):
            self.remove(view)
        for gesture in list(self._gestures):
            self.off_drag(gesture)
        self._untrack(self.main)
        self.working = self.main
