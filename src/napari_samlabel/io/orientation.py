"""How a patient volume is shown: the radiological convention on screen, as a pure function.

From an image's index affine ((z, y, x) array index -> RAS mm, see
:func:`.geometry.index_affine`) and the two displayed array axes, :func:`screen_orientation`
says which way napari's camera should draw each displayed axis (``camera.orientation2d``)
so that superior is up (sagittal, coronal), anterior is up (axial) and the patient's right
is on the screen's left (axial, coronal; anterior on the left in sagittal), the patient
letters at the canvas edges, and the plane's name. Nothing is reordered: the camera flips
the view, the voxels stay where they are, so prompts, labels and exports are unchanged.

Each array axis is named by the patient axis it runs mostly along (the largest component
of its direction), as DICOM viewers do for an oblique series.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_HIGH = "RAS"  # the letter at the + end of each RAS axis
_LOW = "LPI"
PLANE_ACROSS = {0: "sagittal", 1: "coronal", 2: "axial"}  # the plane a slider along R-L / A-P / S-I moves


class ScreenOrientation(NamedTuple):
    orientation2d: tuple[str, str]  # napari's (vertical, horizontal): 'up'/'down', 'left'/'right'
    letters: dict[str, str]  # 'top', 'bottom', 'left', 'right' -> "S", "I", "R", ...
    plane: str  # "axial", "sagittal", "coronal" (the plane on screen)


def axis_ends(affine: np.ndarray, axis: int) -> tuple[int, str, str]:
    """The patient axis (0 R-L, 1 A-P, 2 S-I) array axis ``axis`` (0-2, z y x) runs mostly
    along, and the letters at its low-index and high-index ends."""
    d = np.asarray(affine, float)[:3, axis]
    m = int(np.argmax(np.abs(d)))
    hi, lo = (_HIGH[m], _LOW[m]) if d[m] > 0 else (_LOW[m], _HIGH[m])
    return m, lo, hi


def screen_orientation(affine: np.ndarray, displayed: tuple[int, int]) -> ScreenOrientation:
    """The camera orientation, edge letters and plane name for spatial array axes
    ``displayed`` = (vertical, horizontal), each 0-2 in (z, y, x) order.

    R, A and S go to the top and to the left: S up in sagittal and coronal, A up in axial,
    the patient's right on the screen's left in axial and coronal, anterior on the left in
    sagittal (a transposed view keeps its axes, only their directions are chosen)."""
    (mv, lo_v, hi_v), (mh, lo_h, hi_h) = axis_ends(affine, displayed[0]), axis_ends(affine, displayed[1])
    vertical = "up" if hi_v == _HIGH[mv] else "down"  # 'up': index grows upwards, its high end on top
    horizontal = "left" if hi_h == _HIGH[mh] else "right"
    top, bottom = (hi_v, lo_v) if vertical == "up" else (lo_v, hi_v)
    left, right = (hi_h, lo_h) if horizontal == "left" else (lo_h, hi_h)
    across = ({0, 1, 2} - {mv, mh}) or {mv}
    plane = PLANE_ACROSS[across.pop()]
    return ScreenOrientation((vertical, horizontal), {"top": top, "bottom": bottom, "left": left, "right": right},
                             plane)  # fmt: skip


def upright(affine: np.ndarray, displayed: tuple[int, int]) -> bool:
    """Whether spatial array axes ``displayed`` = (vertical, horizontal) put the patient's
    long axis up the screen: S-I vertical in sagittal and coronal, A-P vertical in axial.
    A view free to choose its axes (a linked view) swaps them when this is False."""
    mv, mh = axis_ends(affine, displayed[0])[0], axis_ends(affine, displayed[1])[0]
    want = 1 if {mv, mh} == {0, 1} else 2  # axial: A-P up; otherwise S-I up
    return mv == want or want not in (mv, mh)


def axis_names(affine: np.ndarray | None, ndim: int, axes: list[str] | None = None) -> tuple[str, ...]:
    """Slider names for an image of ``ndim`` axes, the last three spatial when there is an
    affine: "axial (I→S)" for the axis mostly along S-I (its slider moves through axial
    planes, towards S), "sagittal (R→L)", "coronal (A→P)"; a leading axis is "time".
    Without an affine: the file's own axis names when given, else plain ones."""
    if affine is None:
        if axes is not None and len(axes) == ndim:
            return tuple(str(a) for a in axes)
        plain = {2: ("y", "x"), 3: ("frame", "y", "x"), 4: ("t", "z", "y", "x")}
        return plain.get(ndim, tuple(f"axis {n}" for n in range(ndim - 2)) + ("y", "x"))
    spatial = min(ndim, 3)
    names = []
    for axis in range(3 - spatial, 3):
        m, lo, hi = axis_ends(affine, axis)
        names.append(f"{PLANE_ACROSS[m]} ({lo}→{hi})")
    lead = ndim - spatial
    lead_names = ("time",) if lead == 1 else tuple(f"axis {n}" for n in range(lead))
    return lead_names + tuple(names)
