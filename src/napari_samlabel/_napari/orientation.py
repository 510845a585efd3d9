"""Patient orientation on the canvas: the radiological convention, edge letters, slider names.

Qt-free. One per viewer, owned by the viewer's :class:`SessionList`. It follows the image
it orients (the current session's, else the topmost image layer with patient geometry) and
the displayed axes (``dims.order``, ``ndisplay``), and sets napari's camera
``orientation2d`` from :func:`..io.orientation.screen_orientation`: the camera flips the
view only, so no voxel moves and clicks still map to the same data indices. The patient
letters are four napari text overlays at the canvas edges (``canvas.overlays``; napari's
single public ``text_overlay`` stays the frame labels'). ``close()`` lets go of everything
and puts the camera, the slider names and the overlays back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..io.geometry import index_affine
from ..io.orientation import axis_names, screen_orientation, upright

if TYPE_CHECKING:
    from .registry import SessionList

EDGES = {"top": "top_center", "bottom": "bottom_center", "left": "middle_left", "right": "middle_right"}
PREFIX = "samlabel_orientation_"


def camera(viewer):
    """napari's camera: ``scene.camera`` since 0.9 (``viewer.camera`` warns there)."""
    scene = getattr(viewer, "scene", None)
    cam = getattr(scene, "camera", None)
    return cam if cam is not None else viewer.camera


def _patient_affine(layer) -> np.ndarray | None:
    """The layer's index affine as napari's world axes run: an axis drawn with a negative scale
    (a series overlaid on one whose axis runs the other way, see ``io/placement.py``) points
    the other way on screen."""
    meta = getattr(layer, "metadata", None) or {}
    try:
        affine = index_affine(meta)
    except (KeyError, ValueError, TypeError):
        return None
    scale = getattr(layer, "scale", None)
    if affine is not None and scale is not None and len(scale) >= 2:
        spatial = min(len(scale), 3)
        signs = np.where(np.asarray(scale, float)[-spatial:] < 0, -1.0, 1.0)
        affine = affine.copy()
        affine[:3, 3 - spatial : 3] *= signs
    return affine


