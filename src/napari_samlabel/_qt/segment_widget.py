"""The "Segment" dock: model, class and mode; prompts with a live preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QSettings, QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import create_worker

from ..core.compose import Mode
from ..core.errors import message
from .window_hooks import dock_opened
from ._common import StatusLine, alive, collapsible, guarded, narrow, release_when_removed, show_failure

if TYPE_CHECKING:
    import napari

    from .._napari.prompting import PromptController
    from .._napari.session import AnnotationSession

DEVICES = ("auto", "cpu", "cuda", "mps")
FAST_KEY = "segment/fast"  # fast mode (bf16), kept between sessions
CACHE_KEY = "segment/embedding_memory_gb"  # the embedding cache's budget
DEFAULT_CACHE_GB = 2.0
THIS_PLANE, FRAMES = "this plane", "frames"  # where Label all runs
SIMILAR = "Label similar (Shift+L)"
#: which models find objects like an example (a backend with ``segment_exemplars``)
SIMILAR_MODELS = "SAM 3 (sam3)"


def settings() -> QSettings:
    """Where the dock keeps its settings (tests replace this)."""
    return QSettings("napari-samlabel", "napari-samlabel")


def _stored_bool(key: str) -> bool:
    return str(settings().value(key, "false")).lower() in ("true", "1")


class SegmentWidget(QWidget):
    sam_mode_changed = Signal(bool)

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        dock_opened(napari_viewer)
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

        self._commit_waiting = False  # Enter pressed while the preview was being computed
        self._keys = self.registry.keys
        self._enter_token = None
        self._label_all = None  # the "Label all" worker
        self.label_job = None  # its LabelAllJob (frames written as the worker yields them)

        self.model_combo = QComboBox()
        self.model_combo.addItems(model_names())
        self.model_combo.currentTextChanged.connect(self._model_picked)
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Load the model (weights from the checkpoint, the cache or a download)")
        self.load_button.clicked.connect(self.load_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.load_button)
        self.model_line = StatusLine()  # what the picked model needs, said the moment it is picked
        self.checkpoint_edit = QLineEdit()
        self.checkpoint_edit.setPlaceholderText("cached or downloaded by id")
        self.checkpoint_edit.editingFinished.connect(self._model_picked)
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        ckpt = QHBoxLayout()
        ckpt.addWidget(self.checkpoint_edit, 1)
        ckpt.addWidget(browse)
        self.device_combo = QComboBox()
        self.device_combo.addItems(DEVICES)
        self.disk_cache = QCheckBox("Embeddings on disk")
        self.disk_cache.setToolTip("Keep image embeddings in the cache folder: reopening the same images skips the encoder")
        self.fast_mode = QCheckBox("Fast mode (bf16)")
        self.fast_mode.setToolTip(
            "SAM 2 in bfloat16 on CPUs with AMX or AVX-512 BF16 and on recent NVIDIA GPUs: embeddings and "
            "tracking about 2x faster, embeddings within about 1% of fp32. Off: exact fp32."
        )
        self.fast_mode.setChecked(_stored_bool(FAST_KEY))
        self.fast_mode.toggled.connect(self._fast_toggled)
        self.cache_spin = QDoubleSpinBox()
        self.cache_spin.setRange(0.0, 256.0)
        self.cache_spin.setSingleStep(0.5)
        self.cache_spin.setSuffix(" GB")
        self.cache_spin.setValue(float(settings().value(CACHE_KEY, DEFAULT_CACHE_GB)))
        self.cache_spin.setToolTip("Memory for embeddings kept for prompting and re-tracking (least recently used go first)")
        self.cache_spin.valueChanged.connect(self._cache_budget_changed)
        self.min_score_spin = QDoubleSpinBox()
        self.min_score_spin.setRange(0.05, 0.99)
        self.min_score_spin.setSingleStep(0.05)
        self.min_score_spin.setValue(0.5)
        self.min_score_spin.setToolTip("SAM 3 keeps the objects it finds with at least this score (Label all, Label "
                                       "similar): lower it to find more")  # fmt: skip
        self.min_score_spin.valueChanged.connect(self._min_score_changed)
        self.min_score_spin.setEnabled(False)
        options = QFormLayout()
        options.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # a slim panel: fields go under labels
        options.addRow("Checkpoint", ckpt)
        options.addRow("Device", self.device_combo)
        options.addRow(self.disk_cache)
        options.addRow(self.fast_mode)
        options.addRow("Cache", self.cache_spin)
        options.addRow("SAM 3 min score", self.min_score_spin)
        self.model_options = collapsible("Model options", options)

        self.class_combo = QComboBox()
        self.class_combo.activated.connect(self._class_chosen)
        self.mode_combo = QComboBox()
        self.mode_combo.addItems([m.value for m in Mode])
        self.mode_combo.setToolTip("exclude: never over other instances; overwrite: over unlocked ones; "
                                   "inside: only on unlabeled pixels")  # fmt: skip
        self.mode_combo.currentTextChanged.connect(self._options_changed)
        self.into_selected = QCheckBox("Into selected")
        self.into_selected.setToolTip("Replace the selected instance on this plane instead of making a new one")
        self.into_selected.toggled.connect(self._options_changed)
        self.multimask = QCheckBox("3 candidates (C)")
        self.multimask.setToolTip("The model proposes several masks; C shows the next")
        self.multimask.setChecked(True)
        self.multimask.toggled.connect(self._options_changed)
        checks = QHBoxLayout()
        checks.addWidget(self.into_selected)
        checks.addWidget(self.multimask)

        self.prompt_button = QPushButton("SAM mode (Shift+A)")
        self.prompt_button.setCheckable(True)
        self.prompt_button.setToolTip("Left click: object, right click: background, drag on 'samlabel box': a box")
        self.prompt_button.clicked.connect(lambda on: self.set_sam_mode(on))
        self.commit_button = QPushButton("Save (Enter)")
        self.clear_button = QPushButton("Clear (Esc)")
        self.cycle_button = QPushButton("Next (C)")
        self.commit_button.clicked.connect(lambda: self.commit())
        self.clear_button.clicked.connect(lambda: self._with_controller(lambda c: c.clear()))
        self.cycle_button.clicked.connect(lambda: self._with_controller(lambda c: c.cycle()))
        actions = QHBoxLayout()
        for b in (self.commit_button, self.clear_button, self.cycle_button):
            actions.addWidget(b)

        self.label_all_button = QPushButton("Label all as")
        self.label_all_button.setToolTip("Every object the model finds, on this plane or the frames below, becomes "
                                         "an instance of the class beside; one Ctrl+Z undoes the run")  # fmt: skip
        self.label_all_button.clicked.connect(lambda: self.label_all())
        self.all_class_combo = narrow(QComboBox(), 6)
        self.all_class_combo.setToolTip("The class the objects found become (follows the current class)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop after the frame being computed")
        self.cancel_button.clicked.connect(self.cancel_label_all)
        self.cancel_button.hide()  # beside the progress bar, while a run goes
        label_all = QHBoxLayout()
        label_all.addWidget(self.label_all_button)
        label_all.addWidget(self.all_class_combo, 1)
        self.similar_button = QPushButton(SIMILAR)
        self.similar_button.clicked.connect(lambda: self.label_similar())
        self.range_combo = narrow(QComboBox(), 6)
        self.range_combo.addItems([THIS_PLANE, FRAMES])
        self.range_combo.setToolTip("Label all on the plane shown, or on each frame first-last along the frame axis")
        self.range_combo.currentTextChanged.connect(self._range_changed)
        self.first_spin, self.last_spin = narrow(QSpinBox()), narrow(QSpinBox())
        self.first_spin.setToolTip("First frame")
        self.last_spin.setToolTip("Last frame (included)")
        span = QHBoxLayout()
        span.addWidget(self.range_combo, 1)
        span.addWidget(self.first_spin)
        span.addWidget(self.last_spin)
        self.one_per_box = QCheckBox("One object per box")
        self.one_per_box.setChecked(True)
        self.one_per_box.setToolTip("Off: a box + Enter (or Label all) labels every object inside the box, "
                                    "each its own instance")  # fmt: skip
        self.one_per_box.toggled.connect(self._options_changed)
        self.keep_on_cancel = QCheckBox("Keep on Cancel")
        self.keep_on_cancel.setChecked(True)
        self.keep_on_cancel.setToolTip("On Cancel keep the frames already labeled (one Ctrl+Z); off: write nothing")
        self.keep_on_cancel.hide()  # beside Cancel, while a run goes
        self.busy = QProgressBar()  # label all's progress, shown while it runs
        self.busy.setFormat("%v / %m frames")
        self.busy.setMinimumWidth(60)  # its text ("n / m frames, ~s left") never widens the dock
        self.busy.hide()
        progress = QHBoxLayout()
        progress.addWidget(self.busy, 1)
        progress.addWidget(self.cancel_button)
        self._range_changed(THIS_PLANE)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0, 1)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(0.5)
        self.prune_button = QPushButton("Delete below")
        self.prune_button.setToolTip("Delete this frame's instances whose confidence is below the value")
        self.prune_button.clicked.connect(self._prune)
        prune = QHBoxLayout()
        prune.addWidget(self.prune_button)
        prune.addWidget(self.threshold_spin)

        self.status = StatusLine()
        form = QFormLayout()
        form.addRow("Model", model_row)
        form.addRow(self.model_line)
        form.addRow(self.model_options)
        form.addRow("Class", self.class_combo)
        form.addRow("Mode", self.mode_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(checks)
        layout.addWidget(self.prompt_button)
        layout.addLayout(actions)
        layout.addLayout(label_all)
        layout.addWidget(self.similar_button)
        layout.addLayout(span)
        layout.addWidget(self.one_per_box)
        layout.addLayout(progress)
        layout.addWidget(self.keep_on_cancel)
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
        self._key_tokens = [self._keys.handle("Shift-A", lambda _layer: self.toggle_sam_mode()),
                            self._keys.handle("Shift-L", lambda _layer: self.label_similar())]  # fmt: skip
        self._released = False
        release_when_removed(self, self.release, forget=self.forget)
        self._model_picked()
        self._show_similar()

    def closeEvent(self, event) -> None:
        self.release()
        super().closeEvent(event)

    def forget(self) -> None:
        """The window is being destroyed: let go of keys and signals; the prompt layers stay
        with the viewer (removing them would redraw a canvas that is gone)."""
        self._keep_layers = True
        self.release()

    _keep_layers = False

    def release(self) -> None:
        """The dock is gone: its keys, its prompt layers' controller and the session it followed."""
        self.close_keys()
        if self._released:
            return
        self._released = True
        self.cancel_label_all()  # a label-all run stops within a frame (its frames kept as the box says)
        self.registry.current_changed.disconnect(self._set_session)
        self._set_session(None)

    def close_keys(self) -> None:
        """Take back every key this dock bound (and its controller's)."""
        for token in self._key_tokens:
            self._keys.drop(token)
        self._key_tokens = []
        self._close_controller()  # its Enter and its layers' keys

    # -- session -----------------------------------------------------------
    def _set_session(self, session: AnnotationSession | None) -> None:
        if self._session is not None:
            self._session.ontology.changed.disconnect(self._refresh_classes)
            self._session.class_selected.disconnect(self._refresh_classes)
            self._session.hotkey_used.disconnect(self._on_hotkey)
        was_on = self.sam_mode
        self._close_controller()  # its keys leave the old session's layers too
        self._session = session
        if session is not None:
            session.ontology.changed.connect(self._refresh_classes)
            session.class_selected.connect(self._refresh_classes)
            session.hotkey_used.connect(self._on_hotkey)
        self._refresh_classes()
        if was_on and session is not None:
            self.set_sam_mode(True)  # SAM mode follows the user to the next image

    def _close_controller(self) -> None:
        if self._enter_token is not None:
            self._keys.drop(self._enter_token)
            self._enter_token = None
        if self.controller is not None:
            self.controller.close(remove_layers=not self._keep_layers)
            self.controller = None
        self._commit_waiting = False
        self._show_sam_mode()

    def _on_hotkey(self, name) -> None:
        """A class hotkey in SAM mode means: prompt for that class now. (Only the key: a
        class chosen otherwise, e.g. after a save or with M, leaves the active layer be.)"""
        if self.sam_mode and self.controller is not None:
            self.viewer.layers.selection.active = self.controller.points
            self.controller.points.mode = "pan_zoom"  # clicks are the controller's (see its _gesture)
            self.controller._color_preview()

    def _refresh_classes(self, *_args) -> None:
        self.class_combo.clear()
        self.all_class_combo.clear()
        if self._session is not None:
            self.class_combo.addItems(self._session.ontology.names)
            self.all_class_combo.addItems(self._session.ontology.names)
            if self._session.current_class:
                self.class_combo.setCurrentText(self._session.current_class)
                self.all_class_combo.setCurrentText(self._session.current_class)
        self._range_changed(self.range_combo.currentText())

    def _class_chosen(self, _index: int) -> None:
        if self._session is not None and self.class_combo.currentText():
            guarded(self.status, self._session.select_class, self.class_combo.currentText())

    # -- model -------------------------------------------------------------
    def _browse(self) -> None:
        """A SAM 2 checkpoint file, or the folder of a transformers model (SAM 3, EdgeTAM:
        config.json and model.safetensors, as the hub or save_pretrained writes them)."""
        from ..backends.registry import MODELS

        spec = MODELS.get(self.model_combo.currentText())
        if spec is not None and (spec.filename or "").endswith(".safetensors"):
            path = QFileDialog.getExistingDirectory(self, f"{spec.name} model folder (config.json, model.safetensors)")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "SAM 2 checkpoint", "", "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.checkpoint_edit.setText(path)
            self._model_picked()  # what the new path holds, said now, not at Load

    _checkpoints: dict[str, str] = {}  # model name -> the checkpoint given for it (this dock)
    _checkpoint_of = ""  # the model the checkpoint field is for

    def _model_picked(self, *_args) -> None:
        """Say at once what the picked model needs (nothing is loaded); clears old errors. Each
        model keeps its own checkpoint: a SAM 3 folder is not EdgeTAM's."""
        from ..backends import registry

        name = self.model_combo.currentText()
        if name != self._checkpoint_of:
            self._checkpoints = {**self._checkpoints, self._checkpoint_of: self.checkpoint_edit.text()}
            self.checkpoint_edit.setText(self._checkpoints.get(name, ""))
            self._checkpoint_of = name
        status = getattr(registry, "model_status", None)
        if not name or status is None:
            return
        ckpt = self.checkpoint_edit.text().strip() or None
        try:
            ready, line, details = status(name, ckpt)
        except TypeError:  # a status without a checkpoint argument
            ready, line, details = status(name)
        (self.model_line.ok if ready else self.model_line.error)(line)
        self.model_line.setToolTip(details)
        loaded = self.backend is not None and getattr(self.backend, "name", None) == name
        self.load_button.setText("Loaded" if loaded else "Load")

    def load_model(self):
        """Load the chosen model in a worker; on failure say why in one line and keep the
        weight-free backend."""
        from ..backends.registry import load_backend

        name = self.model_combo.currentText()
        ckpt = self.checkpoint_edit.text().strip() or None
        device = self.device_combo.currentText()
        self.model_line.ok(f"Loading {name}…")
        self.model_line.setToolTip("")
        self.load_button.setEnabled(False)
        self._loader = create_worker(
            load_backend, name, ckpt, device, True, self.disk_cache.isChecked(), self.fast_mode.isChecked(),
            self.cache_bytes(),
            _connect={
                "returned": self._model_loaded,
                "errored": self._model_failed,
                "finished": lambda: self.load_button.setEnabled(True),
            },
        )  # fmt: skip
        return self._loader

    def _model_loaded(self, backend) -> None:
        self.set_backend(backend)  # fast mode as the dock says
        line = f"{backend.name} ready on {getattr(backend, 'device', 'cpu')}."
        active = True
        if self.fast_mode.isChecked():
            active, fast = self._apply_fast()
            line = f"{line} {fast[:1].upper()}{fast[1:]}."
        (self.model_line.ok if active else self.model_line.error)(line)
        self.model_line.setToolTip(line)
        self.load_button.setText("Loaded")

    def cache_bytes(self) -> int:
        return int(self.cache_spin.value() * 2**30)

    def _cache_budget_changed(self, gb: float) -> None:
        settings().setValue(CACHE_KEY, float(gb))
        cache = getattr(self.backend, "cache", None)
        if hasattr(cache, "set_budget"):
            cache.set_budget(self.cache_bytes())

    def _min_score_changed(self, value: float) -> None:
        if hasattr(self.backend, "threshold"):
            self.backend.threshold = float(value)

    def _apply_fast(self) -> tuple[bool, str]:
        from ..backends.registry import apply_fast

        return apply_fast(self.backend, self.fast_mode.isChecked())

    def _fast_toggled(self, on: bool) -> None:
        settings().setValue(FAST_KEY, bool(on))
        if self.backend is not None:
            self._show_fast(*self._apply_fast())
            self._prefetch()  # the plane's embedding in the new precision

    def _show_fast(self, active: bool, line: str) -> None:
        """Say what fast mode does with this model (an error line when asked for and unavailable)."""
        (self.model_line.ok if active or not self.fast_mode.isChecked() else self.model_line.error)(line)

    def _model_failed(self, exc: Exception) -> None:
        """One short line in the dock (the full text in its tooltip and the log)."""
        import logging

        from napari.utils.notifications import show_warning

        from ..backends.registry import short_error

        self.set_backend(self.registry.weight_free())
        line, details = short_error(exc)
        self.model_line.error(f"{line}. Using 'seeds'.")
        self.model_line.setToolTip(details)
        logging.getLogger("napari_samlabel").warning("%s", details)
        show_warning(f"{line}. Using the weight-free 'seeds' backend.")

    def set_backend(self, backend) -> None:
        self.backend = backend
        self.registry.backend = backend  # the Track dock tracks with the same model
        if hasattr(backend, "set_fast") and bool(getattr(backend, "fast", False)) != self.fast_mode.isChecked():
            self._apply_fast()  # the dock's setting holds for any model it is given
        cache = getattr(backend, "cache", None)
        if hasattr(cache, "set_budget") and cache.max_bytes != self.cache_bytes():
            cache.set_budget(self.cache_bytes())
        self.min_score_spin.setEnabled(hasattr(backend, "threshold"))
        if hasattr(backend, "threshold"):
            self.min_score_spin.setValue(float(backend.threshold))
        if self.controller is not None:
            self.controller.backend = backend
            self.controller.apply(None)
            self._prefetch()
        self._show_similar()

    @property
    def takes_exemplars(self) -> bool:
        """Whether the model finds objects like an example (SAM 3's visual exemplars)."""
        return getattr(self.backend, "segment_exemplars", None) is not None

    def _show_similar(self) -> None:
        """Label similar: on with a model that takes exemplars and no run going; its tooltip
        says what it does, or which model offers it."""
        if not alive(self):
            return
        ok = self.takes_exemplars
        self.similar_button.setEnabled(ok and self._label_all is None)
        name = getattr(self.backend, "name", None) or "seeds"
        self.similar_button.setToolTip(
            "Every object like the one in the box you drew (else like the instances picked in the list) becomes an "
            "instance of the class beside Label all, on this plane or the frames below (SAM 3's visual exemplars); "
            "one Ctrl+Z undoes the run" if ok else
            f"Label similar needs a model that finds objects like an example: load {SIMILAR_MODELS} in Model "
            f"({name} has no exemplars)"
        )  # fmt: skip

    # -- SAM mode ------------------------------------------------------------
    @property
    def sam_mode(self) -> bool:
        return self.controller is not None and self.controller.points.visible

    def toggle_sam_mode(self) -> bool:
        """Shift+A."""
        return self.set_sam_mode(not self.sam_mode)

    def set_sam_mode(self, on: bool) -> bool:
        """On: the prompt layers are shown and clicks prompt the model. Off: they are hidden
        (clicks and preview kept), the labels layer is active for napari's brush."""
        if on:
            self.start_prompting()
        elif self.controller is not None:
            for layer in (self.controller.points, self.controller.boxes, self.controller.preview):
                layer.visible = False
            if self._session is not None:
                self.viewer.layers.selection.active = self._session.labels
            self.status.ok("SAM mode off: napari's brush and tools act on the labels. Shift+A turns it on.")
        self._show_sam_mode()
        return self.sam_mode

    def _show_sam_mode(self) -> None:
        if not alive(self):
            return  # released as the window is destroyed: nothing left to show it on
        on = self.sam_mode
        self.prompt_button.setChecked(on)
        self.sam_mode_changed.emit(on)

    def start_prompting(self) -> PromptController | None:
        from .._napari.prompting import PromptController

        if self._session is None:
            self.status.error("No session: start annotating in the Classes dock first.")
            self._show_sam_mode()
            return None
        if self.viewer.dims.ndisplay != 2:  # clicks and boxes lie on a plane (napari's 3D view has none)
            self.status.error("SAM mode works on a 2D view: switch napari's 2D/3D button to 2D, then Shift+A.")
            self._show_sam_mode()
            return None
        if self.controller is None:
            if self.backend is None:
                self.set_backend(self.registry.weight_free())  # works at once; load SAM 2 when wanted
            self.controller = PromptController(self._session, self.backend)
            self.controller.prompts_changed.connect(self._prompts_changed)
            self.controller.preview_changed.connect(self._show_result)
            self.controller.committed.connect(lambda rec: self.status.ok(f"Saved {rec.name}. Click the next object."))
            # Enter waits for a preview still being computed instead of running the model here
            self._enter_token = self._keys.handle("Enter", lambda _layer: self.commit())
            self._options_changed()
        for layer in (self.controller.points, self.controller.boxes, self.controller.preview):
            layer.visible = True
        self.viewer.layers.selection.active = self.controller.points
        self.controller.points.mode = "pan_zoom"  # clicks are the controller's (see its _gesture)
        self.status.ok("Click: object; right click: background; drag: a box; middle drag: pan; Enter saves; Esc clears.")
        self._show_sam_mode()
        self._prefetch()
        return self.controller

    def _prompts_changed(self) -> None:
        self._debounce.start()  # a named slot: psygnal cannot inspect QTimer.start's signature

    def commit(self):
        """Enter: save the preview. If the prompts changed since it was computed, save as
        soon as the new one arrives; the model never runs on the GUI thread."""
        if self.controller is None and self.start_prompting() is None:
            return None
        c = self.controller
        if c.box_labels_all():  # "One object per box" off: every object in the box
            return self.label_all()
        if c.result is not None and c.result.generation == c._generation:
            return guarded(self.status, c.commit)
        if c.prompts_on(c.current_plane()).empty:
            self.status.error("Nothing to save: click on the object (or drag a box) first.")
            return None
        if not c.takes_clicks and not len(c.prompts_on(c.current_plane()).points):
            name = getattr(self.backend, "name", "this model")
            self.status.error(f"{name} here finds objects by concept: Label similar (Shift+L) labels every object "
                              f"like the box, Label all by the class's prompt. One object: load SAM 2 (or seeds).")
            return None
        self._commit_waiting = True
        self.status.ok("Saving when the preview is ready…")
        if self._worker is None:
            self._debounce.stop()
            self._run_preview()
        return None

    def _applied(self, result) -> None:
        """A preview arrived: show it, and save it if Enter is waiting for it."""
        c = self.controller
        if c is None:
            return
        fresh = c.apply(result)
        if fresh and self._commit_waiting:
            self._commit_waiting = False
            guarded(self.status, c.commit)

    def _options_changed(self, *_args) -> None:
        if self.controller is not None:
            self.controller.mode = Mode(self.mode_combo.currentText())
            self.controller.into_selected = self.into_selected.isChecked()
            self.controller.multimask = self.multimask.isChecked()
            self.controller.one_per_box = self.one_per_box.isChecked()

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
            _connect={"returned": self._applied, "errored": self._preview_failed, "finished": self._preview_done},
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

    def _preview_failed(self, exc: Exception) -> None:
        self._commit_waiting = False
        self._report(exc)

    def _report(self, exc: Exception) -> None:
        """A worker's error: a message in the dock and the viewer (a bug's with its traceback)."""
        show_failure(self.status, exc, message(exc))

    def _show_result(self, result) -> None:
        if result is None:
            return
        pred = result.prediction
        self.status.ok(
            f"Candidate {self.controller.choice + 1}/{len(pred)}, score {pred.scores[self.controller.choice]:.2f}, "
            f"{result.seconds * 1000:.0f} ms. Enter saves, Esc clears."
        )

    def _with_controller(self, fn):
        if self.controller is None and self.start_prompting() is None:
            return None
        return guarded(self.status, fn, self.controller)

    def _range_changed(self, which: str) -> None:
        """Frames first-last along the frame axis (2D: the plane only)."""
        s = self._session
        n = s.annotation.n_frames if s is not None and s.frame_axis is not None else 1
        for spin in (self.first_spin, self.last_spin):
            spin.setRange(0, max(n - 1, 0))
        if n <= 1 and which == FRAMES:
            self.range_combo.setCurrentText(THIS_PLANE)
            return
        self.range_combo.setEnabled(n > 1)
        on = which == FRAMES
        if on and s is not None and self.first_spin.isEnabled() != on:
            self.first_spin.setValue(s.current_frame())  # from the frame shown to the end
            self.last_spin.setValue(n - 1)
        self.first_spin.setEnabled(on)
        self.last_spin.setEnabled(on)

    def label_all(self):
        """Every object the model finds, on this plane or frames first-last, as the class picked,
        in a worker: each frame is written as it comes, the run is one undo step."""
        return self._start_run(similar=False)

    def label_similar(self):
        """Shift+L: every object like the box drawn (else like the instances picked), with SAM 3's
        visual exemplars, on this plane or frames first-last, as Label all's class: the same
        worker, progress, Cancel and one undo step as Label all."""
        if self._label_all is not None:
            return None
        if not self.takes_exemplars:
            name = getattr(self.backend, "name", None) or "seeds"
            self.status.error(f"Label similar: {name} has no exemplars; load {SIMILAR_MODELS} in Model.")
            return None
        return self._start_run(similar=True)

    def _start_run(self, similar: bool):
        if self._label_all is not None:
            return None
        if self.controller is None and self.start_prompting() is None:
            return None
        c = self.controller
        frames = (self.first_spin.value(), self.last_spin.value()) if self.range_combo.currentText() == FRAMES else None
        make = c.label_similar_run if similar else c.label_all_run
        job = guarded(self.status, make, self.all_class_combo.currentText() or None, frames)
        if job is None:
            return None
        self.label_job = job
        job.begin()
        self.label_all_button.setEnabled(False)
        self.similar_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.busy.setRange(0, job.total)
        self.busy.setValue(0)
        self.busy.setFormat("%v / %m frames")
        self.busy.show()
        self.keep_on_cancel.show()
        self.cancel_button.show()
        where = "in the box" if job.box is not None else "on this plane" if not job.ranged else \
            f"on frames {min(job.order)}-{max(job.order)}"  # fmt: skip
        like = f" like {job.exemplars_from}" if job.exemplars else ""
        self.status.ok(f"Looking for every object{like} {where}… Cancel stops after the frame being computed.")
        worker = create_worker(job.steps, _start_thread=False,
                               _connect={"yielded": self._label_all_step, "errored": self._label_all_failed})  # fmt: skip
        worker.finished.connect(lambda j=job: self._label_all_finished(j))  # connected before it can finish
        self._label_all = worker
        worker.start()
        return worker

    def _label_all_step(self, step) -> None:
        """A frame from the worker: written now (after a brush stroke if one is open), shown."""
        job = self.label_job
        if job is None or job.cancelled:
            return
        job.receive(step)
        if job.drain():
            job.publish()
        left = job.seconds_left
        self.busy.setToolTip(f"About {left:.0f} s left" if left else "")
        self.busy.setValue(job.done)

    def _label_all_failed(self, exc: Exception) -> None:
        if self.label_job is not None:
            self.label_job.error = exc  # the frames already done are kept
        self._report(exc)

    def cancel_label_all(self) -> None:
        """Stops after the frame being computed (the model cannot be stopped mid-image)."""
        if self.label_job is not None and not self.label_job.cancelled:
            self.label_job.cancel()
            self.cancel_button.setEnabled(False)
            self.status.ok("Cancelling: the frame being computed is dropped…")

    def _label_all_finished(self, job) -> None:
        if job is not self.label_job:
            return
        keep = not job.cancelled or self.keep_on_cancel.isChecked() or job.error is not None
        job.finish(keep=keep)
        used_box = job.box is not None or job.exemplars_from == "the box"
        if used_box and self.controller is not None and not job.cancelled:
            self.controller.clear()  # the box was used
        self._label_all_done()
        if job.error is not None:
            return
        undo = f" {job.undo_note(keep)}" if job.undo_steps else ""
        like = f" like {job.exemplars_from}" if job.exemplars else ""
        done = f"{len(job.made)} objects{like} as {job.class_name} on {job.done} frame(s)"
        what = "Label similar" if job.exemplars else "Label all"
        if job.cancelled:
            self.status.ok(f"{what} cancelled: {done} kept.{undo}" if keep else
                           f"{what} cancelled: nothing of it kept (your own edits stay). {job.undo_note(keep)}".strip(),
                           undo_of=job.session)
        elif not job.made:  # say what was looked for, and what to change
            asked = job.looked_for()
            score = getattr(self.backend, "threshold", None)
            hint = " Lower 'SAM 3 min score' in Model options to find more." if score is not None else ""
            above = f" with a score of {score:.2f} or more" if score is not None else ""
            self.status.ok(f"{what}: no object{' ' + asked if asked else ''}{above} on {job.done} frame(s); nothing "
                           f"written, no undo step.{hint}")  # fmt: skip
        else:
            self.status.ok(f"Labeled {done}.{undo} 'Delete below' removes weak ones.")

    def _label_all_done(self) -> None:
        self._label_all = self.label_job = None
        self.label_all_button.setEnabled(True)
        self._show_similar()
        self.cancel_button.setEnabled(False)
        self.cancel_button.hide()
        self.keep_on_cancel.hide()
        self.busy.hide()

    def _prune(self) -> None:
        s = self._session
        if s is None:
            return
        f = s.current_frame()
        n = guarded(self.status, s.annotation.delete_below, self.threshold_spin.value(), [f])
        if n is not None:
            self.status.ok(f"Removed {n} pixels below {self.threshold_spin.value():.2f} on frame {f}.")
