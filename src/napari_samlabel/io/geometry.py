"""Voxel geometry: spacing, origin and direction, and the conversions between
array order (z, y, x), DICOM patient space (LPS) and NIfTI (RAS).

Arrays are (z, y, x): index (k, j, i). ``direction`` holds, as columns, the LPS
unit vectors along i (columns), j (rows) and k (slices); ``origin`` is the LPS
position of voxel (0, 0, 0); ``spacing`` is (dz, dy, dx) in mm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


@dataclass
class Geometry:
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)  # (dz, dy, dx)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)  # LPS of voxel (0, 0, 0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))  # columns: i, j, k in LPS

    def __post_init__(self) -> None:
        self.spacing = tuple(float(v) for v in self.spacing)
        self.origin = tuple(float(v) for v in self.origin)
        self.direction = np.asarray(self.direction, float).reshape(3, 3)

    # -- affines -----------------------------------------------------------
    def affine_lps(self) -> np.ndarray:
        """4x4: (i, j, k, 1) -> LPS mm."""
        dz, dy, dx = self.spacing
        a = np.eye(4)
        a[:3, :3] = self.direction @ np.diag([dx, dy, dz])
        a[:3, 3] = self.origin
        return a

    def affine_ras(self) -> np.ndarray:
        """The NIfTI affine of the (x, y, z)-ordered array."""
        a = self.affine_lps()
        a[:3, :] = LPS_TO_RAS @ a[:3, :]
        return a

    @classmethod
    def from_affine_ras(cls, affine: np.ndarray) -> Geometry:
        lps = np.asarray(affine, float).copy()
        lps[:3, :] = LPS_TO_RAS @ lps[:3, :]
        cols = lps[:3, :3]
        spacing_ijk = np.linalg.norm(cols, axis=0)
        spacing_ijk[spacing_ijk == 0] = 1.0
        return cls(tuple(spacing_ijk[::-1]), tuple(lps[:3, 3]), cols / spacing_ijk)

    # -- napari ------------------------------------------------------------
    @property
    def axis_aligned(self) -> bool:
        return bool(np.allclose(np.abs(self.direction), np.eye(3), atol=1e-4))

    def napari_scale(self) -> tuple[float, float, float]:
        return self.spacing

    def napari_translate(self) -> tuple[float, float, float]:
        """(z, y, x) position of voxel 0 along the array axes (exact when axis-aligned)."""
        # project the origin on each axis direction: right for oblique stacks up to rotation
        o = np.asarray(self.origin)
        i, j, k = (self.direction[:, n] for n in range(3))
        return (float(o @ k), float(o @ j), float(o @ i))

    # -- metadata round trip -------------------------------------------------
    def to_meta(self) -> dict:
        return {"spacing": list(self.spacing), "origin": list(self.origin), "direction": self.direction.tolist()}

    @classmethod
    def from_meta(cls, meta: dict) -> Geometry:
        return cls(meta["spacing"], meta["origin"], np.asarray(meta["direction"]))
