"""Voxel geometry: spacing, origin and direction, and the conversions between
array order (z, y, x), DICOM patient space (LPS) and NIfTI (RAS).

Arrays are (z, y, x): index (k, j, i). ``direction`` holds, as columns, the LPS
unit vectors along i (columns), j (rows) and k (slices); ``origin`` is the LPS
position of voxel (0, 0, 0); ``spacing`` is (dz, dy, dx) in mm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.errors import SamlabelError

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


# -- labels over a reference grid ----------------------------------------------------------
# Principle 14: labels written over a reference are compared with its grid, never assumed
# to share it. Grids are described by "index affines": 4x4, (z, y, x, 1) array index -> RAS mm,
# so nibabel's orientation tools (which work on array axes) apply to napari-ordered arrays.

GRID_TOLERANCE = 0.01  # same grid: every corner voxel within 1% of a voxel of the other's


class GeometryMismatch(SamlabelError, ValueError):
    """Labels and reference describe different regions: the message gives both geometries."""


def index_affine(meta: dict) -> np.ndarray | None:
    """The (z, y, x) index -> RAS mm affine of an image's meta (NIfTI affine or DICOM
    geometry); None when the meta carries no geometry (.npy, .tif)."""
    if meta.get("affine") is not None:
        xyz = np.asarray(meta["affine"], float)
    elif meta.get("geometry"):
        xyz = Geometry.from_meta(meta["geometry"]).affine_ras()
    else:
        return None
    return xyz[:, [2, 1, 0, 3]]  # NIfTI's columns are i, j, k = x, y, z


def axis_codes(affine: np.ndarray) -> str:
    """Where the x, y, z (column, row, slice) axes point, as nibabel names it: "LPS" for a
    DICOM series as scanners store it, "RAS" for nibabel's canonical order."""
    from nibabel.orientations import aff2axcodes

    return "".join(aff2axcodes(affine))[::-1]


def describe_grid(affine: np.ndarray, shape) -> str:
    """Shape, spacing, origin and axis codes, in the (x, y, z) order NIfTI and DICOM tools use."""
    shape = tuple(int(v) for v in shape)[-3:]
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    origin_lps = LPS_TO_RAS @ affine[:3, 3]
    fmt = lambda v: " x ".join(f"{x:g}" for x in v)  # noqa: E731
    return (
        f"{fmt(shape[::-1])} voxels of {fmt(np.round(spacing[::-1], 4))} mm, first voxel at "
        f"({', '.join(f'{x:.2f}' for x in origin_lps)}) mm LPS, axes {axis_codes(affine)}"
    )


def _corners(shape, edges: bool = False) -> np.ndarray:
    """The 8 corner voxel centres (or outer voxel edges) as homogeneous index columns."""
    lo = -0.5 if edges else 0.0
    ax = [(lo, n - 1 - lo) for n in shape]
    pts = np.array(np.meshgrid(*ax, indexing="ij")).reshape(3, -1)
    return np.vstack([pts, np.ones(pts.shape[1])])


@dataclass
class GridMatch:
    """How labels on one grid land on a reference grid.

    ``kind``: "same" (nothing to do), "reoriented" (exact axis permutation and flips,
    ``ornt`` as nibabel's orientation transform), "resampled" (nearest neighbour through
    ``matrix``, reference index -> labels index) or "assumed" (one side has no geometry:
    the shapes match, a mirrored array cannot be detected)."""

    kind: str
    message: str
    shape: tuple  # the reference's (z, y, x)
    ornt: np.ndarray | None = None
    matrix: np.ndarray | None = None

    def axis_map(self, axis: int) -> tuple[int, bool]:
        """Where spatial axis ``axis`` (0-2) of the labels goes, and whether it is flipped."""
        if self.kind == "reoriented":
            return int(self.ornt[axis, 0]), bool(self.ornt[axis, 1] < 0)
        return axis, False

    def apply(self, labels: np.ndarray) -> np.ndarray:
        """The labels on the reference grid; leading (time) axes are kept."""
        labels = np.asarray(labels)
        if self.kind in ("same", "assumed"):
            return labels
        lead = labels.ndim - 3
        if self.kind == "reoriented":
            from nibabel.orientations import apply_orientation

            spatial_first = np.moveaxis(labels, range(lead), range(3, labels.ndim))
            out = apply_orientation(spatial_first, self.ornt)
            return np.ascontiguousarray(np.moveaxis(out, range(3, labels.ndim), range(lead)))
        # scipy (a runtime dependency; SimpleITK is only for tests) does nearest neighbour;
        # "grid-constant" keeps a reference voxel whose centre falls inside an edge voxel
        from scipy.ndimage import affine_transform

        flat = labels.reshape((-1, *labels.shape[lead:]))
        out = np.empty((flat.shape[0], *self.shape), labels.dtype)
        for n, vol in enumerate(flat):
            affine_transform(vol, self.matrix[:3, :3], self.matrix[:3, 3], output_shape=self.shape,
                             output=out[n], order=0, mode="grid-constant", cval=0)  # fmt: skip
        return out.reshape((*labels.shape[:lead], *self.shape))


