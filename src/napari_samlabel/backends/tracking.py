"""Propagating masks along the time or slice axis: what a tracker yields.

A tracker takes a :class:`FrameSource` (planes read lazily, windowed to uint8
RGB), a start frame and the start masks of the objects, and yields one
:class:`TrackStep` per frame, so a worker can stream results to the viewer and
stop within one frame. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np

from ..core.planes import Plane, window_to_uint8
from ..core.tracking_run import DIRECTIONS, frame_order  # noqa: F401  (the contract's names)


@dataclass
class ObjectResult:
    mask: np.ndarray  # (H, W) bool, empty when absent
    score: float  # 0-1: the model's confidence that the object is there
    present: bool


@dataclass
class TrackStep:
    frame: int
    objects: dict[int, ObjectResult] = field(default_factory=dict)
    stopped: tuple[int, ...] = ()  # objects that stopped being tracked at this frame


class FrameSource:
    """The planes of one image along an axis, read and windowed on demand (never stored)."""

    def __init__(self, data, plane: Plane, axis: int, contrast_limits=None, rgb: bool = False) -> None:
        if axis in plane.displayed:
            raise ValueError(f"axis {axis} is displayed; track along a slider axis")
        self.data, self.plane, self.axis = data, plane, axis
        self.contrast_limits, self.rgb = contrast_limits, rgb

    def __len__(self) -> int:
        return self.plane.shape[self.axis]

    @property
    def hw(self) -> tuple[int, int]:
        return self.plane.hw

    def plane_at(self, frame: int) -> Plane:
        index = list(self.plane.index)
        index[self.axis] = int(frame)
        return Plane(self.plane.shape, self.plane.displayed, tuple(index))

    def __getitem__(self, frame: int) -> np.ndarray:
        return window_to_uint8(self.plane_at(frame).read(self.data), self.contrast_limits, rgb=self.rgb)


class Tracker(Protocol):
    name: str

    def track(
        self,
        frames: FrameSource,
        start: int,
        masks: dict[int, np.ndarray],
        direction: str = "forward",
        n_frames: int | None = 30,
        stop_after: int | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        keyframes: dict[int, dict[int, np.ndarray]] | None = None,
    ) -> Iterator[TrackStep]:
        """One step per frame visited (``start`` excluded). ``keyframes``: frame -> {object
        id: (H, W) bool mask}, the frames in the range the user made or corrected; a tracker
        conditions on them (or restarts from them); the run never writes over an object on
        its keyframe, whatever the step holds for it."""
        ...


class AbsenceCounter:
    """Stop an object after ``stop_after`` consecutive frames without it."""

    def __init__(self, ids: Sequence[int], stop_after: int | None) -> None:
        self.stop_after = stop_after
        self.misses = {int(i): 0 for i in ids}
        self.active = set(self.misses)

    def update(self, obj_id: int, present: bool) -> bool:
        """Record a frame; True if the object just stopped."""
        self.misses[obj_id] = 0 if present else self.misses[obj_id] + 1
        if self.stop_after and self.misses[obj_id] >= self.stop_after and obj_id in self.active:
            self.active.discard(obj_id)
            return True
        return False
