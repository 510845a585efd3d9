"""A tracking run on a session: which objects, which frames, and writing results.

Qt-free. :meth:`TrackJob.steps` is the model work (a generator, safe in a
worker); :meth:`TrackJob.begin`, :meth:`TrackJob.apply` and
:meth:`TrackJob.finish` run on the GUI thread. The whole run is one undo step:
the annotation action stays open from ``begin`` to ``finish`` (brush strokes
made meanwhile stay undo steps of their own). Cancelling can keep the frames
done or discard them.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from ..backends.tracking import FrameSource, TrackStep
from ..core.annotation import AnnotationError
from ..core.compose import Mode
from ..core.planes import Plane
from .prompting import image_data

if TYPE_CHECKING:
    from .session import AnnotationSession


class TrackCancelled(Exception):
    """Raised inside the open action to roll a cancelled run back."""


@dataclass
class TrackOptions:
    direction: str = "forward"
    n_frames: int | None = 30  # counting the start frame; None = to the end
    stop_after: int | None = 3  # consecutive frames without the object
    mode: Mode = Mode.EXCLUDE


class TrackJob:
    def __init__(
        self,
        session: AnnotationSession,
        tracker,
        ids: Sequence[int],
        start: int,
        axis: int,
        plane: Plane,
        options: TrackOptions | None = None,
    ) -> None:
        self.session, self.tracker = session, tracker
        self.options = options or TrackOptions()
        self.start, self.axis = int(start), int(axis)
        image = session.image
        self.frames = FrameSource(
            image_data(image), plane, axis, tuple(image.contrast_limits), bool(getattr(image, "rgb", False))
        )
        self.ids = [int(i) for i in ids]
        if not self.ids:
            raise AnnotationError("nothing to track: select instances, or use all on the current frame")
        locked = [session.table[i].name for i in self.ids if session.table[i].locked]
        if locked:
            raise AnnotationError(f"{', '.join(locked)} locked: unlock before tracking")
        current = self.frames.plane_at(self.start).read(session.labels.data)
        self.masks = {i: current == i for i in self.ids}
        missing = [session.table[i].name for i, m in self.masks.items() if not m.any()]
        if missing:
            raise AnnotationError(f"{', '.join(missing)} not on frame {self.start}: go to a frame where it is")
        self.total = sum(len(o) for o in _orders(self))
        self.done = 0
        self.written: set[int] = set()
        self._cancel = False
        self._stack: ExitStack | None = None
        self._t0 = 0.0

    # -- worker side -----------------------------------------------------
    def steps(self) -> Iterator[TrackStep]:
        o = self.options
        yield from self.tracker.track(
            self.frames, self.start, self.masks, o.direction, o.n_frames, o.stop_after, cancelled=lambda: self._cancel
        )

    def cancel(self) -> None:
        self._cancel = True

    # -- GUI side ----------------------------------------------------------
    def begin(self) -> None:
        self._stack = ExitStack()
        self._stack.enter_context(self.session.annotation.action("track"))
        self._t0 = time.perf_counter()

    def apply(self, step: TrackStep) -> None:
        """Write one frame: each object's mask replaces its pixels there (absent: none)."""
        ann = self.session.annotation
        plane = self.frames.plane_at(step.frame)
        for obj_id, res in step.objects.items():
            if self.session.table[obj_id].locked:
                continue
            ann.write_mask(
                plane.mask_to_region(res.mask), obj_id, plane.region, self.options.mode,
                replace=True, source="tracked", confidence=res.score,
            )  # fmt: skip
        self.done += 1
        self.written.add(step.frame)
        self.session.labels.refresh()  # show each frame as it comes

    @property
    def seconds_left(self) -> float | None:
        if not self.done:
            return None
        rate = (time.perf_counter() - self._t0) / self.done
        return rate * max(self.total - self.done, 0)

    def finish(self, keep: bool = True) -> None:
        """Close the run as one undo step; ``keep=False`` undoes the frames written."""
        stack, self._stack = self._stack, None
        if stack is None:
            return
        if keep:
            stack.close()
        else:
            stack.__exit__(TrackCancelled, TrackCancelled(), None)
        self.session.annotation.changed.emit()

    def run(self) -> TrackJob:
        """Everything in this thread (scripts, tests, the CLI)."""
        self.begin()
        try:
            for step in self.steps():
                self.apply(step)
        except BaseException:
            self.finish(keep=False)
            raise
        self.finish(keep=True)
        return self


def _orders(job: TrackJob):
    from ..backends.tracking import frame_order

    return frame_order(job.start, len(job.frames), job.options.direction, job.options.n_frames)


def tracking_axis(session: AnnotationSession, plane: Plane, axis: int | None = None) -> int:
    """The slider axis to track along: the session's frame axis if not displayed, else the first free one."""
    free = [a for a in range(len(plane.shape)) if a not in plane.displayed]
    if axis is not None:
        if axis not in free:
            raise AnnotationError(f"axis {axis} is displayed: track along one of {free}")
        return axis
    if not free:
        raise AnnotationError("a 2D image has no time or slice axis to track along")
    return session.frame_axis if session.frame_axis in free else free[0]


def make_job(session, tracker, ids=None, options=None, axis=None, plane=None, start=None) -> TrackJob:
    """A job from the viewer's state: current plane, its slider axis, current frame."""
    from .prompting import current_plane

    plane = plane or current_plane(session)
    axis = tracking_axis(session, plane, axis)
    start = plane.index[axis] if start is None else start
    if ids is None:  # everything on the start frame
        region = session.labels.data[plane.region]
        ids = [int(i) for i in np.unique(region) if i and int(i) in session.table]
    return TrackJob(session, tracker, ids, start, axis, plane, options)
