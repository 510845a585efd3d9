"""Instances as a napari Tracks layer: one centroid per frame per instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage as ndi

from .shapes import layer_geometry

if TYPE_CHECKING:
    from .session import AnnotationSession


def track_table(labels: np.ndarray, frame_axis: int, ids: list[int]) -> np.ndarray:
    """Rows (track_id, frame, *centroid of the other axes), sorted by track then frame."""
    rows = []
    for f in range(labels.shape[frame_axis]):
        plane = np.take(labels, f, axis=frame_axis)
        present = [i for i in ids if i in np.unique(plane)]
        if not present:
            continue
        centroids = ndi.center_of_mass(np.ones(plane.shape), plane, present)
        rows += [(i, f, *c) for i, c in zip(present, centroids)]
    rows.sort(key=lambda r: (r[0], r[1]))
    return np.array(rows, float).reshape(-1, 2 + labels.ndim - 1)


def add_tracks_layer(session: AnnotationSession, name: str | None = None):
    """A Tracks layer of the present instances, with the labels' geometry; divisions
    (the instances' parents) are its ``graph``, so napari draws each daughter from its mother."""
    from napari.layers import Tracks

    from ..core.annotation import AnnotationError
    from ..core.lineage import graph

    if session.frame_axis != 0:
        raise AnnotationError("tracks need the time (or slice) axis first; this layer has none there")
    ids = [r.id for r in session.table.present() if not r.stuff]
    data = track_table(np.asarray(session.labels.data), 0, ids)
    if not len(data):
        raise AnnotationError("no instance to draw tracks for")
    layer = Tracks(
        data, name=name or f"{session.labels.name} tracks",
        **layer_geometry(session.labels),
        features={"class": [session.table[int(i)].class_name for i in data[:, 0]]}, tail_length=10,
        graph=graph(session.table, np.unique(data[:, 0]).astype(int).tolist()),
    )  # fmt: skip
    viewer = session.viewer
    if viewer is not None:
        viewer.layers.append(layer)
    return layer


# -- lineage actions (the Track dock's Divide / Link / Unlink, and Shift+D) ----------------
def divide_here(session: AnnotationSession) -> tuple[list, str]:
    """The selected (or just-saved, or hovered) instance divides after the frame shown:
    it ends here, its two pieces on the next frame become its daughters. One undo step.

    Returns the daughters and what was done (also said in napari's status bar); so do
    :func:`link_selected` and :func:`unlink_selected`."""
    from ..core.annotation import AnnotationError
    from .view import current_plane

    if session.frame_axis is None:
        raise AnnotationError("a division needs a time axis")
    frame = session.current_frame()
    ids = session.targets(current_plane(session))
    if len(ids) != 1:
        what = "nothing is selected here" if not ids else f"{len(ids)} are selected"
        raise AnnotationError(f"select the one instance that divides after frame {frame} ({what})")
    mother = session.table[ids[0]]
    daughters = session.annotation.divide(mother.id, frame)
    if session.labels.selected_label == mother.id:  # the mother has ended: her brush would break the lineage
        session.labels.selected_label = daughters[0].id
    return daughters, _said(session, f"{mother.name} divided after frame {frame} into "
                                     f"{daughters[0].name} and {daughters[1].name}.")  # fmt: skip


def link_selected(session: AnnotationSession) -> tuple[tuple[int, list[int]], str]:
    """The instances picked in the Instances dock: the one that ends first becomes the
    parent of the others. One undo step; ``(parent, daughters)``."""
    from ..core.annotation import AnnotationError

    recs = [session.table[i] for i in session.selection if i in session.table and session.table[i].present]
    if len(recs) < 2:
        raise AnnotationError("select the mother and its daughter(s) in the Instances dock to link them")
    recs.sort(key=lambda r: (max(r.frames), r.id))
    mother, kids = recs[0], recs[1:]
    if max(kids[0].frames) == max(mother.frames):
        raise AnnotationError(f"{mother.name} and {kids[0].name} both end on frame {max(mother.frames)}: "
                              "which one is the mother? Select a mother that ends before its daughters start")  # fmt: skip
    session.annotation.link(mother.id, [r.id for r in kids])
    text = f"{', '.join(r.name for r in kids)} now divided from {mother.name}."
    return (mother.id, [r.id for r in kids]), _said(session, text)


def unlink_selected(session: AnnotationSession) -> tuple[list[int], str]:
    """Clear the parent of the instances picked in the Instances dock; one undo step."""
    from ..core.annotation import AnnotationError

    ids = [i for i in session.selection if i in session.table and session.table[i].parent]
    if not ids:
        raise AnnotationError("select instances that have a parent (Parent column) in the Instances dock")
    with session.annotation.action("the unlink"):
        for i in ids:
            session.annotation.set_parent(i, 0)
    return ids, _said(session, f"{', '.join(session.table[i].name for i in ids)}: parent cleared.")


def _said(session: AnnotationSession, text: str) -> str:
    session.say(text)
    return text
