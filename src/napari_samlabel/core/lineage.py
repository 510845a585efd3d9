"""Lineage: which instance divided from which, as the Cell Tracking Challenge writes it.

The link lives on the daughter (:attr:`Instance.parent`, 0 for none). A link holds when
both are present thing instances, the parent's last frame comes before the daughter's
first, and following parents never leads back to the daughter. Edits made later (tracking
the mother on past its division) can break a link; :func:`broken_links` finds those.

Also the pixel rules of a division (:meth:`Annotation.divide`): the mother's mask on the
frame after it splits into its pieces, and each later frame's mask goes to the daughter
it continues. Numpy and scipy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    from .instances import InstanceTable


def link_problem(table: InstanceTable, child: int, parent: int) -> str | None:
    """Why ``child`` cannot be a daughter of ``parent`` (None: it can)."""
    kid, mum = table.get(child), table.get(parent)
    if mum is None:
        return f"there is no instance {parent}"
    if kid is None:
        return f"there is no instance {child}"
    if child == parent:
        return f"{kid.name} cannot be its own parent"
    for rec in (kid, mum):
        if rec.stuff:
            return f"{rec.name} is a stuff class: only thing instances have a lineage"
        if not rec.frames:
            return f"{rec.name} is on no frame"
    if max(mum.frames) >= min(kid.frames):
        return (f"{mum.name} is still on frame {max(mum.frames)}, and {kid.name} starts on frame "
                f"{min(kid.frames)}: a parent must end before its daughter starts")  # fmt: skip
    seen, up = {child}, parent
    while up:  # time order rules cycles out among present instances; absent ones keep old links
        if up in seen:
            return f"{mum.name} descends from {kid.name}: a lineage cannot loop"
        seen.add(up)
        rec = table.get(up)
        up = rec.parent if rec is not None else 0
    return None


def children(table: InstanceTable, parent: int) -> list[int]:
    """The instances whose parent is ``parent`` (present or not)."""
    return sorted(r.id for r in table if r.parent == parent and parent)


def graph(table: InstanceTable, ids: Iterable[int] | None = None) -> dict[int, list[int]]:
    """``{daughter: [parent]}`` among present instances (among ``ids`` if given): napari's
    Tracks ``graph``. A link to an absent instance, or one that no longer holds (the mother
    painted on after her daughters start), is left out: napari would draw it backwards in time."""
    keep = {r.id for r in table if r.present} if ids is None else {int(i) for i in ids}
    return {r.id: [r.parent] for r in table
            if r.parent and r.id in keep and r.parent in keep and link_problem(table, r.id, r.parent) is None}  # fmt: skip


def broken_links(table: InstanceTable) -> list[str]:
    """What is wrong with links between present instances (empty: all hold)."""
    out = []
    for r in sorted(table, key=lambda r: r.id):
        mum = table.get(r.parent) if r.parent else None
        if r.present and mum is not None and mum.present:
            why = link_problem(table, r.id, r.parent)
            if why:
                out.append(why)
    return out


# -- the pixels of a division ------------------------------------------------------
def pieces(mask: np.ndarray) -> list[np.ndarray]:
    """The connected pieces of a mask, largest first, specks left out (a piece under
    2% of the largest or under 5 pixels is what panoptic exclusion or a brush leaves)."""
    from scipy import ndimage as ndi

    parts, n = ndi.label(np.asarray(mask, bool))
    if not n:
        return []
    sizes = np.bincount(parts.ravel())[1:]
    keep = [k for k in np.argsort(-sizes, kind="stable") if sizes[k] >= max(5, 0.02 * sizes.max())]
    return [parts == k + 1 for k in keep]


def assign(mask: np.ndarray, refs: list[np.ndarray]) -> list[np.ndarray]:
    """Share ``mask`` (a frame of the mother) among daughters whose masks on the frame
    before are ``refs``: each connected piece goes whole to the one daughter it overlaps;
    a piece that overlaps none goes to the nearest; a piece that overlaps several is cut,
    each pixel to the nearest. The parts returned cover ``mask`` exactly, without overlap."""
    from scipy import ndimage as ndi

    mask = np.asarray(mask, bool)
    out = [np.zeros(mask.shape, bool) for _ in refs]
    if not mask.any():
        return out
    anything = mask | np.logical_or.reduce([np.asarray(r, bool) for r in refs])
    box = tuple(slice(int(idx.min()), int(idx.max()) + 1) for idx in np.nonzero(anything))  # work on the crop
    sub = mask[box]
    subrefs = [np.asarray(r, bool)[box] for r in refs]
    dist = np.stack([ndi.distance_transform_edt(~r) if r.any() else np.full(sub.shape, np.inf) for r in subrefs])
    near = np.argmin(dist, axis=0)
    comps, n = ndi.label(sub)
    k = len(refs)
    hits = np.stack([np.bincount(comps[r], minlength=n + 1) for r in subrefs], axis=1)  # (piece, daughter)
    nearest = np.bincount((comps * k + near)[sub], minlength=(n + 1) * k).reshape(n + 1, k)
    touching = (hits > 0).sum(axis=1)
    owner = np.where(touching == 1, hits.argmax(axis=1), np.where(touching == 0, nearest.argmax(axis=1), -1))
    owner_px = owner[comps]
    which = np.where(owner_px >= 0, owner_px, near)
    for j in range(k):
        out[j][box] = sub & (which == j)
    return out
