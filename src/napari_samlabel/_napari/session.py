"""An image layer bound to a Labels layer, an ontology and an instance table.

No Qt here: works with ``napari.components.ViewerModel`` or with bare layers,
so scripts and notebooks get the same behaviour as the dock widgets::

    from napari_samlabel.api import start_session
    session = start_session(viewer, viewer.layers["cells"], ontology="classes.json")
    session.select_class("nucleus")
    session.commit(mask, region=(5,))          # one Ctrl+Z step
    session.annotation.delete_below(0.5, frames=range(0, 10))
"""

from __future__ import annotations

import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from psygnal import Signal

from ..core.annotation import Annotation, AnnotationError
from ..core.compose import Mode, overwrite_hint
from ..core.instances import Instance, InstanceTable
from ..core.label_ids import MAX_ID
from ..core.ontology import Ontology
from .autosave import forget_autosave
from .history import LayerStore
from .layer_view import LayerView
from .view import labels_shape

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Image, Labels

META_KEY = "samlabel"
SOURCE_KEYS = ("source", "format", "geometry", "affine", "file_affine", "file_ornt", "spacing", "series_uid", "files",
               "time_step")  # fmt: skip


def default_frame_axis(ndim: int) -> int | None:
    """Time for 2D+t and 3D+t, slices for a 3D volume, none for a 2D image."""
    return 0 if ndim >= 3 else None


def new_labels_layer(image: Image, dtype=np.uint32, data=None) -> Labels:
    """A Labels layer on the image's grid: all zero in memory, or ``data`` (e.g. a zarr
    array on disk, see :mod:`napari_samlabel.io.labelstore`)."""
    from napari.layers import Labels

    ndim = len(labels_shape(image))
    kwargs: dict[str, Any] = {
        "name": f"{image.name} labels",
        "scale": image.scale[-ndim:],
        "translate": image.translate[-ndim:],
        "rotate": image.rotate,
        "shear": image.shear,
        "affine": image.affine.affine_matrix,
    }
    for attr in ("units", "axis_labels"):
        if hasattr(image, attr):
            kwargs[attr] = getattr(image, attr)
    # what the writers need to put labels back over the source (geometry, series)
    kwargs["metadata"] = {"source_image": {k: v for k, v in image.metadata.items() if k in SOURCE_KEYS}}
    return Labels(np.zeros(labels_shape(image), dtype=dtype) if data is None else data, **kwargs)


def source_of(image: Image) -> dict:
    return {k: v for k, v in image.metadata.items() if k in SOURCE_KEYS}


_pixel_hashes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # layer -> (id of its data, hash)


def pixel_hash_of(image: Image) -> str:
    """The hash of ``image``'s pixels (:func:`~napari_samlabel.core.image_identity.pixel_hash`),
    computed once per layer and data: opening a project over it and its session share it."""
    from ..core.image_identity import pixel_hash

    data = image.data
    cached = _pixel_hashes.get(image)
    if cached is None or cached[0] != id(data):
        level = data[-1] if image.multiscale else data  # a pyramid: its smallest level, read whole
        cached = _pixel_hashes[image] = (id(data), pixel_hash(level, rgb=bool(image.rgb)))
    return cached[1]


def image_file(image: Image) -> str | None:
    """The file or folder the image was read from, absolute: our readers' record (a DICOM
    series' folder), else napari's; None for an image made in memory (a sample, a script)."""
    for path in (image.metadata.get("source"), getattr(getattr(image, "source", None), "path", None)):
        if isinstance(path, str) and path and Path(path).exists():
            return str(Path(path).resolve())
    return None


