"""Which annotation sessions a viewer has, and which one the docks work on."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from psygnal import Signal

from ..core.errors import SamlabelError
from ..core.ontology import HOTKEYS
from .keys import KeyRouter
from .views import ViewSet

if TYPE_CHECKING:
    from napari.components import ViewerModel

    from .session import AnnotationSession


def unwrap(obj):
    """The object itself, not napari's PublicOnlyProxy: docks get the viewer through the proxy,
    so its layers too, and ``layer is session.labels`` never held (a second Start annotating
    made a second session on the same image or layer), and patching them warned."""
    return getattr(obj, "__wrapped__", obj) if type(obj).__name__ == "PublicOnlyProxy" else obj


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
        self.keys = KeyRouter(viewer)  # every plugin key of this viewer; sessions adopt their layers
        self.views = ViewSet(viewer)  # the viewer and its linked views (three views); the one worked in
        for key, action in SESSION_KEYS.items():
            self.keys.handle(key, lambda layer, a=action: self._session_key(layer, a))
        from .frame_labels import FrameLabelsOverlay

        self.frame_labels = FrameLabelsOverlay(self, viewer)  # the frame's classifications on the canvas
        from .orientation import OrientationView

        self.orientation = OrientationView(self, viewer)  # superior up, patient letters, slider names

    def _session_key(self, layer, action):
        """A session key acts on the layer's own session, else on the current one."""
        from napari.utils.notifications import show_warning

        from ..core.errors import SamlabelError, message

        session = self.for_layer(layer) or self.current
        if session is None:
            return None
        try:
            return action(session)
        except SamlabelError as e:  # a key has no dock line to show it: say it in the viewer
            show_warning(message(e))
            return None

    def close(self) -> None:
        """Close every session and undo what ``__init__`` bound on the viewer."""
        for session in list(self.sessions):
            session.close()
        self.sessions.clear()
        self.set_current(None)
        self.frame_labels.close()
        self.orientation.close()
        self.keys.close()
        self.views.close()
        viewer = self._viewer()
        if viewer is not None:
            viewer.layers.events.removed.disconnect(self._on_layer_removed)
            viewer.layers.selection.events.active.disconnect(self._on_active_layer)
            _REGISTRY.pop(viewer, None)

    # -- the model: what the Segment dock loaded, else the weight-free one
    @staticmethod
    def weight_free():
        """A 'seeds' backend: works at once, offline (load SAM 2 when wanted)."""
        from ..backends.registry import load_backend

        return load_backend("seeds")

    def model(self):
        """The backend to prompt and track with: the loaded one, else a weight-free one."""
        return self.backend if self.backend is not None else self.weight_free()

    def tracker(self):
        """The loaded model's tracker; a model that only labels (SAM 3's concept model) says so."""
        model = self.model()
        make = getattr(model, "tracker", None)
        if make is None:
            name = getattr(model, "name", type(model).__name__)
            raise SamlabelError(f"{name} labels but does not track: load a SAM 2 model (or seeds) in the "
                                "Segment tab to track")  # fmt: skip
        return make()

    def add(self, session: AnnotationSession) -> None:
        self.sessions.append(session)
        self.set_current(session)

    def set_current(self, session: AnnotationSession | None) -> None:
        if session is not self.current:
            self.current = session
            self.current_changed.emit(session)

    def for_layer(self, layer) -> AnnotationSession | None:
        layer = unwrap(layer)
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


#: Keys that act on a session, whatever layer is active (see ``keys.SHORTCUTS``).
SESSION_KEYS = {
    **{key: (lambda s, k=key: s.press_hotkey(k)) for key in HOTKEYS},
    "m": lambda s: s.new_instance(),
    "Control-Z": lambda s: s.labels.undo(),
    "Control-Shift-Z": lambda s: s.labels.redo(),
    "Control-C": lambda s: s.copy_selected(),
    "Control-V": lambda s: s.paste(as_new=False),
    "Control-Shift-V": lambda s: s.paste(as_new=True),
    "Shift-N": lambda s: s.go_to_unlabeled(),
    "Shift-F": lambda s: s.focus_selected(),
}

_REGISTRY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sessions(viewer: ViewerModel) -> SessionList:
    viewer = unwrap(viewer)
    if viewer not in _REGISTRY:
        _REGISTRY[viewer] = SessionList(viewer)
    return _REGISTRY[viewer]