def match_grid(labels_affine: np.ndarray | None, labels_shape, ref_affine: np.ndarray | None, ref_shape,
               tol: float = GRID_TOLERANCE) -> GridMatch:  # fmt: skip
    """Compare the labels' grid with the reference's (index affines, (z, y, x) shapes; only
    the last three axes are spatial).

    The same voxels in another axis order or with flipped axes (a file stored RAS over an LPS
    series) -> the exact permutation and flips. Another grid over the same field of view (outer
    edges within one voxel) -> nearest-neighbour resampling, said. Anything else raises
    :class:`GeometryMismatch` with both geometries written out. Never silently mirrored."""
    from nibabel.orientations import inv_ornt_aff, io_orientation, ornt_transform

    ls, rs = tuple(int(v) for v in labels_shape)[-3:], tuple(int(v) for v in ref_shape)[-3:]
    if labels_affine is None or ref_affine is None:
        which = "labels carry" if labels_affine is None else "the reference carries"
        if ls != rs:
            raise GeometryMismatch(
                f"{which} no geometry and the shapes differ: labels (z, y, x) {ls}, reference {rs}"
            )
        return GridMatch("assumed", f"{which} no geometry: taken to be on the reference's grid "
                         f"(same shape {rs}; a mirrored array cannot be detected)", rs)  # fmt: skip
    la, ra = np.asarray(labels_affine, float), np.asarray(ref_affine, float)
    both = f"labels: {describe_grid(la, ls)}; reference: {describe_grid(ra, rs)}"
    ornt = ornt_transform(io_orientation(la), io_orientation(ra))
    new_shape = tuple(int(n) for _, n in sorted(zip(ornt[:, 0], ls)))
    new_affine = la @ inv_ornt_aff(ornt, ls)
    voxel = float(min(np.linalg.norm(ra[:3, :3], axis=0).min(), np.linalg.norm(la[:3, :3], axis=0).min()))
    if new_shape == rs:
        c = _corners(rs)
        if np.abs(new_affine @ c - ra @ c)[:3].max() <= tol * voxel:
            if np.array_equal(ornt, [[0, 1], [1, 1], [2, 1]]):
                return GridMatch("same", f"labels are on the reference's grid ({axis_codes(ra)})", rs)
            return GridMatch("reoriented", f"labels were stored {axis_codes(la)}, reoriented exactly to the "
                             f"reference's {axis_codes(ra)} grid (no resampling)", rs, ornt=ornt)  # fmt: skip
    # another grid: resample only when both cover the same field of view
    slack = max(np.linalg.norm(la[:3, :3], axis=0).max(), np.linalg.norm(ra[:3, :3], axis=0).max())

    def inside(a, shape, b, other_shape) -> bool:  # b's outer corners within a's box, +- slack mm
        idx = np.linalg.solve(a, b @ _corners(other_shape, edges=True))[:3]
        size = np.linalg.norm(a[:3, :3], axis=0)[:, None]
        lo, hi = -0.5, np.array(shape)[:, None] - 0.5
        excess = np.maximum(lo - idx, 0) + np.maximum(idx - hi, 0)
        return bool((excess * size).max() <= slack)

    if inside(la, ls, ra, rs) and inside(ra, rs, la, ls):
        matrix = np.linalg.solve(la, ra)  # reference index -> labels index
        return GridMatch("resampled", f"labels were on another grid over the same region, resampled to the "
                         f"reference's with nearest neighbour ({both})", rs, matrix=matrix)  # fmt: skip
    raise GeometryMismatch(f"labels and reference do not cover the same region ({both})")
