"""The "Segment" dock: model, class and mode; prompts with a live preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import create_worker

from ..core.compose import Mode
from ._common import StatusLine, guarded

if TYPE_CHECKING:
    import napari

    from .._napari.prompting import PromptController
    from .._napari.session import AnnotationSession

DEVICES = ("auto", "cpu", "cuda", "mps")


class SegmentWidget(QWidget):
    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        from .._napari.registry import sessions
        from ..backends.registry import model_names

        self.viewer = napari_viewer
        self.registry = sessions(napari_viewer)
        self.backend = None
        self.controller: PromptController | None = None
        self._session: AnnotationSession | None = None
        self._worker = None  # the preview in flight
        self._again = False  # prompts changed while it ran
        self._loader = None
        self._prefetcher = None

        self.model_combo = QComboBox()
        self.model_combo.addItems(model_names())
        self.checkpoint_edit = QLineEdit()
        self.checkpoint_edit.setPlaceholderText("cached or downloaded by id")
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        ckpt = QHBoxLayout()
        ckpt.addWidget(self.checkpoint_edit, 1)
        ckpt.addWidget(browse)
        self.device_combo = QComboBox()
        self.device_combo.addItems(DEVICES)
        self.disk_cache = QCheckBox("Keep embeddings on disk (reopening skips the encoder)")
        self.load_button = QPushButton("Load model")
        self.load_button.clicked.connect(self.load_model)

        self.class_combo = QComboBox()
        self.class_combo.activated.connect(self._class_chosen)
        self.mode_combo = QComboBox()
        self.mode_combo.addItems([m.value for m in Mode])
        self.mode_combo.currentTextChanged.connect(self._options_changed)
        self.into_selected = QCheckBox("Into selected instance (replace it on this plane)")
        self.into_selected.toggled.connect(self._options_changed)
        self.multimask = QCheckBox("Several candidates (C cycles)")
        self.multimask.setChecked(True)
        self.multimask.toggled.connect(self._options_changed)

        self.prompt_button = QPushButton("Start prompting")
        self.prompt_button.clicked.connect(self.start_prompting)
        self.commit_button = QPushButton("Commit (Enter)")
        self.clear_button = QPushButton("Clear (Esc)")
        self.cycle_button = QPushButton("Next (C)")
        self.commit_button.clicked.connect(lambda: self._with_controller(lambda c: c.commit()))
        self.clear_button.clicked.connect(lambda: self._with_controller(lambda c: c.clear()))
        self.cycle_button.clicked.connect(lambda: self._with_controller(lambda c: c.cycle()))
        actions = QHBoxLayout()
        for b in (self.commit_button, self.clear_button, self.cycle_button):
            actions.addWidget(b)

        self.label_all_button = QPushButton("Label all objects on this plane")
        self.label_all_button.clicked.connect(self.label_all)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0, 1)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(0.5)
        self.prune_button = QPushButton("Delete below")
        self.prune_button.clicked.connect(self._prune)
        prune = QHBoxLayout()
        prune.addWidget(self.prune_button)
        prune.addWidget(self.threshold_spin)

        self.status = StatusLine()
        form = QFormLayout()
        form.addRow("Model", self.model_combo)
        form.addRow("Checkpoint", ckpt)
        form.addRow("Device", self.device_combo)
        form.addRow(self.disk_cache)
        form.addRow(self.load_button)
        form.addRow("Class", self.class_combo)
        form.addRow("Mode", self.mode_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.into_selected)
        layout.addWidget(self.multimask)
        layout.addWidget(self.prompt_button)
        layout.addLayout(actions)
        layout.addWidget(self.label_all_button)
        layout.addLayout(prune)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(40)
        self._debounce.timeout.connect(self._run_preview)
        self._plane_timer = QTimer(self)
        self._plane_timer.setSingleShot(True)
        self._plane_timer.setInterval(150)
        self._plane_timer.timeout.connect(self._prefetch)
        napari_viewer.dims.events.current_step.connect(lambda e=None: self._plane_timer.start())
        self.registry.current_changed.connect(self._set_session)
        self._set_session(self.registry.current)

    # -- session -----------------------------------------------------------
    def _set_session(self, session: AnnotationSession | None) -> None:
        if self._session is not None:
            self._session.ontology.changed.disconnect(self._refresh_classes)
            self._session.class_selected.disconnect(self._refresh_classes)
        if self.controller is not None:
            self.controller.close()  # its keys leave the old session's layers too
            self.controller = None
        self._session = session
        if session is not None:
            session.ontology.changed.connect(self._refresh_classes)
            session.class_selected.connect(self._refresh_classes)
        self._refresh_classes()

    def _refresh_classes(self, *_args) -> None:
        self.class_combo.clear()
        if self._session is not None:
            self.class_combo.addItems(self._session.ontology.names)
            if self._session.current_class:
                self.class_combo.setCurrentText(self._session.current_class)

    def _class_chosen(self, _index: int) -> None:
        if self._session is not None and self.class_combo.currentText():
            guarded(self.status, self._session.select_class, self.class_combo.currentText())

    # -- model -------------------------------------------------------------
    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "SAM 2 checkpoint", "", "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.checkpoint_edit.setText(path)

    def load_model(self):
        """Load the chosen model in a worker; on failure say why and keep the weight-free backend."""
        from ..backends.registry import load_backend

        name = self.model_combo.currentText()
        ckpt = self.checkpoint_edit.text().strip() or None
        device = self.device_combo.currentText()
        self.status.ok(f"Loading {name}…")
        self.load_button.setEnabled(False)
        self._loader = create_worker(
            load_backend, name, ckpt, device, True, self.disk_cache.isChecked(),
            _connect={
                "returned": self._model_loaded,
                "errored": self._model_failed,
                "finished": lambda: self.load_button.setEnabled(True),
            },
        )  # fmt: skip
        return self._loader

    def _model_loaded(self, backend) -> None:
        self.set_backend(backend)
        self.status.ok(f"{backend.name} ready on {getattr(backend, 'device', 'cpu')}.")

    def _model_failed(self, exc: Exception) -> None:
        from napari.utils.notifications import show_warning

        from ..backends.seeds import SeedGrowSegmenter

        self.set_backend(SeedGrowSegmenter())
        msg = f"{exc} Using the weight-free 'seeds' backend meanwhile."
        self.status.error(msg)
        show_warning(msg)

    def set_backend(self, backend) -> None:
        self.backend = backend
        self.registry.backend = backend  # the Track dock tracks with the same model
        if self.controller is not None:
            self.controller.backend = backend
            self.controller.apply(None)
            self._prefetch()

    # -- prompting ---------------------------------------------------------
    def start_prompting(self) -> PromptController | None:
        from .._napari.prompting import PromptController
        from ..backends.seeds import SeedGrowSegmenter

        if self._session is None:
            self.status.error("No session: start annotating in the Classes dock first.")
            return None
        if self.controller is None:
            if self.backend is None:
                self.set_backend(SeedGrowSegmenter())  # works at once; load SAM 2 when wanted
            self.controller = PromptController(self._session, self.backend)
            self.controller.prompts_changed.connect(self._debounce.start)
            self.controller.preview_changed.connect(self._show_result)
            self.controller.committed.connect(lambda rec: self.status.ok(f"Committed {rec.name}."))
            self._options_changed()
        self.viewer.layers.selection.active = self.controller.points
        self.controller.points.mode = "add"
        self.status.ok("Left click: object; right click or N then click: background; drag a box on 'samlabel box'.")
        self._prefetch()
        return self.controller

    def _options_changed(self, *_args) -> None:
        if self.controller is not None:
            self.controller.mode = Mode(self.mode_combo.currentText())
            self.controller.into_selected = self.into_selected.isChecked()
            self.controller.multimask = self.multimask.isChecked()

    def _run_preview(self) -> None:
        """Compute the preview off the GUI thread; a newer prompt waits for the one in flight."""
        if self.controller is None:
            return
        if self._worker is not None:
            self._again = True
            return
        req = guarded(self.status, self.controller.request)
        if req is None:
            return
        self._worker = create_worker(
            self.controller.run, req,
            _connect={"returned": self.controller.apply, "errored": self._report, "finished": self._preview_done},
        )  # fmt: skip

    def _preview_done(self) -> None:
        self._worker = None
        if self._again:
            self._again = False
            self._run_preview()

    def _prefetch(self) -> None:
        """Start the current plane's embedding as soon as the user lands on it."""
        if self.controller is None or self.backend is None or self._prefetcher is not None:
            return
        try:
            plane = self.controller.current_plane()
        except ValueError:
            return
        self._prefetcher = create_worker(
            self.controller.prefetch, plane,
            _connect={"errored": self._report, "finished": lambda: setattr(self, "_prefetcher", None)},
        )  # fmt: skip

    def _report(self, exc: Exception) -> None:
        """A worker's error: a message in the dock and the viewer, never a crash."""
        from napari.utils.notifications import show_error

        self.status.error(str(exc))
        show_error(str(exc))

    def _show_result(self, result) -> None:
        if result is None:
            return
        pred = result.prediction
        self.status.ok(
            f"Candidate {self.controller.choice + 1}/{len(pred)}, score {pred.scores[self.controller.choice]:.2f}, "
            f"{result.seconds * 1000:.0f} ms. Enter commits, Esc clears."
        )

    def _with_controller(self, fn):
        if self.controller is None and self.start_prompting() is None:
            return None
        return guarded(self.status, fn, self.controller)

    def label_all(self):
        made = self._with_controller(lambda c: c.label_all())
        if made is not None:
            self.status.ok(f"Labeled {len(made)} objects; 'Delete below' removes weak ones on this frame.")
        return made

    def _prune(self) -> None:
        s = self._session
        if s is None:
            return
        f = s.current_frame()
        n = guarded(self.status, s.annotation.delete_below, self.threshold_spin.value(), [f])
        if n is not None:
            self.status.ok(f"Removed {n} pixels below {self.threshold_spin.value():.2f} on frame {f}.")
