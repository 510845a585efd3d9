"""The instance table: which label id is which object.

Records are never dropped while a session lives: an instance whose pixels are
all gone is *absent* (no frames) and reappears if an undo brings its pixels
back. Ids are never reused: an id once handed out or painted stays taken.

Confidence and source are per frame: a frame written by the user is 1.0 and
``manual``; tracked, interpolated and model frames carry their own score.
Instance-level figures are derived from the frames.

Undo support is a journal: while a transaction is open the table keeps a copy
of each record *before* its first change (:meth:`InstanceTable.edit`), so an
undo step restores exactly the records it changed. Lock, visibility and review
status are the user's view state and are never restored by undo.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator

from .attributes import FRAME_LABELS, FrameLabels, json_values, shown
from .attributes import from_json as attribute_from_json
from .errors import SamlabelError
from .label_ids import MAX_ID, LabelIdError
from .review import Reviews

SOURCES = ("manual", "model", "tracked", "interpolated")
KEY_SOURCES = ("manual", "model")  # the user's frames: keyframes for tracking and interpolation
STATUSES = ("unreviewed", "accepted", "rejected")
VIEW_STATE = ("status", "locked", "visible")  # the user's, not undone


class NoSuchInstance(SamlabelError, KeyError):
    """A label id that no instance of the table has."""


@dataclass
class Instance:
    id: int
    class_name: str
    # what a frame without its own entry in frame_sources/frame_scores holds
    # (adopted layers, files from other tools)
    source: str = "manual"
    confidence: float = 1.0
    frames: set[int] = field(default_factory=set)
    frame_scores: dict[int, float] = field(default_factory=dict)
    frame_sources: dict[int, str] = field(default_factory=dict)
    status: str = "unreviewed"
    locked: bool = False
    visible: bool = True
    stuff: bool = False
    # lineage: the instance this one divided from (0: none), as the Cell Tracking Challenge writes it
    parent: int = 0
    # the class's attributes: static ones {name: value}, dynamic ones {frame: {name: value}}
    attributes: dict[str, Any] = field(default_factory=dict)
    frame_attributes: dict[int, dict[str, Any]] = field(default_factory=dict)

    def copy(self) -> Instance:
        return replace(self, frames=set(self.frames), frame_scores=dict(self.frame_scores),
                       frame_sources=dict(self.frame_sources), attributes=dict(self.attributes),
                       frame_attributes={f: dict(v) for f, v in self.frame_attributes.items()})  # fmt: skip

    def attributes_on(self, frame: int | None = None) -> dict[str, Any]:
        """Static values, and the dynamic ones on ``frame``."""
        out = dict(self.attributes)
        if frame is not None:
            out.update(self.frame_attributes.get(int(frame), {}))
        return out

    def set_frame(self, frame: int, source: str, score: float) -> None:
        """What produced the instance on one frame; the user's frames are 1.0."""
        self.frame_sources[frame] = source
        self.frame_scores[frame] = 1.0 if source == "manual" else float(score)

    def forget_frame(self, frame: int) -> None:
        self.frames.discard(frame)
        self.frame_scores.pop(frame, None)
        self.frame_sources.pop(frame, None)

    @property
    def present(self) -> bool:
        return bool(self.frames)

    @property
    def name(self) -> str:
        title = self.class_name[:1].upper() + self.class_name[1:]
        return title if self.stuff else f"{title} ({self.id})"

    def score_on(self, frame: int) -> float:
        return self.frame_scores.get(frame, self.confidence)

    def source_on(self, frame: int) -> str:
        return self.frame_sources.get(frame, self.source)

    @property
    def keyframes(self) -> set[int]:
        """The frames the user made or corrected (prompts, brush, commits: ``manual`` or
        ``model``), not those a run filled in (``tracked``, ``interpolated``). Derived from
        the per-frame sources, so an undo brings back exactly the keyframes it had."""
        return {f for f in self.frames if self.source_on(f) in KEY_SOURCES}

    @property
    def mean_confidence(self) -> float:
        """Over the frames it is on (what the dock, features, status bar and CSV show)."""
        if not self.frames:
            return self.confidence
        return float(sum(self.score_on(f) for f in self.frames) / len(self.frames))

    @property
    def sources(self) -> str:
        """The sources of its frames, e.g. ``manual`` or ``manual+tracked``."""
        found = {self.source_on(f) for f in self.frames} or {self.source}
        return "+".join(sorted(found, key=lambda s: (SOURCES.index(s) if s in SOURCES else len(SOURCES), s)))


