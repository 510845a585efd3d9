"""What the one-key actions act on, and the actions that are not a dock's: copy/paste a
mask between frames, jump to the next frame without labels, centre on an instance.

No Qt. Each takes an :class:`~napari_samlabel._napari.session.AnnotationSession`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np

from ..core.annotation import AnnotationError
from ..core.compose import Mode
from ..core.ontology import ClassRef
from ..core.planes import Plane

if TYPE_CHECKING:
    from .session import AnnotationSession


def ids_on_plane(session: AnnotationSession, plane: Plane) -> set[int]:
    """Label ids with pixels on a plane."""
    return {int(i) for i in np.unique(np.asarray(session.labels.data[plane.region])) if i}


def written_ids(item: Iterable) -> set[int]:
    """Label ids a history item wrote (the new values of its atoms; erasing writes 0)."""
    out: set[int] = set()
    for atom in item:
        new = atom.new_value if hasattr(atom, "slice_key") else atom[2]
        out.update(int(v) for v in np.unique(np.asarray(new)) if v)
    return out


def recently_written(session: AnnotationSession, among: set[int]) -> list[int]:
    """The ids of the most recent undo step that wrote any of ``among``: the instance
    just committed (a prompt, a brush stroke, a paste, a run), if it is there."""
    for step in reversed(getattr(session.store, "_undo", ())):
        ids = written_ids(step.item) & among
        if ids:
            return sorted(ids)
    return []


def hovered_id(session: AnnotationSession, plane: Plane) -> int | None:
    """The id under the mouse on ``plane``, or None."""
    viewer = session.viewer
    if viewer is None:
        return None
    point = np.asarray(session.labels.world_to_data(viewer.cursor.position), dtype=float)
    index = list(plane.index)
    for ax in plane.displayed:
        i = int(np.round(point[ax]))
        if not 0 <= i < plane.shape[ax]:
            return None
        index[ax] = i
    value = int(session.labels.data[tuple(index)])
    return value or None


def target_ids(session: AnnotationSession, plane: Plane | None = None) -> list[int]:
    """The instances a key (Shift+T, Ctrl+C, Shift+F) acts on, shown on ``plane`` (anywhere
    if None): those picked in the Instances dock; else the instance written last (the one
    just saved, painted, pasted or tracked); else the one under the mouse.

    Never an id without pixels there: after Enter the brush already holds a fresh,
    unpainted id for the next object, and that is not what the user means."""
    table = session.table
    if plane is None:
        present = {r.id for r in table if r.present}
    else:
        present = {i for i in ids_on_plane(session, plane) if i in table}
    shown = {i for i in present if table[i].visible}
    picked = sorted(i for i in session.selection if i in present)
    if picked:
        return picked
    recent = recently_written(session, shown)
    if recent:
        return recent
    hovered = hovered_id(session, plane) if plane is not None else None
    return [hovered] if hovered in shown else []


def _one_target(session: AnnotationSession, plane: Plane | None, what: str) -> int:
    ids = target_ids(session, plane)
    if not ids:
        frame = session.current_frame()
        where = f" on frame {frame}" if plane is not None and session.frame_axis is not None else ""
        raise AnnotationError(f"nothing to {what}{where}: select an instance in the Instances dock or save one first")
    return ids[0]


@dataclass
class Copied:
    label_id: int
    cls: ClassRef  # its class, renamed with it (pasted as new after a rename: the new name)
    mask: np.ndarray  # rows x columns of the plane it was copied from
    frame: int

    @property
    def class_name(self) -> str:
        return self.cls.name


def copy_selected(session: AnnotationSession) -> Copied:
    """Ctrl+C: the target instance's mask on the plane shown."""
    from .view import current_plane

    plane = current_plane(session)
    frame = session.current_frame()
    label_id = _one_target(session, plane, "copy")
    mask = plane.read(session.labels.data) == label_id
    session.clipboard = Copied(label_id, session.ontology.ref(session.table[label_id].class_name), mask, frame)
    session.say(f"Copied {session.table[label_id].name} from frame {frame}: Ctrl+V pastes it.")
    return session.clipboard