class OrientationView:
    """``linked``: a linked view of the three-view layout. It may swap its two displayed axes
    to stand the patient up (it shows sagittal as (y, z) otherwise; the main viewer's axes
    are the user's and are never swapped), and leaves the slider names to the viewer's (the
    linked views copy them)."""

    def __init__(self, registry: SessionList, viewer, linked: bool = False) -> None:
        self.registry, self.viewer, self.linked = registry, viewer, linked
        self._default_orientation = tuple(camera(viewer).orientation2d)
        self._labels_set: tuple | None = None  # the slider names we wrote (None: napari's own)
        self._applied: tuple | None = None  # the camera orientation we set (None: the user's own)
        self._overlays = self._make_overlays()
        self.plane: str | None = None  # what is on screen: "axial", ... or None
        for event in self._events():
            event.connect(self.update)
        viewer.layers.events.connect(self._on_layer_event)
        self.update()

    def _on_layer_event(self, event) -> None:
        """A layer shown or hidden: a series added hidden (not overlaid) may now be the one on screen."""
        if event.type == "visible":
            self.update()

    def _events(self) -> tuple:
        """What changes the plane on screen, or the image it belongs to."""
        layers, dims = self.viewer.layers.events, self.viewer.dims.events
        return (self.registry.current_changed, layers.inserted, layers.removed, dims.order, dims.ndisplay, dims.ndim)

    def _make_overlays(self) -> dict:
        overlays = getattr(getattr(self.viewer, "canvas", None), "overlays", None)
        if overlays is None:  # a napari without canvas overlays: letters are not shown
            return {}
        from napari.components.overlays import TextOverlay

        made = {}
        for edge, position in EDGES.items():
            ov = TextOverlay(position=position, visible=False, box=False, font_size=12, color=(1, 1, 0.6, 1))
            overlays[PREFIX + edge] = ov
            made[edge] = ov
        return made

    def image(self):
        """The image layer to orient: the current session's, else the topmost visible with patient
        geometry (a series not overlaid is added hidden), else the topmost."""
        from napari.layers import Image

        current = self.registry.current
        own = current.image if current is not None and _patient_affine(current.image) is not None else None
        if own is not None and own.visible:
            return own
        patient = [la for la in reversed(list(self.viewer.layers))
                   if isinstance(la, Image) and not getattr(la, "rgb", False) and _patient_affine(la) is not None]  # fmt: skip
        return next((la for la in patient if la.visible), own or (patient[0] if patient else None))

    def update(self, *_args) -> None:
        viewer = self.viewer
        layer = self.image()
        affine = _patient_affine(layer) if layer is not None else None
        shown = None
        if affine is not None:
            ndim = layer.ndim
            self._set_axis_labels(axis_names(affine, ndim), ndim)
            offset = viewer.dims.ndim - ndim
            spatial0 = ndim - 3
            displayed = [ax - offset - spatial0 for ax in viewer.dims.displayed[-2:]]
            if viewer.dims.ndisplay == 2 and ndim >= 3 and all(0 <= ax < 3 for ax in displayed):
                if self.linked and not upright(affine, tuple(displayed)):
                    order = list(viewer.dims.order)
                    order[-2:] = order[-1], order[-2]
                    viewer.dims.order = order  # its event calls update again, upright
                    return
                shown = screen_orientation(affine, tuple(displayed))
        elif self.registry.current is not None:  # a session on an image without patient geometry
            image = self.registry.current.image
            ndim = image.ndim
            self._set_axis_labels(axis_names(None, ndim, (image.metadata or {}).get("axes")), ndim)
        else:
            self._restore_axis_labels()
        if shown is None:
            self.plane = None
            self._restore_camera()
            for ov in self._overlays.values():
                ov.visible = False
            return
        self.plane = shown.plane
        if tuple(camera(viewer).orientation2d) != shown.orientation2d:
            camera(viewer).orientation2d = shown.orientation2d
        self._applied = shown.orientation2d
        for edge, ov in self._overlays.items():
            ov.text = shown.letters[edge]
            ov.visible = True

    def letters(self) -> dict[str, str]:
        """The letters on the canvas edges now ({} when none are shown)."""
        return {edge: ov.text for edge, ov in self._overlays.items() if ov.visible}

    def _restore_camera(self) -> None:
        """napari's orientation back, unless the user changed it since we set ours."""
        cam = camera(self.viewer)
        if self._applied is not None and tuple(cam.orientation2d) == self._applied:
            cam.orientation2d = self._default_orientation
        self._applied = None

    def _set_axis_labels(self, names: tuple[str, ...], ndim: int) -> None:
        if self.linked:
            return
        dims = self.viewer.dims
        labels = list(dims.axis_labels)
        if len(labels) < ndim:
            return
        labels[-ndim:] = names
        if tuple(labels) != tuple(dims.axis_labels):
            dims.axis_labels = labels
        self._labels_set = tuple(labels)

    def _restore_axis_labels(self) -> None:
        dims = self.viewer.dims
        if self._labels_set is not None and tuple(dims.axis_labels) == self._labels_set:
            n = dims.ndim
            dims.axis_labels = [str(i - n) for i in range(n)]  # napari's defaults: "-3", "-2", "-1"
        self._labels_set = None

    def close(self) -> None:
        viewer = self.viewer
        for event in self._events():
            event.disconnect(self.update)
        viewer.layers.events.disconnect(self._on_layer_event)
        self._restore_axis_labels()
        self._restore_camera()
        overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
        for edge in list(self._overlays):
            if overlays is not None and PREFIX + edge in overlays:
                del overlays[PREFIX + edge]
        self._overlays = {}
