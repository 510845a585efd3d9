"""A napari Labels layer as the annotation's label store: undo, and napari's own tools.

napari's Labels undo only knows pixels. Each samlabel transaction is pushed
as one napari history item (a metadata-only one gets an empty item), with the
pre- and post-images of the instance records it changed; undo and redo put
those records back. napari's own edits (brush, eraser, fill, polygon, direct
``paint``/``fill``/``paint_polygon``/``data_setitem``) are recorded the same
way when napari commits them, their frames becoming the user's (manual, 1.0).

Every napari edit passes ``_save_history`` *before* napari writes the pixels,
and each tool is one of the four public methods, so this store wraps those
methods: after napari has written, pixels of protected instances (locked, or
being tracked) are put back and the history atom is trimmed to match. napari
emits no event on undo/redo, so ``undo``/``redo`` (which Ctrl+Z and
Ctrl+Shift+Z call) are wrapped too; an undo step that would change a locked
instance is refused. Everything patched is put back by :meth:`LayerStore.detach`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..core.annotation import ArrayStore
from ..core.chunked import MEMORY, Spill
from ..core.instances import rename_class_in

if TYPE_CHECKING:
    from napari.layers import Labels

    from ..core.annotation import Annotation, Transaction
    from ..core.instances import Instance

GUARDED = ("paint", "fill", "paint_polygon", "data_setitem")


@dataclass
class Step:
    """One of our undo steps: napari's history item and the records around it."""

    item: object
    before: dict[int, Instance | None]
    after: dict[int, Instance | None]
    name: str = "a brush edit"  # what Ctrl+Z says it undid


def atom_frames(atom, frame_axis: int | None) -> set[int]:
    """Frames a napari history atom touched (data_setitem tuples or masked paint atoms)."""
    if frame_axis is None:
        return {0}
    if hasattr(atom, "slice_key"):
        s = atom.slice_key[frame_axis]
        return set(range(s.start, s.stop)) if isinstance(s, slice) else {int(s)}
    indices = atom[0]
    return set(np.unique(np.asarray(indices[frame_axis])).tolist()) if len(indices) and len(indices[0]) else set()


def atom_ids(atom) -> set[int]:
    """Label ids an atom swaps (its old values and its new value)."""
    known = getattr(atom, "ids", None)  # our packed atoms know theirs without unpacking
    if known is not None:
        return set(known)
    if hasattr(atom, "slice_key"):
        old, new = np.asarray(atom.old_values), np.asarray(atom.new_value)
    else:
        old, new = np.asarray(atom[1]), np.asarray(atom[2])
    return {int(v) for v in np.unique(old)} | {int(v) for v in np.unique(new)}


