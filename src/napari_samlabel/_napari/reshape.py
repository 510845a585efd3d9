"""Slice, join and split parts from the viewer (no Qt): the line comes from a Shapes layer
named "slice line" (napari's path tool: click the points, double-click to end), read in
world coordinates and taken into the labels layer's data coordinates, so a scaled,
translated or transposed view cuts where the user drew.

- Slice: the instance the line crosses (if it crosses several: the one picked in the
  Instances list, else the labels layer's selected label) is cut in two along the line.
- Join: every instance the line crosses becomes one, the first crossed keeps its id.
- Split parts: each disconnected part of the picked instances becomes its own instance.

Each is one undo step (Ctrl+Z on the labels layer). The line used is removed after a cut or
a join, so the next press never reuses an old line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

from ..core.annotation import AnnotationError
from ..core.instances import Instance
from ..core.planes import Plane
from .shapes import layer_geometry

if TYPE_CHECKING:
    from napari.layers import Shapes

    from .session import AnnotationSession

LINE_LAYER = "slice line"
LINE_KINDS = ("line", "path")
DRAW_HINT = f"Draw a line across the object in the {LINE_LAYER!r} layer (click points, double-click to end)"


def line_layer(session: AnnotationSession, create: bool = True) -> Shapes | None:
    """The viewer's "slice line" Shapes layer; made on the labels' grid (and picked, with
    napari's path tool on) when there is none and ``create``."""
    from napari.layers import Shapes

    viewer = session.viewer
    if viewer is None:
        return None
    for layer in viewer.layers:
        if layer.name == LINE_LAYER and isinstance(layer, Shapes):
            return layer
    if not create:
        return None
    labels = session.labels
    geo = layer_geometry(labels)
    width = max(1.0, min(labels.data.shape[-2:]) / 200)
    layer = Shapes(ndim=labels.ndim, name=LINE_LAYER, edge_color="cyan", face_color=[0, 0, 0, 0],
                   edge_width=width, **geo)  # fmt: skip
    viewer.layers.append(layer)
    viewer.layers.selection.active = layer
    layer.mode = "add_path"
    return layer


def drawn_line(session: AnnotationSession) -> tuple[Plane, np.ndarray, int] | None:
    """The last line drawn: the plane it is on, its points in that plane (rows, columns in
    the order of the data axes, what ``core.reshape`` takes) and its index in the layer.
    None when there is no line."""
    from .view import current_plane

    layer = line_layer(session, create=False)
    if layer is None:
        return None
    k = next((i for i in range(len(layer.data) - 1, -1, -1) if layer.shape_type[i] in LINE_KINDS), None)
    if k is None or len(layer.data[k]) < 2:
        return None
    labels, viewer = session.labels, session.viewer
    world = np.asarray(viewer.dims.point, float)
    data = []
    for v in np.asarray(layer.data[k], float):
        w = world.copy()
        w[-layer.ndim :] = layer.data_to_world(v)
        data.append(labels.world_to_data(w[-labels.ndim :]))
    data = np.asarray(data, float)
    shown = current_plane(session).displayed
    plane = Plane.from_point(labels.data.shape, shown, data[0])
    if not plane.contains(data).all():
        raise AnnotationError(f"the {LINE_LAYER!r} line does not lie on one plane: draw it in a 2D view")
    return plane, data[:, sorted(shown)], k


def _crossed(session: AnnotationSession, plane: Plane, points: np.ndarray) -> list[int]:
    """The instances under the line, in the order the line meets them."""
    from ..core.reshape import polyline_pixels

    values = np.asarray(session.labels.data[plane.region])
    rr, cc = polyline_pixels(points, values.shape)
    seen: list[int] = []
    for v in values[rr, cc].tolist():
        if v and v not in seen and v in session.table:
            seen.append(int(v))
    return seen


def _need_line(session: AnnotationSession, what: str):
    found = drawn_line(session)
    if found is None:
        line_layer(session)  # ready to draw
        raise AnnotationError(f"{DRAW_HINT}, then press {what} again.")
    return found


def _used(session: AnnotationSession, k: int) -> None:
    layer = line_layer(session, create=False)
    if layer is not None and k < len(layer.data):
        layer.selected_data = {k}
        layer.remove_selected()


def slice_with_line(session: AnnotationSession, label_id: int | None = None) -> Instance:
    """Cut the instance under the drawn line in two (see the module). Returns the new piece."""
    from ..core.reshape import slice_instance

    plane, points, k = _need_line(session, "Slice")
    crossed = _crossed(session, plane, points)
    if label_id is None:
        if not crossed:
            raise AnnotationError(f"the {LINE_LAYER!r} line crosses no instance on this plane")
        picked = [i for i in session.selection if i in crossed] or (
            [session.labels.selected_label] if session.labels.selected_label in crossed else [])
        if len(crossed) == 1:
            label_id = crossed[0]
        elif len(picked) == 1:
            label_id = picked[0]
        else:
            names = ", ".join(session.table[i].name for i in crossed)
            raise AnnotationError(f"the line crosses {names}: pick the one to slice in the Instances list")
    rec = session.table[int(label_id)]
    new = slice_instance(session.annotation, rec.id, plane.region, points)
    _used(session, k)
    session.say(f"Sliced {rec.name}: the smaller side is now {new.name}. Ctrl+Z on the labels layer undoes it.")
    return new


def join_with_line(session: AnnotationSession) -> int:
    """Join every instance the drawn line crosses into the first one crossed; its id."""
    plane, points, k = _need_line(session, "Join")
    crossed = _crossed(session, plane, points)
    if len(crossed) < 2:
        raise AnnotationError(f"the line crosses {len(crossed)} instance(s): draw it across two or more to join them")
    session.annotation.merge(crossed, into=crossed[0])
    _used(session, k)
    rest = ", ".join(str(i) for i in crossed[1:])
    session.say(f"Joined {rest} into {session.table[crossed[0]].name}. Ctrl+Z on the labels layer undoes it.")
    return crossed[0]


def split_into_parts(session: AnnotationSession, ids: Iterable[int] | None = None) -> list[Instance]:
    """Each disconnected part of the instances (default: those picked in the Instances list,
    else the labels layer's selected label) becomes an instance; one undo step for all."""
    from ..core.reshape import split_parts

    ids = list(ids) if ids is not None else list(session.selection)
    if not ids and session.labels.selected_label in session.table and session.table[session.labels.selected_label].present:
        ids = [session.labels.selected_label]
    if not ids:
        raise AnnotationError("pick the instance(s) to split into parts in the Instances list")
    made: list[Instance] = []
    skipped: list[str] = []
    with session.annotation.action("the split into parts"):
        for i in ids:
            try:  # refusals come before any pixel is written: the others still split
                made += split_parts(session.annotation, int(i))
            except AnnotationError as e:
                skipped.append(str(e))
    if not made:
        raise AnnotationError("; ".join(skipped))
    names = ", ".join(r.name for r in made)
    left = f" ({'; '.join(skipped)})" if skipped else ""
    session.say(f"Split into parts: new {names}{left}. Ctrl+Z on the labels layer undoes it.")
    return made
