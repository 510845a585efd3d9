"""The "Track" dock: propagate instances along the time or slice axis."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import create_worker

from ..backends.tracking import DIRECTIONS
from ._common import StatusLine, guarded, require_session

if TYPE_CHECKING:
    import napari

    from .._napari.tracking import TrackJob

SELECTED, ALL_HERE = "Selected instances", "All on the current frame"


class TrackWidget(QWidget):
    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        from .._napari.registry import sessions

        self.viewer = napari_viewer
        self.registry = sessions(napari_viewer)
        self.job: TrackJob | None = None
        self.worker = None

        self.objects_combo = QComboBox()
        self.objects_combo.addItems([SELECTED, ALL_HERE])
        self.direction_combo = QComboBox()
        self.direction_combo.addItems(DIRECTIONS)
        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(2, 100000)
        self.frames_spin.setValue(30)
        self.to_end = QCheckBox("to the end")
        self.to_end.toggled.connect(lambda on: self.frames_spin.setEnabled(not on))
        frames = QHBoxLayout()
        frames.addWidget(self.frames_spin)
        frames.addWidget(self.to_end)
        self.stop_spin = QSpinBox()
        self.stop_spin.setRange(0, 1000)
        self.stop_spin.setValue(3)
        self.stop_spin.setSpecialValueText("never")
        self.stop_spin.setToolTip("Stop tracking an object after this many frames without it")
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["exclude", "overwrite"])
        self.keep_on_cancel = QCheckBox("Keep the frames done when cancelled")
        self.keep_on_cancel.setChecked(True)

        self.track_button = QPushButton("Track")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.track_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        run = QHBoxLayout()
        run.addWidget(self.track_button)
        run.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m frames")

        self.interpolate_button = QPushButton("Interpolate selected between keyframes")
        self.interpolate_button.clicked.connect(self.interpolate)
        self.tracks_button = QPushButton("Show tracks layer")
        self.tracks_button.clicked.connect(self.show_tracks)
        self.status = StatusLine()

        form = QFormLayout()
        form.addRow("Objects", self.objects_combo)
        form.addRow("Direction", self.direction_combo)
        form.addRow("Frames", frames)
        form.addRow("Stop after", self.stop_spin)
        form.addRow("Mode", self.mode_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.keep_on_cancel)
        layout.addLayout(run)
        layout.addWidget(self.progress)
        layout.addWidget(self.interpolate_button)
        layout.addWidget(self.tracks_button)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def _session(self):
        return require_session(self.registry, self.status)

    def _tracker(self):
        from ..backends.seeds import SeedGrowSegmenter

        backend = self.registry.backend or SeedGrowSegmenter()
        return backend.tracker()

    def make_job(self):
        from .._napari.tracking import TrackOptions, make_job
        from ..core.compose import Mode

        s = self._session()
        if s is None:
            return None
        ids = None
        if self.objects_combo.currentText() == SELECTED:
            ids = s.selection or ([s.labels.selected_label] if s.labels.selected_label in s.table else [])
        options = TrackOptions(
            direction=self.direction_combo.currentText(),
            n_frames=None if self.to_end.isChecked() else self.frames_spin.value(),
            stop_after=self.stop_spin.value() or None,
            mode=Mode(self.mode_combo.currentText()),
        )
        return guarded(self.status, make_job, s, self._tracker(), ids, options)

    def start(self):
        """Track in a worker; each frame is written as it comes; the viewer stays usable."""
        if self.worker is not None:
            return None
        job = self.make_job()
        if job is None:
            return None
        self.job = job
        self.progress.setRange(0, max(job.total, 1))
        self.progress.setValue(0)
        job.begin()
        self.track_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.ok(f"Tracking {len(job.ids)} object(s) from frame {job.start}…")
        self.worker = create_worker(
            job.steps,
            _connect={"yielded": self._on_step, "errored": self._on_error, "finished": self._on_finished},
        )
        return self.worker

    def _on_step(self, step) -> None:
        job = self.job
        guarded(self.status, job.apply, step)
        self.progress.setValue(job.done)
        left = job.seconds_left
        eta = f", about {left:.0f} s left" if left is not None else ""
        stopped = f"; stopped {', '.join(map(str, step.stopped))} (absent)" if step.stopped else ""
        self.status.ok(f"Frame {step.frame}: {job.done}/{job.total}{eta}{stopped}")

    def cancel(self) -> None:
        """Stops within one frame."""
        if self.job is not None:
            self.job.cancel()
            self.status.ok("Cancelling after this frame…")

    def _on_error(self, exc: Exception) -> None:
        from napari.utils.notifications import show_error

        if self.job is not None:
            self.job.cancel()
            self.job.error = exc
        self.status.error(f"Tracking failed: {exc}. The frames done are kept.")
        show_error(f"Tracking failed: {exc}")

    def _on_finished(self) -> None:
        job, self.job, self.worker = self.job, None, None
        self.track_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if job is None:
            return
        keep = not job.cancelled or self.keep_on_cancel.isChecked() or job.error is not None
        job.finish(keep=keep)
        if job.error is None:
            what = "cancelled, frames kept" if job.cancelled and keep else "cancelled, nothing kept" if job.cancelled else "done"
            undo = "One Ctrl+Z undoes the run."
            if job.kept_parts > (1 if keep else 0):
                undo = ("You edited during the run, so it is split around your edits: each part is its own "
                        "Ctrl+Z" + ("" if keep else "; the frames before your last edit were kept") + ".")
            elif not keep:
                undo = ""
            self.status.ok(f"Tracking {what}: {job.done} frame(s). {undo}".strip())

    def interpolate(self) -> None:
        s = self._session()
        if s is None:
            return
        ids = s.selection or ([s.labels.selected_label] if s.labels.selected_label in s.table else [])
        if not ids:
            self.status.error("Select the instance(s) to interpolate in the Instances dock.")
            return

        def run():
            with s.annotation.action("interpolate"):
                return {i: s.annotation.interpolate(i) for i in ids}

        done = guarded(self.status, run)
        if done:
            self.status.ok("Filled " + "; ".join(f"{s.table[i].name}: {len(f)} frame(s)" for i, f in done.items()))

    def show_tracks(self) -> None:
        from .._napari.tracks import add_tracks_layer

        s = self._session()
        if s is not None and guarded(self.status, add_tracks_layer, s) is not None:
            self.status.ok("Tracks layer added (centroid per frame per instance).")
