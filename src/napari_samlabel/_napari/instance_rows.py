"""The rows of the Instances list, without Qt: what each row shows, which rows
changed since the last look, and the search, frame and sort rules.

The list follows :attr:`Annotation.changed`, which says *that* something
changed, not what. :class:`RowTracker` finds out cheaply: it keeps a small
signature of every record (its plain fields plus copies of its frame sets) and
compares them, so one commit among thousands of instances rebuilds one row.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from ..core.instances import STATUSES, format_frames

if TYPE_CHECKING:
    from ..core.instances import Instance, InstanceTable


class Row(NamedTuple):
    """What the list shows for one present instance."""

    id: int
    name: str
    class_name: str
    frames: tuple[int, ...]  # sorted
    frames_text: str
    confidence: float
    sources: str
    status: str
    locked: bool
    visible: bool
    parent: int = 0  # the instance it divided from (0: none)
    keyframes: tuple[int, ...] = ()  # sorted: the frames the user made or corrected
    keys_text: str = ""

    @property
    def first(self) -> int:
        return self.frames[0] if self.frames else -1

    @property
    def last(self) -> int:
        return self.frames[-1] if self.frames else -1


def row_of(rec: Instance) -> Row:
    frames = tuple(sorted(rec.frames))
    keys = tuple(sorted(rec.keyframes))
    return Row(
        rec.id, rec.name, rec.class_name, frames, format_frames(frames),
        rec.mean_confidence, rec.sources, rec.status, rec.locked, rec.visible, rec.parent,
        keys, format_frames(keys),
    )  # fmt: skip


def _signature(rec: Instance) -> tuple:
    """Everything a row is made of, frozen (records are edited in place)."""
    return (
        rec.class_name, rec.stuff, rec.status, rec.locked, rec.visible, rec.source, rec.confidence,
        frozenset(rec.frames), dict(rec.frame_scores), dict(rec.frame_sources), rec.parent,
    )  # fmt: skip


def _same(sig: tuple, rec: Instance) -> bool:
    # cheap fields first; the set and dict comparisons run in C
    return (
        sig[0] == rec.class_name and sig[1] == rec.stuff and sig[2] == rec.status and sig[3] == rec.locked
        and sig[4] == rec.visible and sig[5] == rec.source and sig[6] == rec.confidence
        and sig[7] == rec.frames and sig[8] == rec.frame_scores and sig[9] == rec.frame_sources
        and sig[10] == rec.parent
    )  # fmt: skip


@dataclass
class RowChanges:
    added: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    gone: dict[int, Row] = field(default_factory=dict)  # the removed rows as they were shown

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class RowTracker:
    """The rows of the present instances of a table, and what changed since the last :meth:`update`."""

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self._sigs: dict[int, tuple] = {}

    def clear(self) -> None:
        self.rows.clear()
        self._sigs.clear()

    def update(self, table: InstanceTable | None, ids: set[int] | None = None) -> RowChanges:
        """``ids``: the records that can have changed (a table's :class:`ChangeFeed`); None: all."""
        out = RowChanges()
        if table is not None and ids is not None:
            for i in sorted(ids):
                rec = table.get(i)
                if rec is not None and rec.frames:
                    self._follow(rec, out)
                elif i in self.rows:
                    self._drop(i, out)
            return out
        seen: set[int] = set()
        for rec in table or ():
            if rec.frames:  # absent: no row
                seen.add(rec.id)
                self._follow(rec, out)
        if len(seen) != len(self.rows):
            for i in [i for i in self.rows if i not in seen]:
                self._drop(i, out)
        return out

    def _follow(self, rec: Instance, out: RowChanges) -> None:
        sig = self._sigs.get(rec.id)
        if sig is not None and _same(sig, rec):
            return
        self._sigs[rec.id] = _signature(rec)
        self.rows[rec.id] = row_of(rec)
        (out.changed if sig is not None else out.added).append(rec.id)

    def _drop(self, label_id: int, out: RowChanges) -> None:
        out.removed.append(label_id)
        out.gone[label_id] = self.rows.pop(label_id)
        del self._sigs[label_id]


# -- search, frames, sort ----------------------------------------------------
def matches(row: Row, text: str) -> bool:
    """Does the search text (any case) occur in the name, the class or the id?"""
    text = text.strip().lower().lstrip("#")
    if not text:
        return True
    return text in row.name.lower() or text in row.class_name.lower() or text in str(row.id)


def on_frames(row: Row, first: int | None, last: int | None) -> bool:
    """Is the instance on any frame of ``first..last`` (None: no bound)?"""
    if not row.frames:
        return False
    if first is not None and last is not None and first > last:
        first, last = last, first
    lo = row.frames[0] if first is None else first
    hi = row.frames[-1] if last is None else last
    k = bisect_left(row.frames, lo)
    return k < len(row.frames) and row.frames[k] <= hi


#: sort keys by column name: plain ints, floats and strings (Qt compares them itself)
SORT_KEYS = {
    "id": lambda r: r.id,
    "class": lambda r: r.class_name.lower(),
    "frames": lambda r: float(r.first) * 1e7 + r.last,  # by first frame, then last
    "confidence": lambda r: r.confidence,
    "source": lambda r: r.sources,
    "status": lambda r: STATUSES.index(r.status) if r.status in STATUSES else len(STATUSES),
    "locked": lambda r: int(r.locked),
    "parent": lambda r: r.parent,
    "keyframes": lambda r: float(len(r.keyframes)) * 1e7 + (r.keyframes[0] if r.keyframes else -1),  # how many, then first
}
