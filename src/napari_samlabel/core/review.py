"""Review: accept or reject an instance, or one frame of it, with a comment.

A rejection is an *open issue* until it is resolved (or the same instance and frame is
accepted later). Notes are the reviewer's record, not labeling: they are kept in the
project beside the instances and never undone by Ctrl+Z (like the review status).
"""

from __future__ import annotations

import getpass
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

from .errors import SamlabelError

VERDICTS = ("accepted", "rejected")


class ReviewError(SamlabelError, ValueError):
    """A verdict that is not one, or a note that does not exist."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): the note is still kept
        return ""


@dataclass
class ReviewNote:
    id: int
    instance: int
    frame: int | None  # None: the whole instance
    verdict: str
    comment: str = ""
    resolved: bool = False
    author: str = field(default_factory=_who)
    time: str = field(default_factory=_now)

    @property
    def is_open(self) -> bool:
        return self.verdict == "rejected" and not self.resolved

    def where(self) -> str:
        return "all frames" if self.frame is None else f"frame {self.frame}"


class Reviews:
    def __init__(self, notes: list[ReviewNote] | None = None) -> None:
        self.notes: list[ReviewNote] = list(notes or [])

    def __iter__(self) -> Iterator[ReviewNote]:
        return iter(self.notes)

    def __len__(self) -> int:
        return len(self.notes)

    def add(self, instance: int, verdict: str, comment: str = "", frame: int | None = None) -> ReviewNote:
        if verdict not in VERDICTS:
            raise ReviewError(f"a review is {' or '.join(VERDICTS)}, not {verdict!r}")
        frame = None if frame is None else int(frame)
        if verdict == "accepted":  # accepting settles what was raised there before
            for note in self.notes:
                if note.instance == instance and note.is_open and (frame is None or note.frame == frame):
                    note.resolved = True
        note = ReviewNote(max((n.id for n in self.notes), default=0) + 1, int(instance), frame, verdict, comment.strip())
        self.notes.append(note)
        return note

    def __getitem__(self, note_id: int) -> ReviewNote:
        for note in self.notes:
            if note.id == note_id:
                return note
        raise ReviewError(f"no review note {note_id}")

    def resolve(self, note_id: int, resolved: bool = True) -> ReviewNote:
        note = self[note_id]
        note.resolved = bool(resolved)
        return note

    def open_issues(self) -> list[ReviewNote]:
        """Rejections not resolved, in the order of the frames they are on."""
        return sorted((n for n in self.notes if n.is_open), key=lambda n: (-1 if n.frame is None else n.frame, n.instance, n.id))

    def of(self, instance: int) -> list[ReviewNote]:
        return [n for n in self.notes if n.instance == instance]

    def to_json(self) -> list[dict]:
        return [asdict(n) for n in self.notes]

    @classmethod
    def from_json(cls, data: Any) -> Reviews:
        notes = []
        for d in data or []:
            d = dict(d)
            frame = d.get("frame")
            notes.append(ReviewNote(int(d["id"]), int(d["instance"]), None if frame is None else int(frame),
                                    str(d["verdict"]), str(d.get("comment", "")), bool(d.get("resolved", False)),
                                    str(d.get("author", "")), str(d.get("time", ""))))  # fmt: skip
        return cls(notes)
