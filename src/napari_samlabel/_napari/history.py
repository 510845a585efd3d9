"""Keep the instance table in step with napari's undo history.

napari's Labels undo only knows pixels. Each samlabel action is committed as
one napari history item (a metadata-only action gets an empty one), and we
remember the table before and after it; when that item is undone or redone we
restore the table too. Items we did not make (napari's brush, fill, polygon)
are followed by re-reading presence on the frames they touched.

napari emits no event on undo/redo, so we wrap the layer's ``undo``/``redo``
methods, which its Ctrl+Z / Ctrl+Shift+Z bindings call.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

if TYPE_CHECKING:
    from napari.layers import Labels

    from ..core.annotation import Annotation


def atom_frames(atom, frame_axis: int | None) -> set[int]:
    """Frames a napari history atom touched (data_setitem tuples or masked paint atoms)."""
    if frame_axis is None:
        return {0}
    if hasattr(atom, "slice_key"):
        s = atom.slice_key[frame_axis]
        return set(range(s.start, s.stop)) if isinstance(s, slice) else {int(s)}
    indices = atom[0]
    return set(np.unique(np.asarray(indices[frame_axis])).tolist()) if len(indices) else set()


def apply_atom(data, atom) -> None:
    """Write an atom's new values (idempotent).

    napari emits ``paint`` before it writes a single, unblocked edit, so a
    handler that wants to read the result applies the atom first.
    """
    if hasattr(atom, "slice_key"):
        if atom.mask is None:
            data[atom.slice_key] = atom.new_value
        else:
            region = np.asarray(data[atom.slice_key])
            region[atom.mask] = atom.new_value
            data[atom.slice_key] = region
    else:
        data[atom[0]] = atom[2]


def atom_old_values(atom) -> np.ndarray:
    return np.asarray(atom.old_values if hasattr(atom, "old_values") else atom[1])


class LayerStore:
    """A napari Labels layer as the annotation's label store, with undo sync."""

    def __init__(self, layer: Labels, history_limit: int | None = None) -> None:
        self.layer = layer
        self._undo: list[tuple[object, dict, dict]] = []
        self._redo: list[tuple[object, dict, dict]] = []
        self._atoms: list[tuple] = []
        self.in_action = False
        self._annotation: Annotation | None = None
        self._orig_undo: Callable[[], None] = layer.undo
        self._orig_redo: Callable[[], None] = layer.redo
        self._limit = history_limit or getattr(layer, "_history_limit", 100)

    def attach(self, annotation: Annotation) -> None:
        self._annotation = annotation
        self.layer.undo = self.undo
        self.layer.redo = self.redo

    def detach(self) -> None:
        for name in ("undo", "redo"):
            self.layer.__dict__.pop(name, None)

    # -- LabelStore ------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.layer.data.shape)

    def read(self, region: tuple) -> np.ndarray:
        return np.asarray(self.layer.data[region])

    def write(self, indices: tuple[np.ndarray, ...], value: int) -> None:
        """Write and remember the old values; the action becomes one history item at its end."""
        if not len(indices[0]):
            return
        data = self.layer.data
        old = np.asarray(data[indices])
        changed = old != value
        if not changed.all():  # callers usually pass only pixels that change: skip the gathers then
            if not changed.any():
                return
            indices = tuple(np.asarray(i)[changed] for i in indices)
            old = old[changed]
        data[indices] = value
        self._atoms.append((indices, old, value))

    @contextmanager
    def transaction(self, annotation: Annotation) -> Iterator[None]:
        """One user action = one napari history item, however long it runs.

        We stage the atoms ourselves instead of holding napari's
        ``block_history`` open: a tracking run spans many GUI events, and a
        brush stroke in the meantime must stay its own undo step.
        """
        layer = self.layer
        before = annotation.table.state()
        self._atoms = []
        try:
            yield
        except BaseException:
            for indices, old, _ in reversed(self._atoms):  # put back what was written
                layer.data[indices] = old
            self._atoms = []
            annotation.table.restore(before)
            layer.refresh()
            raise
        atoms, self._atoms = self._atoms, []
        after = annotation.table.state()
        if not atoms and after == before:
            return  # nothing happened: no undo step
        if not atoms:
            # A metadata-only action (change class): an empty item so that
            # Ctrl+Z reaches it in order.
            atoms = [(tuple(np.empty(0, np.intp) for _ in self.shape), np.empty(0, layer.data.dtype), 0)]
        self.in_action = True  # our own paint event is not a brush stroke
        try:
            with layer.block_history():
                for atom in atoms:
                    layer._save_history(atom)
        finally:
            self.in_action = False
        layer.refresh()
        item = layer._undo_history[-1] if layer._undo_history else None
        self._undo.append((item, before, after))
        del self._undo[: -self._limit]
        self._redo.clear()

    # -- undo / redo -----------------------------------------------------
    def undo(self) -> None:
        self._step(self._orig_undo, self.layer._undo_history, self.layer._redo_history, self._undo, self._redo, 1)

    def redo(self) -> None:
        self._step(self._orig_redo, self.layer._redo_history, self.layer._undo_history, self._redo, self._undo, 2)

    def _step(self, apply, source, target, ours, theirs, which: int) -> None:
        if not source:
            return
        item = source[-1]
        apply()
        ann = self._annotation
        if ours and ours[-1][0] is item:
            _, before, after = ours.pop()
            ann.table.restore(before if which == 1 else after)
            theirs.append((target[-1], before, after))
        else:
            frames = set().union(*(atom_frames(a, ann.frame_axis) for a in item))
            ann.sync_frames(frames)
        ann.changed.emit()

    def forget_redo(self) -> None:
        """A new edit outside samlabel (a brush stroke) ends the redo chain."""
        self._redo.clear()

    def reject_last(self) -> None:
        """Revert napari's last history item and leave no redo for it."""
        self._orig_undo()
        if self.layer._redo_history:
            self.layer._redo_history.pop()
