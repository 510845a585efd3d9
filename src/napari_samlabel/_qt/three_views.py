"""Axial, coronal and sagittal at once: the viewer's canvas and two linked views.

The linked views are napari-orthogonal-views' (a maintained napari plugin, used by
motile-tracker; built on napari's own multi-canvas example): two napari ``ViewerModel`` s
beside the canvas, each with copies of the viewer's layers that share their arrays and
Labels history, one point (the crosshair) for all three. We chose it over a hand-made
layout because it already keeps layers, the slice point, the crosshair, zoom and painting
in step across napari versions (0.6.5-0.9), and lets an application hook each copied layer.

What this binder adds so the linked views are as good as the canvas:
- the plugin's keys and SAM mode's mouse in every view (``_napari/views.ViewSet``: the
  plane a prompt, Enter or Shift+T acts on is that of the view the mouse is on);
- the brush, eraser, fill and Ctrl+Z on a copied labels layer pass through the session's
  store (``LayerStore.attach_view``), so locks and instance records hold there too;
- the radiological orientation and patient letters in each view (``OrientationView``);
- copies of labels redrawn when the session writes (a run, a prompt's preview).

One per panel; ``close()`` puts the single canvas back and lets go of everything.
"""

from __future__ import annotations

import warnings
import weakref
from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Labels, Layer, Points, Shapes
from qtpy.QtCore import QTimer

from .._napari.keys import run_napari_binding
from .._napari.orientation import OrientationView
from .._napari.registry import sessions, unwrap

if TYPE_CHECKING:
    import napari

HOOK = "samlabel"
#: what napari-orthogonal-views does not copy between a prompt layer (clicks, box) and its
#: copies: only their data and visibility matter there, and syncing a Points layer's
#: per-point properties raised KeyError in the plugin on a click (and reset colours to white)
PROMPT_SYNC = {"forward_exclude": {"current_properties", "properties", "features", "feature_defaults",
                                   "face_color", "border_color", "current_face_color", "current_border_color",
                                   "edge_color", "current_edge_color", "text"}}  # fmt: skip
PROMPT_SYNC["reverse_exclude"] = PROMPT_SYNC["forward_exclude"]
#: the share of the window's width and height the two linked views get (the canvas keeps the rest)
SIDE, BOTTOM = 0.36, 0.36


def _manager(viewer):
    """napari-orthogonal-views' per-viewer manager (made on first use: it rebuilds the
    window's central widget). Imported here: the plugin imports OpenCV, too heavy for start-up."""
    from napari_orthogonal_views import ortho_view_widget
    from napari_orthogonal_views.cross_hair_overlay import VispyCrosshairOverlay
    from napari_orthogonal_views.ortho_view_manager import _get_manager

    ortho_view_widget.check_center = _check_center  # both in world coordinates (see below)
    VispyCrosshairOverlay._move_crosshairs = _move_crosshairs
    with warnings.catch_warnings():  # it reaches napari's window through deprecated names
        warnings.simplefilter("ignore")
        return _get_manager(viewer)


def _check_center(model, coords) -> tuple[float, float]:
    """napari-orthogonal-views' ``check_center`` (0.5.0) in world coordinates: where a view's
    camera centre goes when the slice point moves in another view (only if the point left
    the view). Its own took ``step index * step`` for the world position, forgetting where
    the range starts: a series in patient coordinates (a CT at z = 100-157 mm) sent the
    linked views' cameras off the image, black but for the crosshair, at every slice change."""
    from napari_orthogonal_views.attribute_helpers import get_camera, get_viewbox_size

    height, width = get_viewbox_size(model)
    camera = get_camera(model)
    center, zoom = camera.center, camera.zoom
    ranges = model.dims.range
    world = [ranges[i].start + coords[i] * ranges[i].step for i in range(len(coords))]
    y, x = world[model.dims.order[-2]], world[model.dims.order[-1]]
    y_seen = abs(y - center[-2]) < height / zoom / 2
    x_seen = abs(x - center[-1]) < width / zoom / 2
    return (center[-2] if y_seen else y), (center[-1] if x_seen else x)


def _move_crosshairs(self) -> None:
    """napari-orthogonal-views' crosshair (0.5.0) at the slice point in world coordinates:
    its own drew it at ``step index * step``, off the image of a series in patient
    coordinates (a CT at z = 100-157 mm: no crosshair on the axial and sagittal views, a
    line beside the image on the coronal one)."""
    dims = self.viewer.dims
    displayed = list(dims.displayed[::-1])
    hidden = list(dims.not_displayed[::-1]) or [0]
    if len(displayed) == 2:
        displayed.append(hidden[0])
    self.node.set_position(np.asarray(dims.point, float)[displayed])


