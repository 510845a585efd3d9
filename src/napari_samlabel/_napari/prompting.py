"""Click/box prompting on the current plane, a live preview, Enter to commit.

No Qt here. The split between :meth:`PromptController.request` (GUI thread:
reads layers), :meth:`PromptController.run` (any thread: model work only) and
:meth:`PromptController.apply` (GUI thread: shows the result) is what lets the
Segment dock run the model in a worker while the viewer stays responsive;
:meth:`PromptController.update_preview` does all three in a row for scripts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from psygnal import Signal

from ..core.compose import Mode, normalize_region, region_indices
from ..core.errors import SamlabelError, message
from ..core.ontology import hex_to_rgba
from ..core.planes import Plane, window_to_uint8
from ..core.prompts import PromptError, PromptSet
from .shapes import layer_geometry
from .view import current_plane, labels_shape, model_image

if TYPE_CHECKING:
    from ..backends.base import MaskPrediction, PromptSegmenter
    from ..core.instances import Instance
    from .session import AnnotationSession

#: how far (screen pixels) the mouse must move before a click becomes a drag
DRAG_PIXELS = 4
POSITIVE = (0.1, 0.9, 0.2, 1.0)
NEGATIVE = (0.95, 0.15, 0.15, 1.0)


@dataclass
class PreviewRequest:
    generation: int
    plane: Plane
    prompts: PromptSet
    data: Any  # the image array, read lazily in the worker
    contrast_limits: tuple[float, float]
    rgb: bool
    mask_input: np.ndarray | None


@dataclass
class PreviewResult:
    generation: int
    plane: Plane
    prediction: MaskPrediction
    seconds: float


class PromptController:
    """Owns the prompt layers of one session and turns prompts into a preview."""

    preview_changed = Signal(object)  # PreviewResult or None
    prompts_changed = Signal()
    committed = Signal(object)  # Instance

    def __init__(self, session: AnnotationSession, backend: PromptSegmenter | None = None) -> None:
        self.session = session
        self.backend = backend
        self.mode = Mode.EXCLUDE
        self.into_selected = False
        self.multimask = True
        #: off: a box drawn + Enter (or Label all) labels every object inside it, one instance each
        self.one_per_box = True
        self.negative_next = False  # the toggle key: next clicks are negative
        self.result: PreviewResult | None = None
        self.choice = 0
        self._generation = 0
        self._logits_for_refine: np.ndarray | None = None
        self._preview_region: tuple | None = None
        self._lock = threading.Lock()
        self.points, self.boxes, self.preview = self._make_layers()
        self._bind_keys()

    # -- layers ------------------------------------------------------------
    def _make_layers(self):
        from napari.layers import Labels, Points, Shapes

        image = self.session.image
        ndim = len(labels_shape(image))
        geo = layer_geometry(self.session.labels)  # on the labels, which lie on the image
        points = Points(
            np.zeros((0, ndim)),
            ndim=ndim,
            name="samlabel clicks",
            features={"positive": np.zeros(0, bool)},
            feature_defaults={"positive": True},
            size=max(4, int(min(labels_shape(image)[-2:]) / 60)),
            border_color="white",
            **geo,
        )
        boxes = Shapes(ndim=ndim, name="samlabel box", edge_color="yellow", face_color=[0, 0, 0, 0], edge_width=1, **geo)
        preview = Labels(np.zeros(labels_shape(image), np.uint8), name="samlabel preview", opacity=0.55, **geo)
        preview.editable = False
        # the preview keeps no undo history: data_setitem is used only for its partial redraw
        preview._history_limit = 0
        preview._reset_history()
        points.events.data.connect(self._on_points)
        boxes.events.data.connect(self._on_boxes)
        points.mouse_drag_callbacks.append(self._right_click_is_negative)
        viewer = self.session.viewer
        if viewer is not None:
            for layer in (preview, boxes, points):
                viewer.layers.append(layer)
            viewer.layers.selection.active = points
            self.session.views.on_drag(self._gesture)  # in every view: the three views' too
        # the mouse is ours in SAM mode (see _gesture): napari's own point and shape tools
        # stay out of the way until the user picks one of them
        points.mode = boxes.mode = "pan_zoom"
        return points, boxes, preview

    def _bind_keys(self) -> None:
        """Enter, Escape, C and N through the viewer's key router, on every layer (the
        session's keys, class hotkeys included, reach the prompt layers the same way)."""
        viewer = self.session.viewer
        self._keys = self._tokens = None
        if viewer is None:
            return
        from .registry import sessions

        self._keys = sessions(viewer).keys
        for layer in (self.points, self.boxes, self.preview):
            self._keys.adopt(layer)
        self._tokens = [
            self._keys.handle("Enter", lambda _l: self.commit_or_report()),
            self._keys.handle("Escape", lambda _l: self.clear()),
            self._keys.handle("c", lambda _l: self.cycle()),
            self._keys.handle("n", lambda _l: self.toggle_negative()),
        ]

    def remove_layers(self) -> None:
        viewer = self.session.viewer
        for layer in (self.points, self.boxes, self.preview):
            if viewer is not None and layer in viewer.layers:
                viewer.layers.remove(layer)

    def close(self, remove_layers: bool = True) -> None:
        """Undo exactly what ``__init__`` bound: keys on the session's layers (which
        stay), signals, the prompt layers (kept when the window is going: see
        ``SegmentWidget.forget``). A closed controller reacts to nothing."""
        if self._keys is not None:
            for token in self._tokens:
                self._keys.drop(token)
            for layer in (self.points, self.boxes, self.preview):
                self._keys.release(layer)
            self._keys = None
        self.points.events.data.disconnect(self._on_points)
        self.boxes.events.data.disconnect(self._on_boxes)
        if self._right_click_is_negative in self.points.mouse_drag_callbacks:
            self.points.mouse_drag_callbacks.remove(self._right_click_is_negative)
        if self.session.views is not None:
            self.session.views.off_drag(self._gesture)
        if remove_layers:
            self.remove_layers()
        self.backend = None

    # -- the mouse in SAM mode ---------------------------------------------
    def _takes(self, viewer, event) -> bool:
        """Whether a press starts a SAM gesture: SAM mode is on (the prompt layers shown), a
        2D view, no modifier, and no napari tool picked on the active layer (the brush, a
        shape tool and the like keep their own clicks)."""
        if not self.points.visible or viewer.dims.ndisplay != 2 or event.button not in (1, 2, 3):
            return False
        if event.modifiers:
            return False
        active = viewer.layers.selection.active
        return active is None or getattr(active, "mode", "pan_zoom") == "pan_zoom"

    def _gesture(self, viewer, event):
        """In SAM mode a click is a point (right: background), a left drag a box, a middle
        drag pans, whatever layer is selected (napari would pan, or do nothing)."""
        if not self._takes(viewer, event):
            return
        camera = viewer.camera
        pan_before = camera.mouse_pan
        camera.mouse_pan = False  # the camera must not pan under a box being drawn
        button, start_pos, start_world = event.button, np.asarray(event.pos, float), np.asarray(event.position)
        start_center, zoom = np.asarray(camera.center, float), camera.zoom
        dragged = False
        try:
            yield
            while event.type == "mouse_move":
                moved = np.asarray(event.pos, float) - start_pos
                dragged = dragged or float(np.hypot(*moved)) > DRAG_PIXELS
                if dragged and button == 3:
                    center = start_center.copy()
                    center[-2:] -= moved[::-1] / zoom
                    camera.center = tuple(center)
                elif dragged and button == 1:
                    self._show_box_drawn(start_world, np.asarray(event.position))
                yield
        finally:
            camera.mouse_pan = pan_before
        if button == 3:
            return
        if dragged and button == 1:
            with self.boxes.events.data.blocker():
                self.boxes.data = []
            self.set_box(self.points.world_to_data(start_world), self.points.world_to_data(event.position))
        elif not dragged:
            self.add_point(self.points.world_to_data(start_world), positive=button == 1 and not self.negative_next)

    def _show_box_drawn(self, world0, world1) -> None:
        """The rectangle under the mouse while it is dragged (a prompt only once released)."""
        corners = self._rectangle(self.points.world_to_data(world0), self.points.world_to_data(world1))
        with self.boxes.events.data.blocker():
            self.boxes.data = [corners]

    # -- prompt events ---------------------------------------------------
    _right_pressed = False

    def _right_click_is_negative(self, layer, event):
        """Right click adds a negative point (napari's add mode adds on any button)."""
        self._right_pressed = event.button == 2
        yield

    def _on_points(self, event) -> None:
        if getattr(event, "action", None) != "added":
            if getattr(event, "action", None) in ("removed", "changed"):
                self._prompts_changed()
            return
        # The sign is ours to set on every new point: napari copies a selected point's
        # features into feature_defaults, so after one negative click every later click
        # would be negative too.
        positive = not (self.negative_next or self._right_pressed) if self._sign is None else self._sign
        self._right_pressed = False
        feats = self.points.features
        for i in event.data_indices:
            feats.loc[feats.index[i], "positive"] = positive
        with self.points.events.feature_defaults.blocker():
            self.points.feature_defaults = {"positive": True}
        self._recolor()
        self._prompts_changed()

    _sign: bool | None = None  # set by add_point for its one point

    def _recolor(self) -> None:
        pos = self.points.features["positive"].to_numpy(bool) if len(self.points.data) else np.zeros(0, bool)
        if len(pos):
            self.points.face_color = np.where(pos[:, None], POSITIVE, NEGATIVE)

    def _on_boxes(self, event) -> None:
        if getattr(event, "action", None) == "added" and len(self.boxes.data) > 1:
            # one box per plane: the newest replaces older ones
            with self.boxes.events.data.blocker():
                self.boxes.selected_data = set(range(len(self.boxes.data) - 1))
                self.boxes.remove_selected()
        if getattr(event, "action", None) in ("added", "removed", "changed"):
            self._prompts_changed()

    def _prompts_changed(self) -> None:
        self._generation += 1
        self.prompts_changed.emit()

    def add_point(self, data_coord, positive: bool = True) -> None:
        """Add a click in the image's data coordinates (what a left/right click does)."""
        self._sign = bool(positive)
        try:
            self.points.add(np.asarray(data_coord, float))
        finally:
            self._sign = None

    def set_box(self, data_corner0, data_corner1) -> None:
        """Add a box in data coordinates (what a rectangle drag does)."""
        self.boxes.add_rectangles(self._rectangle(data_corner0, data_corner1))

    def _rectangle(self, data_corner0, data_corner1) -> np.ndarray:
        """The four corners, on the plane shown, of the box with these opposite corners."""
        a, b = np.asarray(data_corner0, float), np.asarray(data_corner1, float)
        c = self.current_plane().displayed[1]
        corners = np.array([a, a, b, b])
        corners[1, c], corners[3, c] = b[c], a[c]
        return corners

    def toggle_negative(self) -> bool:
        self.negative_next = not self.negative_next
        return self.negative_next

    # -- the plane ---------------------------------------------------------
    def current_plane(self) -> Plane:
        return current_plane(self.session)

    def prompts_on(self, plane: Plane) -> PromptSet:
        pts = self.points.data
        positive = self.points.features["positive"].to_numpy(bool) if len(pts) else None
        box = None
        for verts in self.boxes.data[::-1]:
            if plane.contains(verts).all():
                box = verts
                break
        return PromptSet.from_data(plane, pts if len(pts) else None, positive, box)

    # -- preview: request (GUI) -> run (worker) -> apply (GUI) -----------
    def request(self) -> PreviewRequest | None:
        plane = self.current_plane()
        prompts = self.prompts_on(plane)
        if prompts.empty or (not self.one_per_box and prompts.box is not None):
            self.apply(None)  # a box for several objects has no one-object preview: Enter finds them
            return None
        if not len(prompts.points) and not self.takes_clicks:
            self.apply(None)  # SAM 3's concept model: a box is an example for Label similar, not a preview
            return None
        refine = self._logits_for_refine if self.result is not None and self.result.plane == plane else None
        return PreviewRequest(self._generation, plane, prompts, *model_image(self.session), refine)

    def plane_rgb(self, plane: Plane, data, contrast_limits, rgb: bool) -> np.ndarray:
        """The plane as the model sees it; the last one is kept, so refining
        prompts on the same plane neither re-reads nor re-windows it."""
        memo = (id(data), plane, tuple(contrast_limits), rgb)
        last = self._last_rgb
        if last is not None and last[0] == memo:
            return last[1]
        out = window_to_uint8(plane.read(data), contrast_limits, rgb=rgb)
        self._last_rgb = (memo, out)
        return out

    _last_rgb: tuple | None = None

    def run(self, req: PreviewRequest) -> PreviewResult:
        """Model work only: safe in a worker thread."""
        if self.backend is None:
            raise PromptError("no model loaded: pick one in the Segment dock")
        t0 = time.perf_counter()
        with self._lock:
            self.backend.set_image(self.plane_rgb(req.plane, req.data, req.contrast_limits, req.rgb))
            pred = self.backend.predict(req.prompts, multimask=self.multimask, mask_input=req.mask_input)
        return PreviewResult(req.generation, req.plane, pred, time.perf_counter() - t0)

    def prefetch(self, plane: Plane | None = None) -> None:
        """Compute (or recall) the embedding of a plane; safe in a worker thread."""
        if self.backend is None:
            return
        plane = plane or self.current_plane()
        rgb = self.plane_rgb(plane, *model_image(self.session))
        with self._lock:
            self.backend.set_image(rgb)

    def apply(self, result: PreviewResult | None) -> bool:
        """Show a result if it answers the latest prompts; False if it is stale."""
        if result is not None and result.generation != self._generation:
            return False
        self.result = result
        self.choice = 0
        self._draw_preview()
        if result is not None and result.prediction.logits is not None:
            self._logits_for_refine = result.prediction.logits[0]
        self.preview_changed.emit(result)
        return True

    def update_preview(self) -> PreviewResult | None:
        req = self.request()
        if req is None:
            return None
        result = self.run(req)
        self.apply(result)
        return result

    def _draw_preview(self) -> None:
        """Show the chosen candidate, clearing the plane shown before if it was another."""
        shown = self._preview_region
        want = self.result.plane if self.result is not None and len(self.result.prediction) else None
        if shown is not None and (want is None or want.region != shown):
            self._write_preview(shown, None)
        if want is not None:
            self._write_preview(want.region, want.mask_to_region(self.result.prediction.masks[self.choice]))
            self._color_preview()
        self._preview_region = want.region if want is not None else None

    def _write_preview(self, region: tuple, mask: np.ndarray | None) -> None:
        """Write only the pixels that differ from what is shown, through napari's
        partial texture update (a full refresh of the layer costs more)."""
        data = self.preview.data
        region = normalize_region(region, data.shape)
        current = data[region]
        new = np.zeros_like(current) if mask is None else mask.astype(np.uint8)
        diff = np.nonzero(current != new)
        if len(diff[0]):
            self.preview.data_setitem(region_indices(region, diff), new[diff])  # no history: see _make_layers

    def _color_preview(self) -> None:
        """The preview takes the current class's colour (rebuilt only when that changes)."""
        cls = self.session.current_class
        rgba = hex_to_rgba(self.session.ontology[cls].color) if cls in self.session.ontology else (1.0, 1.0, 0.0, 1.0)
        if rgba != self._preview_rgba:
            from napari.utils.colormaps import DirectLabelColormap

            self.preview.colormap = DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), 1: rgba})
            self._preview_rgba = rgba

    _preview_rgba: tuple | None = None

    # -- user actions ------------------------------------------------------
    @property
    def chosen(self) -> tuple[np.ndarray, float] | None:
        if self.result is None or not len(self.result.prediction):
            return None
        pred = self.result.prediction
        return pred.masks[self.choice], float(pred.scores[self.choice])

    def cycle(self) -> int:
        """Show the next of the model's candidate masks."""
        if self.result is not None and len(self.result.prediction) > 1:
            self.choice = (self.choice + 1) % len(self.result.prediction)
            self._logits_for_refine = (
                self.result.prediction.logits[self.choice] if self.result.prediction.logits is not None else None
            )
            self._draw_preview()
            self.preview_changed.emit(self.result)
        return self.choice

    def commit(self) -> Instance:
        """Write the previewed mask as a new instance (or into the selected one): one Ctrl+Z."""
        if self.result is None or self.result.generation != self._generation:
            self.update_preview()  # prompts changed since the last preview
        chosen = self.chosen
        if chosen is None:
            raise PromptError("nothing to commit: click on the object (or drag a box) first")
        mask, _score = chosen
        plane = self.result.plane
        s = self.session
        target = None
        if self.into_selected:
            target = s.labels.selected_label if s.table.get(s.labels.selected_label) is not None else None
        # The user looked at the preview and accepted it: a manual frame (1.0), as a brush stroke is.
        rec = s.commit(plane.mask_to_region(mask), region=plane.region, label_id=target, mode=self.mode,
                       replace=target is not None)  # fmt: skip
        self.clear()
        self.committed.emit(rec)
        return rec

    def commit_or_report(self):
        from napari.utils.notifications import show_warning

        try:
            if self.box_labels_all():
                return self.label_all()
            return self.commit()
        except SamlabelError as e:  # a bug keeps its traceback
            show_warning(message(e))
            return None

    def clear(self) -> None:
        """Esc: drop prompts and preview (labels stay)."""
        with self.points.events.data.blocker(), self.boxes.events.data.blocker():
            self.points.data = np.zeros((0, self.points.ndim))
            self.boxes.data = []
        self._logits_for_refine = None
        self._generation += 1
        self.apply(None)
        self.prompts_changed.emit()

    def box_vertices(self, plane: Plane) -> np.ndarray | None:
        """The box drawn on ``plane`` (data coordinates of its corners), if any."""
        for verts in self.boxes.data[::-1]:
            if plane.contains(verts).all():
                return verts
        return None

    @property
    def takes_clicks(self) -> bool:
        """Whether the model segments one object from clicks or a box (SAM 3's concept model does not)."""
        return bool(getattr(self.backend, "takes_clicks", True))

    def box_labels_all(self) -> bool:
        """Whether Enter means 'every object in the box' ("One object per box" off, a box drawn here)."""
        return not self.one_per_box and self.box_vertices(self.current_plane()) is not None

    def label_all_run(self, class_name: str | None = None, frames=None):
        """A :class:`~napari_samlabel._napari.label_all.LabelAllJob` for the plane shown
        (``frames`` None) or frames (first, last) along the frame axis, as ``class_name``
        (default: the current class). With "One object per box" off and a box drawn on
        this plane, only objects inside the box, on each frame."""
        from .label_all import LabelAllJob, box_of

        plane = self.current_plane()
        box = None
        if not self.one_per_box:
            verts = self.box_vertices(plane)
            box = box_of(verts, plane) if verts is not None else None
        return LabelAllJob(self.session, self.backend, class_name, frames, self.mode, plane=plane, box=box,
                           lock=self._lock)  # fmt: skip

    def exemplar_boxes(self, plane: Plane) -> tuple[list[tuple[int, int, int, int]], str]:
        """Label similar's examples on ``plane`` (plane pixels) and what they are: the box drawn
        there, else the bounding boxes of the instances picked in the Instances dock that are
        on it (a saved instance is picked: click, Enter, then Label similar)."""
        from .label_all import box_of

        verts = self.box_vertices(plane)
        if verts is not None:
            return [box_of(verts, plane)], "the box"
        labels = plane.read(self.session.labels.data)
        boxes = []
        for label_id in self.session.selection:
            rows, cols = np.nonzero(labels == label_id)
            if len(rows):
                boxes.append((int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1))
        if not boxes:
            raise PromptError("Label similar: drag a box around one object (or pick instances on this plane) first")
        return boxes, f"{len(boxes)} picked instance(s)"

    def label_similar_run(self, class_name: str | None = None, frames=None):
        """A :class:`~napari_samlabel._napari.label_all.LabelAllJob` that finds every object
        like the examples (:meth:`exemplar_boxes`: the box drawn, else the picked instances),
        with SAM 3's visual exemplars, on the plane shown or ``frames`` (first, last)."""
        from .label_all import LabelAllJob

        plane = self.current_plane()
        boxes, what = self.exemplar_boxes(plane)
        job = LabelAllJob(self.session, self.backend, class_name, frames, self.mode, plane=plane, lock=self._lock,
                          exemplars=boxes)  # fmt: skip
        job.exemplars_from = what
        return job

    def label_similar(self, class_name: str | None = None, frames=None) -> list[Instance]:
        """:meth:`label_similar_run` done in this thread (scripts); a box it used is cleared."""
        job = self.label_similar_run(class_name, frames).run()
        if job.exemplars_from == "the box":
            self.clear()
        return job.made

    def label_all(self, class_name: str | None = None, frames=None) -> list[Instance]:
        """Every object the model finds (on the plane shown, or ``frames`` (first, last))
        becomes an instance of ``class_name``: one undo step, all in this thread (scripts;
        the Segment dock runs the same job in a worker). A box it used is cleared."""
        job = self.label_all_run(class_name, frames).run()
        if job.box is not None:
            self.clear()
        return job.made