def rename_class_in(records: Iterable[Instance | None], old: str, new: str) -> None:
    """Records (live ones, or pre-images kept for undo) take a class's new name."""
    for rec in records:
        if isinstance(rec, Instance) and rec.class_name == old:
            rec.class_name = new


def format_frames(frames: Iterable[int]) -> str:
    """Compact frame list: {0,1,2,5,7,8} -> '0-2, 5, 7-8'."""
    out: list[str] = []
    run: list[int] = []
    for f in sorted(frames):
        if run and f == run[-1] + 1:
            run.append(f)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [f]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(out)


def attribute_summary(static: dict[str, Any], per_frame: dict[int, dict[str, Any]]) -> dict[str, str]:
    """Each attribute as one text: a static value as it is, a dynamic one as its runs of
    frames, e.g. ``G1 (0-11), M (12-15)`` (tables and CSV, one row per instance)."""
    out = {k: shown(v) for k, v in static.items()}
    frames_of: dict[str, dict[str, list[int]]] = {}
    for f, values in sorted(per_frame.items()):
        for k, v in values.items():
            frames_of.setdefault(k, {}).setdefault(shown(v), []).append(f)
    for k, by_value in frames_of.items():
        out[k] = ", ".join(f"{v} ({format_frames(fs)})" for v, fs in sorted(by_value.items(), key=lambda kv: min(kv[1])))
    return out