class ThreeViews:
    def __init__(self, viewer: napari.Viewer) -> None:
        self.viewer = unwrap(viewer)  # docks get napari's public-only proxy; the plugin needs the window
        self.registry = sessions(viewer)
        self._orient: dict[int, OrientationView] = {}
        self._pairs: list[tuple[Layer, Layer]] = []  # (layer, its copy in a linked view)
        self._stale: set[int] = set()  # ids of copies waiting for a redraw
        self._timer = QTimer()  # redraws copies once per burst of writes (see _redraw)
        self._timer.setSingleShot(True)
        self._timer.setInterval(60)  # a brush stroke redraws the other views ~15 times a second
        self._timer.timeout.connect(self._redraw)
        self.registry.current_changed.connect(self._wire_all)
        # napari-orthogonal-views' manager, made on the first show; weakly held: the plugin
        # drops it when the window closes, and it holds the window's canvas
        self._manager_ref = lambda: None
        # T is ours from the start: the plugin binds its own T on every viewer model once
        # made, and it stays bound after a hide
        self._t = self.registry.keys.handle("t", self._point_at_mouse)

    @property
    def _manager(self):
        return self._manager_ref()

    @property
    def shown(self) -> bool:
        return self._manager is not None and self._manager.is_shown()

    def views(self) -> list:
        """The two linked viewer models (empty when hidden)."""
        if not self.shown:
            return []
        m = self._manager
        return [w.vm_container.viewer_model for w in (m.right_widget, m.bottom_widget)]

    def set_shown(self, on: bool) -> None:
        self.show() if on else self.hide()

    def show(self) -> None:
        if self.shown:
            return
        m = _manager(self.viewer)  # a new one after each hide (hide puts the single canvas back)
        m.register_layer_hook(Layer, self._hook, name=HOOK)
        m.set_sync_filters({Points: PROMPT_SYNC, Shapes: PROMPT_SYNC})
        self._manager_ref = weakref.ref(m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.show()
            m.set_splitter_sizes(SIDE, BOTTOM)
            m.set_cross_hairs(True)
            m.set_axes(False)  # the patient letters say which way is which
        for vm in self.views():
            self.registry.views.add(vm)
            self.registry.keys.adopt(vm)
            self._orient[id(vm)] = OrientationView(self.registry, vm, linked=True)
        self._reset_views()
        QTimer.singleShot(300, self._reset_views)  # again once the splitters have their sizes

    def _reset_views(self) -> None:
        """Each view framed on the image (a view framed before its widget had its size was cropped)."""
        for vm in self.views() if self.shown else []:
            vm.reset_view()
        self.viewer.reset_view()

    def _point_at_mouse(self, layer=None):
        """T: the three views' slices through the point under the mouse, in world coordinates
        (the plugin's own T took millimetres for slice numbers: every DICOM has an origin).
        Without the three views, T is napari's own, if the layer has one."""
        if not self.shown:
            return layer is not None and run_napari_binding(layer, "t")
        view = self.registry.views.working
        view.dims.point = tuple(view.cursor.position)
        return None

    def hide(self) -> None:
        if not self.shown:
            return
        for vm in self.views():
            self.registry.views.remove(vm)
            self.registry.keys.release(vm)
        for orient in self._orient.values():
            orient.close()
        self._orient.clear()
        m = self._manager
        m.set_layer_hook(HOOK, None)
        if not self._window_going:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m.cleanup()  # the hook's teardowns run (copies let go), the single canvas back
            self.viewer.reset_view()
        self._manager_ref = lambda: None

    _window_going = False

    def forget(self) -> None:
        """The window is being destroyed: its widgets are not touched (the plugin cleans up its own)."""
        self._window_going = True
        self.close()

    def close(self) -> None:
        self.hide()
        self._stale.clear()
        self.registry.current_changed.disconnect(self._wire_all)
        self.registry.keys.drop(self._t)

    # -- each copied layer (napari-orthogonal-views' layer hook)
    def _hook(self, layer: Layer, copy: Layer) -> list:
        self.registry.keys.adopt(copy)
        pair = (layer, copy)
        self._pairs.append(pair)
        self._wire(layer, copy)
        undo = [lambda: self._unwire(pair)]
        if isinstance(layer, Labels):
            def stale(_event=None, c=copy):
                self._stale.add(id(c))
                self._timer.start()

            undo += [(layer.events.set_data, stale), (layer.events.labels_update, stale)]
            layer.events.set_data.connect(stale)
            layer.events.labels_update.connect(stale)
        elif isinstance(layer, (Points, Shapes)):
            def moved(_event=None, c=copy):
                self._stale.add(id(c))
                self._timer.start()

            undo.append((layer.events.set_data, moved))
            layer.events.set_data.connect(moved)
        return undo

    def _wire(self, layer: Layer, copy: Layer) -> None:
        """A copy of a session's labels edits through the session's store."""
        session = self.registry.for_layer(layer)
        if session is not None and layer is session.labels:
            session.store.attach_view(copy)

    def _wire_all(self, *_args) -> None:
        """A session started after the views were shown: its labels' copies join its store."""
        for layer, copy in self._pairs:
            self._wire(layer, copy)

    def _unwire(self, pair: tuple[Layer, Layer]) -> None:
        layer, copy = pair
        self._pairs = [p for p in self._pairs if p is not pair]
        self.registry.keys.release(copy)
        session = self.registry.for_layer(layer)
        if session is not None:
            session.store.detach_view(copy)
        self._stale.discard(id(copy))

    def _redraw(self) -> None:
        """Copies of labels redrawn; copies of the clicks and box given the layer's data (its
        prompts cleared with their data event blocked, after Enter or Esc, reached no copy:
        the click markers stayed in the linked views). After the event, never inside it."""
        stale, self._stale = self._stale, set()
        for layer, copy in self._pairs:
            if id(copy) not in stale:
                continue
            if isinstance(copy, Labels):
                copy.refresh()
            elif len(copy.data) != len(layer.data):
                with copy.events.data.blocker():  # not sent back to the layer
                    copy.data = layer.data
                copy.refresh()
