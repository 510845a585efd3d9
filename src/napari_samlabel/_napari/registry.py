"""Which annotation sessions a viewer has, and which one the docks work on."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from psygnal import Signal

from ..core.ontology import HOTKEYS

if TYPE_CHECKING:
    from napari.components import ViewerModel

    from .session import AnnotationSession


class SessionList:
    """The sessions of one viewer; ``current`` follows the last started or selected one."""

    current_changed = Signal(object)

    def __init__(self, viewer: ViewerModel) -> None:
        self._viewer = weakref.ref(viewer)
        self.sessions: list[AnnotationSession] = []
        self.current: AnnotationSession | None = None
        self.backend = None  # the model the Segment dock loaded; the Track dock tracks with it
        viewer.layers.events.removed.connect(self._on_layer_removed)
        viewer.layers.selection.events.active.connect(self._on_active_layer)
        # With any other layer active (prompts, other images) the keys go to the current session.
        for key in HOTKEYS:
            viewer.bind_key(key, lambda _viewer, k=key: self.current and self.current.press_hotkey(k), overwrite=True)

    def close(self) -> None:
        """Close every session and undo what ``__init__`` bound on the viewer."""
        from napari.utils.key_bindings import coerce_keybinding

        for session in list(self.sessions):
            session.close()
        self.sessions.clear()
        self.set_current(None)
        viewer = self._viewer()
        if viewer is not None:
            viewer.layers.events.removed.disconnect(self._on_layer_removed)
            viewer.layers.selection.events.active.disconnect(self._on_active_layer)
            for key in HOTKEYS:
                viewer.keymap.pop(coerce_keybinding(key), None)
            _REGISTRY.pop(viewer, None)

    def add(self, session: AnnotationSession) -> None:
        self.sessions.append(session)
        self.set_current(session)

    def set_current(self, session: AnnotationSession | None) -> None:
        if session is not self.current:
            self.current = session
            self.current_changed.emit(session)

    def for_layer(self, layer) -> AnnotationSession | None:
        return next((s for s in self.sessions if layer is s.labels or layer is s.image), None)

    def _on_active_layer(self, event) -> None:
        session = self.for_layer(event.value)
        if session is not None:
            self.set_current(session)

    def _on_layer_removed(self, event) -> None:
        for session in [s for s in self.sessions if event.value is s.labels or event.value is s.image]:
            session.close()
            self.sessions.remove(session)
            if self.current is session:
                self.set_current(self.sessions[-1] if self.sessions else None)


_REGISTRY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sessions(viewer: ViewerModel) -> SessionList:
    if viewer not in _REGISTRY:
        _REGISTRY[viewer] = SessionList(viewer)
    return _REGISTRY[viewer]
