"""A label array, its instance table and its ontology, edited through one path.

Everything that changes labels goes through :meth:`Annotation.write_mask` or
:meth:`Annotation._relabel`, inside :meth:`Annotation.action`, so the panoptic
rules and locks hold everywhere and each user action is one undo step when the
store keeps history (the napari store does). Works on plain numpy arrays::

    ann = Annotation(np.zeros((10, 64, 64), np.uint32), Ontology(), frame_axis=0)
    ann.ontology.add("nucleus")
    inst = ann.new_instance("nucleus")
    ann.write_mask(mask2d, inst.id, region=(3,))
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Iterable, Iterator, Protocol, Sequence, Tuple, Union

import numpy as np
from psygnal import Signal

from .errors import SamlabelError
from .chunked import (MEMORY, BoxAtom, Spill, apply_box, atom_pixels, block_shape_of, box_atoms, distinct, iter_blocks, local_in,
                      region_shape)  # fmt: skip
from .compose import Mode, allowed_pixels, frames_touched, normalize_region, overwrite_hint, region_indices
from .interpolate import interpolated_scores
from .instances import Instance, InstanceTable, rename_class_in
from .instances_check import keep_fitting, table_problem
from .ontology import Ontology

FrameSpan = Union[Tuple[int, int], range, Sequence[int], None]


def label_values(plane: np.ndarray) -> list[int]:
    """The distinct values of a label plane: counted (bincount) when they are small
    whole numbers, a few times faster than sorting them."""
    flat = np.asarray(plane).ravel()
    if not flat.size:
        return []
    if flat.dtype.kind in "ui":
        lo, hi = int(flat.min()), int(flat.max())
        if lo == hi:
            return [lo]
        if lo >= 0 and hi < max(1 << 16, 4 * flat.size):
            return np.flatnonzero(np.bincount(flat.astype(np.intp, copy=False), minlength=hi + 1)).tolist()
    return np.unique(flat).tolist()


class AnnotationError(SamlabelError, ValueError):
    """An edit that cannot be done; the message says why. Nothing was changed."""


class LabelStore(Protocol):
    """Where label pixels live. The napari store also keeps the undo history."""

    @property
    def shape(self) -> tuple[int, ...]: ...
    def read(self, region: tuple) -> np.ndarray: ...
    def read_at(self, indices: tuple[np.ndarray, ...]) -> np.ndarray: ...
    def blocks(self, region: tuple) -> Iterable[tuple]: ...
    def write(self, indices: tuple[np.ndarray, ...], value: int, old: np.ndarray, block=None) -> list[Atom]: ...
    def revert(self, atoms: Sequence[Atom]) -> None: ...
    def push(self, txn: Transaction, after: dict) -> None: ...


# A change for undo: a BoxAtom (``slice_key``, ``mask``, ``old_values``, ``new_value``: what
# the stores write), or napari's (indices, old values, new value) tuple.
Atom = Union[BoxAtom, Tuple[Tuple[np.ndarray, ...], np.ndarray, int]]


class ArrayStore:
    """A numpy (or zarr) label array with no history: for scripts and tests.

    Edits work one block at a time (:mod:`.chunked`: a plane of a numpy array, a chunk of a
    zarr one) and keep their undo data compressed in ``spill`` (memory unless given a file).
    """

    def __init__(self, data: np.ndarray, spill: Spill | None = None) -> None:
        self.data = data
        self.spill = spill or MEMORY

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    def read(self, region: tuple) -> np.ndarray:
        return np.asarray(self.data[region])

    __getitem__ = read  # so Plane.read works on a store

    def read_at(self, indices: tuple[np.ndarray, ...]) -> np.ndarray:
        return np.asarray(self.data[indices])

    def blocks(self, region: tuple) -> Iterable[tuple]:
        """``region`` cut into the pieces an edit reads and writes one at a time."""
        return iter_blocks(normalize_region(region, self.shape), block_shape_of(self.data))

    def write(self, indices: tuple[np.ndarray, ...], value: int, old: np.ndarray, block=None) -> list[Atom]:
        """Write ``value`` where it changes something; the atoms for undo (one per block).

        ``block``: ``(region, array)`` when the caller holds ``labels[region]`` (read from
        this store, and ``indices`` lie in it): labels on disk are then written back as
        that one block, updated in place, instead of read again box by box."""
        old = np.asarray(old)
        changed = old != value
        if not changed.all():  # callers usually pass only pixels that change: skip the gathers then
            if not changed.any():
                return []
            indices, old = tuple(np.asarray(i)[changed] for i in indices), old[changed]
        atoms = box_atoms(indices, old, value, block_shape_of(self.data), self.spill)
        data = self.data
        if isinstance(data, np.ndarray):
            data[indices] = value
        elif block is not None:  # zarr & co: the block the caller read, written back whole
            region, arr = block
            arr[tuple(np.asarray(i) - r.start for i, r in zip(indices, region) if isinstance(r, slice))] = value
            data[region] = arr
        else:  # read-modify-write each box with basic slicing
            for atom in atoms:
                apply_box(data, atom, undo=False)
        return atoms

    def revert(self, atoms: Sequence[Atom]) -> None:
        for atom in reversed(atoms):
            if hasattr(atom, "slice_key"):
                apply_box(self.data, atom, undo=True)
            else:
                indices, old, _ = atom
                self.data[indices] = old

    def push(self, txn: Transaction, after: dict) -> None:
        pass  # no history


class Transaction:
    """One user action in the making: the pixels it wrote and the records it changed.

    ``commit()`` makes it one undo step, ``rollback()`` puts everything back.
    Several may be open at once (a tracking run, and the user's own commits
    while it runs), but only the *active* one writes; whatever is pushed to the
    history first checkpoints the others, so the history stays in the order
    things happened and every undo step is exact. Ids a transaction ``claims``
    are off limits to the others while it is open.
    """

    def __init__(self, annotation: Annotation, name: str, claims: Iterable[int] = ()) -> None:
        self.annotation, self.name = annotation, name
        self.claims = {int(i) for i in claims}
        self.atoms: list[Atom] = []
        self.before: dict[int, Instance | None] = {}  # record pre-images
        self.parts = 0  # undo steps already pushed by checkpoints
        self.pushed: list[Atom] = []  # their atoms: a rollback takes them back too
        self.taken_back = False  # a rollback took back parts already pushed (one more undo step)
        self.closed = False

    @property
    def pending(self) -> bool:
        return bool(self.atoms or self.before)

    @contextmanager
    def writing(self) -> Iterator[Transaction]:
        """Make this the transaction that edits go into; an error rolls back only
        what was written inside this block."""
        ann = self.annotation
        if self.closed:
            raise AnnotationError(f"'{self.name}' is already finished")
        prev, ann._active = ann._active, self
        prev_journal, ann.table.journal = ann.table.journal, self.before
        mark = (len(self.atoms), set(self.before))
        try:
            yield self
        except BaseException:
            self.revert(since=mark)
            raise
        finally:
            ann._active, ann.table.journal = prev, prev_journal

    def revert(self, since: tuple[int, set[int]] = (0, set())) -> None:
        """Put back the pixels and records changed after ``since`` (atoms written, ids journaled)."""
        n, had = since
        ann = self.annotation
        ann.store.revert(self.atoms[n:])
        del self.atoms[n:]
        undo = {i: r for i, r in self.before.items() if i not in had}
        journal, ann.table.journal = ann.table.journal, None
        ann.table.put(undo)
        ann.table.journal = journal
        for i in undo:
            del self.before[i]

    def checkpoint(self) -> None:
        """Push what is done so far as its own undo step and carry on."""
        self.annotation._push(self)

    def commit(self) -> None:
        self.annotation._close(self, keep=True)

    def rollback(self) -> None:
        """Undo all of it: what is not pushed yet is put back; parts already pushed (around
        the user's edits) are taken back as one more undo step, the user's edits kept."""
        self.annotation._close(self, keep=False)


class Annotation:
    changed = Signal()

    def __init__(
        self,
        labels: np.ndarray | LabelStore,
        ontology: Ontology | None = None,
        frame_axis: int | None = None,
        table: InstanceTable | None = None,
    ) -> None:
        # an array (numpy, or zarr on disk) gets the plain store; a LabelStore is used as it is
        self.store: LabelStore = labels if hasattr(labels, "read_at") else ArrayStore(labels)
        self.ontology = ontology if ontology is not None else Ontology()
        ndim = len(self.store.shape)
        if frame_axis is not None and not 0 <= frame_axis < ndim:
            raise ValueError(f"frame axis {frame_axis} is outside the {ndim}D labels")
        self.frame_axis = frame_axis
        self.table = table if table is not None else InstanceTable()
        self.current_class: str | None = None
        #: "preserve chosen state": a dynamic attribute value carries on to frames labeled later
        self.preserve_attributes = False
        self._open: list[Transaction] = []
        self._active: Transaction | None = None
        self.ontology.renamed.connect(self._on_class_renamed)

    def close(self) -> None:
        """Stop following the ontology (the session that owned this ended)."""
        self.ontology.renamed.disconnect(self._on_class_renamed)

    # -- geometry --------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return 1 if self.frame_axis is None else self.store.shape[self.frame_axis]

    def frame_region(self, frame: int) -> tuple:
        if self.frame_axis is None:
            return ()
        return (slice(None),) * self.frame_axis + (int(frame),)

    def span_region(self, frames: FrameSpan) -> tuple[tuple, list[int]]:
        """Region covering a contiguous frame span, and the frames in it."""
        if frames is None or self.frame_axis is None:
            return (), list(range(self.n_frames))
        frames = list(frames)
        if not frames:
            raise AnnotationError("the frame range is empty")
        lo, hi = int(min(frames)), int(max(frames))
        if lo < 0 or hi >= self.n_frames:
            raise AnnotationError(f"frames {lo}-{hi} are outside 0-{self.n_frames - 1}")
        return (slice(None),) * self.frame_axis + (slice(lo, hi + 1),), list(range(lo, hi + 1))

    # -- transactions ------------------------------------------------------
    def begin(self, name: str = "edit", claims: Iterable[int] = ()) -> Transaction:
        """Open a transaction (a long one, like a tracking run, that spans GUI events)."""
        claims = [int(i) for i in claims]
        self._check_editable(claims)
        txn = Transaction(self, name, claims)
        self._open.append(txn)
        return txn

    @contextmanager
    def action(self, name: str = "edit") -> Iterator[None]:
        """Group edits into one user action (one undo step in napari).

        Inside an active transaction this joins it; an error rolls the action back."""
        if self._active is not None:
            yield
            return
        txn = self.begin(name)
        try:
            with txn.writing():
                yield
        except BaseException:
            txn.rollback()
            raise
        txn.commit()

    @property
    def running(self) -> list[Transaction]:
        """Open transactions other than the one writing now (a tracking run)."""
        return [t for t in self._open if t is not self._active]

    def protected_ids(self) -> set[int]:
        """Ids the active edit may not change: locked ones and those another open transaction claims."""
        out = self.table.locked_ids()
        for t in self._open:
            if t is not self._active:
                out |= t.claims
        return out

    def checkpoint_open(self, but: Transaction | None = None) -> None:
        """Push every other open transaction's pending work, so that what comes
        next lands after it in the history (see :class:`Transaction`)."""
        for t in self._open:
            if t is not but and t.pending:
                self._push_one(t)

    def _push(self, txn: Transaction) -> None:
        self.checkpoint_open(but=txn)
        self._push_one(txn)

    def _push_one(self, txn: Transaction) -> None:
        if not txn.pending:
            return
        after = self.table.snapshot(txn.before)
        if txn.atoms or any(txn.before[i] != after[i] for i in txn.before):
            self.store.push(txn, after)
            txn.parts += 1
            txn.pushed.extend(txn.atoms)
        txn.atoms, txn.before = [], {}
        if self._active is txn:
            self.table.journal = txn.before

    def _close(self, txn: Transaction, keep: bool) -> None:
        if txn.closed:
            return
        if keep:
            self._push(txn)
        else:
            txn.revert()
        txn.closed = True
        self._open.remove(txn)
        if not keep and txn.pushed:
            self._take_back(txn)
        self.changed.emit()

    def _take_back(self, txn: Transaction) -> None:
        """A rollback of a transaction that pushed parts (a run the user edited during): its
        pushed pixels go back to what they were, as one undo step of their own. Pixels
        changed since (by the user), and locked instances, stay as they are."""
        back = self.begin(f"taking back {txn.name}")
        ids: set[int] = set()
        frames: set[int] = set()
        with back.writing():
            protected = self.protected_ids()
            for atom in reversed(txn.pushed):
                indices, old, new = atom_pixels(atom)
                if new in protected:
                    continue
                now = self.store.read_at(indices)
                ours = (now == new) & ~np.isin(old, list(protected))
                for value in distinct(old[ours]):
                    pick = ours & (old == value)
                    self._write(tuple(i[pick] for i in indices), int(value), now[pick])
                    ids.add(int(value))
                ids.add(new)
                frames.update(frames_touched(indices, self.frame_axis))
            self.sync_frames(frames, ids=ids - {0})
        back.commit()
        txn.pushed, txn.taken_back = [], back.parts > 0

    def _write(self, indices: tuple[np.ndarray, ...], value: int, old: np.ndarray | None = None, block=None) -> None:
        """The one place pixels change: never a protected (locked, claimed) id.

        ``old``: the values at ``indices`` now, when the caller has read them; ``block``:
        ``(region, labels[region])`` when the caller read the block they lie in (see
        :meth:`ArrayStore.write`)."""
        txn = self._active
        if txn is None:
            raise RuntimeError("labels can only change inside Annotation.action() or a transaction")
        if not len(indices[0]):
            return
        old = self.store.read_at(indices) if old is None else np.asarray(old)
        protected = self.protected_ids()
        if protected:
            if int(value) in protected:
                raise AnnotationError(f"{self.table[int(value)].name} {self._why(int(value))}")
            hit = np.isin(old, list(protected))
            if hit.any():
                i = int(old[hit][0])
                raise AnnotationError(f"{self.table[i].name} {self._why(i)}")
        txn.atoms.extend(self.store.write(indices, value, old, block) if block is not None
                         else self.store.write(indices, value, old))  # fmt: skip

    def _why(self, label_id: int) -> str:
        if self.table[label_id].locked:
            return "is locked: unlock it before editing"
        return "is being tracked: wait for the run to end (or cancel it) before editing it"

    def sync_frames(self, frames: Iterable[int] | None = None, ids: Iterable[int] | None = None) -> list[Instance]:
        """Re-read which ids are on ``frames``; ids without a record become
        instances of the current class (napari's brush paints such ids).

        With ``ids`` (the only ids an edit can have changed, all known) only
        those are checked: much cheaper than listing every id of every frame.
        Labels on disk say which frames hold anything (``frames_stored``): the
        others are background without being read."""
        hint = getattr(self.store, "frames_stored", None) if frames is None and ids is None else None
        stored = hint(self.frame_axis) if hint is not None else None
        frames = range(self.n_frames) if frames is None else frames
        if ids is not None:
            ids = [int(i) for i in set(ids) if int(i) and int(i) in self.table]
            for f in sorted(set(int(f) for f in frames)):
                plane = self.store.read(self.frame_region(f))
                for i in ids:
                    self.table.set_presence(f, i, bool((plane == i).any()))
            return []
        new = []
        for f in sorted(set(int(f) for f in frames)):
            ids = [] if stored is not None and f not in stored else label_values(self.store.read(self.frame_region(f)))
            for label_id in self.table.set_frame_presence(f, ids):
                cls = self._default_class()
                inst = self.table.adopt(label_id, cls, stuff=self.ontology[cls].is_stuff)
                inst.frames.add(f)
                new.append(inst)
        return new

    def _default_class(self) -> str:
        if self.current_class in self.ontology:
            return self.current_class
        if len(self.ontology):
            return self.ontology.names[0]
        return self.ontology.add("object").name

    def _on_class_renamed(self, old: str, new: str) -> None:
        """A rename is not an undo step: records, open transactions and the
        history all take the new name, so an undo never brings the old one back."""
        self.table.rename_class(old, new)
        for txn in self._open:
            rename_class_in(txn.before.values(), old, new)
        rename = getattr(self.store, "rename_class", None)
        if rename is not None:
            rename(old, new)
        if self.current_class == old:
            self.current_class = new
        self.changed.emit()

    # -- classes ---------------------------------------------------------
    def update_class(self, name: str, /, **changes) -> None:
        """Rename, recolour, re-key a class; its kind only while it has no instances."""
        if "kind" in changes and changes["kind"] != self.ontology[name].kind:
            used = self.table.of_class(name)
            if used:
                raise AnnotationError(
                    f"class {name!r} has {len(used)} instance(s): its kind can only change while it has none"
                )
            for rec in self.table.of_class(name, present_only=False):
                rec.stuff = changes["kind"] == "stuff"  # absent records: not an undo step
        if "attributes" in changes:
            self._check_values_fit(name, changes["attributes"])
        self.ontology.update(name, **changes)

    def _check_values_fit(self, name: str, attributes) -> None:
        """New attribute definitions must accept the values instances hold (a project keeping
        values its ontology refuses could not be opened again)."""
        trial = Ontology.from_dict(self.ontology.to_dict())
        trial.update(name, attributes=attributes)
        problem = table_problem(self.table, trial)
        if problem:
            raise AnnotationError(f"class {name!r}: these attributes do not fit values in use: {problem}")

    def remove_class(self, name: str) -> None:
        """Remove a class that labels nothing (labels are never deleted as a side effect)."""
        used = self.table.of_class(name)
        if used:
            raise AnnotationError(
                f"class {name!r} still has {len(used)} instance(s): delete them or change their class first"
            )
        self.ontology.remove(name)
        if self.current_class == name:
            self.current_class = None

    # -- instances -------------------------------------------------------
    def new_instance(self, class_name: str | None = None, source: str = "manual", confidence: float = 1.0) -> Instance:
        """A fresh id for a thing class, or the class's single id for a stuff class."""
        class_name = class_name or self._default_class()
        cls = self.ontology[class_name]
        if cls.is_stuff:
            existing = self.table.stuff_instance(class_name)
            if existing is not None:
                return existing
        return self.table.allocate(class_name, stuff=cls.is_stuff, source=source, confidence=confidence)

    def _check_editable(self, ids: Iterable[int]) -> list[Instance]:
        recs = [self.table[i] for i in ids]
        protected = self.protected_ids()
        bad = [r for r in recs if r.id in protected]
        if bad:
            raise AnnotationError(f"{', '.join(r.name for r in bad)} {self._why(bad[0].id)}")
        return recs

    # -- the write path --------------------------------------------------
    def write_mask(
        self,
        mask: np.ndarray,
        label_id: int,
        region: Sequence = (),
        mode: Mode | str = Mode.EXCLUDE,
        *,
        within: int | None = None,
        replace: bool = False,
        source: str = "manual",
        confidence: float = 1.0,
        require_pixels: bool = False,
    ) -> int:
        """Write ``mask`` (shaped like ``labels[region]``) as ``label_id``.

        ``replace`` also clears the instance's pixels in the region that are
        outside the mask (re-segmenting an object on a plane). The frames
        written take ``source`` and ``confidence`` (``manual`` is always 1.0).
        Returns the number of pixels that took the label; with
        ``require_pixels`` a mask that could take no pixel raises instead of
        writing nothing.
        """
        (rec,) = self._check_editable([label_id])
        had = set(rec.frames)  # frames labeled before (see preserve_attributes)
        region = normalize_region(region, self.store.shape)
        mask = np.asarray(mask)
        if mask.shape != region_shape(region):
            raise AnnotationError(f"mask shape {mask.shape} does not match the labels region {region_shape(region)}")
        protected = self.protected_ids()
        changed_ids = {label_id}  # the new id and those it took from
        added = erased = 0
        touched: set[int] = set()
        writing = False
        # which ids stay on each frame, known from the block itself when a block is a whole
        # frame (a plane; a zarr chunk of one): then the frames are not read again afterwards
        presence: dict[int, dict[int, bool]] | None = {}
        with ExitStack() as stack:  # the action opens at the first pixel written: a no-op stays one
            for block in self.store.blocks(region):  # a plane or a chunk at a time
                m = mask[local_in(block, region)].astype(bool, copy=False)
                if not replace and not m.any():
                    continue
                current = self.store.read(block)
                ok = allowed_pixels(current, m, label_id, mode, protected, within)
                gone = ((current == label_id) & ~m) if replace else None
                if not ok.any() and (gone is None or not gone.any()):
                    continue
                old = current[ok]
                taken = distinct(old).tolist()  # the ids the mask takes pixels from
                changed_ids.update(taken)
                frame = self._frame_of_block(block) if presence is not None else None
                if frame is None:
                    presence = None
                else:  # before writing: a numpy block is a view of the labels
                    seen = presence.setdefault(frame, {})
                    kept = current == label_id
                    if gone is not None:
                        kept &= ~gone
                    seen[label_id] = bool(len(old) or kept.any())
                    for x in taken:
                        if x and x != label_id:
                            seen[x] = bool(((current == x) & ~ok).any())
                if not writing:
                    stack.enter_context(self.action(f"the mask of {rec.name}"))
                    writing = True
                if len(old):
                    add = region_indices(block, np.nonzero(ok))
                    self._write(add, label_id, old, block=(block, current))
                    added += len(add[0])
                    touched.update([frame] if frame is not None else frames_touched(add, self.frame_axis))
                if gone is not None and gone.any():
                    erase = region_indices(block, np.nonzero(gone))
                    self._write(erase, 0, np.full(len(erase[0]), label_id, current.dtype), block=(block, current))
                    erased += len(erase[0])
                    touched.update([frame] if frame is not None else frames_touched(erase, self.frame_axis))
            if require_pixels and not added:  # (raised inside the action: an erase already made is undone)
                raise AnnotationError(
                    f"no pixel of the mask is free for {rec.name} in mode '{Mode(mode).value}' "
                    f"(other or locked instances cover it): nothing saved, its pixels kept.{overwrite_hint(mode)}"
                )
            if not touched:
                return 0
            unknown = [i for i in changed_ids if i and i not in self.table]
            if presence is not None and not unknown:
                for f, seen in presence.items():
                    for i, on in seen.items():
                        self.table.set_presence(f, i, on)
            else:
                self.sync_frames(touched, None if unknown else changed_ids)
            rec = self.table.edit(label_id)
            for f in touched & rec.frames:
                rec.set_frame(f, source, confidence)
            if self.preserve_attributes:
                self._carry_attributes(rec, (touched & rec.frames) - had)
        return added

    def _frame_of_block(self, block: tuple) -> int | None:
        """The frame a block is all of (every other axis whole), or None."""
        shape = self.store.shape
        frame = 0
        for ax, (b, n) in enumerate(zip(block, shape)):
            if ax == self.frame_axis:
                if isinstance(b, slice):
                    if b.stop - b.start != 1:
                        return None
                    b = b.start
                frame = int(b)
            elif not (isinstance(b, slice) and b.start == 0 and b.stop == n):
                return None
        return frame

    def _relabel(self, ids: Iterable[int], value: int, frames: FrameSpan = None) -> int:
        """Set every pixel of ``ids`` in the span to ``value`` (0 deletes)."""
        ids = [int(i) for i in ids if int(i) != value]
        if not ids:
            return 0
        region, _ = self.span_region(frames)
        region = normalize_region(region, self.store.shape)
        known = all(i in self.table for i in ids)
        # the table knows the frames the ids are on: blocks of other frames are not read
        on = set().union(*(self.table[i].frames for i in ids)) if known and self.frame_axis is not None else None
        done, touched = 0, set()
        with self.action("the relabel"):
            for block in self.store.blocks(region):  # a plane or a chunk at a time: never the whole span
                if on is not None:
                    b = block[self.frame_axis]
                    if not on.intersection(range(b.start, b.stop) if isinstance(b, slice) else (b,)):
                        continue
                current = self.store.read(block)
                where = current == ids[0] if len(ids) == 1 else np.isin(current, ids)
                if not where.any():
                    continue
                idx = region_indices(block, np.nonzero(where))
                self._write(idx, value, current[where], block=(block, current))
                done += len(idx[0])
                frame = self._frame_of_block(block)
                touched.update([frame] if frame is not None else frames_touched(idx, self.frame_axis))
            if known:  # every pixel of ``ids`` on these frames is now ``value``: no need to read them again
                value_known = bool(value) and value in self.table
                for f in sorted(touched):
                    for i in ids:
                        self.table.set_presence(f, i, False)
                    if value_known:
                        self.table.set_presence(f, value, True)
            else:
                self.sync_frames(touched)
        return done

    # -- bulk operations -------------------------------------------------
    def delete(self, ids: Iterable[int], frames: FrameSpan = None) -> int:
        """Delete instances (on a frame span); locked ones are refused."""
        ids = list(ids)
        self._check_editable(ids)
        return self._relabel(ids, 0, frames)

    def _present_ids(self, frames: FrameSpan, class_name: str | None = None) -> list[int]:
        _, span = self.span_region(frames)
        ids = set().union(*(self.table.on_frame(f) for f in span)) if span else set()
        return sorted(
            i for i in ids
            if i in self.table and not self.table[i].locked
            and (class_name is None or self.table[i].class_name == class_name)
        )  # fmt: skip

    def delete_class(self, class_name: str, frames: FrameSpan = None) -> int:
        self.ontology[class_name]  # a clear KeyError for an unknown class
        return self._relabel(self._present_ids(frames, class_name), 0, frames)

    def delete_all(self, frames: FrameSpan = None) -> int:
        """Delete every unlocked instance on the span."""
        return self._relabel(self._present_ids(frames), 0, frames)

    def delete_below(self, threshold: float, frames: FrameSpan = None) -> int:
        """Delete, frame by frame, instances whose confidence there is below ``threshold``."""
        _, span = self.span_region(frames)
        done = 0
        with self.action("the delete below confidence"):
            for f in span:
                low = [i for i in self._present_ids([f]) if self.table[i].score_on(f) < threshold]
                if low:
                    done += self._relabel(low, 0, [f])
        return done

    def merge(self, ids: Iterable[int], into: int | None = None) -> int:
        """Merge instances into one (``into``, default the lowest id) on every frame."""
        ids = sorted({int(i) for i in ids})
        into = ids[0] if into is None else int(into)
        if len(set(ids) | {into}) < 2:
            raise AnnotationError("select at least two instances to merge")
        self._check_editable(set(ids) | {into})
        with self.action("the merge"):
            return self._relabel([i for i in ids if i != into], into)

    def change_class(self, ids: Iterable[int], class_name: str) -> list[int]:
        """Give instances another class; into a stuff class they join its single label.

        Returns the label ids the instances have afterwards.
        """
        target = self.ontology[class_name]
        recs = self._check_editable(list(ids))
        out = []
        with self.action("the class change"):
            if target.is_stuff:
                stuff = self.new_instance(class_name)
                self._check_editable([stuff.id])  # a locked stuff label never grows
                self._relabel([r.id for r in recs], stuff.id)
                out = [stuff.id]
            else:
                for r in recs:
                    r = self.table.edit(r.id)
                    r.class_name, r.stuff = class_name, False
                    keep_fitting(r, target)  # attributes belong to a class: Ctrl+Z brings them back
                    out.append(r.id)
        return out

    def copy_to_frames(self, label_id: int, src_frame: int, frames: FrameSpan, mode: Mode | str = Mode.EXCLUDE) -> int:
        """Copy an instance's mask on ``src_frame`` onto every frame of a span (CVAT's propagate)."""
        if self.frame_axis is None:
            raise AnnotationError("copying to other frames needs a time or slice axis")
        rec = self.table[label_id]
        mask = self.store.read(self.frame_region(src_frame)) == label_id
        if not mask.any():
            raise AnnotationError(f"{rec.name} is not on frame {src_frame}")
        _, span = self.span_region(frames)
        done = 0
        source, score = rec.source_on(src_frame), rec.score_on(src_frame)  # a copy is what it was copied from
        with self.action("the copy to frames"):
            for f in span:
                if f != src_frame:
                    done += self.write_mask(mask, label_id, self.frame_region(f), mode, source=source, confidence=score)
        return done

    def split(self, label_id: int, at_frame: int) -> Instance:
        """Frames from ``at_frame`` on become a new instance of the same class.

        Daughters the instance divided into (they start after its end) become the
        new piece's: it is the part that divided."""
        if self.frame_axis is None:
            raise AnnotationError("splitting at a frame needs a time or slice axis")
        (rec,) = self._check_editable([label_id])
        if rec.stuff:
            raise AnnotationError(f"{rec.name} is a stuff class: it has one label and cannot be split")
        later = sorted(f for f in rec.frames if f >= at_frame)
        if not later or len(later) == len(rec.frames):
            raise AnnotationError(f"{rec.name} has no frames on both sides of frame {at_frame}")
        from .lineage import children

        kids = [i for i in children(self.table, label_id) if self.table[i].frames]
        self._check_editable(kids)
        with self.action("the split"):
            new = self.table.allocate(rec.class_name, source=rec.source, confidence=rec.confidence)
            new.frame_scores = {f: s for f, s in rec.frame_scores.items() if f >= at_frame}
            new.frame_sources = {f: s for f, s in rec.frame_sources.items() if f >= at_frame}
            self._relabel([label_id], new.id, range(at_frame, self.n_frames))
            for i in kids:
                self.table.edit(i).parent = new.id
        return new

    # -- lineage (see core.lineage) --------------------------------------------
    def set_parent(self, child: int, parent: int) -> None:
        """Make ``child`` a daughter of ``parent`` (0 clears the link); one undo step.

        The parent must end before the daughter starts, and a lineage cannot loop."""
        from .lineage import link_problem

        (rec,) = self._check_editable([child])
        parent = int(parent)
        if parent:
            why = link_problem(self.table, rec.id, parent)
            if why:
                raise AnnotationError(why)
        if rec.parent == parent:
            return
        with self.action("the parent link" if parent else "the unlink"):
            self.table.edit(rec.id).parent = parent

    def link(self, parent: int, children: Iterable[int]) -> None:
        """Several daughters of one parent, as one undo step."""
        with self.action("the link"):
            for i in children:
                self.set_parent(int(i), parent)

    def divide(
        self,
        label_id: int,
        at_frame: int,
        daughters: Sequence[np.ndarray | int] | None = None,
        mode: Mode | str = Mode.EXCLUDE,
    ) -> list[Instance]:
        """The instance divides after ``at_frame``: it ends there, and its frames after
        it become two daughters (their parent: it). One undo step.

        ``daughters``: where the two are on the next frame: two masks (shaped like a
        frame; a mask's pixels outside the mother are written in ``mode``) for two new
        instances, or two label ids there (existing instances become the daughters).
        None: the mother's two largest connected pieces on that frame. On later frames
        each piece of the mother goes to the daughter it continues (:func:`lineage.assign`).
        """
        from . import lineage

        if self.frame_axis is None:
            raise AnnotationError("a division needs a time axis")
        (mother,) = self._check_editable([label_id])
        if mother.stuff:
            raise AnnotationError(f"{mother.name} is a stuff class: only thing instances divide")
        t, nxt = int(at_frame), int(at_frame) + 1
        if t not in mother.frames:
            raise AnnotationError(f"{mother.name} is not on frame {t}: go to its last frame before it divides")
        if nxt >= self.n_frames:
            raise AnnotationError(f"frame {t} is the last one: a division shows on the frame after it")
        plane = self.store.read(self.frame_region(nxt))
        targets: list[int | None] = []
        seeds: list[np.ndarray] = []
        drawn: list[bool] = []
        if daughters is None:
            seeds = lineage.pieces(plane == label_id)[:2]
            if len(seeds) < 2:
                how = "not" if not seeds else "one piece"
                raise AnnotationError(
                    f"{mother.name} is {how} on frame {nxt}: a division needs its two daughters there "
                    "(separate them, or draw them as two instances and link them to it)"
                )
            targets, drawn = [None, None], [False, False]
        else:
            daughters = list(daughters)
            if len(daughters) != 2:
                raise AnnotationError(f"a division needs two daughters, not {len(daughters)}")
            for d in daughters:
                if isinstance(d, (int, np.integer)):
                    rec = self.table.get(int(d))
                    if rec is None or rec.id == label_id or rec.stuff:
                        raise AnnotationError(f"{int(d)} cannot be a daughter of {mother.name}")
                    seed = plane == rec.id
                    if not seed.any():
                        raise AnnotationError(f"{rec.name} is not on frame {nxt}, where the daughters start")
                    targets.append(rec.id)
                else:
                    seed = np.asarray(d, bool)
                    if seed.shape != plane.shape:
                        raise AnnotationError(f"a daughter mask is {seed.shape}, a frame {plane.shape}")
                    targets.append(None)
                seeds.append(seed)
                drawn.append(targets[-1] is None)
            seeds[1] = seeds[1] & ~seeds[0]
            if not seeds[0].any() or not seeds[1].any():
                raise AnnotationError("the two daughters are the same: give two different ones")
        self._check_editable([i for i in targets if i])
        later = sorted(f for f in mother.frames if f > t)
        came_from = {f: (mother.source_on(f), mother.score_on(f)) for f in later}
        had = {i: set(self.table[i].frames) for i in targets if i}
        with self.action("the division"):
            ids = [i or self.table.allocate(mother.class_name, source=mother.source, confidence=mother.confidence).id
                   for i in targets]  # fmt: skip
            refs, touched = seeds, set()
            for f in later:
                region = normalize_region(self.frame_region(f), self.store.shape)
                parts = lineage.assign(self.store.read(region) == label_id, refs)
                for i, part in zip(ids, parts):
                    self._write(region_indices(region, np.nonzero(part)), i)
                refs = [p if p.any() else r for p, r in zip(parts, refs)]  # a daughter missing a frame: its last mask
                touched.add(f)
            self.sync_frames(touched, [label_id, *ids])
            for i in ids:
                rec = self.table.edit(i)
                for f in (touched & rec.frames) - had.get(i, set()):
                    rec.set_frame(f, *came_from[f])
            for i, seed, new in zip(ids, seeds, drawn):
                if new and (seed & (self.store.read(self.frame_region(nxt)) != i)).any():
                    self.write_mask(seed, i, self.frame_region(nxt), mode)
            for i in ids:
                if not self.table[i].frames:
                    raise AnnotationError(f"no pixel of a daughter of {mother.name} is free on frame {nxt}")
                self.set_parent(i, label_id)
        return [self.table[i] for i in ids]

    def interpolate(self, label_id: int, frames: FrameSpan = None, mode: Mode | str = Mode.EXCLUDE) -> list[int]:
        """Fill the gaps between an instance's keyframes (its frames the user made or
        corrected, :attr:`Instance.keyframes`) within a span by shape-based interpolation;
        tracked and interpolated frames between them are replaced, so re-interpolating
        after editing a keyframe works. Returns the frames filled. One undo step."""
        from .interpolate import interpolate_masks, keyframe_gaps

        if self.frame_axis is None:
            raise AnnotationError("interpolation needs a time or slice axis")
        (rec,) = self._check_editable([label_id])
        _, span = self.span_region(frames)
        keys = {f for f in rec.keyframes if f in span}
        gaps = keyframe_gaps(keys)
        if not gaps:
            raise AnnotationError(f"{rec.name} has no gap between keyframes to fill (draw or correct it on two "
                                  "non-adjacent frames: tracked and interpolated frames are not keyframes)")
        filled = []
        with self.action("the interpolation"):
            for a, b in gaps:
                first = self.store.read(self.frame_region(a)) == label_id
                last = self.store.read(self.frame_region(b)) == label_id
                for f, m in ((a, first), (b, last)):
                    if not m.any():  # a keyframe erased with napari's own brush: its record lags
                        raise AnnotationError(f"{rec.name} has no pixels on keyframe {f}: draw it there again")
                masks = interpolate_masks(first, last, b - a - 1)
                for f, mask, score in zip(range(a + 1, b), masks, interpolated_scores(a, b)):
                    self.write_mask(mask, label_id, self.frame_region(f), mode, replace=True,
                                    source="interpolated", confidence=score)  # fmt: skip
                    filled.append(f)
        return filled

    # -- instance state (the user's view state: never undo steps, never undone) --
    def set_locked(self, ids: Iterable[int], locked: bool = True) -> None:
        for i in ids:
            self.table.set_view(i, locked=bool(locked))
        self.changed.emit()

    def set_visible(self, ids: Iterable[int], visible: bool = True) -> None:
        for i in ids:
            self.table.set_view(i, visible=bool(visible))
        self.changed.emit()

    def set_status(self, ids: Iterable[int], status: str) -> None:
        for i in ids:
            self.table.set_view(i, status=status)
        self.changed.emit()

    def review(self, ids: Iterable[int], verdict: str, comment: str = "", frame: int | None = None) -> list:
        """Accept or reject instances (on one frame, or as a whole) with a comment; a
        rejection stays an open issue until resolved. A verdict on the whole instance is
        its review status too. Not an undo step (the reviewer's record)."""
        ids = [int(i) for i in ids]
        for i in ids:
            if i not in self.table:
                raise AnnotationError(f"no instance with label id {i}")
            if frame is not None and int(frame) not in self.table[i].frames:
                raise AnnotationError(f"{self.table[i].name} is not on frame {frame}")
        notes = [self.table.reviews.add(i, verdict, comment, frame) for i in ids]
        if frame is None:
            for i in ids:
                self.table.set_view(i, status=verdict)
        self.changed.emit()
        return notes

    def resolve_issue(self, note_id: int, resolved: bool = True) -> None:
        self.table.reviews.resolve(note_id, resolved)
        self.changed.emit()

    # -- attributes and frame classifications (undo steps, like any edit) --
    def set_attribute(self, label_id: int, name: str, value, frame: int | None = None) -> Instance:
        """Set (``None``: clear) an attribute of an instance: a dynamic one on ``frame``
        (a frame the instance is on), a static one for the whole instance."""
        from .attributes import InvalidAttribute, find

        (rec,) = self._check_editable([label_id])
        try:
            spec = find(self.ontology[rec.class_name].attributes, name, f"class {rec.class_name!r}")
            value = spec.value(value)
        except InvalidAttribute as e:
            raise AnnotationError(f"{rec.name}: {e}") from None
        if spec.dynamic:
            if frame is None:
                raise AnnotationError(f"{rec.name}: {name!r} is set per frame: say which frame")
            if int(frame) not in rec.frames:
                raise AnnotationError(f"{rec.name} is not on frame {frame}: label it there first")
        with self.action(f"the {name} of {rec.name}"):
            rec = self.table.edit(label_id)
            values = rec.frame_attributes.setdefault(int(frame), {}) if spec.dynamic else rec.attributes
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
            if spec.dynamic and not values:
                del rec.frame_attributes[int(frame)]
        self.changed.emit()
        return rec

    def set_classification(self, frames: FrameSpan, name: str, value) -> list[int]:
        """Set (``None``: clear) a frame classification on frames (a frame, a (first, last)
        pair, a range or a list; ``None``: every frame). One undo step; the frames set."""
        return self.set_classifications(frames, {name: value})

    def set_classifications(self, frames: FrameSpan, values: dict) -> list[int]:
        """Several classifications at once: all checked first, then one undo step."""
        from .attributes import InvalidAttribute, find

        try:
            checked = {n: find(self.ontology.classifications, n, "the ontology").value(v) for n, v in values.items()}
        except InvalidAttribute as e:
            raise AnnotationError(str(e)) from None
        if isinstance(frames, (int, np.integer)):
            frames = [int(frames)]
        span = [0] if self.frame_axis is None else self.span_region(frames)[1]  # one image: one 'frame'
        what = f"frame {span[0]}" if len(span) == 1 else f"frames {span[0]}-{span[-1]}"
        with self.action(f"the {', '.join(checked)} of {what}"):
            labels = self.table.edit_frame_labels()
            for f in span:
                for name, value in checked.items():
                    labels.set(f, name, value)
        self.changed.emit()
        return list(span)

    def _carry_attributes(self, rec: Instance, new_frames: Iterable[int]) -> None:
        """'Preserve chosen state': frames newly labeled take the dynamic values of the
        frame labeled nearest before them (after them, when labeling backwards)."""
        if not rec.frame_attributes:
            return
        for f in sorted(new_frames):
            if f in rec.frame_attributes:
                continue
            known = sorted(rec.frame_attributes)
            before = [k for k in known if k < f]
            source = before[-1] if before else known[0]
            rec.frame_attributes[f] = dict(rec.frame_attributes[source])
