"""The "Export annotations" dock: formats other tools read, projects, autosave, shapes."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Image
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .._napari.autosave import autosave_folder
from ..core.instances import InstanceTable
from ..io.exporting import FORMATS
from ..io.project import is_complete
from ._common import StatusLine, guarded, release_when_removed, require_session
from .project_dialog import save_session
from .window_hooks import dock_opened
from .import_widget import ImportControls

if TYPE_CHECKING:
    import napari


class ExportWidget(QWidget):
    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        dock_opened(napari_viewer)
        from .._napari.registry import sessions

        self.viewer = napari_viewer
        self.registry = sessions(napari_viewer)
        self.format_combo = QComboBox()
        self.format_combo.addItems(FORMATS)
        self.per_combo = QComboBox()
        self.per_combo.addItems(["class", "instance"])
        self.polygons = QCheckBox("COCO polygons (else RLE)")
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(lambda: self.export())

        self.save_button = QPushButton("Save project…")
        self.load_button = QPushButton("Open project…")
        self.save_button.clicked.connect(lambda: self.save_project())
        self.load_button.clicked.connect(lambda: self.open_project())
        project = QHBoxLayout()
        project.addWidget(self.save_button)
        project.addWidget(self.load_button)
        self.autosave = QCheckBox("Autosave every")
        self.autosave_minutes = QSpinBox()
        self.autosave_minutes.setRange(1, 120)
        self.autosave_minutes.setValue(3)
        self.autosave_minutes.setSuffix(" min")
        auto = QHBoxLayout()
        auto.addWidget(self.autosave)
        auto.addWidget(self.autosave_minutes)
        self.autosave.setToolTip("Projects saved before: into their folder. Others: into the cache, never beside "
                                 "your images; the next start offers to recover them after a crash.")
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.autosave_now)
        self.autosave.toggled.connect(self._autosave_toggled)
        self.autosave_minutes.valueChanged.connect(lambda _v: self._autosave_toggled(self.autosave.isChecked()))
        self.autosave.setChecked(True)  # on by default: a crash loses at most one interval
        #: asks the user (title, question) -> yes?; tests replace it
        self.confirm = self._ask
        #: asks what to do with a project another session has open (ProjectLocked) -> "read", "copy"
        #: or None (cancel); tests replace it
        self.choose_open_mode = self._ask_open_mode
        self._offered: set[int] = set()  # sessions already offered their autosave
        self.registry.current_changed.connect(self._offer_recovery)
        self._keys = self.registry.keys
        self._save_token = self._keys.handle("Control-S", lambda _layer: self.save_in_place())
        release_when_removed(self, self.release)

        self.shape_kind = QComboBox()
        self.shape_kind.addItems(["polygon", "rectangle"])
        self.to_shapes_button = QPushButton("To Shapes")
        self.to_shapes_button.setToolTip("Instances on this frame -> a Shapes layer (polygons or boxes)")
        self.from_shapes_button = QPushButton("From Shapes")
        self.from_shapes_button.setToolTip("The selected Shapes layer -> instances: a shape To Shapes made and you "
                                           "edited reshapes its instance, other shapes become instances of the "
                                           "current class (one Ctrl+Z)")
        self.to_shapes_button.clicked.connect(self.to_shapes)
        self.from_shapes_button.clicked.connect(self.from_shapes)
        shapes = QHBoxLayout()
        shapes.addWidget(self.to_shapes_button)
        shapes.addWidget(self.from_shapes_button)
        self.status = StatusLine()

        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("SEG per", self.per_combo)
        self.per_combo.setToolTip("DICOM SEG: one segment per class or per instance")
        form.addRow(self.polygons)
        form.addRow(self.export_button)
        self.importer = ImportControls(napari_viewer, self.status)  # labels made elsewhere in
        form.addRow(self.importer)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(project)
        layout.addLayout(auto)
        shapes_form = QFormLayout()
        shapes_form.addRow("Shapes as", self.shape_kind)
        layout.addLayout(shapes_form)
        layout.addLayout(shapes)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def _session(self):
        return require_session(self.registry, self.status)

    def export(self, path: str | None = None):
        s = self._session()
        if s is None:
            return None
        fmt = self.format_combo.currentText()
        if path is None:
            if fmt in ("coco-panoptic", "ctc", "cvat-mask"):
                path = QFileDialog.getExistingDirectory(self, f"Folder for {fmt}")
            else:
                ext = {"nifti": "labels.nii.gz", "dicom-seg": "seg.dcm", "coco": "coco.json", "csv": "instances.csv",
                       "semantic": "semantic.tif"}[fmt]  # semantic: .tif, .png or .nii.gz, as the name ends
                path, _ = QFileDialog.getSaveFileName(self, f"Export {fmt}", ext)
            if not path:
                return None
        done = guarded(self.status, self._export_over_image, s, fmt, path)
        if done is None:
            return None
        out, said = done
        if fmt == "coco" and self.polygons.isChecked():  # masks with holes went out as RLE: say which
            import json

            from ..io.coco import export_note

            said = "; ".join(t for t in (said, export_note(json.loads(out.read_text()))) if t)
        self.status.ok(f"Wrote {out}" + (f" ({said})" if said else ""))
        return out

    def _export_over_image(self, s, fmt: str, path):
        """Labels made here are on their image's grid (its geometry was copied at start). A
        labels layer opened from its own file and adopted carries its own grid: it is compared
        with the image's and reoriented (or resampled, said, or refused), never written mirrored."""
        from .._napari.session import SOURCE_KEYS
        from .._napari.view import labels_shape
        from ..io.exporting import align_to_reference, export

        meta = s.labels.metadata
        reference = meta.get("source_image") or {k: v for k, v in s.image.metadata.items() if k in SOURCE_KEYS}
        own = meta.get("source_image") or {k: v for k, v in meta.items() if k in ("affine", "geometry")}
        labels, table, frame_axis, match = align_to_reference(
            np.asarray(s.labels.data), own, reference, labels_shape(s.image), s.table, s.frame_axis
        )
        out = export(fmt, path, labels, s.ontology, table, frame_axis, reference,
                     per=self.per_combo.currentText(), polygons=self.polygons.isChecked())  # fmt: skip
        return out, match.message if match.kind in ("reoriented", "resampled") else ""

    def release(self) -> None:
        """The dock is gone: its key, its timer, its signal."""
        if self._save_token is None:
            return
        self._keys.drop(self._save_token)
        self._save_token = None
        self._timer.stop()
        self.registry.current_changed.disconnect(self._offer_recovery)

    def closeEvent(self, event) -> None:
        self.release()
        super().closeEvent(event)

    def save_project(self, folder: str | None = None):
        """Save project…: always asks where (the project's folder preselected; choosing an
        existing project folder saves into it)."""
        s = self._session()
        if s is None:
            return None
        return save_session(self, s, self.status, folder, ask=folder is None)

    def save_in_place(self):
        """Ctrl+S: into the project's folder without a dialog; the first time, asks where."""
        s = self._session()
        return None if s is None else save_session(self, s, self.status)

    # -- recovering what a crash left in the cache
    def _offer_recovery(self, session) -> None:
        if session is None or id(session) in self._offered or session.project_folder is not None:
            return
        self._offered.add(id(session))
        if session.table.present():
            return
        folder = autosave_folder(session)
        if not is_complete(folder):
            return
        n = len(InstanceTable.from_json(json.loads((folder / "instances.json").read_text(encoding="utf-8"))).present())
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime((folder / "project.json").stat().st_mtime))
        question = (f"Labels of {session.image.name!r} were autosaved at {when} ({n} instances) and not saved "
                    "since. Recover them?")  # fmt: skip
        if n and self.confirm("Recover autosaved labels", question):
            QTimer.singleShot(0, lambda: self.recover(session, folder))

    def recover(self, session, folder):
        """The autosave replaces the empty labels just started; it is saved where the user
        chooses later (never silently back into the cache as if it were a project)."""
        from ..api import open_project

        image = session.image
        recovered = guarded(self.status, open_project, self.viewer, image, folder)
        if recovered is None:
            return None
        if session in self.registry.sessions and not session.table.present():
            self.viewer.layers.remove(session.labels)
        recovered.labels.name = f"{image.name} labels"
        recovered.project_folder = None
        recovered.saved_version = -1
        self.status.ok(f"Recovered {len(recovered.table.present())} instances from {folder}. Save project… keeps them.")
        return recovered

    def _ask(self, title: str, question: str) -> bool:
        answer = QMessageBox.question(self, title, question, QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        return answer == QMessageBox.Yes

    def open_project(self, folder: str | None = None):
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Open project folder")
            if not folder:
                return None
        image = self.viewer.layers.selection.active
        if not isinstance(image, Image):  # (isinstance: the proxied layers warn on private names)
            images = [layer for layer in self.viewer.layers if isinstance(layer, Image)]
            image = images[0] if images else None
        if image is None:
            self.status.error("Open the project's image first (the labels go over it).")
            return None
        s = guarded(self.status, self._open_or_ask, image, folder)
        if s is not None:
            how = f" read-only ({s.read_only})" if s.read_only else " as a copy" if s.project_folder is None else ""
            self.status.ok(f"Opened {folder}{how}: {len(s.table.present())} instances.")
        return s

    def _open_or_ask(self, image, folder):
        """Open for writing; where another session has it open (or its folder is read-only),
        ask: read-only, a copy, or nothing."""
        from ..api import ProjectLocked, open_project

        try:
            return open_project(self.viewer, image, folder)
        except ProjectLocked as e:
            mode = self.choose_open_mode(e)
            if mode is None:
                self.status.ok(f"Not opened: {e}")
                return None
            return open_project(self.viewer, image, folder, mode=mode)

    def _ask_open_mode(self, locked) -> str | None:
        box = QMessageBox(QMessageBox.Icon.Question, "Project in use", f"{locked}.", QMessageBox.StandardButton.NoButton,
                          self)  # fmt: skip
        read = box.addButton("Read only", QMessageBox.ButtonRole.AcceptRole)
        copy = box.addButton("Open a copy", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(read)
        box.exec()
        return {id(read): "read", id(copy): "copy"}.get(id(box.clickedButton()))

    def _autosave_toggled(self, on: bool) -> None:
        self._timer.stop()
        if on:
            self._timer.start(self.autosave_minutes.value() * 60_000)

    def autosave_now(self):
        """Every session changed since its last save, each to its own project folder
        (else its own folder in the cache): a crash loses at most one interval."""
        from .._napari.autosave import autosave

        out = guarded(self.status, autosave, list(self.registry.sessions))
        if out:
            self.status.ok("Autosaved to " + ", ".join(str(p) for p in out))
        return out

    def to_shapes(self):
        from .._napari.shapes import add_instance_shapes

        s = self._session()
        if s is None:
            return None
        layer = guarded(self.status, add_instance_shapes, s, self.shape_kind.currentText())
        if layer is not None:
            self.status.ok(f"{len(layer.data)} shapes in {layer.name!r}.")
        return layer

    def from_shapes(self):
        """The selected Shapes layer's edited and new shapes as instances (see ``instances_from_shapes``)."""
        from .._napari.shapes import instances_from_shapes

        s = self._session()
        if s is None:
            return None
        layer = self.viewer.layers.selection.active
        made = guarded(self.status, instances_from_shapes, s, layer)
        if made:
            self.status.ok(f"{len(made)} instance(s) from {layer.name!r}.")
        elif made is not None:
            self.status.ok(f"Nothing changed: every shape of {layer.name!r} is as To Shapes drew it.")
        return made