class LayerStore(ArrayStore):
    """The label store of a session whose labels live in a napari Labels layer:
    the array store's pixel code on ``layer.data`` (numpy, or zarr on disk), plus napari's
    history. Our undo steps hold packed atoms (``core.chunked.BoxAtom``) that napari's own
    undo replays; ``spill`` keeps their bytes (a file beside labels on disk)."""

    def __init__(self, layer: Labels, history_limit: int | None = None, warn: Callable[[str], None] | None = None,
                 tell: Callable[[str], None] | None = None, spill: Spill | None = None) -> None:  # fmt: skip
        self.layer = layer  # no ArrayStore.__init__: ``data`` is the layer's, read each time
        self.spill = spill or MEMORY
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self.in_action = False  # our own paint events are not the user's edits
        self._annotation: Annotation | None = None
        self._limit = history_limit or getattr(layer, "_history_limit", 100)
        self._warn = warn or _napari_warning
        self._tell = tell or (lambda message: None)  # what undo/redo did, for the status line
        self._last_warning, self._last_message = 0.0, ""
        self._guard_depth = 0
        self._recorded: list = []
        self._originals: dict[str, Callable] = {}  # the layer's own methods, patched over
        self._views: dict[int, tuple[Labels, dict[str, Callable]]] = {}  # linked views' copies

    # -- wiring --------------------------------------------------------------
    def attach(self, annotation: Annotation) -> None:
        self._annotation = annotation
        self._originals = self._patch(self.layer)

    def attach_view(self, copy: Labels) -> None:
        """A linked view's copy of the layer (the same array and napari history: see
        ``_qt/three_views.py``): its brush, eraser, fill and undo pass here as the layer's do,
        so locks, instance records and Ctrl+Z hold in every view."""
        if copy is not self.layer and id(copy) not in self._views:
            self._views[id(copy)] = (copy, self._patch(copy))

    def detach_view(self, copy: Labels) -> None:
        entry = self._views.pop(id(copy), None)
        if entry is not None:
            self._unpatch(*entry)

    def _patch(self, layer: Labels) -> dict[str, Callable]:
        originals: dict[str, Callable] = {}
        patches = {
            "undo": lambda: self._step(undoing=True),
            "redo": lambda: self._step(undoing=False),
            "_save_history": lambda atom: self._record_atom(atom, originals),
            "_append_to_undo_history": lambda item: self._before_napari_item(item, originals),
        }
        for name in GUARDED:
            patches[name] = self._guarded(getattr(layer, name), layer)
        for name, fn in patches.items():
            originals[name] = getattr(layer, name)
            setattr(layer, name, fn)
        layer.events.paint.connect(self._on_paint)
        return originals

    def _unpatch(self, layer: Labels, originals: dict) -> None:
        for name in originals:
            layer.__dict__.pop(name, None)
        layer.events.paint.disconnect(self._on_paint)

    def detach(self) -> None:
        """Put back every method patched and stop listening (the session closed)."""
        for copy in [entry[0] for entry in self._views.values()]:
            self.detach_view(copy)
        self._unpatch(self.layer, self._originals)
        self._originals = {}
        self._annotation = None

    # -- LabelStore (reading and writing pixels: ArrayStore's) ---------------------
    @property
    def data(self):
        return self.layer.data  # napari may replace the array (a dtype upgrade): never cache it

    def frames_stored(self, frame_axis: int | None) -> set[int] | None:
        """For labels on disk: the frames with chunk files (see ``io.labelstore``)."""
        from ..io.labelstore import stored_frames

        return stored_frames(self.data, frame_axis)

    def write(self, indices, value, old, block=None):
        """The array store's write; its atoms made napari's, so Ctrl+Z replays them."""
        return [napari_atom(a) for a in super().write(indices, value, old, block)]

    def revert(self, atoms) -> None:
        super().revert(atoms)
        if atoms:
            self.layer.refresh()

    def push(self, txn: Transaction, after: dict) -> None:
        """A transaction's work as one napari history item (Ctrl+Z reaches it in order)."""
        layer = self.layer
        atoms = list(txn.atoms)
        if not atoms:  # a metadata-only action (change class)
            atoms = [(tuple(np.empty(0, np.intp) for _ in self.shape), np.empty(0, layer.data.dtype), 0)]
        layer._undo_history.append(atoms)
        layer._redo_history.clear()
        self.in_action = True
        try:
            layer.events.paint(value=atoms)
        finally:
            self.in_action = False
        self._remember(Step(atoms, dict(txn.before), after, txn.name))
        layer.refresh()

    def rename_class(self, old: str, new: str) -> None:
        """Class renames are not undo steps: the history takes the new name too."""
        for step in (*self._undo, *self._redo):
            rename_class_in(step.before.values(), old, new)
            rename_class_in(step.after.values(), old, new)

    @property
    def stroke_open(self) -> bool:
        """A napari brush stroke is being drawn (its atoms are staged, not committed)."""
        layers = [self.layer, *(entry[0] for entry in self._views.values())]
        return any(getattr(layer, "_block_history", False) for layer in layers)

    def _remember(self, step: Step) -> None:
        self._undo.append(step)
        del self._undo[: -self._limit]
        self._redo.clear()

    # -- napari's own edits ------------------------------------------------------
    def _guarded(self, method: Callable, layer: Labels) -> Callable:
        def call(*args, **kwargs):
            if self._guard_depth or self.in_action:
                return method(*args, **kwargs)
            self._guard_depth += 1
            self._recorded = []
            try:
                result = method(*args, **kwargs)
            finally:
                self._guard_depth -= 1
            recorded, self._recorded = self._recorded, []
            self._enforce(recorded, layer)
            return result

        call.__name__ = getattr(method, "__name__", "guarded")
        return call

    def _record_atom(self, atom, originals: dict) -> None:
        if self._guard_depth:
            self._recorded.append(atom)
        originals["_save_history"](atom)

    def _before_napari_item(self, item, originals: dict) -> None:
        """napari is about to push an item: what our open transactions did comes first."""
        if not self.in_action and not self._guard_depth and self._annotation is not None:
            self._annotation.checkpoint_open()  # single edits: after the guard, if anything is left
        originals["_append_to_undo_history"](item)

    def _enforce(self, atoms: list, layer: Labels) -> None:
        """napari has written (on ``layer``: ours, or a linked view's copy, whose staged
        stroke is its own): put protected pixels back and trim the atoms to match."""
        ann = self._annotation
        protected = ann.protected_ids() if ann is not None else set()
        item = None  # a single edit is pushed at once; a stroke's atoms are staged
        if atoms and layer._undo_history and any(a is atoms[-1] for a in layer._undo_history[-1]):
            item = layer._undo_history[-1]
        hit: set[int] = set()
        for atom in atoms:
            if protected:
                fixed = self._trim(atom, protected, hit)
                if fixed is not atom:
                    _replace_atom(layer, atom, fixed)
        if hit:
            layer.refresh()
            if layer is not self.layer:
                self.layer.refresh()
            names = ", ".join(ann.table[i].name for i in sorted(hit) if i in ann.table)
            why = "locked" if all(ann.table[i].locked for i in hit if i in ann.table) else "being tracked"
            hint = " Press M for a new instance to paint." if why == "locked" else ""
            self._say(f"{names}: {why}, so that edit left it unchanged.{hint}")
        if item is not None and layer._undo_history and layer._undo_history[-1] is item:
            if ann is not None and any(t.pending for t in ann._open):
                layer._undo_history.pop()  # what an open run wrote before this edit goes first
                ann.checkpoint_open()
                layer._undo_history.append(item)
            self._record_napari_item(item)

    def _trim(self, atom, protected: set[int], hit: set[int]):
        """The atom without its protected pixels, which are written back; the atom itself if clean."""
        data = self.layer.data
        prot = list(protected)
        if hasattr(atom, "slice_key"):
            region = np.array(data[atom.slice_key])
            full_mask = np.ones(region.shape, bool) if atom.mask is None else atom.mask
            old_full = np.array(atom.old_values) if atom.mask is None else np.zeros(region.shape, region.dtype)
            if atom.mask is not None:
                old_full[full_mask] = atom.old_values
            bad = full_mask & np.isin(old_full, prot)
            if int(atom.new_value) in protected:
                bad = full_mask.copy()
            if not bad.any():
                return atom
            hit.update(int(v) for v in np.unique(old_full[bad]) if int(v) in protected)
            if int(atom.new_value) in protected:
                hit.add(int(atom.new_value))
            region[bad] = old_full[bad]
            data[atom.slice_key] = region
            keep = full_mask & ~bad
            return type(atom)(atom.slice_key, keep, old_full[keep], atom.new_value) if keep.any() else None
        indices, old, new = atom
        old = np.asarray(old)
        new_arr = np.broadcast_to(np.asarray(new), old.shape)
        bad = np.isin(old, prot) | np.isin(new_arr, prot)
        if not bad.any():
            return atom
        hit.update(int(v) for v in np.unique(np.concatenate([old[bad], new_arr[bad]])) if int(v) in protected)
        data[tuple(np.asarray(i)[bad] for i in indices)] = old[bad]
        keep = ~bad
        if not keep.any():
            return None
        kept_new = new_arr[keep] if np.ndim(new) else new
        return tuple(np.asarray(i)[keep] for i in indices), old[keep], kept_new

    def _on_paint(self, event) -> None:
        """napari committed an edit. Single edits are handled after their write (in the guard)."""
        if self.in_action or self._guard_depth or self._annotation is None:
            return
        self._record_napari_item(event.value)

    def _record_napari_item(self, item) -> None:
        """A napari edit becomes one of our steps: presence re-read, its frames the user's."""
        ann = self._annotation
        if not item:
            return
        journal: dict = {}
        ann.table.journal = journal
        try:
            frames = set().union(*(atom_frames(a, ann.frame_axis) for a in item))
            ids = set().union(*(atom_ids(a) for a in item)) - {0}
            ann.sync_frames(frames)
            for i in ids:
                rec = ann.table.get(i)
                if rec is None:
                    continue
                for f in frames & rec.frames:
                    ann.table.edit(i).set_frame(f, "manual", 1.0)
        finally:
            ann.table.journal = None
        self._remember(Step(item, journal, ann.table.snapshot(journal)))
        ann.changed.emit()

    # -- undo / redo ---------------------------------------------------------------
    def _step(self, undoing: bool) -> None:
        layer, ann = self.layer, self._annotation
        source = layer._undo_history if undoing else layer._redo_history
        target = layer._redo_history if undoing else layer._undo_history
        if not source or ann is None:
            return
        if ann.running:
            self._say("Tracking is writing labels: undo and redo wait until the run ends (or Cancel).")
            return
        item = source[-1]
        ours, theirs = (self._undo, self._redo) if undoing else (self._redo, self._undo)
        step = ours[-1] if ours and ours[-1].item is item else None
        ids = set().union(*(atom_ids(a) for a in item)) if item else set()
        if step is not None:
            ids |= {i for i in step.before if step.before[i] != step.after.get(i)}
        locked = sorted(i for i in ids & ann.table.locked_ids())
        if locked:
            names = ", ".join(ann.table[i].name for i in locked)
            self._say(f"{names} locked: unlock to {'undo' if undoing else 'redo'} this step.")
            return
        self._originals["undo" if undoing else "redo"]()
        if step is not None:
            ours.pop()
            ann.table.put(step.before if undoing else step.after)
            theirs.append(Step(target[-1], step.before, step.after, step.name))
        else:  # an edit from before this session: re-read its frames
            ann.sync_frames(set().union(*(atom_frames(a, ann.frame_axis) for a in item)))
        ann.changed.emit()
        name = step.name if step is not None else "an edit made before this session"
        self._tell(f"{'Undid' if undoing else 'Redid'} {name}.")

    def _say(self, message: str) -> None:
        now = time.monotonic()
        if message != self._last_message or now - self._last_warning > 0.5:  # once per drag, not per mouse event
            self._warn(message)
        self._last_warning, self._last_message = now, message


