"""The current frame's classifications ("quality: blurred") on the canvas, beside the slider.

Qt-free. One per viewer, owned by the viewer's :class:`SessionList`: it follows the
current session, its edits and the frame slider, and writes napari's text overlay
(top left of the canvas) while the ontology defines classifications. ``close()`` lets go
of everything it followed and hides the overlay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.attributes import shown

if TYPE_CHECKING:
    from .registry import SessionList
    from .session import AnnotationSession


def frame_text(session: AnnotationSession) -> str:
    """``frame 12: quality: blurred · contains mitosis: yes`` ('-' for a value not set)."""
    ann = session.annotation
    specs = ann.ontology.classifications
    if not specs:
        return ""
    frame = session.current_frame()
    values = ann.table.frame_labels.on(frame)
    parts = [f"{s.name}: {shown(values.get(s.name)) or '-'}" for s in specs]
    return f"frame {frame}: " + " · ".join(parts)


def text_overlay(viewer):
    """napari's text overlay: ``canvas.overlays.text`` since 0.9 (``text_overlay`` warns there)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    text = getattr(overlays, "text", None)
    return text if text is not None else viewer.text_overlay


class FrameLabelsOverlay:
    def __init__(self, registry: SessionList, viewer) -> None:
        self.registry, self.viewer = registry, viewer
        self._session: AnnotationSession | None = None
        self._shown = False  # the overlay is ours to hide (nothing else had put text there)
        registry.current_changed.connect(self._follow)
        viewer.dims.events.current_step.connect(self.update)
        self._follow(registry.current)

    def _follow(self, session) -> None:
        if self._session is not None:
            self._session.annotation.changed.disconnect(self.update)
            self._session.ontology.changed.disconnect(self.update)
        self._session = session
        if session is not None:
            session.annotation.changed.connect(self.update)
            session.ontology.changed.connect(self.update)
        self.update()

    def update(self, *_args) -> None:
        session = self._session
        text = frame_text(session) if session is not None else ""
        overlay = text_overlay(self.viewer)
        if text:
            overlay.text = text
            overlay.visible = True
            self._shown = True
        elif self._shown:
            overlay.visible = False
            overlay.text = ""
            self._shown = False

    def close(self) -> None:
        self._follow(None)
        self.registry.current_changed.disconnect(self._follow)
        self.viewer.dims.events.current_step.disconnect(self.update)
