"""Segment from a prompts file without a viewer (``samlabel segment``).

PROMPTS.json::

    {"objects": [{"id": 1, "class": "nucleus", "frame": [0],
                  "points": [[row, col], ...], "labels": [1, 0],
                  "box": [row0, col0, row1, col1]}]}

Coordinates are data pixels of the plane; ``frame`` gives the indices of the
non-plane axes in order (empty for 2D). The plane is the last two axes unless
``plane_axes`` says otherwise. Each object's ``class`` goes to the class table written
beside the labels (:func:`object_classes`, ``<labels>.instances.csv``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .core.errors import SamlabelError
from .core.annotation import Annotation
from .core.compose import Mode
from .core.ontology import Ontology
from .core.planes import Plane, finite_range, window_to_uint8
from .core.prompts import PromptError, PromptSet


class PromptFileError(SamlabelError, ValueError):
    """A prompts file that does not fit the format or the image; the message says where."""


def load_prompts(path: str | Path) -> list[dict]:
    """The objects of a prompts file, checked against schemas/prompts.schema.json; each keeps
    where it came from (``_where``), so later errors (a frame outside the image) name the file."""
    from .core.jsonfile import check, read_json

    path = Path(path)
    data = read_json(path, PromptFileError, "prompts file")
    check(data, "prompts", path, PromptFileError)
    objects = [dict(obj, _where=f"{path}: objects[{i}]") for i, obj in enumerate(data["objects"])]
    first: dict[int, dict] = {}
    for obj in objects:  # one id is one instance: two classes for it is a mistake, not a choice
        seen = first.setdefault(int(obj["id"]), obj)
        if obj.get("class", "object") != seen.get("class", "object"):
            raise PromptFileError(f"{obj['_where']}: id {obj['id']} is class {obj.get('class', 'object')!r} here but "
                                  f"{seen.get('class', 'object')!r} in {seen['_where'].split(': ')[-1]}")  # fmt: skip
    return objects


def object_classes(objects: list[dict], ids: Iterable[int] | None = None) -> dict[int, str]:
    """id -> the class its prompts named, for ``ids`` (the ids the labels hold; None: all).
    An id whose prompts name no class is left out: an export then asks for its class."""
    keep = None if ids is None else {int(i) for i in ids}
    return {int(o["id"]): str(o["class"]) for o in objects if "class" in o and (keep is None or int(o["id"]) in keep)}


def _where(obj: dict) -> str:
    return obj.get("_where") or f"object {obj['id']}"


def model_window(meta: dict, given=None) -> tuple[float, float] | None:
    """The intensity window the model sees: the one asked for (``--window``), else the file's
    own (a DICOM's window, what the viewer shows), else None (the data range)."""
    window = given if given else meta.get("window")
    return (float(window[0]), float(window[1])) if window else None


def image_is_rgb(data: np.ndarray) -> bool:
    return data.ndim >= 3 and data.shape[-1] in (3, 4) and data.dtype == np.uint8


def _axis(axis: int, ndim: int, option: str) -> int:
    """``axis`` as 0..ndim-1 (negative counts from the end); one outside the image is refused,
    never wrapped round onto another axis."""
    if not -ndim <= axis < ndim:
        raise PromptFileError(f"{option} {axis} is outside the {ndim}D image (axes 0-{ndim - 1}, or -1 to -{ndim})")
    return axis % ndim


def object_plane(obj: dict, shape: Sequence[int], plane_axes: Sequence[int]) -> Plane:
    ndim = len(shape)
    axes = [_axis(a, ndim, "--plane-axes") for a in plane_axes]
    if axes[0] == axes[1]:
        raise PromptFileError(f"--plane-axes {plane_axes[0]} {plane_axes[1]} name one axis twice")
    others = [a for a in range(ndim) if a not in axes]
    frame = list(obj.get("frame", []))
    if len(frame) != len(others):
        raise PromptFileError(
            f"{_where(obj)}: 'frame' needs {len(others)} index(es) for axes {others}, got {frame}"
        )
    index = [0] * ndim
    for a, i in zip(others, frame):
        if not 0 <= int(i) < shape[a]:
            raise PromptFileError(f"{_where(obj)}: frame {int(i)} is outside axis {a} of the image (0-{shape[a] - 1})")
        index[a] = int(i)
    return Plane(tuple(shape), (axes[0], axes[1]), tuple(index))


def object_prompts(obj: dict) -> PromptSet:
    points = obj.get("points", [])
    labels = obj.get("labels", [1] * len(points))
    try:
        return PromptSet(points, labels, obj.get("box"))
    except PromptError as e:
        raise PromptFileError(f"{_where(obj)}: {e}") from None


def segment_objects(
    data: np.ndarray,
    objects: list[dict],
    backend,
    plane_axes: Sequence[int] = (-2, -1),
    window: tuple[float, float] | None = None,
    mode: Mode | str = Mode.EXCLUDE,
    rgb: bool | None = None,
) -> np.ndarray:
    """A label array of the image's (spatial) shape with each object's mask under its id."""
    rgb = image_is_rgb(data) if rgb is None else rgb
    shape = data.shape[:-1] if rgb else data.shape
    if window is None and not rgb:
        window = finite_range(data)  # as napari's default contrast, NaN and inf left out
    check_clicks(backend)  # SAM 3's concept model: said before any plane is read
    labels = np.zeros(shape, np.uint32)
    onto = Ontology()
    ann = Annotation(labels, onto, frame_axis=None)
    for obj in objects:
        cls = str(obj.get("class", "object"))
        if cls not in onto:
            onto.add(cls, hotkey=None)
        if int(obj["id"]) not in ann.table:
            ann.table.adopt(int(obj["id"]), cls)
    for obj in objects:
        plane = object_plane(obj, shape, plane_axes)
        prompts = object_prompts(obj)
        try:
            prompts.check(plane.hw)
        except PromptError as e:
            raise PromptFileError(f"{_where(obj)}: {e}") from None
        backend.set_image(window_to_uint8(plane.read(data), window, rgb=rgb))
        pred = backend.predict(prompts, multimask=True)
        ann.write_mask(plane.mask_to_region(pred.masks[0]), int(obj["id"]), plane.region, mode,
                       source="model", confidence=float(pred.scores[0]))  # fmt: skip
    return labels


def track_objects(
    data: np.ndarray,
    objects: list[dict],
    backend,
    axis: int | None = None,
    direction: str = "forward",
    n_frames: int | None = 30,
    stop_after: int | None = None,
    plane_axes: Sequence[int] = (-2, -1),
    window: tuple[float, float] | None = None,
    mode: Mode | str = Mode.EXCLUDE,
    rgb: bool | None = None,
) -> np.ndarray:
    """Segment each object on its start frame from its prompts, then track them all.

    Objects sharing a start plane are tracked together in one run. Nothing is revisited
    after the runs, so a tracker that caches frames' features (``reuse``, SAM 2's) keeps only
    those a later run of this call reads again: memory stays flat in the stack's length.
    """
    from itertools import chain

    from .backends.tracking import FrameSource
    from .core.tracking_run import TrackOptions, TrackRun, frame_order

    rgb = image_is_rgb(data) if rgb is None else rgb
    shape = data.shape[:-1] if rgb else data.shape
    if axis is not None:
        _axis(axis, len(shape), "--axis")  # said before any object is segmented
    if window is None and not rgb:
        window = finite_range(data)
    check_clicks(backend)
    tracker = tracker_of(backend)  # before any object is segmented: a model that cannot track is said first
    labels = segment_objects(data, objects, backend, plane_axes, window, mode, rgb)
    ann = Annotation(labels, Ontology(), frame_axis=None)
    for i in np.unique(labels):
        if i:
            ann.table.adopt(int(i), "object")
    options = TrackOptions(direction, n_frames, stop_after, Mode(mode))
    groups: dict[tuple, list[dict]] = {}
    for obj in objects:
        plane = object_plane(obj, shape, plane_axes)
        groups.setdefault((plane.displayed, plane.index), []).append(obj)
    runs = []  # (frames, start, objects, the planes the run visits), all checked before any runs
    for (displayed, index), objs in groups.items():
        plane = Plane(tuple(shape), displayed, index)
        free = [a for a in range(len(shape)) if a not in displayed]
        if not free:
            raise PromptFileError("a 2D image has no axis to track along")
        ax = free[0] if axis is None else _axis(axis, len(shape), "--axis")
        if ax not in free:
            raise PromptFileError(f"--axis {axis} is a plane axis")
        frames = FrameSource(data, plane, ax, window, rgb)
        start = plane.index[ax]
        visits = {frames.plane_at(f) for f in [start, *chain(*frame_order(start, len(frames), direction, n_frames))]}
        runs.append((frames, start, objs, visits))
    for i, (frames, start, objs, _) in enumerate(runs):
        if hasattr(tracker, "reuse"):  # one shot: keep only the features a later run reads again
            later = set().union(*(visits for *_, visits in runs[i + 1 :]))
            tracker.reuse = lambda f, frames=frames, later=later: frames.plane_at(f) in later
        here = frames.plane.read(labels)
        ids = [int(o["id"]) for o in objs if (here == int(o["id"])).any()]  # a prompt that found nothing
        if ids:
            TrackRun(ann, tracker, frames, ids, start, options).run()
    return labels


# -- what a model can do, checked before any work -------------------------------------------
class ModelMismatch(SamlabelError, ValueError):
    """A model that cannot do what a command asks (clicks, tracking, text): the one-line
    message names the model and what to use instead."""


def _name(backend) -> str:
    return str(getattr(backend, "name", "") or type(backend).__name__)


def takes_clicks(backend) -> bool:
    """Whether ``backend.predict`` takes clicks and boxes: a backend that does not says so
    (``takes_clicks = False``, as SAM 3 from a concept-only folder)."""
    return bool(getattr(backend, "takes_clicks", True))


def check_clicks(backend) -> None:
    """Refuse a model that takes no clicks or boxes, in one line, before any plane is read."""
    if not takes_clicks(backend):
        name = _name(backend)
        raise ModelMismatch(f"{name} finds objects by a text, not by clicks or boxes: use --model edgetam, a SAM 2 "
                            f"model or seeds for a prompts file, or `samlabel label-all --text TEXT --model {name}`")  # fmt: skip


def tracker_of(backend):
    """The backend's tracker, made before any object is segmented (an EdgeTAM folder without
    its video model is said at once, not after the first frame's work); a model that
    cannot track is refused in one line."""
    make = getattr(backend, "tracker", None)
    if make is None:
        raise ModelMismatch(f"{_name(backend)} cannot track: use --model edgetam, a SAM 2 model or seeds")
    return make()


def concept_finder(backend, text: str | None = None, threshold: float | None = None):
    """``rgb -> [(mask, score)]``: every detection of ``text`` by a concept model (one with
    ``segment_text``, SAM 3), or with no text every object a grid model finds (``segment_all``:
    EdgeTAM, SAM 2, seeds). A text for a model that cannot read one is refused, not ignored:
    its grid would label every object, background pieces too, as the text's class."""
    import inspect

    name = _name(backend)
    by_text = getattr(backend, "segment_text", None)
    text = " ".join(str(text or "").split())
    if text:
        if by_text is None:
            raise ModelMismatch(f"{name} cannot read a text (--text {text!r}): use --model sam3, or drop --text and "
                                f"give --class NAME to label every object {name} finds on a grid")  # fmt: skip
        return lambda rgb: by_text(rgb, text, threshold=threshold)
    grid = getattr(backend, "segment_all", None)
    if by_text is not None or grid is None:
        what = "a text: give --text TEXT" if by_text is not None else "no grid: use --model sam3 with --text TEXT"
        raise ModelMismatch(f"{name} labels all by {what}")
    kwargs = {}
    if threshold is not None and "min_score" in inspect.signature(grid).parameters:
        kwargs["min_score"] = threshold
    return lambda rgb: grid(rgb, **kwargs)


def _planes(shape: Sequence[int], plane_axes: Sequence[int]) -> tuple[list[Plane], int | None]:
    """Every plane of the image (a 2D image: one), and the frame axis when there is one."""
    ndim = len(shape)
    axes = [_axis(a, ndim, "--plane-axes") for a in plane_axes]
    if axes[0] == axes[1]:
        raise PromptFileError(f"--plane-axes {plane_axes[0]} {plane_axes[1]} name one axis twice")
    others = [a for a in range(ndim) if a not in axes]
    planes = []
    for index in np.ndindex(*[shape[a] for a in others]):
        full = [0] * ndim
        for a, i in zip(others, index):
            full[a] = int(i)
        planes.append(Plane(tuple(shape), (axes[0], axes[1]), tuple(full)))
    return planes, (others[0] if len(others) == 1 else None)


def label_all(
    data,
    backend,
    text: str | None = None,
    class_name: str | None = None,
    plane_axes: Sequence[int] = (-2, -1),
    window: tuple[float, float] | None = None,
    threshold: float | None = None,
    rgb: bool | None = None,
) -> tuple[np.ndarray, Annotation]:
    """Every detection of ``text`` (see :func:`concept_finder`) on every plane of the image,
    each an instance of ``class_name`` (default: the text) with its score as confidence and
    source ``model``; best first, a detection keeps only pixels no better one took.
    ``data`` is read a plane at a time (a memory-mapped or lazy stack is never loaded whole).
    Returns (labels, the annotation: its ontology and instance table)."""
    find = concept_finder(backend, text, threshold)  # a model that cannot: said before any plane is read
    cls = " ".join(str(class_name or text or "").split())
    if not cls:
        raise ModelMismatch("give --class NAME (or --text TEXT, which names the class too)")
    rgb = image_is_rgb(data) if rgb is None else rgb
    shape = tuple(data.shape[:-1] if rgb else data.shape)
    planes, frame_axis = _planes(shape, plane_axes)
    if window is None and not rgb:  # the whole image's range (as napari's contrast), a plane at a time
        ranges = [finite_range(p.read(data)) for p in planes]
        window = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    onto = Ontology()
    onto.add(cls, hotkey=None)
    labels = np.zeros(shape, np.uint32)
    ann = Annotation(labels, onto, frame_axis=frame_axis)
    for plane in planes:
        found = find(window_to_uint8(plane.read(data, rgb), window, rgb=rgb))
        taken = plane.read(labels) != 0
        for mask, score in found:
            mask = np.asarray(mask, bool)
            if not (mask & ~taken).any():
                continue  # covered by better detections
            rec = ann.new_instance(cls, source="model", confidence=float(score))
            ann.write_mask(plane.mask_to_region(mask), rec.id, plane.region, Mode.EXCLUDE, source="model",
                           confidence=float(score))  # fmt: skip
            taken |= mask
    return labels, ann