class InstanceTable:
    """Records keyed by label id, plus which ids are on which frame."""

    def __init__(self, first_id: int = 1) -> None:
        self._records: dict[int, Instance] = {}
        self._on_frame: dict[int, set[int]] = {}
        self._next_id = max(int(first_id), 1)
        self._painted: set[int] = set()  # ids that have ever had pixels: never handed out again
        self.journal: dict[int, Instance | None] | None = None  # the open transaction's pre-images
        self._feeds: list[ChangeFeed] = []  # views that update only the records that changed
        self._locked: set[int] = set()
        self.frame_labels = FrameLabels()  # frame classifications; journaled under FRAME_LABELS
        self.reviews = Reviews()  # the reviewer's notes: kept in the project, never undone

    # -- ids -------------------------------------------------------------
    @property
    def next_id(self) -> int:
        """The id :meth:`allocate` hands out next: past every id used, and once that passes
        MAX_ID (an import or a file took the largest id), the lowest id never used."""
        if self._next_id > MAX_ID or self._next_id in self._records:
            self._next_id = self._free_id()
        return self._next_id

    def _free_id(self) -> int:
        start = self._next_id if self._next_id <= MAX_ID else 1
        for first, last in ((start, MAX_ID), (1, start - 1)):
            label_id = next((i for i in range(first, last + 1) if i not in self._records), None)
            if label_id is not None:
                return label_id
        raise LabelIdError(f"every label id from 1 to {MAX_ID} is in use")

    def allocate(self, class_name: str, *, stuff: bool = False, source: str = "manual", confidence: float = 1.0) -> Instance:
        """A new record with an id never used before in this table."""
        inst = Instance(self.next_id, class_name, source=source, confidence=float(confidence), stuff=stuff)
        self._note(inst.id)
        self._records[inst.id] = inst
        self._next_id += 1
        return inst

    def is_unused(self, label_id: int) -> bool:
        """A record that was handed out but has never had a pixel (a brush's fresh id)."""
        return int(label_id) in self._records and int(label_id) not in self._painted

    def adopt(self, label_id: int, class_name: str, *, stuff: bool = False, **fields) -> Instance:
        """Record an id that already exists in the data (adopted layers, hand painting)."""
        label_id = int(label_id)
        if label_id <= 0:
            raise ValueError("label 0 is the background, not an instance")
        if label_id > MAX_ID:  # a project holding it could not be opened again
            raise LabelIdError(f"label id {label_id} is above {MAX_ID}, the largest label id napari and this plugin keep")
        inst = Instance(label_id, class_name, stuff=stuff, **fields)
        self._note(label_id)
        self._records[label_id] = inst
        self._locked.discard(label_id)
        if inst.locked:
            self._locked.add(label_id)
        self._next_id = max(self._next_id, label_id + 1)
        return inst

    # -- the journal -------------------------------------------------------
    def _note(self, label_id: int) -> None:
        """Remember a record's pre-image for the open transaction (first change only)."""
        for feed in self._feeds:
            feed.ids.add(label_id)
        j = self.journal
        if j is not None and label_id not in j:
            if label_id == FRAME_LABELS:
                j[label_id] = self.frame_labels.copy()
                return
            rec = self._records.get(label_id)
            j[label_id] = None if rec is None else rec.copy()

    def edit_frame_labels(self) -> FrameLabels:
        """The frame classifications, to be changed by the caller (journaled for undo)."""
        self._note(FRAME_LABELS)
        return self.frame_labels

    def edit(self, label_id: int) -> Instance:
        """The record, to be changed by the caller (journaled for undo)."""
        rec = self[label_id]
        self._note(rec.id)
        return rec

    def snapshot(self, ids: Iterable[int]) -> dict[int, Instance | None]:
        return {i: (self.frame_labels.copy() if i == FRAME_LABELS else self._records[i].copy() if i in self._records
                    else None) for i in ids}  # fmt: skip

    def put(self, images: dict[int, Instance | None]) -> None:
        """Put records back as they were (undo/redo), keeping each one's view state.

        A record that did not exist then stays, absent: ids are never reused."""
        for i, image in images.items():
            self._note(i)
            if i == FRAME_LABELS:
                self.frame_labels = image.copy()
                continue
            current = self._records.get(i)
            if current is not None:
                for f in current.frames:
                    ids = self._on_frame.get(f)
                    if ids is not None:
                        ids.discard(i)
                        if not ids:
                            del self._on_frame[f]
            if image is None:
                if current is not None:
                    current.frames.clear()
                    current.frame_scores.clear()
                    current.frame_sources.clear()
                    current.parent = 0  # a record made by the step undone had no lineage before it
                    current.attributes, current.frame_attributes = {}, {}
                continue
            rec = image.copy()
            if current is not None:
                for name in VIEW_STATE:
                    setattr(rec, name, getattr(current, name))
            self._records[i] = rec
            (self._locked.add if rec.locked else self._locked.discard)(i)
            for f in rec.frames:
                self._on_frame.setdefault(f, set()).add(i)
            if rec.frames:
                self._painted.add(i)
            self._next_id = max(self._next_id, i + 1)

    def rename_class(self, old: str, new: str) -> None:
        for rec in self._records.values():
            if rec.class_name == old:
                for feed in self._feeds:
                    feed.ids.add(rec.id)
        rename_class_in(self._records.values(), old, new)

    # -- the user's view state (never undone, not journaled) -----------------
    def set_view(self, label_id: int, **state) -> Instance:
        """Change a record's lock, visibility or review status."""
        rec = self[label_id]
        for name, value in state.items():
            if name not in VIEW_STATE:
                raise ValueError(f"{name!r} is not view state ({', '.join(VIEW_STATE)})")
            setattr(rec, name, value)
        (self._locked.add if rec.locked else self._locked.discard)(rec.id)
        for feed in self._feeds:
            feed.ids.add(rec.id)
        return rec

    # -- views that follow the changes -----------------------------------------
    def watch(self) -> ChangeFeed:
        """A feed of the ids changed from now on (everything, at first)."""
        feed = ChangeFeed(self)
        self._feeds.append(feed)
        return feed

    # -- reading ---------------------------------------------------------
    def __contains__(self, label_id: object) -> bool:
        return label_id in self._records

    def __getitem__(self, label_id: int) -> Instance:
        try:
            return self._records[int(label_id)]
        except KeyError:
            raise NoSuchInstance(f"no instance with label id {label_id}") from None

    def get(self, label_id: int) -> Instance | None:
        return self._records.get(int(label_id))

    def __iter__(self) -> Iterator[Instance]:
        return iter(self._records.values())

    def __len__(self) -> int:
        return len(self._records)

    def present(self) -> list[Instance]:
        return [r for r in self._records.values() if r.present]

    def of_class(self, class_name: str, present_only: bool = True) -> list[Instance]:
        return [r for r in self._records.values() if r.class_name == class_name and (r.present or not present_only)]

    def stuff_instance(self, class_name: str) -> Instance | None:
        return next((r for r in self._records.values() if r.stuff and r.class_name == class_name), None)

    def on_frame(self, frame: int) -> set[int]:
        return set(self._on_frame.get(frame, ()))

    def locked_ids(self) -> set[int]:
        return set(self._locked)

    # -- presence --------------------------------------------------------
    def set_frame_presence(self, frame: int, ids: Iterable[int]) -> list[int]:
        """Record exactly which ids are on ``frame``; return ids without a record."""
        ids = {int(i) for i in ids if int(i) != 0}
        before = self._on_frame.get(frame, set())
        for gone in before - ids:
            if gone in self._records:
                self.edit(gone).forget_frame(frame)
        unknown = []
        for i in ids:
            rec = self._records.get(i)
            if rec is None:
                unknown.append(i)
            elif frame not in rec.frames:
                self.edit(i).frames.add(frame)
                self._painted.add(i)
        if ids:
            self._on_frame[frame] = ids
        else:
            self._on_frame.pop(frame, None)
        return sorted(unknown)

    def set_presence(self, frame: int, label_id: int, present: bool) -> None:
        """Record one known id as on (or off) one frame."""
        rec = self._records[label_id]
        if present == (frame in rec.frames):
            return
        self._note(label_id)
        ids = self._on_frame.setdefault(frame, set())
        if present:
            rec.frames.add(frame)
            self._painted.add(label_id)
            ids.add(label_id)
        else:
            rec.forget_frame(frame)
            ids.discard(label_id)
            if not ids:
                del self._on_frame[frame]

    # -- files -----------------------------------------------------------
    def to_json(self) -> dict:
        recs = []
        for r in sorted(self._records.values(), key=lambda r: r.id):
            d = dict(r.__dict__)
            d["frames"] = sorted(r.frames)
            d["frame_scores"] = {str(k): v for k, v in sorted(r.frame_scores.items())}
            d["frame_sources"] = {str(k): v for k, v in sorted(r.frame_sources.items())}
            d["attributes"] = json_values(r.attributes)
            d["frame_attributes"] = {str(f): json_values(vals) for f, vals in sorted(r.frame_attributes.items())}
            recs.append(d)
        out = {"next_id": self.next_id, "instances": recs}
        if self.frame_labels.values:
            out["frame_labels"] = self.frame_labels.to_json()
        if len(self.reviews):
            out["reviews"] = self.reviews.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict) -> InstanceTable:
        table = cls(int(data.get("next_id", 1)))
        for d in data.get("instances", []):
            d = dict(d)
            frames = set(int(f) for f in d.pop("frames", []))
            scores = {int(k): float(v) for k, v in d.pop("frame_scores", {}).items()}
            sources = {int(k): str(v) for k, v in d.pop("frame_sources", {}).items()}
            label_id, cls_name = int(d.pop("id")), str(d.pop("class_name"))
            d["parent"] = int(d.get("parent", 0) or 0)  # projects from before lineage have none
            d["attributes"] = {k: attribute_from_json(v) for k, v in (d.get("attributes") or {}).items()}
            d["frame_attributes"] = {int(f): {k: attribute_from_json(v) for k, v in vals.items()}
                                     for f, vals in (d.get("frame_attributes") or {}).items()}  # fmt: skip
            rec = table.adopt(label_id, cls_name, **d)
            rec.frame_scores, rec.frame_sources = scores, sources
            for f in frames:
                rec.frames.add(f)
                table._on_frame.setdefault(f, set()).add(label_id)
                table._painted.add(label_id)
        table.frame_labels = FrameLabels.from_json(data.get("frame_labels"))
        table.reviews = Reviews.from_json(data.get("reviews"))
        return table

    # -- export ----------------------------------------------------------
    def to_columns(self, present_only: bool = True) -> dict[str, list]:
        """Columns for a napari ``features`` table (``index`` = label id)."""
        rows = [feature_row(r) for r in sorted(self._records.values(), key=lambda r: r.id) if r.present or not present_only]
        return {name: [row[k] for row in rows] for k, name in enumerate(FEATURE_COLUMNS)}


