"""The "Track" dock: propagate instances along the time or slice axis.

The model runs in a worker; its frames are written on the GUI thread by a
timer, a few milliseconds at a time (:class:`~napari_samlabel._napari.tracking.TrackJob`
batches them and tells the docks at most five times a second), so the viewer
stays responsive and Cancel stops within one frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QSettings, QTimer
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

from .._napari.quick_keys import recently_written
from ..backends.tracking import DIRECTIONS
from .window_hooks import dock_opened
from ._common import StatusLine, guarded, release_when_removed, require_session, show_failure

if TYPE_CHECKING:
    import napari

    from .._napari.tracking import TrackJob

SELECTED, ALL_HERE = "Selected instances", "All on the current frame"
FRAMES_KEY = "track/frames"  # the tracking range, kept between sessions
DEFAULT_FRAMES = 30
PUMP_MS = 30  # how often queued frames are written while a run goes
WRITE_BUDGET = 0.03  # seconds of writing per tick, at most (one frame at least)


def settings() -> QSettings:
    """Where the dock keeps its settings (tests replace this)."""
    return QSettings("napari-samlabel", "napari-samlabel")


class TrackWidget(QWidget):
    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        dock_opened(napari_viewer)
        from .._napari.registry import sessions

        self.viewer = napari_viewer
        self.registry = sessions(napari_viewer)
        self.job: TrackJob | None = None
        self.worker = None
        self._worker_done = False
        self._pump = QTimer(self)
        self._pump.setInterval(PUMP_MS)
        self._pump.timeout.connect(self._tick)

        self.objects_combo = QComboBox()
        self.objects_combo.addItems([SELECTED, ALL_HERE])
        self.objects_combo.setToolTip(
            "Selected: those picked in the Instances dock, else the one just saved, else the one under the mouse"
        )
        self.direction_combo = QComboBox()
        self.direction_combo.addItems(DIRECTIONS)
        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(2, 100000)
        self.frames_spin.setValue(_stored_frames())
        self.frames_spin.setToolTip("How many frames a run covers, the start frame included (Shift+T uses it too)")
        self.frames_spin.valueChanged.connect(lambda n: settings().setValue(FRAMES_KEY, int(n)))
        self.to_end = QCheckBox("to the end")
        self.to_end.setToolTip("Track to the last frame (or the first, going backward), whatever the count beside")
        self.to_end.toggled.connect(lambda on: self.frames_spin.setEnabled(not on))
        self.stop_spin = QSpinBox()
        self.stop_spin.setRange(0, 1000)
        self.stop_spin.setValue(3)
        self.stop_spin.setSpecialValueText("never")
        self.stop_spin.setToolTip("Stop tracking an object after this many frames without it")
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["exclude", "overwrite"])
        self.keep_on_cancel = QCheckBox("Keep frames done on Cancel")
        self.keep_on_cancel.setChecked(True)

        self.track_button = QPushButton("Track")
        self.track_button.setToolTip("Shift+T: forward, Shift+Alt+T: backward")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.track_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)
        run = QHBoxLayout()
        run.addWidget(self.track_button)
        run.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m frames")

        self.interpolate_button = QPushButton("Interpolate")
        self.interpolate_button.setToolTip("Fill the selected instances' frames between their keyframes")
        self.interpolate_button.clicked.connect(self.interpolate)
        self.tracks_button = QPushButton("Tracks layer")
        self.tracks_button.setToolTip("Show a tracks layer: each instance's centroid per frame, daughters joined to their mother")
        self.tracks_button.clicked.connect(self.show_tracks)
        tools = QHBoxLayout()
        tools.addWidget(self.interpolate_button)
        tools.addWidget(self.tracks_button)
        # lineage: divisions, written as parents to CTC res_track.txt and the project
        self.divide_button = QPushButton("Divide at this frame")
        self.divide_button.setToolTip(
            "Shift+D: the selected instance divides after this frame; its two pieces on the "
            "next frame become two daughters (parent: it)"
        )
        self.divide_button.clicked.connect(self.divide)
        self.link_button = QPushButton("Link")
        self.link_button.setToolTip("The selected instance that ends first becomes the parent of the others")
        self.link_button.clicked.connect(self.link)
        self.unlink_button = QPushButton("Unlink")
        self.unlink_button.setToolTip("Clear the parent of the selected instances")
        self.unlink_button.clicked.connect(self.unlink)
        lineage = QHBoxLayout()
        lineage.addWidget(self.divide_button, 1)
        lineage.addWidget(self.link_button)
        lineage.addWidget(self.unlink_button)
        self.status = StatusLine()
        # three lines, always: a message up to that long then never changes the dock's
        # height, so no relayout of the window (a 50-70 ms repaint under xvfb) per message
        lines = self.status.fontMetrics().lineSpacing() * 3
        margins = self.status.contentsMargins()
        self.status.setMinimumHeight(lines + margins.top() + margins.bottom())

        form = QFormLayout()
        form.addRow("Objects", self.objects_combo)
        form.addRow("Direction", self.direction_combo)
        form.addRow("Frames", self.frames_spin)
        # under the count, not beside it: napari's spin box is wide (70 px, its +/- and
        # padding besides), and side by side they cut "to the end" off in a 300 px panel
        form.addRow("", self.to_end)
        form.addRow("Stop after", self.stop_spin)
        form.addRow("Mode", self.mode_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.keep_on_cancel)
        layout.addLayout(run)
        layout.addWidget(self.progress)
        layout.addLayout(tools)
        layout.addLayout(lineage)
        layout.addWidget(self.status)
        layout.addStretch(1)
        keys = self.registry.keys
        self._key_tokens = [
            keys.handle("Shift-T", lambda _layer: self.track_now("forward")),
            keys.handle("Shift-Alt-T", lambda _layer: self.track_now("backward")),
            keys.handle("Shift-D", lambda _layer: self.divide()),
        ]
        release_when_removed(self, self.release)

    def closeEvent(self, event) -> None:
        self.release()
        super().closeEvent(event)

    def release(self) -> None:
        """The dock is gone: its keys, and a run going stops (Keep frames done on Cancel says
        whether its frames stay)."""
        self.close_keys()
        self.cancel()

    def close_keys(self) -> None:
        """Take back the keys this dock bound."""
        for token in self._key_tokens:
            self.registry.keys.drop(token)
        self._key_tokens = []

    def _session(self):
        return require_session(self.registry, self.status)

    def _tracker(self):
        return self.registry.tracker()

    def make_job(self, direction: str | None = None, which: str | None = None):
        """A job from the dock's settings; ``direction`` and ``which`` ("selected", "all") override them."""
        from .._napari.tracking import ALL, SELECTED as SELECTED_IDS, TrackOptions, make_job
        from ..core.compose import Mode

        s = self._session()
        if s is None:
            return None
        if which is None:
            which = SELECTED_IDS if self.objects_combo.currentText() == SELECTED else ALL
        options = TrackOptions(
            direction=direction or self.direction_combo.currentText(),
            n_frames=None if self.to_end.isChecked() else self.frames_spin.value(),
            stop_after=self.stop_spin.value() or None,
            mode=Mode(self.mode_combo.currentText()),
        )
        return guarded(self.status, make_job, s, self._tracker(), which, options)

    def track_now(self, direction: str = "forward"):
        """Shift+T (forward) / Shift+Alt+T (backward): track the selected or just-saved
        instances over the dock's range. The worker, or None (the status line says why)."""
        from .._napari.tracking import SELECTED as SELECTED_IDS

        return self.start(direction=direction, which=SELECTED_IDS)

    def start(self, direction: str | None = None, which: str | None = None):
        """Track in a worker; frames are written as they come; the viewer stays usable. A model
        whose tracker is not loaded yet (EdgeTAM's, SAM 3's video model: seconds) loads it in
        a worker first, then the run starts."""
        if self.worker is not None:
            self.status.ok("A run is going: wait for it, or Cancel it.")
            return None
        model = self.registry.model()
        if not getattr(model, "tracker_ready", True):
            return self._load_tracker_then(model, direction, which)
        job = self.make_job(direction, which)
        if job is None:
            return None
        self.job, self._worker_done = job, False
        self.progress.setRange(0, max(job.total, 1))
        self.progress.setValue(0)
        job.begin()
        self.track_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        table = job.session.table
        names = ", ".join(table[i].name for i in job.ids) if len(job.ids) <= 2 else f"{len(job.ids)} objects"
        self.status.ok(f"Tracking {names} {job.options.direction} from frame {job.start}…")
        self.status.setToolTip(", ".join(table[i].name for i in job.ids))
        self.worker = create_worker(
            job.steps,
            _connect={"yielded": self._on_step, "errored": self._on_error, "finished": self._on_worker_finished},
        )
        self._pump.start()
        return self.worker

    def _load_tracker_then(self, model, direction, which):
        """Load ``model``'s tracker in a worker, then start the run asked for (the loader is
        ``self.worker`` meanwhile: a second Track waits, and Cancel drops the run)."""
        name = getattr(model, "name", "the model")
        self.status.ok(f"Loading {name}'s tracker…")
        self.track_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._load_cancelled = False

        def loaded(_tracker) -> None:
            self.worker = None
            self.track_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            if self._load_cancelled:
                self.status.ok(f"{name}'s tracker is loaded; tracking was cancelled.")
            elif self.registry.model() is model:  # the model was not changed meanwhile
                self.start(direction, which)

        def failed(exc: Exception) -> None:
            self.worker = None
            self.track_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            show_failure(self.status, exc, f"Tracking failed: {exc}", f"Tracking failed: {exc}")

        self.worker = create_worker(model.tracker, _connect={"returned": loaded, "errored": failed})
        return self.worker

    _load_cancelled = False

    def _on_step(self, step) -> None:
        """A frame from the worker: queued, written by the next tick (dropped after Cancel)."""
        if self.job is not None:
            self.job.receive(step)

    def _tick(self) -> None:
        """Write what the worker sent, a few ms at a time; show progress now and then."""
        job = self.job
        if job is None:
            self._pump.stop()
            return
        job.drain(budget=WRITE_BUDGET)
        if self._worker_done and not job.backlog:
            self._finish()
        elif job.publish():  # new frames shown: the progress goes in the same repaint
            self._show_progress(job)

    def _show_progress(self, job) -> None:
        """Progress in the bar only: its text never changes the dock's size."""
        if job.cancelled:
            return
        left = job.seconds_left if self.job is not None and job.done < job.total else None
        eta = f", ~{left:.0f} s left" if left is not None else ""
        stopped = f", {len(job.stopped)} lost" if job.stopped else ""
        # QProgressBar.setValue repaints the window at once (with the canvas: 30-100 ms
        # under xvfb); with updates off it only schedules a repaint, merged with the others
        self.progress.setUpdatesEnabled(False)
        self.progress.setFormat(f"%v / %m frames{stopped}{eta}")
        self.progress.setValue(job.done)
        self.progress.setUpdatesEnabled(True)

    def _show_end(self, job) -> None:
        """The run is over: a full bar of the frames it did and why it stopped there (it
        read "33 / 188 frames" when every object was lost after 33, as if still going)."""
        if job.cancelled:
            why = "cancelled"
        elif job.done < job.total and job.stopped:
            why = "stopped: objects lost" if len(job.stopped) > 1 else "stopped: object lost"
        elif job.done < job.total:
            why = "stopped early"
        else:
            why = "done"
        self.progress.setMaximum(max(job.done, 1))
        self.progress.setFormat(f"{job.done} frames, {why}")
        self.progress.setValue(job.done)

    def cancel(self) -> None:
        """Stops within one frame: nothing is written after this (while a tracker loads: the
        run does not start)."""
        self._load_cancelled = True
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.status.ok("Cancelling: the frame being computed is dropped…")

    def _on_error(self, exc: Exception) -> None:
        if self.job is not None:
            self.job.error = exc  # the frames already sent are still written, then kept
        show_failure(self.status, exc, f"Tracking failed: {exc}. The frames done are kept.", f"Tracking failed: {exc}")

    def _on_worker_finished(self) -> None:
        self._worker_done = True
        self._tick()

    def _finish(self) -> None:
        self._pump.stop()
        job, self.job, self.worker = self.job, None, None
        self.track_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if job is None:
            return
        keep = not job.cancelled or self.keep_on_cancel.isChecked() or job.error is not None
        job.finish(keep=keep)
        self._show_end(job)
        if job.error is None:
            what = "cancelled, frames kept" if job.cancelled and keep else "cancelled, nothing kept" if job.cancelled else "done"
            table = job.session.table
            lost = [table[i].name for i in job.stopped if i in table]
            lost_text = f" Lost: {', '.join(lost)}." if lost else ""
            line = f"Tracking {what}: {job.done} frame(s).{lost_text} {job.undo_note(keep)}".strip()
            self.status.ok(line, undo_of=job.session)
            self.status.setToolTip(
                f"Objects lost were absent {job.options.stop_after} frames in a row; the run stopped following them."
                if lost else ""
            )

    def interpolate(self) -> None:
        s = self._session()
        if s is None:
            return
        ids = s.selection or recently_written(s, {r.id for r in s.table if r.present})
        if not ids:
            self.status.error("Select the instance(s) to interpolate in the Instances dock.")
            return

        def run():
            with s.annotation.action("the interpolation"):
                return {i: s.annotation.interpolate(i) for i in ids}

        done = guarded(self.status, run)
        if done:
            self.status.ok("Filled " + "; ".join(f"{s.table[i].name}: {len(f)} frame(s)" for i, f in done.items()))

    def _lineage(self, fn):
        """Run a lineage action on the session; its message, or why not, in the status line."""
        s = self._session()
        if s is None:
            return None
        if self.worker is not None:
            self.status.error("A run is going: wait for it, or Cancel it, before changing the lineage.")
            return None
        out = guarded(self.status, fn, s)
        if out is None:
            return None
        value, text = out
        self.status.ok(f"{text} One Ctrl+Z undoes it.", undo_of=s)
        return value

    def divide(self):
        """Divide at this frame (Shift+D): the two daughters, or None (the status line says why)."""
        from .._napari.tracks import divide_here

        return self._lineage(divide_here)

    def link(self):
        from .._napari.tracks import link_selected

        return self._lineage(link_selected)

    def unlink(self):
        from .._napari.tracks import unlink_selected

        return self._lineage(unlink_selected)

    def show_tracks(self) -> None:
        from .._napari.tracks import add_tracks_layer

        s = self._session()
        layer = guarded(self.status, add_tracks_layer, s) if s is not None else None
        if layer is not None:
            divisions = len({p for ps in (layer.graph or {}).values() for p in ps})
            drawn = f"; {divisions} division(s) drawn" if divisions else ""
            self.status.ok(f"Tracks layer added (centroid per frame per instance{drawn}).")


def _stored_frames() -> int:
    try:
        return max(int(settings().value(FRAMES_KEY, DEFAULT_FRAMES)), 2)
    except (TypeError, ValueError):
        return DEFAULT_FRAMES