def paste(session: AnnotationSession, as_new: bool = False):
    """Ctrl+V: the copied mask onto the plane shown, as the same instance (replacing what it
    has there) or, with Ctrl+Shift+V, as a new instance of its class. Never over another
    instance (panoptic exclusion) and never over a locked one; one undo step."""
    from .view import current_plane

    copied: Copied | None = session.clipboard
    if copied is None:
        raise AnnotationError("nothing copied: select an instance and press Ctrl+C first")
    plane: Plane = current_plane(session)
    if copied.mask.shape != plane.hw:
        raise AnnotationError(f"the copied mask is {copied.mask.shape[0]} x {copied.mask.shape[1]}, this view "
                              f"{plane.hw[0]} x {plane.hw[1]}: paste in the view it was copied in")  # fmt: skip
    region_mask = plane.mask_to_region(copied.mask)
    if as_new or copied.label_id not in session.table:
        rec = session.annotation.new_instance(copied.class_name)
        out = session.commit(region_mask, region=plane.region, label_id=rec.id, mode=Mode.EXCLUDE)
    else:
        out = session.commit(region_mask, region=plane.region, label_id=copied.label_id, mode=Mode.EXCLUDE, replace=True)
    session.select_instance(out.id, jump=False)
    session.say(f"Pasted {out.name} on frame {session.current_frame()}.")
    return out


def unlabeled_along(session: AnnotationSession, axis: int) -> list[int]:
    """Indices along ``axis`` whose plane holds no label (the frame axis reads the table)."""
    if axis == session.frame_axis:
        labeled = set().union(*(rec.frames for rec in session.table if rec.present))
        return [f for f in range(session.annotation.n_frames) if f not in labeled]
    data = np.asarray(session.labels.data)
    others = tuple(a for a in range(data.ndim) if a != axis)
    return np.flatnonzero(~data.any(axis=others)).tolist()


def go_to_unlabeled(session: AnnotationSession) -> int | None:
    """Shift+N: the next frame or slice after this one with no labels, wrapping round, along
    the slider of the view shown (time, or the slices of whatever orientation)."""
    from .view import current_plane, tracking_axis

    plane = current_plane(session)
    axis = tracking_axis(session, plane)
    free = unlabeled_along(session, axis)
    if not free:
        session.say("Every frame has labels.")
        return None
    here = plane.index[axis]
    nxt = next((f for f in free if f > here), free[0])
    session.go_to_frame(nxt, axis)
    session.say(f"{'Frame' if axis == session.frame_axis else 'Slice'} {nxt}: no labels yet ({len(free)} such).")
    return nxt


def focus_selected(session: AnnotationSession, fill: float = 0.5) -> int:
    """Shift+F: go to the target instance's frame, centre it and zoom so it fills about
    half the canvas (Encord's jump to object)."""
    from .view import current_plane

    label_id = _one_target(session, None, "centre on")
    rec = session.table[label_id]
    if session.frame_axis is not None and session.current_frame() not in rec.frames:
        session.go_to_frame(min(rec.frames))
    plane = current_plane(session)
    rows, cols = np.nonzero(plane.read(session.labels.data) == label_id)
    if not len(rows):
        raise AnnotationError(f"{rec.name} is not in this view")
    lo = np.zeros(len(plane.shape))
    hi = np.zeros(len(plane.shape))
    for ax, i in enumerate(plane.index):
        lo[ax] = hi[ax] = i
    r, c = plane.displayed
    lo[r], hi[r], lo[c], hi[c] = rows.min() - 0.5, rows.max() + 0.5, cols.min() - 0.5, cols.max() + 0.5
    viewer = session.viewer
    if viewer is None:
        return label_id
    a, b = np.asarray(session.labels.data_to_world(lo)), np.asarray(session.labels.data_to_world(hi))
    offset = viewer.dims.ndim - session.labels.ndim
    world_axes = [offset + r, offset + c]
    centre = [(a[ax - offset] + b[ax - offset]) / 2 for ax in world_axes]
    size = [max(abs(b[ax - offset] - a[ax - offset]), 1e-6) for ax in world_axes]
    canvas = np.asarray(getattr(viewer, "_canvas_size", (600, 800)), float)
    viewer.camera.center = tuple(centre)
    viewer.camera.zoom = float(fill * min(canvas[0] / size[0], canvas[1] / size[1]))
    session.select_instance(label_id, jump=False)
    return label_id
