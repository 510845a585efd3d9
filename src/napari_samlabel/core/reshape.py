"""Reshaping instances in space: slice one in two along a drawn line (CVAT's slice), and
split an instance's disconnected parts into instances of their own. Joining several into
one is :meth:`Annotation.merge`.

Each operation is one user action (one undo step) through the Annotation's write path, so
locks and the panoptic rules hold: the pieces are written with ``Mode.INSIDE`` over the
instance's own pixels and nothing else changes.

Connectivity is *face* connectivity throughout (4-neighbours in 2D, 6 in 3D): a drawn line
rasterised as an 8-connected pixel path then always separates the two sides.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .annotation import Annotation, AnnotationError, FrameSpan
from .compose import Mode, normalize_region
from .instances import Instance


# -- slicing along a line --------------------------------------------------------------
def _raster(p0: np.ndarray, p1: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of the segment p0-p1 (row, col) inside ``shape`` (an 8-connected path)."""
    from skimage.draw import line

    r0, c0 = (int(v) for v in np.round(p0))
    r1, c1 = (int(v) for v in np.round(p1))
    rr, cc = line(r0, c0, r1, c1)
    inside = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
    return rr[inside], cc[inside]


def polyline_pixels(points, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of a polyline ((N, 2) row, col) inside ``shape``, in drawing order."""
    pts = np.asarray(points, float)
    parts = [_raster(a, b, shape) for a, b in zip(pts[:-1], pts[1:])]
    if not parts:
        return np.zeros(0, int), np.zeros(0, int)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _extend(end: np.ndarray, towards: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels that carry a line ending *inside* the mask on, straight ahead, to the mask's
    edge (a line drawn just short of the edge still cuts): none if ``end`` is outside."""
    h, w = mask.shape
    r, c = (int(v) for v in np.round(end))
    if not (0 <= r < h and 0 <= c < w and mask[r, c]):
        return np.zeros(0, int), np.zeros(0, int)
    d = end - towards
    n = float(np.hypot(*d))
    if n == 0:
        return np.zeros(0, int), np.zeros(0, int)
    far = end + d / n * (h + w)
    rr, cc = _raster(end, far, mask.shape)
    out = ~mask[rr, cc]
    stop = int(np.argmax(out)) if out.any() else len(rr)
    return rr[:stop], cc[:stop]


def line_mask(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The polyline ``points`` ((N, 2) row, col) as pixels of a plane shaped like ``mask``;
    its two ends carried on to the mask's edge where they stop inside it."""
    pts = np.asarray(points, float)
    out = np.zeros(mask.shape, bool)
    out[polyline_pixels(pts, mask.shape)] = True
    out[_extend(pts[0], pts[1], mask)] = True
    out[_extend(pts[-1], pts[-2], mask)] = True
    return out


def _sides(pixels: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """For (K, 2) pixels: +1 / -1 for left / right of the polyline (the side of the segment
    nearest to each pixel)."""
    a, b = pts[:-1], pts[1:]
    ab = b - a  # (S, 2)
    ap = pixels[:, None, :] - a[None]  # (K, S, 2)
    denom = np.maximum((ab**2).sum(1), 1e-12)
    t = np.clip((ap * ab[None]).sum(2) / denom, 0, 1)
    dist = ((ap - t[..., None] * ab[None]) ** 2).sum(2)
    near = np.argmin(dist, axis=1)
    k = np.arange(len(pixels))
    cross = ab[near, 0] * ap[k, near, 1] - ab[near, 1] * ap[k, near, 0]
    return np.where(cross >= 0, 1, -1)


def cut_mask(mask: np.ndarray, points) -> np.ndarray | None:
    """The part of a 2D ``mask`` that a line cuts off: the pieces on the smaller side of it
    (with the line's own pixels, each given to the piece beside it), or None when the line
    cuts nothing in two. Parts of the mask the line does not cut stay where they are.

    More than two pieces (a line that crosses the object several times): pieces are grouped
    by the side of the line they lie on, so the result is still two instances, as in CVAT;
    should every piece lie on one side, the largest piece stays and the others go."""
    mask = np.asarray(mask, bool)
    pts = np.asarray(points, float)
    if not mask.any():
        return None
    # work on the object's bounding box (and a pixel around it): a small object on a big plane is cheap
    box = tuple(slice(max(int(i.min()) - 1, 0), int(i.max()) + 2) for i in np.nonzero(mask))
    part = _cut(mask[box], pts - [box[0].start, box[1].start])
    if part is None:
        return None
    out = np.zeros(mask.shape, bool)
    out[box] = part
    return out


def _cut(mask: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    from scipy import ndimage as ndi

    line = line_mask(pts, mask) & mask
    if not line.any():
        return None
    whole, _ = ndi.label(mask)
    pieces, n = ndi.label(mask & ~line)
    if n < 2:
        return None
    # a piece belongs to a component the line cut when that component holds other pieces too
    comp_of_piece = np.zeros(n + 1, int)
    comp_of_piece[pieces.ravel()] = whole.ravel()
    comp_of_piece[0] = 0
    per_comp = np.bincount(comp_of_piece[1:], minlength=whole.max() + 1)
    cut = np.flatnonzero(per_comp[comp_of_piece] >= 2)
    cut = cut[cut > 0]
    if not len(cut):
        return None
    sizes = np.bincount(pieces.ravel(), minlength=n + 1)
    # each piece's side: the majority side of its pixels that border the line
    border = ndi.binary_dilation(line) & (pieces > 0)
    rows, cols = np.nonzero(border)
    side_px = _sides(np.stack([rows, cols], 1).astype(float), pts)
    ids = pieces[rows, cols]
    vote = np.bincount(ids, weights=side_px, minlength=n + 1)
    side = {int(p): (1 if vote[p] >= 0 else -1) for p in cut}
    left = sum(int(sizes[p]) for p in cut if side[p] > 0)
    right = sum(int(sizes[p]) for p in cut if side[p] < 0)
    if not left or not right:  # every piece on one side of a winding line: the largest stays
        keep = {int(cut[np.argmax(sizes[cut])])}
        gone = [int(p) for p in cut if int(p) not in keep]
    else:
        stay = 1 if left >= right else -1
        gone = [int(p) for p in cut if side[p] != stay]
    out = np.isin(pieces, gone)
    # the line's pixels go to the piece nearest to them, within the components it cut
    in_cut = np.isin(whole, np.unique(comp_of_piece[cut]))
    on_line = line & in_cut
    if on_line.any():  # grown from the pieces beside them, a pixel a step, near the line only
        lb = tuple(slice(max(int(i.min()) - 1, 0), int(i.max()) + 2) for i in np.nonzero(on_line))
        lab = np.where(np.isin(pieces[lb], cut), pieces[lb], 0)
        todo = on_line[lb]
        cross = ndi.generate_binary_structure(2, 1)
        while todo.any():
            grown = ndi.grey_dilation(lab, footprint=cross)
            take = todo & (grown > 0)
            if not take.any():
                break
            lab[take] = grown[take]
            todo &= ~take
        sub = out[lb]
        sub |= np.isin(lab, gone) & on_line[lb]
    return out


def _plane_region(annotation: Annotation, frame_or_region) -> tuple:
    if isinstance(frame_or_region, (int, np.integer)):
        if annotation.frame_axis is None:
            region = ()
            if int(frame_or_region) != 0:
                raise AnnotationError("these labels have no frame axis: there is only frame 0")
        else:
            region = annotation.frame_region(int(frame_or_region))
    else:
        region = tuple(frame_or_region)
    region = normalize_region(region, annotation.store.shape)
    if sum(isinstance(r, slice) for r in region) != 2:
        raise AnnotationError("slicing works on one 2D plane: give the frame, or the plane's region")
    return region


def slice_instance(annotation: Annotation, label_id: int, frame_or_region, line_points: Sequence) -> Instance:
    """Cut an instance in two along a drawn polyline on one plane (CVAT's slice).

    ``frame_or_region``: a frame index (labels whose frames are 2D) or the plane's region
    (ints for the fixed axes, ``slice(None)`` for the two shown, e.g. ``Plane.region``);
    ``line_points``: (N >= 2, 2) points in the plane's pixel coordinates, in the order of
    the two sliced axes. The larger side keeps the id; the other becomes a new instance of
    the same class, with the source and confidence the instance had there. One undo step.
    """
    ann = annotation
    (rec,) = ann._check_editable([int(label_id)])
    if rec.stuff:
        raise AnnotationError(f"{rec.name} is a stuff class: it has one label and cannot be sliced")
    pts = np.asarray(line_points, float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        raise AnnotationError("a slice needs a line of at least two points (row, column)")
    if not np.isfinite(pts).all():
        raise AnnotationError("the slice line has a point that is not a number")
    region = _plane_region(ann, frame_or_region)
    mask = ann.store.read(region) == rec.id
    if not mask.any():
        raise AnnotationError(f"{rec.name} is not on this plane")
    part = cut_mask(mask, pts)
    if part is None or not part.any():
        raise AnnotationError(f"the line does not cut {rec.name} in two: draw it across the whole object")
    frame = region[ann.frame_axis] if ann.frame_axis is not None else 0
    single = isinstance(frame, (int, np.integer))
    with ann.action("the slice"):
        new = ann.table.allocate(rec.class_name, source=rec.source, confidence=rec.confidence)
        ann.write_mask(part, new.id, region, Mode.INSIDE, within=rec.id, require_pixels=True,
                       source=rec.source_on(frame) if single else rec.source,
                       confidence=rec.score_on(frame) if single else rec.confidence)  # fmt: skip
        if not single:  # a side view across frames: each frame keeps what it was
            made = ann.table.edit(new.id)
            for f in made.frames:
                made.set_frame(f, rec.source_on(f), rec.score_on(f))
    return ann.table[new.id]


# -- splitting disconnected parts ---------------------------------------------------------
class _Union:
    def __init__(self) -> None:
        self.up: dict[int, int] = {}

    def find(self, a: int) -> int:
        up = self.up
        up.setdefault(a, a)
        while up[a] != a:
            up[a] = up[up[a]]
            a = up[a]
        return a

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.up[max(ra, rb)] = min(ra, rb)


def split_parts(annotation: Annotation, label_id: int, frames: FrameSpan = None) -> list[Instance]:
    """Each connected part of an instance becomes an instance of its own (same class); the
    largest part keeps the id. Returns the new instances, largest first. One undo step.

    A part is connected in space (face connectivity within a frame: 2D for a movie, 3D for
    the volume of a 3D+t stack, nD for labels without a frame axis) and *through frames*: a
    part that overlaps itself on the instance's next frame (or slice) is the same part. So
    a volume split along its slices is split by 3D connectivity, and in a movie an object
    that moves stays one instance while a second blob that never touches it becomes
    another. Only ``frames`` are looked at (default: every frame); pixels elsewhere keep
    the id. Frames are read one at a time (labels on disk are never read whole).
    """
    from scipy import ndimage as ndi

    ann = annotation
    (rec,) = ann._check_editable([int(label_id)])
    if rec.stuff:
        raise AnnotationError(f"{rec.name} is a stuff class: its parts are one label by design")
    _, span = ann.span_region(frames)
    if ann.frame_axis is None:
        on = [0]
    else:
        on = sorted(f for f in rec.frames if f in set(span))
    if not on:
        raise AnnotationError(f"{rec.name} is not on frames {span[0]}-{span[-1]}")

    def parts_on(f: int) -> tuple[np.ndarray, int]:
        return ndi.label(ann.store.read(ann.frame_region(f)) == rec.id)

    # pass 1: parts on each frame, joined through frames by overlap; their sizes
    union, size, prev = _Union(), {}, None
    for f in on:
        lab, n = parts_on(f)
        if not n:
            prev = None
            continue
        counts = np.bincount(lab.ravel(), minlength=n + 1)
        for k in range(1, n + 1):
            key = (f << 32) | k
            union.find(key)
            size[key] = int(counts[k])
        if prev is not None:
            pf, plab = prev
            both = (plab > 0) & (lab > 0)
            if both.any():
                pairs = np.unique(np.stack([plab[both], lab[both]], 1), axis=0)
                for a, b in pairs.tolist():
                    union.join((pf << 32) | a, (f << 32) | b)
        prev = (f, lab)
    prev = None
    total: dict[int, int] = {}
    for key, n in size.items():
        root = union.find(key)
        total[root] = total.get(root, 0) + n
    if len(total) < 2:
        raise AnnotationError(f"{rec.name} is one connected piece: there are no parts to split")
    order = sorted(total, key=lambda r: (-total[r], r))  # largest first; ties: the earliest
    # pass 2: every part but the largest takes a new id, frame by frame
    made: dict[int, int] = {}
    with ann.action("the split into parts"):
        for root in order[1:]:
            made[root] = ann.table.allocate(rec.class_name, source=rec.source, confidence=rec.confidence).id
        for f in on:
            lab, n = parts_on(f)
            if not n:
                continue
            targets: dict[int, list[int]] = {}
            for k in range(1, n + 1):
                new = made.get(union.find((f << 32) | k))
                if new is not None:
                    targets.setdefault(new, []).append(k)
            for new, ks in targets.items():
                ann.write_mask(np.isin(lab, ks), new, ann.frame_region(f), Mode.INSIDE, within=rec.id,
                               require_pixels=True, source=rec.source_on(f), confidence=rec.score_on(f))  # fmt: skip
    return [ann.table[made[r]] for r in order[1:]]
