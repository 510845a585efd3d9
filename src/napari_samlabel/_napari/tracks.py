"""Instances as a napari Tracks layer: one centroid per frame per instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage as ndi

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
    """A Tracks layer of the present instances, with the labels' geometry."""
    from napari.layers import Tracks

    if session.frame_axis != 0:
        raise ValueError("tracks need the time (or slice) axis first; this layer has none there")
    ids = [r.id for r in session.table.present() if not r.stuff]
    data = track_table(np.asarray(session.labels.data), 0, ids)
    if not len(data):
        raise ValueError("no instance to draw tracks for")
    layer = Tracks(
        data, name=name or f"{session.labels.name} tracks",
        scale=session.labels.scale, translate=session.labels.translate,
        features={"class": [session.table[int(i)].class_name for i in data[:, 0]]}, tail_length=10,
    )  # fmt: skip
    viewer = session.viewer
    if viewer is not None:
        viewer.layers.append(layer)
    return layer
