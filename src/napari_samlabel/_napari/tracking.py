"""A tracking run on a session: the viewer's plane and axis, and the layer kept in step.

Qt-free. The run itself is :class:`napari_samlabel.core.tracking_run.TrackRun`
(shared with ``samlabel track``); this adds what a viewer needs: the frames
read from the image layer as the user sees it, which instances to track, and
writing that never holds the GUI thread for long.

Frames from the worker are queued with :meth:`TrackJob.receive` and written by
:meth:`TrackJob.drain` within a time budget, several at once when they arrive
together. Writing pixels is cheap; redrawing the canvas and telling the docks
(``annotation.changed``: colours, features, the Instances list) are not, so
:meth:`TrackJob.publish` redraws the labels only when a written frame is the
one shown, at most every :attr:`TrackJob.show_every` seconds, and tells the
docks at most every :attr:`TrackJob.docks_every` seconds (the session redraws
its colours only when they change, so that is cheap).
Frames that arrive while the user is drawing a brush stroke wait until the
stroke ends, so the stroke and the run never interleave in the undo history.
A cancel drops the frames still queued.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence


from ..backends.tracking import FrameSource
from ..core.annotation import AnnotationError
from ..core.collector import hold_full_collections
from ..core.planes import Plane
from ..core.tracking_run import TrackOptions, TrackRun
from .view import current_plane, model_image, tracking_axis
from .quick_keys import ids_on_plane

if TYPE_CHECKING:
    from .session import AnnotationSession

__all__ = ["SELECTED", "ALL", "TrackJob", "TrackOptions", "ids_to_track", "make_job", "tracking_axis"]

SELECTED, ALL = "selected", "all"
NOTHING = "nothing to track on frame {frame}: select an instance or commit one first"


class TrackJob(TrackRun):
    show_every = 0.2  # seconds between two redraws of the plane shown while a run writes it
    #: seconds between two 'changed' while a run goes (None: once, at the end). Today each
    #: 'changed' makes the session rebuild the layer's colormap, which re-textures and redraws
    #: the canvas: 75 ms or more at 512 x 512, a visible stall five times a second.
    docks_every: float | None = 0.2

    def __init__(self, session: AnnotationSession, tracker, ids: Sequence[int], start: int, axis: int, plane: Plane,
                 options: TrackOptions | None = None) -> None:  # fmt: skip
        self.session, self.axis = session, int(axis)
        data, limits, rgb = model_image(session)
        frames = FrameSource(data, plane, axis, limits, rgb)
        super().__init__(session.annotation, tracker, frames, ids, start, options)
        self._waiting: list = []
        self._unpublished = False  # frames written since the docks were last told
        self._shown_written = False  # ... one of them is the plane the viewer shows
        self._published_at = self._docks_at = 0.0
        self._docks_cost = 0.0  # seconds the last 'changed' took
        self.stopped: list[int] = []  # objects the tracker gave up on (absent for too long)
        self.last_frame = self.start  # the frame written last
        self._release_collector = None  # set while the run holds back full collections
        session.annotation.changed.connect(self._flush)

    # -- frames from the worker ------------------------------------------------
    def receive(self, step) -> None:
        """Queue a frame from the worker (dropped if the run was cancelled)."""
        if not self.cancelled:
            self._waiting.append(step)

    @property
    def backlog(self) -> int:
        """Frames received and not written yet."""
        return len(self._waiting)

    def drain(self, budget: float | None = None) -> int:
        """Write queued frames: all, or until ``budget`` seconds are spent (at least one).

        Nothing while a brush stroke is open; returns the number written."""
        if self.session.store.stroke_open or self.cancelled:
            return 0
        t0, n = time.perf_counter(), 0
        while self._waiting and not self.cancelled:
            step = self._waiting.pop(0)
            super().apply(step)
            n += 1
            self.stopped.extend(step.stopped)
            self.last_frame = step.frame
            self._unpublished = True
            self._shown_written = self._shown_written or self._is_shown(step.frame)
            if budget is not None and time.perf_counter() - t0 >= budget:
                break
        return n

    def publish(self, force: bool = False) -> bool:
        """Show the frames written since the last call, at most every :attr:`show_every`
        seconds unless ``force``: the canvas is redrawn if one of them is the plane on
        screen, and the docks are told (``annotation.changed``) if :attr:`docks_every`
        allows. True if there was something new (the caller shows its progress)."""
        if not self._unpublished:
            return False
        now = time.perf_counter()
        if not force and now - self._published_at < self.show_every:
            return False
        shown, self._unpublished, self._shown_written = self._shown_written, False, False
        every = self.docks_every
        # what listens to 'changed' grows with the table: never more than a fifth of the time
        if force or (every is not None and now - self._docks_at >= max(every, 4 * self._docks_cost)):
            self.session.annotation.changed.emit()  # features, colours, docks
            self._docks_at = time.perf_counter()
            self._docks_cost = self._docks_at - now
        if shown:
            self.session.labels.refresh()  # only when a frame written is the one on screen
        self._published_at = time.perf_counter()
        return True

    def apply(self, step) -> None:
        """Write a frame now (or once the user's brush stroke is committed), and show it."""
        self.receive(step)
        self.drain()
        self.publish(force=True)

    def begin(self) -> None:
        super().begin()
        self._published_at = self._docks_at = time.perf_counter()  # not in the same event as the start
        # a full collection over everything napari and the session keep paused the GUI
        # 150-250 ms mid-run: none until the run ends (young objects are still collected)
        if self._release_collector is None:
            self._release_collector = hold_full_collections()

    def cancel(self) -> None:
        super().cancel()
        self._waiting.clear()

    def _flush(self) -> None:
        """A change (the end of a brush stroke among them): frames that waited are written."""
        if self._waiting and self.drain(budget=0.05):
            self.publish()

    def _is_shown(self, frame: int) -> bool:
        """Whether the viewer shows the plane of ``frame`` (so the canvas must be redrawn)."""
        viewer = self.session.viewer
        if viewer is None:
            return False
        views = self.session.views
        if viewer.dims.ndisplay != 2 or (views is not None and views.linked):
            return True  # 3D, or linked views: every frame crosses the planes they show
        try:
            shown = current_plane(self.session)
        except Exception:  # the view does not map onto the image: redraw to be safe
            return True
        target = self.frames.plane_at(frame)
        return set(shown.displayed) == set(target.displayed) and shown.index == target.index

    def finish(self, keep: bool = True) -> None:
        """Close the run: one undo step (the store redraws the layer when it pushes or rolls back)."""
        if keep and not self.cancelled:
            waiting, self._waiting = self._waiting, []
            for step in waiting:  # the worker is done: what is left is written now
                super().apply(step)
        self._waiting = []
        self.session.annotation.changed.disconnect(self._flush)
        try:
            super().finish(keep)
        finally:
            if self._release_collector is not None:
                self._release_collector()
                self._release_collector = None


# -- which instances --------------------------------------------------------------
def ids_to_track(session: AnnotationSession, plane: Plane, axis: int, which: str = SELECTED) -> list[int]:
    """The instances a run starting on ``plane`` tracks.

    ``all``: every instance on the plane, except hidden and locked ones.
    ``selected``: those picked in the Instances dock that are on the plane;
    else the instance written last that is there (the one just committed);
    else the one under the mouse. Never an id without pixels on the plane
    (after a commit the brush holds a fresh, unpainted id: never that one).
    """
    table = session.table
    if which == ALL:
        ids = sorted(i for i in ids_on_plane(session, plane) if i in table and table[i].visible and not table[i].locked)
    elif which == SELECTED:
        ids = session.targets(plane)
    else:
        raise ValueError(f"which must be {SELECTED!r} or {ALL!r}, not {which!r}")
    if not ids:
        raise AnnotationError(NOTHING.format(frame=plane.index[axis]))
    return ids


def make_job(session, tracker, ids=None, options=None, axis=None, plane=None, start=None) -> TrackJob:
    """A job from the viewer's state: current plane, its slider axis, current frame.

    ``ids``: label ids, or ``"selected"`` / ``"all"`` (None) as in :func:`ids_to_track`."""
    plane = plane or current_plane(session)
    axis = tracking_axis(session, plane, axis)
    start = plane.index[axis] if start is None else start
    if ids is None or isinstance(ids, str):
        at = plane if start == plane.index[axis] else FrameSource(None, plane, axis).plane_at(start)
        ids = ids_to_track(session, at, axis, ids or ALL)
    return TrackJob(session, tracker, ids, start, axis, plane, options)
