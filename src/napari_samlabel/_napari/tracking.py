"""A tracking run on a session: the viewer's plane and axis, and the layer kept in step.

Qt-free. The run itself is :class:`napari_samlabel.core.tracking_run.TrackRun`
(shared with ``samlabel track``); this adds what a viewer needs: the frames
read from the image layer as the user sees it, and frames that arrive while
the user is drawing a brush stroke wait until the stroke ends, so the stroke
and the run never interleave in the undo history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..backends.tracking import FrameSource
from ..core.annotation import AnnotationError
from ..core.planes import Plane
from ..core.tracking_run import TrackOptions, TrackRun
from .prompting import image_data

if TYPE_CHECKING:
    from .session import AnnotationSession

__all__ = ["TrackJob", "TrackOptions", "make_job", "tracking_axis"]


class TrackJob(TrackRun):
    def __init__(self, session: AnnotationSession, tracker, ids: Sequence[int], start: int, axis: int, plane: Plane,
                 options: TrackOptions | None = None) -> None:  # fmt: skip
        self.session, self.axis = session, int(axis)
        image = session.image
        frames = FrameSource(
            image_data(image), plane, axis, tuple(image.contrast_limits), bool(getattr(image, "rgb", False))
        )
        super().__init__(session.annotation, tracker, frames, ids, start, options)
        self._waiting: list = []
        session.annotation.changed.connect(self._flush)

    def apply(self, step) -> None:
        """Write a frame now, or once the user's brush stroke is committed."""
        self._waiting.append(step)
        self._flush()

    def _flush(self) -> None:
        if self.session.store.stroke_open:
            return
        waiting, self._waiting = self._waiting, []
        for step in waiting:
            super().apply(step)
        if waiting:
            self.session.annotation.changed.emit()  # features, colours, docks: each frame as it comes
            self.session.labels.refresh()

    def finish(self, keep: bool = True) -> None:
        if keep:
            waiting, self._waiting = self._waiting, []
            for step in waiting:  # a stroke cannot be open now: this runs on a GUI event
                super().apply(step)
        self._waiting = []
        self.session.annotation.changed.disconnect(self._flush)
        super().finish(keep)
        self.session.labels.refresh()


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
