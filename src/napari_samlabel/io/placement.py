"""Where napari draws a patient image among those already open (issue 23, item 5).

napari draws every layer on one set of world axes and cuts 2D views along them only. Measured
on napari 0.9.2: a negative ``scale`` is sliced and drawn correctly (2D and 3D, and
``world_to_data`` inverts it), but an ``affine`` that permutes axes is not: napari warns
"Non-orthogonal slicing is being requested" and shows the same stored plane at every slider
position. So a series can share the world with another only by scale (signed) and translate.

The reference is one patient image (see ``_reader``). Its world axes are lines through the
patient (:class:`WorldFrame`). A series whose array axes run along the same lines, either
way, is overlaid as in Slicer: each axis gets the scale of its spacing (negative where it
runs against the reference's) and the translate that puts its first voxel where the
patient has it, so the same patient point has the same world coordinate in both. A series
cut in another plane (coronal over axial) or tilted from the reference cannot be drawn over
it: :func:`place` says why, and the reader adds it hidden, placed as if alone.

Images with the same direction as the reference are placed exactly as they always were
(``Geometry.napari_scale`` / ``napari_translate``): only flips and refusals are new.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import Geometry, _corners

# within this fraction of the new image's smallest voxel everywhere: overlaid (a series tilted
# by a rounding error of its orientation is still drawn over; one tilted visibly is not)
TOLERANCE = 0.5
_PLANES = {0: "sagittal", 1: "coronal", 2: "axial"}  # the plane of slices whose normal runs along L, P, S


@dataclass(frozen=True)
class WorldFrame:
    """napari's last three world axes (z, y, x) as lines through the patient.

    ``axes``: column n is the LPS unit vector along world axis n; world = axes.T @ lps + offset."""

    axes: np.ndarray
    offset: np.ndarray

    def world(self, lps) -> np.ndarray:
        return self.axes.T @ np.asarray(lps, float) + self.offset

    @property
    def plane(self) -> str:
        """The plane napari's sliders cut (the one across world axis z)."""
        return plane_of(self.axes[:, 0])


def plane_of(normal) -> str:
    """The plane of slices with this normal: "axial", "coronal", "sagittal" (the patient axis
    it runs most along), "oblique axial" etc. where it is more than about 2.5 degrees off."""
    n = np.abs(np.asarray(normal, float))
    m = int(np.argmax(n))
    return _PLANES[m] if n[m] >= np.cos(np.radians(2.5)) else f"oblique {_PLANES[m]}"


def _zyx_directions(geo: Geometry) -> np.ndarray:
    """Columns: the LPS directions of array axes z, y, x (k, j, i)."""
    return geo.direction[:, ::-1]


def own_frame(geo: Geometry) -> WorldFrame:
    """The frame of an image placed alone (scale = spacing, translate = its origin projected on
    its own axes): world = (k, j, i) directions . patient point."""
    return WorldFrame(_zyx_directions(geo).copy(), np.zeros(3))


def layer_frame(geo: Geometry, scale, translate) -> WorldFrame:
    """The frame a placed layer's world axes are in, from its scale and translate (their last
    three entries; a single slice has two, its slice axis is taken as placed alone)."""
    d = _zyx_directions(geo)
    o = np.asarray(geo.origin, float)
    axes, offset = d.copy(), np.zeros(3)
    n = min(len(scale), 3)
    for a in range(3 - n, 3):
        sign = -1.0 if float(scale[a - 3]) < 0 else 1.0
        axes[:, a] = sign * d[:, a]
        offset[a] = float(translate[a - 3]) - sign * float(d[:, a] @ o)
    return WorldFrame(axes, offset)


@dataclass(frozen=True)
class Placement:
    """napari's (z, y, x) scale and translate for an image; ``refused``: why it is not drawn over
    the reference (then scale and translate place it alone, as before)."""

    scale: tuple[float, float, float]
    translate: tuple[float, float, float]
    refused: str | None = None

    @property
    def flipped(self) -> tuple[bool, bool, bool]:
        return tuple(s < 0 for s in self.scale)


def place(geo: Geometry, frame: WorldFrame, shape) -> Placement:
    """How to draw an image of geometry ``geo`` and spatial shape ``shape`` ((z, y, x); a single
    slice (y, x)) in ``frame``: overlaid where every voxel lands within ``TOLERANCE`` of a voxel
    of where the patient has it, else refused with the reason."""
    shape = tuple(int(v) for v in shape)[-3:]
    shape = (1,) * (3 - len(shape)) + shape
    d = _zyx_directions(geo)
    sp = np.asarray(geo.spacing, float)
    o = np.asarray(geo.origin, float)
    alone = Placement(tuple(float(v) for v in geo.napari_scale()), tuple(float(v) for v in geo.napari_translate()))
    cos = frame.axes.T @ d  # [world axis, array axis]
    signs = np.where(np.diag(cos) < 0, -1.0, 1.0)
    scale, translate = signs * sp, frame.world(o)  # voxel 0 where the patient has it
    idx = _corners(shape)[:3]
    true = frame.axes.T @ (o[:, None] + d @ (sp[:, None] * idx)) + frame.offset[:, None]
    drawn = scale[:, None] * idx + translate[:, None]
    if np.abs(true - drawn).max() <= TOLERANCE * sp.min():
        return Placement(tuple(float(v) for v in scale), tuple(float(v) for v in translate))
    nearest = np.argmax(np.abs(cos), axis=0)  # the world axis each array axis runs most along
    if sorted(nearest.tolist()) == [0, 1, 2] and not np.array_equal(nearest, [0, 1, 2]):
        why = "napari shows one set of slice axes"
    else:
        tilt = np.degrees(np.arccos(np.clip(np.abs(np.diag(cos)).min(), 0.0, 1.0)))
        why = f"it is tilted {tilt:.1f}° from it, and napari cannot draw one tilted over the other"
    return Placement(alone.scale, alone.translate, refused=why)


def not_overlaid(refused: list[tuple[str, str, str]], reference: str, reference_plane: str) -> str | None:
    """One line for the series left hidden: ``refused`` holds (name, plane, why) each."""
    if not refused:
        return None
    each = "; ".join(f"{plane} series '{name}' is not overlaid on {reference_plane} '{reference}': {why}"
                     for name, plane, why in refused)  # fmt: skip
    which = "it" if len(refused) == 1 else "one"
    return f"{each}. Added hidden: to view {which}, hide '{reference}' and show it, or open it alone in another window"
