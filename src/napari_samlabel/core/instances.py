"""The instance table: which label id is which object.

Records are never dropped while a session lives: an instance whose pixels are
all gone is *absent* (no frames) and reappears if an undo brings its pixels
back. That is also why ids are never reused.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Iterable, Iterator

SOURCES = ("manual", "model", "tracked", "interpolated")
STATUSES = ("unreviewed", "accepted", "rejected")


@dataclass
class Instance:
    id: int
    class_name: str
    source: str = "manual"
    confidence: float = 1.0
    frames: set[int] = field(default_factory=set)
    # per-frame model scores where a model produced that frame
    frame_scores: dict[int, float] = field(default_factory=dict)
    status: str = "unreviewed"
    locked: bool = False
    visible: bool = True
    stuff: bool = False

    @property
    def present(self) -> bool:
        return bool(self.frames)

    @property
    def name(self) -> str:
        title = self.class_name[:1].upper() + self.class_name[1:]
        return title if self.stuff else f"{title} ({self.id})"

    def score_on(self, frame: int) -> float:
        return self.frame_scores.get(frame, self.confidence)

    @property
    def mean_confidence(self) -> float:
        """Over the frames it is on: per-frame model scores where known, else its own."""
        if not self.frames:
            return self.confidence
        return float(sum(self.score_on(f) for f in self.frames) / len(self.frames))


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


class InstanceTable:
    """Records keyed by label id, plus which ids are on which frame."""

    def __init__(self, first_id: int = 1) -> None:
        self._records: dict[int, Instance] = {}
        self._on_frame: dict[int, set[int]] = {}
        self._next_id = max(int(first_id), 1)

    # -- ids -------------------------------------------------------------
    @property
    def next_id(self) -> int:
        return self._next_id

    def allocate(self, class_name: str, *, stuff: bool = False, source: str = "manual", confidence: float = 1.0) -> Instance:
        """A new record with an id never used before in this table."""
        inst = Instance(self._next_id, class_name, source=source, confidence=float(confidence), stuff=stuff)
        self._records[inst.id] = inst
        self._next_id += 1
        return inst

    def adopt(self, label_id: int, class_name: str, *, stuff: bool = False, **fields) -> Instance:
        """Record an id that already exists in the data (adopted layers, hand painting)."""
        label_id = int(label_id)
        if label_id <= 0:
            raise ValueError("label 0 is the background, not an instance")
        inst = Instance(label_id, class_name, stuff=stuff, **fields)
        self._records[label_id] = inst
        self._next_id = max(self._next_id, label_id + 1)
        return inst

    # -- reading ---------------------------------------------------------
    def __contains__(self, label_id: object) -> bool:
        return label_id in self._records

    def __getitem__(self, label_id: int) -> Instance:
        try:
            return self._records[int(label_id)]
        except KeyError:
            raise KeyError(f"no instance with label id {label_id}") from None

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
        return {r.id for r in self._records.values() if r.locked}

    # -- presence --------------------------------------------------------
    def set_frame_presence(self, frame: int, ids: Iterable[int]) -> list[int]:
        """Record exactly which ids are on ``frame``; return ids without a record."""
        ids = {int(i) for i in ids if int(i) != 0}
        before = self._on_frame.get(frame, set())
        for gone in before - ids:
            if gone in self._records:
                self._records[gone].frames.discard(frame)
                self._records[gone].frame_scores.pop(frame, None)
        unknown = []
        for i in ids:
            rec = self._records.get(i)
            if rec is None:
                unknown.append(i)
            else:
                rec.frames.add(frame)
        if ids:
            self._on_frame[frame] = ids
        else:
            self._on_frame.pop(frame, None)
        return sorted(unknown)

    def set_presence(self, frame: int, label_id: int, present: bool) -> None:
        """Record one known id as on (or off) one frame."""
        rec = self._records[label_id]
        ids = self._on_frame.setdefault(frame, set())
        if present:
            rec.frames.add(frame)
            ids.add(label_id)
        else:
            rec.frames.discard(frame)
            rec.frame_scores.pop(frame, None)
            ids.discard(label_id)
            if not ids:
                del self._on_frame[frame]

    # -- undo support ----------------------------------------------------
    def state(self) -> dict:
        """A deep copy of everything but the id counter (ids are never given back)."""
        return {"records": copy.deepcopy(self._records), "on_frame": copy.deepcopy(self._on_frame)}

    def restore(self, state: dict) -> None:
        self._records = copy.deepcopy(state["records"])
        self._on_frame = copy.deepcopy(state["on_frame"])
        if self._records:
            self._next_id = max(self._next_id, max(self._records) + 1)

    # -- files -----------------------------------------------------------
    def to_json(self) -> dict:
        recs = []
        for r in sorted(self._records.values(), key=lambda r: r.id):
            d = dict(r.__dict__)
            d["frames"] = sorted(r.frames)
            d["frame_scores"] = {str(k): v for k, v in sorted(r.frame_scores.items())}
            recs.append(d)
        return {"next_id": self._next_id, "instances": recs}

    @classmethod
    def from_json(cls, data: dict) -> InstanceTable:
        table = cls(int(data.get("next_id", 1)))
        for d in data.get("instances", []):
            d = dict(d)
            frames = set(int(f) for f in d.pop("frames", []))
            scores = {int(k): float(v) for k, v in d.pop("frame_scores", {}).items()}
            label_id, cls_name = int(d.pop("id")), str(d.pop("class_name"))
            rec = table.adopt(label_id, cls_name, **d)
            rec.frame_scores = scores
            for f in frames:
                rec.frames.add(f)
                table._on_frame.setdefault(f, set()).add(label_id)
        return table

    # -- export ----------------------------------------------------------
    def to_columns(self, present_only: bool = True) -> dict[str, list]:
        """Columns for a napari ``features`` table (``index`` = label id)."""
        rows = [r for r in sorted(self._records.values(), key=lambda r: r.id) if r.present or not present_only]
        return {
            "index": [r.id for r in rows],
            "class": [r.class_name for r in rows],
            "name": [r.name for r in rows],
            "confidence": [round(r.mean_confidence, 4) for r in rows],
            "source": [r.source for r in rows],
            "frames": [format_frames(r.frames) for r in rows],
            "first_frame": [min(r.frames) if r.frames else -1 for r in rows],
            "last_frame": [max(r.frames) if r.frames else -1 for r in rows],
            "status": [r.status for r in rows],
            "locked": [r.locked for r in rows],
            "visible": [r.visible for r in rows],
        }
