"""A tracking run over an :class:`~napari_samlabel.core.Annotation`, without napari.

The Track dock and ``samlabel track`` both use this. :meth:`TrackRun.steps` is
the model work (a generator, safe in a worker thread); :meth:`TrackRun.apply`
and :meth:`TrackRun.finish` write, on the thread that owns the labels.

The run is one transaction that claims the ids it tracks: while it runs, no
other edit may change those instances (it is refused with a message), and the
user's other edits stay undo steps of their own, in the order they were made
(the run checkpoints before them). ``finish(keep=False)`` rolls back what the
run wrote since the user's last edit; frames written before such an edit stay,
as their own undo step.

Keyframes: a tracked instance's frames in the run's range that the user made or
corrected (:attr:`Instance.keyframes`) go to the tracker with their masks, so it
conditions on all of them (SAM 2 as in its interactive video segmentation), and
the run never writes over them: on a keyframe the instance keeps the user's mask,
and no other tracked instance takes its pixels.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

import numpy as np

from .annotation import Annotation, AnnotationError
from .streamed_run import StreamedRun
from .compose import Mode


@dataclass
class TrackOptions:
    direction: str = "forward"
    n_frames: int | None = 30  # counting the start frame; None = to the end
    stop_after: int | None = 3  # consecutive frames without the object
    mode: Mode = Mode.EXCLUDE


class Frames(Protocol):
    """The planes along the tracked axis (``backends.tracking.FrameSource``)."""

    def __len__(self) -> int: ...
    def plane_at(self, frame: int): ...


class TrackRun(StreamedRun):
    def __init__(self, annotation: Annotation, tracker, frames: Frames, ids: Sequence[int], start: int,
                 options: TrackOptions | None = None) -> None:  # fmt: skip
        self.annotation, self.tracker, self.frames = annotation, tracker, frames
        self.options = options or TrackOptions()
        self.start = int(start)
        self.ids = [int(i) for i in ids]
        if not self.ids:
            raise AnnotationError("nothing to track: select instances, or use all on the current frame")
        unknown = [i for i in self.ids if i not in annotation.table]
        if unknown:
            raise AnnotationError(f"no instance with label id {unknown[0]}")
        annotation._check_editable(self.ids)
        current = frames.plane_at(self.start).read(annotation.store)
        self.masks = {i: current == i for i in self.ids}
        missing = [annotation.table[i].name for i, m in self.masks.items() if not m.any()]
        if missing:
            raise AnnotationError(f"{', '.join(missing)} not on frame {self.start}: go to a frame where it is")
        order = frame_order(self.start, len(frames), self.options.direction, self.options.n_frames)
        self.total = sum(len(o) for o in order)
        self._visited = np.array(sorted({f for o in order for f in o}), dtype=np.int64)  # the planes it writes
        #: frame -> {id: the user's mask}: the tracked instances' keyframes in the run's range
        self.keyframes = gather_keyframes(annotation, frames, self.ids, [f for o in order for f in o])
        self._drawn: dict[int, set[int]] = {}
        self.done = 0
        self.written: set[int] = set()
        self.cancelled = False
        self.error: BaseException | None = None
        self._t0 = 0.0

    # -- worker side -----------------------------------------------------
    def steps(self) -> Iterator:
        """The tracker's frames; it checks for a cancel before each frame, and a
        frame it finishes after a cancel is not yielded."""
        o = self.options
        extra = {"keyframes": self.keyframes} if self.keyframes and takes_keyframes(self.tracker) else {}
        for step in self.tracker.track(
            self.frames, self.start, self.masks, o.direction, o.n_frames, o.stop_after,
            cancelled=lambda: self.cancelled, **extra,
        ):  # fmt: skip
            if self.cancelled:
                return
            yield step

    def cancel(self) -> None:
        """Stop: no frame is written after this (frames yielded but not yet written are dropped)."""
        self.cancelled = True

    # -- writing side ------------------------------------------------------
    def begin(self) -> None:
        self.txn = self.annotation.begin("the tracking run", claims=self.ids)
        self._t0 = time.perf_counter()

    def apply(self, step) -> None:
        """Write one frame: each object's mask replaces its pixels there (absent: none).

        A cancelled run writes nothing more."""
        if self.cancelled:
            return
        if self.txn is None:
            self.begin()
        plane = self.frames.plane_at(step.frame)
        keys = self.keyframes.get(step.frame, {})
        drawn = UserLines(self.annotation, plane, getattr(self.frames, "axis", None), self.drawn_slices)
        with self.txn.writing():
            for obj_id, res in step.objects.items():
                if self.annotation.table[obj_id].locked:
                    continue  # locked by the user while the run went on: left as it is
                if obj_id in keys:
                    continue  # the user's keyframe: their mask stays as drawn
                mask = drawn.keep(obj_id, res.mask, self.options.mode)
                others = [m for i, m in keys.items() if i != obj_id]
                if others:  # never over another tracked instance's keyframe pixels (overwrite mode)
                    mask = mask & ~np.logical_or.reduce(others)
                rec = self.annotation.table[obj_id]
                kept = {f: (rec.source_on(f), rec.score_on(f)) for f in rec.keyframes} if drawn.active else {}
                self.annotation.write_mask(
                    plane.mask_to_region(mask), obj_id, plane.region, self.options.mode,
                    replace=True, source="tracked", confidence=res.score,
                )  # fmt: skip
                for f, (source, score) in kept.items():  # a slice is the user's: a crossing run leaves it so
                    if f in self.annotation.table[obj_id].frames:
                        self.annotation.table.edit(obj_id).set_frame(f, source, score)
        self.done += 1
        self.written.add(step.frame)

    def drawn_slices(self, obj_id: int) -> set[int]:
        """The keyframes of ``obj_id`` that are slices the user drew across a run along
        another axis: those where it has pixels on the planes this run writes. A drawing on
        the start plane itself (a lesion saved on this sagittal plane) marks its slices
        as the user's too, but it is this run's own start, not a slice drawn whole; nor do
        pixels on the other side count (Shift+T's run ahead of x=38 made every slice look
        drawn to Shift+Alt+T's run back from it, which then wrote nothing)."""
        if obj_id not in self._drawn:
            ann = self.annotation
            axis, fa = getattr(self.frames, "axis", None), ann.frame_axis
            keys = ann.table[obj_id].keyframes if obj_id in ann.table else set()
            out = set()
            if keys and axis is not None and fa is not None and axis != fa:
                for z in sorted(keys):
                    where = np.nonzero(ann.store.read(ann.frame_region(z)) == obj_id)
                    along = axis - (axis > fa)  # the run's axis within a slice
                    if len(where[0]) and np.isin(where[along], self._visited).any():
                        out.add(z)
            self._drawn[obj_id] = out
        return self._drawn[obj_id]

    @property
    def seconds_left(self) -> float | None:
        if not self.done:
            return None
        rate = (time.perf_counter() - self._t0) / self.done
        return rate * max(self.total - self.done, 0)

    def finish(self, keep: bool = True) -> None:
        """Close the run as one undo step; ``keep=False`` rolls back what it wrote
        since the user's last edit during the run."""
        self.close_transaction(keep)


class UserLines:
    """A run across the frame axis (sagittal planes of a volume labelled in axial slices)
    crosses every slice the user drew: on the lines of its plane that lie in a keyframe of
    an instance, the run leaves that instance's pixels exactly as they are (its own mask
    there is the user's, and in overwrite mode it takes none of theirs)."""

    def __init__(self, annotation: Annotation, plane, run_axis: int | None, drawn) -> None:
        fa = annotation.frame_axis
        self.annotation, self.plane, self.drawn = annotation, plane, drawn
        self.active = fa is not None and run_axis is not None and run_axis != fa
        self.fa = fa
        self._current: np.ndarray | None = None

    def lines(self, obj_id: int) -> np.ndarray | None:
        """(H, W) bool, broadcastable: where on this plane ``obj_id``'s keyframes lie."""
        keys = self.drawn(obj_id) if self.active and obj_id in self.annotation.table else set()
        if not keys:
            return None
        rows, cols = self.plane.displayed
        if self.fa not in (rows, cols):  # the plane lies within one frame: all of it, or none
            return np.ones((1, 1), bool) if self.plane.index[self.fa] in keys else None
        n = self.plane.shape[self.fa]
        line = np.zeros(n, bool)
        line[[f for f in keys if 0 <= f < n]] = True
        return line[:, None] if self.fa == rows else line[None, :]

    def current(self) -> np.ndarray:
        if self._current is None:
            self._current = self.plane.read(self.annotation.store)
        return self._current

    def keep(self, obj_id: int, mask: np.ndarray, mode) -> np.ndarray:
        if not self.active:
            return mask
        own = self.lines(obj_id)
        if own is not None:
            mask = np.where(own, self.current() == obj_id, mask)
        if Mode(mode) is Mode.OVERWRITE:
            current = self.current()
            for other in np.unique(current[mask]):
                if other in (0, obj_id):
                    continue
                theirs = self.lines(int(other))
                if theirs is not None:
                    mask = mask & ~(theirs & (current == other))
        return mask


def gather_keyframes(annotation: Annotation, frames: Frames, ids: Sequence[int], visited: Sequence[int]
                     ) -> dict[int, dict[int, np.ndarray]]:  # fmt: skip
    """frame -> {id: mask}: the keyframes of ``ids`` among the ``visited`` frames, with the
    user's masks on the tracked plane (each frame's plane is read once).

    Keyframes are frames of the annotation's frame axis: a run along another axis (the
    slices of a volume whose frames are time points) has none."""
    axis = getattr(frames, "axis", None)
    if annotation.frame_axis is None or axis != annotation.frame_axis:
        return {}
    visited = set(int(f) for f in visited)
    wanted: dict[int, list[int]] = {}
    for i in ids:
        for f in annotation.table[i].keyframes & visited:
            wanted.setdefault(f, []).append(int(i))
    out: dict[int, dict[int, np.ndarray]] = {}
    for f in sorted(wanted):
        plane = frames.plane_at(f).read(annotation.store)
        masks = {i: plane == i for i in wanted[f]}
        masks = {i: m for i, m in masks.items() if m.any()}  # on another slice of this frame: not here
        if masks:
            out[f] = masks
    return out


def takes_keyframes(tracker) -> bool:
    """Whether ``tracker.track`` accepts ``keyframes`` (trackers written before it did not)."""
    try:
        params = inspect.signature(tracker.track).parameters
    except (TypeError, ValueError):
        return False
    return "keyframes" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


DIRECTIONS = ("forward", "backward", "both")


def frame_order(start: int, n_total: int, direction: str, n_frames: int | None) -> list[list[int]]:
    """Frames to visit per pass, start excluded; ``n_frames`` counts the start frame."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    span = n_total if n_frames is None else max(int(n_frames), 1)
    passes = []
    if direction in ("forward", "both"):
        passes.append(list(range(start + 1, min(start + span, n_total))))
    if direction in ("backward", "both"):
        passes.append(list(range(start - 1, max(start - span, -1), -1)))
    return passes