class AnnotationSession:
    """The napari side of an :class:`~napari_samlabel.core.Annotation`."""

    class_selected = Signal(object)  # class name or None
    hotkey_used = Signal(str)  # a class picked by its key (in SAM mode: prompt for it now)
    said = Signal(str)  # what a key action did (the docks show it; so does napari's status bar)
    selection_changed = Signal(object)  # list of label ids picked in the Instances dock
    closed = Signal()

    def __init__(
        self,
        image: Image,
        labels: Labels | None = None,
        ontology: Ontology | str | Path | None = None,
        viewer: ViewerModel | None = None,
        frame_axis: int | None | str = "auto",
        table: InstanceTable | None = None,
        labels_on_disk: bool | None = None,
    ) -> None:
        from ..io import labelstore

        self.image = image
        shape = labels_shape(image)
        adopted = labels is not None
        self.notice = ""  # what starting did that the user should know (said in the status line)
        self.storage = labelstore.Decision(False, "adopted labels")  # where the labels live, and why
        if labels is None:
            self.storage = labelstore.labels_on_disk(shape, np.uint32, image.data, force=labels_on_disk)
            data = None
            if self.storage:  # larger than memory: a chunked zarr array on disk, painted in place
                key = _image_key(image.name, shape, source_of(image))
                data = labelstore.create_labels(labelstore.live_path(image.name, key), shape)
            labels = new_labels_layer(image, data=data)
        elif tuple(labels.data.shape) != shape:
            raise AnnotationError(
                f"labels layer {labels.name!r} has shape {tuple(labels.data.shape)}, "
                f"image {image.name!r} needs {shape}"
            )
        if adopted:  # negative or huge ids (napari takes int64 layers) are refused before anything changes
            from ..core.label_ids import checked_ids

            source = labels.metadata.get("source") or f"labels layer {labels.name!r}"  # the file it came from
            checked_ids(labels.data, str(source), AnnotationError)
        if adopted and labelstore.is_lazy(labels.data) and (labelstore.is_read_only(labels.data)
                                                           or not _wide_enough(labels.data.dtype)):  # fmt: skip
            # a project's labels.zarr (read-only) or narrow labels on disk: edit a working copy, in
            # the cache: beside a project only for the holder of its lock (_napari.projects), whose
            # working array a copy made there would replace
            old = labels.data.dtype
            key = _image_key(image.name, shape, source_of(image))
            labels.data = labelstore.working_copy(labels.data, image.name, key)
            if old != labels.data.dtype:
                self.notice = f"{labels.name!r} was {old}: widened to uint32 so new ids fit (values unchanged)."
        if adopted and not _wide_enough(labels.data.dtype):
            old = labels.data.dtype
            labels.data = np.asarray(labels.data).astype(np.uint32)  # napari resets its history here
            self.notice = f"{labels.name!r} was {old}: widened to uint32 so new ids fit (values unchanged)."
        if labelstore.is_on_disk(labels.data):
            self.storage = labelstore.Decision(True, self.storage.reason)
            self.notice = " ".join(t for t in (self.notice, f"Labels are kept on disk ({self.storage.reason}): "
                                               f"{labelstore.store_path(labels.data)}") if t)  # fmt: skip
        self.labels = labels
        self.project_folder: Path | None = None  # where Save project / autosave write this session
        self.version = 0  # counts changes, so autosave skips sessions saved since
        self.saved_version = -1  # the version last saved where the user chose (closing asks if it differs)
        self.autosaved_version = -1  # the version last written anywhere, the cache included
        self.saved_at: float | None = None
        self._fresh: dict[str, int] = {}  # class -> id handed to the brush, not painted yet
        self.selection: list[int] = []  # picked in the Instances dock
        self.clipboard = None  # Ctrl+C's mask (see quick_keys.Copied)
        self._viewer_ref = weakref.ref(viewer) if viewer is not None else (lambda: None)
        meta = labels.metadata.get(META_KEY, {})
        if isinstance(ontology, (str, Path)):
            ontology = Ontology.load(ontology)
        elif isinstance(ontology, Ontology):
            # Each session owns its ontology: classes given at start are copied, so
            # another session's edits (or deletes) never reach this one.
            ontology = Ontology.from_dict(ontology.to_dict())
        if ontology is None:
            ontology = Ontology.from_dict(meta["ontology"]) if "ontology" in meta else Ontology()
        if frame_axis == "auto":
            frame_axis = meta.get("frame_axis", default_frame_axis(len(shape)))
        from ..core.chunked import Spill

        spill = Spill(labelstore.undo_spill_path()) if self.storage else None  # undo bytes on disk too
        self.store = LayerStore(labels, warn=_warn, tell=lambda text: self.say(text), spill=spill)
        if table is None:
            table = self._table_from_features(labels, ontology)
        self.annotation = Annotation(self.store, ontology, frame_axis, table)
        self.store.attach(self.annotation)
        if adopted:  # a new layer is all background: nothing to read
            known = {r.id for r in table}
            self.annotation.sync_frames()
            new = sorted({r.class_name for r in table if r.id not in known})
            n = sum(r.id not in known for r in table)
            if n:  # an organ map's values are classes, a cell mask's instances: say which was assumed
                self.notice += (f" Its {n} label value(s) became instances of {', '.join(new)}; if they are "
                                "classes (an organ map), use Export > Import… with a class table instead.")  # fmt: skip
        self._view = LayerView(labels)  # colours and features, by what changed
        self._feed = table.watch()
        self.annotation.changed.connect(self._refresh_layer)
        ontology.changed.connect(self._on_classes_changed)
        ontology.changed.connect(self._keep_a_current_class)
        labels.events.selected_label.connect(self._on_selected_label)
        self._keys = None
        self.views = None  # the viewer's views (see .views): the plane worked on is the working view's
        if viewer is not None:
            if labels not in viewer.layers:
                viewer.layers.append(labels)
            from .registry import sessions

            self._keys = sessions(viewer).keys  # the viewer's plugin keys work on our layers too
            self.views = sessions(viewer).views
            for layer in (labels, image):
                self._keys.adopt(layer)
        self._refresh_layer()
        if len(ontology):
            self.select_class(ontology.names[0])

    # -- convenience -----------------------------------------------------
    @property
    def ontology(self) -> Ontology:
        return self.annotation.ontology

    @property
    def table(self) -> InstanceTable:
        return self.annotation.table

    @property
    def frame_axis(self) -> int | None:
        return self.annotation.frame_axis

    @property
    def viewer(self) -> ViewerModel | None:
        return self._viewer_ref()

    @property
    def working_viewer(self) -> ViewerModel | None:
        """The view whose plane the user works on: the viewer, or a linked view the mouse is on."""
        return self.views.working if self.views is not None else self.viewer

    @property
    def current_class(self) -> str | None:
        return self.annotation.current_class

    def current_plane(self):
        """The plane the viewer shows (see :mod:`.view`)."""
        from .view import current_plane

        return current_plane(self)

    def model_image(self):
        """The image as the model sees it: (data, contrast limits, rgb) (see :mod:`.view`)."""
        from .view import model_image

        return model_image(self)

    def targets(self, plane=None) -> list[int]:
        """The instances an action acts on, shown on ``plane`` (anywhere if None): those
        picked in the Instances dock, else the one written last, else the one under the
        mouse (see :func:`.quick_keys.target_ids`)."""
        from .quick_keys import target_ids

        return target_ids(self, plane)

    def current_frame(self) -> int:
        """The index along the frame axis that the viewer shows now."""
        viewer = self.viewer
        if viewer is None or self.frame_axis is None:
            return 0
        point = self.labels.world_to_data(viewer.dims.point)
        return int(np.clip(np.round(point[self.frame_axis]), 0, self.annotation.n_frames - 1))

    def go_to_frame(self, frame: int, axis: int | None = None) -> None:
        """Move the viewer to index ``frame`` along a data axis (default: the frame axis)."""
        viewer = self.viewer
        axis = self.frame_axis if axis is None else axis
        if viewer is None or axis is None:
            return
        data_point = np.asarray(self.labels.world_to_data(viewer.dims.point), dtype=float)
        data_point[axis] = frame
        world = self.labels.data_to_world(data_point)
        world_axis = viewer.dims.ndim - self.labels.ndim + axis
        viewer.dims.set_point(world_axis, world[axis])

    # -- classes and instances ------------------------------------------
    def select_class(self, name: str) -> None:
        """Pick the class to label with; napari's brush then paints a fresh instance of it."""
        self.ontology[name]
        self.annotation.current_class = name
        self.labels.selected_label = self._unused_id(name)
        self.class_selected.emit(name)

    def _unused_id(self, class_name: str) -> int:
        """The id the brush should paint: the class's not-yet-painted fresh id, else a new one."""
        if self.ontology[class_name].is_stuff:
            return self.annotation.new_instance(class_name).id
        fresh = self.table.get(self._fresh.get(class_name, 0))
        if fresh is None or not self.table.is_unused(fresh.id) or fresh.class_name != class_name:
            fresh = self.annotation.new_instance(class_name)
            self._fresh[class_name] = fresh.id
            self._show_changes()  # the brush paints it in its class's colour from the first stroke
        return fresh.id

    def new_instance(self) -> int:
        """Start a new instance of the current class (replaces napari's 'M': ids are never reused)."""
        name = self.current_class or self.annotation._default_class()
        self._fresh.pop(name, None)
        self.select_class(name)
        return self.labels.selected_label

    def set_selection(self, ids) -> None:
        """Instances picked in a list, for the tools that act on several (track, merge...)."""
        self.selection = sorted(int(i) for i in ids)
        self.selection_changed.emit(self.selection)

    def select_instance(self, label_id: int, jump: bool = True) -> Instance:
        rec = self.table[label_id]
        self.labels.selected_label = rec.id
        self.annotation.current_class = rec.class_name
        self.class_selected.emit(rec.class_name)
        if jump and rec.frames and self.frame_axis is not None and self.current_frame() not in rec.frames:
            self.go_to_frame(min(rec.frames))
        return rec

    def commit(
        self,
        mask: np.ndarray,
        region: Sequence = (),
        label_id: int | None = None,
        mode: Mode | str = Mode.EXCLUDE,
        source: str = "manual",
        confidence: float = 1.0,
        replace: bool = False,
    ) -> Instance:
        """Write a mask as a new instance of the current class (or into ``label_id``); one undo step."""
        if not np.asarray(mask).any():
            raise AnnotationError("the mask is empty: nothing to commit")
        new = label_id is None
        if new:
            class_name = self.current_class or self.annotation._default_class()
            rec = self.table[self._unused_id(class_name)]
        else:
            rec = self.table[label_id]
        mask, pieces, specks = self._without_specks(mask, region, rec.id, mode)
        self.annotation.write_mask(
            mask, rec.id, region, mode, replace=replace, source=source, confidence=confidence, require_pixels=True
        )
        if pieces > 1 or specks:
            left_out = f"; {specks} speck(s) it would have left were not written" if specks else ""
            self.say(f"{rec.name} was saved in {pieces} pieces: other or locked instances cut through it "
                     f"({Mode(mode).value} mode){left_out}. Check it, or use 'overwrite'.", warn=True)  # fmt: skip
        if new and self.current_class == rec.class_name:
            self.select_class(rec.class_name)  # the brush moves on to a fresh id
        if new:  # what was just saved is what Shift+T, Ctrl+C and Shift+F act on next
            self.set_selection([rec.id])
        return rec

    def _without_specks(self, mask, region, label_id: int, mode) -> tuple[np.ndarray, int, int]:
        """The mask less the tiny pieces that panoptic exclusion would leave of it (an object
        drawn across others fell apart into 28 fragments), with the count of what remains."""
        from scipy import ndimage as ndi

        from ..core.compose import allowed_pixels, normalize_region

        mask = np.asarray(mask, bool)
        current = np.asarray(self.labels.data[normalize_region(region, self.labels.data.shape)])
        if mask.shape != current.shape:
            return mask, 1, 0  # write_mask says what is wrong
        ok = allowed_pixels(current, mask, label_id, mode, self.annotation.protected_ids(), None)
        ok |= mask & (current == label_id)  # its own pixels under the mask stay: a moved outline is no specks
        if ok.all() or not ok.any() or np.array_equal(ok, mask):
            return mask, 1, 0
        parts, n = ndi.label(ok)
        if n <= 1:
            return mask, n, 0
        sizes = np.bincount(parts.ravel())[1:]
        keep = sizes >= max(5, 0.02 * sizes.max())
        specks = int((~keep).sum())
        if not keep.any():  # saved, it would be "0 pieces": its pixels gone, nothing written
            name = self.table[label_id].name if label_id in self.table else "the instance"
            raise AnnotationError(f"other instances cover this mask and leave only {specks} speck(s) free for {name} "
                                  f"({Mode(mode).value} mode): nothing saved, its pixels kept.{overwrite_hint(mode)}")  # fmt: skip
        if specks:
            mask = mask & ~np.isin(parts, np.flatnonzero(~keep) + 1)
        return mask, int(keep.sum()), specks

    # -- one-key actions (see keys.SHORTCUTS) -----------------------------
    def copy_selected(self):
        from .quick_keys import copy_selected

        return copy_selected(self)

    def paste(self, as_new: bool = False) -> Instance:
        from .quick_keys import paste

        return paste(self, as_new)

    def go_to_unlabeled(self) -> int | None:
        from .quick_keys import go_to_unlabeled

        return go_to_unlabeled(self)

    def focus_selected(self) -> int:
        from .quick_keys import focus_selected

        return focus_selected(self)

    def say(self, text: str, warn: bool = False) -> None:
        """Tell the user what an action did: napari's status bar, the docks (``said``), and
        with ``warn`` a notification too."""
        viewer = self.viewer
        if viewer is not None:
            viewer.status = text
        if warn:
            _warn(text)
        self.said.emit(text)

    # -- files -------------------------------------------------------------
    @property
    def image_key(self) -> str:
        """What identifies this session's image across runs, its pixels included (two
        ``img.tif`` of one shape are two images): autosaves and shapes layers go by it."""
        from ..io.project import image_key

        return image_key(self.image.name, self.labels.data.shape, self._source_image(), self.image_hash)

    @property
    def image_hash(self) -> str:
        return pixel_hash_of(self.image)

    def _source_image(self) -> dict:
        return self.labels.metadata.get("source_image", {})

    def save_project(self, folder=None, remember: bool = True) -> Path:
        """Labels, ontology, instance table and source geometry, written atomically.

        Without ``folder``: this session's project folder (the last saved or opened);
        ``remember`` makes ``folder`` that folder."""
        from ..io.project import ProjectError, image_key, save_project

        folder = folder if folder is not None else self.project_folder
        if folder is None:
            raise ProjectError("this session has no project folder yet: choose one with Save project")
        meta = {
            "frame_axis": self.frame_axis,
            "image": self.image.name,
            "image_path": image_file(self.image),  # `samlabel FOLDER` opens it, then the labels over it
            # the key without the pixels, as projects always had it: older projects stay ours
            "image_key": image_key(self.image.name, self.labels.data.shape, self._source_image()),
            "image_hash": self.image_hash,
            "source_image": self._source_image(),
        }
        version = self.version
        lock = self._lock_for(folder, remember, meta["image_key"])
        try:
            out = save_project(folder, self.labels.data, self.ontology, self.table, meta, owner=meta["image_key"],
                               owner_pixels=self.image_hash, lock=lock)  # fmt: skip
        except BaseException:
            if lock is not None and lock is not self.project_lock:
                lock.release()
            raise
        self.autosaved_version = version
        if remember:  # a copy elsewhere (the cache's autosave) is not where the user keeps it
            if lock is not self.project_lock:  # Save project as…: this session writes there now
                old, self.project_lock = self.project_lock, lock
                if old is not None:
                    old.release()
            self.read_only = None
            self.project_folder = out
            self.saved_version = version
            self.saved_at = time.time()
            forget_autosave(self)  # kept where the user chose: no stale offer to recover it
        return out

    def _lock_for(self, folder, remember: bool, owner: str):
        """The lock to save into ``folder`` with: this session's lock of that folder; a new one
        where ``remember`` makes it this session's folder (ProjectLocked naming the owner where
        another session has it open); none for a copy elsewhere (the cache's autosave)."""
        from ..io.project import ProjectError, lock_for_writing

        if self.project_lock is not None and self.project_lock.covers(folder):
            return self.project_lock
        if self.read_only and self.project_folder is not None and Path(folder).resolve() == self.project_folder.resolve():
            raise ProjectError(f"Opened read-only here ({self.read_only}), nothing was written to {folder}: "
                               "Save project… to another folder keeps these labels")  # fmt: skip
        return lock_for_writing(folder, owner, self.image_hash) if remember else None

    def export(self, fmt: str, out, **kwargs):
        """Export in one of :data:`napari_samlabel.io.exporting.FORMATS`."""
        from ..io.exporting import export

        return export(fmt, out, self.labels.data, self.ontology, self.table, self.frame_axis,
                      self.labels.metadata.get("source_image", {}), **kwargs)  # fmt: skip

    # -- keeping the layer in step ---------------------------------------
    @staticmethod
    def _table_from_features(labels: Labels, ontology: Ontology) -> InstanceTable:
        """Rebuild records from a layer this plugin annotated before (features round-trip).

        Classes the features name but the ontology lacks are added to it."""
        table = InstanceTable()
        feats = labels.features
        if "index" not in feats or "class" not in feats:
            return table
        for row in feats.to_dict("records"):
            cls = str(row["class"])
            if cls not in ontology:  # keep the class rather than lose it
                ontology.add(cls)
            table.adopt(
                int(row["index"]), cls,
                stuff=ontology[cls].is_stuff,
                source=str(row.get("source", "manual")),
                confidence=float(row.get("confidence", 1.0)),
                status=str(row.get("status", "unreviewed")),
                locked=bool(row.get("locked", False)),
                visible=bool(row.get("visible", True)),
                parent=int(row.get("parent", 0) or 0),
            )  # fmt: skip
        return table

    def _on_classes_changed(self) -> None:
        self._classes_changed = True
        self._refresh_layer()

    def _refresh_layer(self) -> None:
        """Colours, features and metadata after an edit: only what changed (the table's
        change feed), so an edit costs the same with 100 or 50,000 instances."""
        self.version += 1
        self._show_changes()

    def _show_changes(self) -> None:
        ids = self._feed.take()
        if self._classes_changed:
            ids, self._classes_changed = None, False
        self._check_lineage(ids)
        self._view.update(self.table, self.ontology, ids, self.current_class)
        meta = self.labels.metadata.get(META_KEY)
        if ids is None or not meta or meta.get("frame_axis") != self.frame_axis:
            self.labels.metadata[META_KEY] = {
                "ontology": self.ontology.to_dict(),
                "frame_axis": self.frame_axis,
                "image": self.image.name,
            }

    _classes_changed = False
    _broken: frozenset = frozenset()
    _lineage = False  # some instance has a parent (a division): then divisions are checked

    def _check_lineage(self, ids: set[int] | None = None) -> None:
        """An edit (a brush stroke, a tracking run) that leaves a mother on a frame after her
        daughters start breaks the division: say so when it happens, not at export."""
        from ..core.lineage import broken_links

        if ids is None:
            self._lineage = any(r.parent for r in self.table)
        elif not self._lineage:
            self._lineage = any(self.table[i].parent for i in ids if i in self.table)
        broken = frozenset(broken_links(self.table)) if self._lineage else frozenset()
        new = sorted(broken - self._broken)
        self._broken = broken
        if new:
            self.say(f"{new[0]}: that division no longer holds (Ctrl+Z takes the edit back, or Unlink).", warn=True)

    def _on_selected_label(self, event=None) -> None:
        """napari's 'new label' picks max+1, which may be a deleted instance's id:
        ids are never reused, so hand the brush a fresh id instead."""
        label = self.labels.selected_label
        if label > MAX_ID:  # typed into napari's box: no saved project could hold it
            fresh = self._unused_id(self.current_class or self.annotation._default_class())
            self.say(f"Label {label} is above {MAX_ID}, the largest id a project holds: the brush paints {fresh}.", warn=True)
            self.labels.selected_label = fresh
            return
        rec = self.table.get(label) if label else None
        if rec is None or self.table.is_unused(label) or rec.present or self.store.in_action:
            return
        fresh = self._unused_id(self.current_class or rec.class_name)
        if fresh != label:
            self.labels.selected_label = fresh

    def _keep_a_current_class(self) -> None:
        """Classes loaded or removed: a current class that is gone gives way to the first one
        (after Classes > Load, Enter said "no class named 'class 1'")."""
        stale = [r.id for r in self.table if r.class_name not in self.ontology and self.table.is_unused(r.id)]
        if stale and len(self.ontology):  # fresh brush ids of classes now gone: saved, they brought the class back
            for i in stale:
                self.table.edit(i).class_name = self.ontology.names[0]
            self._fresh = {c: i for c, i in self._fresh.items() if i not in stale}
        name = self.current_class
        if (name is None or name not in self.ontology) and len(self.ontology):
            self.select_class(self.ontology.names[0])

    # -- keys ------------------------------------------------------------
    def press_hotkey(self, key: str) -> bool:
        """Select the class whose hotkey is ``key``; False if none has it."""
        cls = self.ontology.by_hotkey(key)
        if cls is not None:
            self.select_class(cls.name)
            self.hotkey_used.emit(cls.name)
        return cls is not None

    def close(self) -> None:
        """Undo exactly what ``__init__`` bound: keys, signals, the layer's patched
        methods. The labels stay; a closed session reacts to nothing."""
        if self._closed:
            return
        self._closed = True
        if self._keys is not None:
            for layer in (self.labels, self.image):
                self._keys.release(layer)
        self.labels.events.selected_label.disconnect(self._on_selected_label)
        self.annotation.changed.disconnect(self._refresh_layer)
        self.ontology.changed.disconnect(self._on_classes_changed)
        self._feed.close()
        self._view.close()
        self.ontology.changed.disconnect(self._keep_a_current_class)
        self.annotation.close()
        self.store.detach()
        if self.project_lock is not None:  # the project can be opened for writing again
            self.project_lock.release()
        self.closed.emit()

    _closed = False
    project_lock = None  # io.projectlock.ProjectLock of project_folder, while this session writes it
    read_only: str | None = None  # why project_folder is not saved into (who has it open), if so


def _image_key(name: str, shape, source: dict) -> str:
    from ..io.project import image_key

    return image_key(name, shape, source)


def _wide_enough(dtype) -> bool:
    """uint32/int64-like: room for the ids of a dense tissue (napari needs unsigned or signed ints)."""
    dtype = np.dtype(dtype)
    return dtype.kind in "iu" and dtype.itemsize >= 4


def _warn(message: str) -> None:
    from napari.utils.notifications import show_warning

    show_warning(message)