_PACKED: type | None = None


def napari_atom(box):
    """A :class:`~napari_samlabel.core.chunked.BoxAtom` as napari's masked paint atom, so
    napari's undo (ours calls it, and it works after the session closes) replays it with
    basic slicing on numpy or zarr labels; unpacked only when replayed. Without napari's
    class (another napari), the plain (indices, old values, new value) atom."""
    global _PACKED
    if _PACKED is None:
        try:
            from napari.layers.labels.labels import _MaskedPaintAtom
        except ImportError:  # pragma: no cover - another napari
            _PACKED = tuple
        else:

            class PackedPaintAtom(_MaskedPaintAtom):
                __slots__ = ()

                def __new__(cls, b):
                    return tuple.__new__(cls, (b.slice_key, b, b, b.new_value))

                mask = property(lambda self: tuple.__getitem__(self, 1).mask)
                old_values = property(lambda self: tuple.__getitem__(self, 1).old_values)
                ids = property(lambda self: tuple.__getitem__(self, 1).ids)
                box = property(lambda self: tuple.__getitem__(self, 1))

            _PACKED = PackedPaintAtom
    if _PACKED is tuple:  # pragma: no cover
        idx = tuple(i + s.start for i, s in zip(np.nonzero(box.mask), box.slice_key))
        return idx, box.old_values, box.new_value
    return _PACKED(box)


def _replace_atom(layer, atom, fixed) -> None:
    """Swap an atom in napari's staged history or its newest item (None removes it)."""
    for items in (layer._staged_history, layer._undo_history[-1] if layer._undo_history else []):
        for k, a in enumerate(items):
            if a is atom:
                if fixed is None:
                    del items[k]
                else:
                    items[k] = fixed
                if not items and items is not layer._staged_history:
                    layer._undo_history.pop()
                return


def _napari_warning(message: str) -> None:
    from napari.utils.notifications import show_warning

    show_warning(message)
