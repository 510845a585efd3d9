"""Prompts on one plane: positive/negative points and a box, in plane pixels.

Plane pixels are (row, col) as displayed. Models that want (x, y) get
``xy`` / ``box_xyxy``: x = column, y = row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .errors import SamlabelError
from .planes import Plane


class PromptError(SamlabelError, ValueError):
    """A prompt a model cannot use; the message says why."""


@dataclass
class PromptSet:
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (N, 2) row, col
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # 1 positive, 0 negative
    box: np.ndarray | None = None  # (row0, col0, row1, col1)

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, float).reshape(-1, 2)
        self.labels = np.asarray(self.labels, int).reshape(-1)
        if len(self.points) != len(self.labels):
            raise PromptError(f"{len(self.points)} points but {len(self.labels)} point labels")
        if not np.isin(self.labels, (0, 1)).all():
            raise PromptError("point labels must be 1 (positive) or 0 (negative)")
        if self.box is not None:
            b = np.asarray(self.box, float).reshape(4)
            self.box = np.array([min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])])

    @property
    def empty(self) -> bool:
        return len(self.points) == 0 and self.box is None

    @property
    def has_positive(self) -> bool:
        return bool((self.labels == 1).any()) or self.box is not None

    def check(self, hw: tuple[int, int]) -> None:
        """Refuse prompts a model cannot act on, with a reason the user can act on."""
        if self.empty:
            raise PromptError("no prompt: click on the object (or drag a box) first")
        if not self.has_positive:
            raise PromptError("only negative clicks: add a positive click or a box on the object")
        h, w = hw
        inside = (self.points[:, 0] >= -0.5) & (self.points[:, 0] < h - 0.5)
        inside &= (self.points[:, 1] >= -0.5) & (self.points[:, 1] < w - 0.5)
        if not inside.all():
            raise PromptError(f"{int((~inside).sum())} click(s) fall outside the {h}x{w} plane")
        if self.box is not None:
            r0, c0, r1, c1 = self.box
            if r1 - r0 < 1 or c1 - c0 < 1:
                raise PromptError("the box is empty: drag a rectangle around the object")

    @property
    def xy(self) -> np.ndarray:
        return self.points[:, ::-1].copy()

    @property
    def box_xyxy(self) -> np.ndarray | None:
        if self.box is None:
            return None
        r0, c0, r1, c1 = self.box
        return np.array([c0, r0, c1, r1])

    @classmethod
    def from_data(
        cls,
        plane: Plane,
        points: np.ndarray | None = None,
        positive: Sequence[bool] | None = None,
        box_vertices: np.ndarray | None = None,
    ) -> PromptSet:
        """Prompts from nD data coordinates; points off the plane are ignored."""
        pts = np.zeros((0, 2))
        labels = np.zeros(0, int)
        if points is not None and len(points):
            points = np.atleast_2d(np.asarray(points, float))
            on = plane.contains(points)
            pts = plane.data_to_plane(points[on])
            labels = np.asarray(positive if positive is not None else np.ones(len(points)), bool)[on].astype(int)
        box = None
        if box_vertices is not None and len(box_vertices):
            rc = plane.data_to_plane(box_vertices)
            box = np.array([rc[:, 0].min(), rc[:, 1].min(), rc[:, 0].max(), rc[:, 1].max()])
        return cls(pts, labels, box)