#: the columns of a labels layer's ``features`` table, one row per present instance
FEATURE_COLUMNS = ("index", "class", "name", "confidence", "source", "frames", "first_frame", "last_frame", "status",
                   "locked", "visible", "parent", "attributes")  # fmt: skip


def feature_row(r: Instance) -> tuple:
    """One instance's row of :data:`FEATURE_COLUMNS`."""
    summary = attribute_summary(r.attributes, r.frame_attributes)
    return (r.id, r.class_name, r.name, round(r.mean_confidence, 4), r.sources, format_frames(r.frames),
            min(r.frames) if r.frames else -1, max(r.frames) if r.frames else -1, r.status, r.locked, r.visible,
            r.parent, "; ".join(f"{k}: {v}" for k, v in summary.items()))  # fmt: skip


class ChangeFeed:
    """The ids of the records changed since the last :meth:`take` (every change of a record
    goes through the table's journal hook), so a view of 50,000 instances redraws only the
    few an edit touched."""

    def __init__(self, table: InstanceTable) -> None:
        self._table = table
        self.ids: set[int] = set()
        self.everything = True  # a new view starts from all of it

    def take(self) -> set[int] | None:
        """The ids changed since the last call; None: everything (rebuild)."""
        ids, everything = self.ids, self.everything
        self.ids, self.everything = set(), False
        return None if everything else ids

    def close(self) -> None:
        if self in self._table._feeds:
            self._table._feeds.remove(self)
