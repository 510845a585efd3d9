"""Label all: every object the model finds, on the plane shown or over a range of frames,
as instances of one class, and one undo step.

Qt-free. :meth:`LabelAllJob.steps` is the model work (a generator, safe in a worker
thread: it reads and windows each frame's plane itself and stops within one frame of
:meth:`LabelAllJob.cancel`); :meth:`LabelAllJob.receive` / :meth:`LabelAllJob.drain`
write each frame into the run's one open transaction on the thread that owns the labels
(frames that arrive during a brush stroke wait for its end, as tracking's do);
:meth:`LabelAllJob.finish` closes the run as one undo step, or rolls it back.
:meth:`LabelAllJob.run` does everything in this thread (scripts, tests).

With a ``box`` (plane pixels: row0, col0, row1, col1) only the box's crop goes to the
model, so each object inside the box becomes its own instance (Encord's "drag across the
area containing multiple objects"): masks are clipped to the box, pieces smaller than
``min_size`` pixels dropped, and a mask that fills the box (its background) too.

With ``exemplars`` (boxes in plane pixels, each around one object, and their labels: 1 like
it, 0 unlike it) a concept model (SAM 3: ``segment_exemplars``) finds every object like the
boxed ones on each frame instead of looking for the class's prompt text ("Label similar").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from ..backends.tracking import FrameSource
from ..core.annotation import AnnotationError
from ..core.compose import Mode
from ..core.planes import Plane, window_to_uint8
from ..core.prompts import PromptError
from ..core.streamed_run import StreamedRun
from .view import current_plane, model_image

if TYPE_CHECKING:
    from ..core.instances import Instance
    from .session import AnnotationSession

__all__ = ["FrameFound", "LabelAllJob", "box_of", "objects_in_box"]

#: a mask covering this much of the box is the box's background, not an object in it
FILLS_BOX = 0.9


@dataclass
class FrameFound:
    """What the model found on one frame: (H, W) masks on the whole plane, with scores."""

    frame: int
    found: list[tuple[np.ndarray, float]] = field(default_factory=list)


def box_of(vertices: np.ndarray, plane: Plane) -> tuple[int, int, int, int]:
    """A box layer's rectangle (data coordinates) as plane pixels (row0, col0, row1, col1),
    clipped to the plane, ends exclusive."""
    rc = plane.data_to_plane(vertices)
    h, w = plane.hw
    r0, c0 = np.floor(rc.min(axis=0)).astype(int)
    r1, c1 = np.ceil(rc.max(axis=0)).astype(int) + 1
    r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, h), min(c1, w)
    if r1 - r0 < 4 or c1 - c0 < 4:
        raise PromptError("the box is too small to hold several objects: drag a larger one")
    return int(r0), int(c0), int(r1), int(c1)


def objects_in_box(backend, rgb: np.ndarray, box: tuple[int, int, int, int], min_size: int = 20,
                   segment_all=None) -> list[tuple[np.ndarray, float]]:  # fmt: skip
    """``backend.segment_all`` (or ``segment_all``) on the box's crop, masks put back on the
    whole plane: clipped to the box, pieces under ``min_size`` pixels dropped, box-filling
    masks dropped."""
    from scipy import ndimage as ndi

    r0, c0, r1, c1 = box
    crop = np.ascontiguousarray(rgb[r0:r1, c0:c1])
    area = crop.shape[0] * crop.shape[1]
    out = []
    for mask, score in (segment_all or backend.segment_all)(crop):
        m = np.asarray(mask, bool)
        parts, n = ndi.label(m)
        if n > 1 or (n == 1 and m.sum() < min_size):
            sizes = np.bincount(parts.ravel())
            sizes[0] = 0
            m = np.isin(parts, np.flatnonzero(sizes >= min_size))
        if not m.any() or m.sum() >= FILLS_BOX * area:
            continue
        full = np.zeros(rgb.shape[:2], bool)
        full[r0:r1, c0:c1] = m
        out.append((full, float(score)))
    return out


class LabelAllJob(StreamedRun):
    """One label-all run: the frames to do, the class and mode, the model (and for Label
    similar, the exemplar boxes)."""

    #: what the exemplars were, for the user ("the box", "2 picked instance(s)")
    exemplars_from: str = ""

    def __init__(
        self,
        session: AnnotationSession,
        backend,
        class_name: str | None = None,
        frames: Sequence[int] | tuple[int, int] | None = None,
        mode: Mode | str = Mode.EXCLUDE,
        plane: Plane | None = None,
        axis: int | None = None,
        box: tuple[int, int, int, int] | None = None,
        min_size: int = 20,
        lock: threading.Lock | None = None,
        exemplars: Sequence[tuple[int, int, int, int]] | None = None,
        exemplar_labels: Sequence[int] | None = None,
    ) -> None:
        """``frames``: None for the plane shown; else (first, last), both included, or a
        list of frame indices along ``axis`` (default: the session's frame axis).
        ``exemplars``: boxes (row0, col0, row1, col1, plane pixels) of objects to find more
        of, used on each frame; ``exemplar_labels`` 1/0 (default: all 1)."""
        if backend is None:
            raise PromptError("no model loaded: pick one in the Segment dock")
        self.exemplars = [tuple(int(v) for v in b) for b in exemplars] if exemplars else None
        self.exemplar_labels = [int(bool(v)) for v in exemplar_labels] if exemplar_labels is not None else None
        if self.exemplars is not None:
            if getattr(backend, "segment_exemplars", None) is None:
                raise PromptError(f"{getattr(backend, 'name', 'this model')} does not find objects like an "
                                  f"example: load sam3 (SAM 3) for Label similar")  # fmt: skip
            if box is not None:
                raise PromptError("Label similar takes exemplar boxes, not a box to search in")
        self.session, self.backend = session, backend
        self.plane = plane or current_plane(session)
        name = class_name or session.current_class or session.annotation._default_class()
        if name not in session.ontology:
            raise AnnotationError(f"no class {name!r}: pick one of {', '.join(session.ontology.names)}")
        self._class = session.ontology.ref(name)  # renamed in the Classes dock during the run: followed
        self.mode = Mode(mode)
        self.box, self.min_size = box, int(min_size)
        self._lock = lock or threading.Lock()
        self.data, self.limits, self.rgb = model_image(session)
        free = self.plane.other_axes
        if frames is None:
            self.axis = axis if axis is not None else (session.frame_axis if session.frame_axis in free else
                                                       (free[0] if free else None))  # fmt: skip
            self.order = [self.plane.index[self.axis] if self.axis is not None else 0]
        else:
            from .tracking import tracking_axis

            self.axis = tracking_axis(session, self.plane, axis)
            n = self.plane.shape[self.axis]
            if isinstance(frames, tuple) and len(frames) == 2:
                lo, hi = int(min(frames)), int(max(frames))
                frames = range(lo, hi + 1)
            self.order = [int(f) for f in frames]
            if not self.order:
                raise AnnotationError("the frame range is empty")
            bad = [f for f in self.order if not 0 <= f < n]
            if bad:
                lo, hi = min(self.order), max(self.order)
                span = f"frame {lo}" if lo == hi else f"frames {lo}-{hi}"
                raise AnnotationError(f"{span}: frame {bad[0]} is outside 0-{n - 1} (axis {self.axis})")
        self.ranged = frames is not None  # a range was asked for (else: the plane shown)
        self._source = FrameSource(self.data, self.plane, self.axis) if self.axis is not None else None
        self.total = len(self.order)
        self.done = 0
        self.made: list[Instance] = []
        self.written: set[int] = set()
        self.cancelled = False
        self.error: BaseException | None = None
        self.txn = None
        self._waiting: list[FrameFound] = []
        self._t0 = 0.0

    @property
    def class_name(self) -> str:
        return self._class.name

    @property
    def name(self) -> str:
        lo, hi = min(self.order), max(self.order)
        where = "in the box" if self.box is not None else ""
        span = (f"frame {lo}" if lo == hi else f"frames {lo}-{hi}") if self.ranged else "this plane"
        what = f"the label similar of {self.class_name}" if self.exemplars else f"the label all of {self.class_name}"
        return " ".join(t for t in (what, where, f"on {span}") if t)

    def plane_at(self, frame: int) -> Plane:
        return self._source.plane_at(frame) if self._source is not None else self.plane

    # -- worker side -----------------------------------------------------------
    def find(self, frame: int) -> FrameFound:
        """The model on one frame (any thread)."""
        plane = self.plane_at(frame)
        pixels = window_to_uint8(plane.read(self.data), self.limits, rgb=self.rgb)
        with self._lock:
            if self.box is not None:
                found = objects_in_box(self.backend, pixels, self.box, self.min_size, self.segment_all)
            else:
                found = [(np.asarray(m, bool), float(s)) for m, s in self.segment_all(pixels)]
        return FrameFound(frame, found)

    def segment_all(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Every object on ``rgb``: like the exemplar boxes when there are some; else a concept
        model (one with ``segment_text``, SAM 3) is asked for the class's prompt text (its name
        when it has none), any other for everything."""
        if self.exemplars:
            return self.backend.segment_exemplars(rgb, self.exemplars, self.exemplar_labels)
        by_text = getattr(self.backend, "segment_text", None)
        if by_text is None:
            return self.backend.segment_all(rgb)
        return by_text(rgb, self.session.ontology[self.class_name].prompt_text)

    def looked_for(self) -> str:
        """What the model was asked for, for a message ('' for a model that takes everything)."""
        if self.exemplars:
            return f"like {self.exemplars_from}"
        if hasattr(self.backend, "segment_text"):
            return f"'{self.session.ontology[self.class_name].prompt_text}'"
        return ""

    def steps(self) -> Iterator[FrameFound]:
        """One :class:`FrameFound` per frame; checks for a cancel before and after each."""
        for f in self.order:
            if self.cancelled:
                return
            step = self.find(f)
            if self.cancelled:
                return
            yield step

    def cancel(self) -> None:
        """Stop: nothing is written after this (frames found but not written are dropped)."""
        self.cancelled = True
        self._waiting.clear()

    # -- writing side (the thread that owns the labels) ---------------------------
    def begin(self) -> None:
        if self.txn is None:
            self.txn = self.session.annotation.begin(self.name)
            self._t0 = time.perf_counter()
            self.session.annotation.changed.connect(self._flush)

    def receive(self, step: FrameFound) -> None:
        if not self.cancelled:
            self._waiting.append(step)

    @property
    def backlog(self) -> int:
        return len(self._waiting)

    def drain(self) -> int:
        """Write the frames received (none while a brush stroke is open); how many were written."""
        if self.session.store.stroke_open:
            return 0
        n = 0
        while self._waiting and not self.cancelled:
            self.apply(self._waiting.pop(0))
            n += 1
        return n

    def _flush(self) -> None:
        if self._waiting and not self._writing:
            self.drain()

    _writing = False

    def apply(self, step: FrameFound) -> list[Instance]:
        """Write one frame: each mask a new instance of the class (into the stuff class's one
        instance for a stuff class). Masks with no free pixel in the mode are skipped."""
        if self.cancelled:
            return []
        self.begin()
        s, plane, made = self.session, self.plane_at(step.frame), []
        self._writing = True
        try:
            for mask, score in step.found:
                try:
                    with self.txn.writing():  # a mask that fails leaves nothing, not even its id
                        rec = s.annotation.new_instance(self.class_name, source="model", confidence=score)
                        s.commit(plane.mask_to_region(mask), region=plane.region, label_id=rec.id, mode=self.mode,
                                 source="model", confidence=score)  # fmt: skip
                except ValueError:
                    continue  # covered by instances already there (or locked ones)
                self.txn.claims.add(rec.id)  # the user's other edits cannot change it while the run is open
                made.append(rec)
        finally:
            self._writing = False
        self.made.extend(r for r in made if r not in self.made)
        self.done += 1
        self.written.add(step.frame)
        return made

    def publish(self) -> None:
        """Show what was written: the docks, and the canvas."""
        self.session.annotation.changed.emit()
        self.session.labels.refresh()

    @property
    def seconds_left(self) -> float | None:
        if not self.done:
            return None
        return (time.perf_counter() - self._t0) / self.done * max(self.total - self.done, 0)

    def finish(self, keep: bool = True) -> None:
        """Close the run: one undo step (``keep``) or nothing written (parts pushed around the
        user's edits during the run are taken back as one more step)."""
        if keep and not self.cancelled:
            self.drain()
        self._waiting = []
        if self.txn is None:
            return
        self.session.annotation.changed.disconnect(self._flush)
        self.close_transaction(keep)
        if not keep:
            self.made = []

