"""A model whose tracker loads on first use (EdgeTAM's and SAM 3's video models: seconds for
real weights) loads it off the GUI thread when Track is pressed, then tracks; the viewer
stays usable meanwhile, and Cancel during the load means no run."""

import threading
import time

import numpy as np
import pytest
from qtpy.QtCore import QSettings, Qt, QTimer

from napari_samlabel.api import start_session
from napari_samlabel.backends.registry import load_backend
from napari_samlabel.synthetic import fluorescence_timelapse

START = 2


class SlowTrackerDouble:
    """Test double: the weight-free model whose tracker takes ``delay`` s to load, like a
    transformers video model (it says so with ``tracker_ready``)."""

    name = "slowtrack"

    def __init__(self, delay: float = 1.0) -> None:
        self.seeds, self.delay, self._tracker = load_backend("seeds"), delay, None
        self.loaded_on: list[threading.Thread] = []

    def __getattr__(self, name):  # prompting as the weight-free model
        return getattr(self.seeds, name)

    @property
    def tracker_ready(self) -> bool:
        return self._tracker is not None

    def tracker(self):
        if self._tracker is None:
            time.sleep(self.delay)
            self.loaded_on.append(threading.current_thread())
            self._tracker = self.seeds.tracker()
        return self._tracker


@pytest.fixture(autouse=True)
def settings_file(monkeypatch, tmp_path):
    from napari_samlabel._qt import track_widget

    path = str(tmp_path / "samlabel.ini")
    monkeypatch.setattr(track_widget, "settings", lambda: QSettings(path, QSettings.Format.IniFormat))


@pytest.fixture
def setup(make_napari_viewer, classes):
    from napari_samlabel._napari.registry import sessions

    viewer = make_napari_viewer()
    image, truth = fluorescence_timelapse(n_frames=8, size=96, n_cells=4, seed=2)
    s = start_session(viewer, viewer.add_image(image, name="movie"), ontology=classes)
    _, track = viewer.window.add_plugin_dock_widget("napari-samlabel", "Track")
    viewer.dims.set_current_step(0, START)
    model = SlowTrackerDouble()
    sessions(viewer).backend = model
    k = int([v for v in np.unique(truth[START]) if v][0])
    rec = s.commit(truth[START] == k, region=(START,))
    return s, track, model, rec


def test_the_tracker_loads_off_the_gui_thread_then_the_run_starts(setup, qtbot):
    s, track, model, rec = setup
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    qtbot.mouseClick(track.track_button, Qt.LeftButton)
    assert track.status.text() == "Loading slowtrack's tracker…" and not track.track_button.isEnabled()
    qtbot.waitUntil(lambda: model.tracker_ready, timeout=10000)
    qtbot.waitUntil(lambda: track.worker is None and track.job is None, timeout=60000)
    timer.stop()
    assert model.loaded_on and model.loaded_on[0] is not threading.main_thread()
    assert len(ticks) >= 20, "the GUI was blocked while the tracker loaded"  # 1 s at 20 ms: ~50 ticks
    assert len(s.table[rec.id].frames) > 1, track.status.text()  # then it tracked
    assert track.track_button.isEnabled()


def test_cancel_while_the_tracker_loads_starts_no_run(setup, qtbot):
    s, track, model, rec = setup
    qtbot.mouseClick(track.track_button, Qt.LeftButton)
    qtbot.mouseClick(track.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: model.tracker_ready and track.worker is None, timeout=10000)
    qtbot.wait(200)
    assert s.table[rec.id].frames == {START} and track.job is None
    assert track.status.text() == "slowtrack's tracker is loaded; tracking was cancelled."
    assert track.track_button.isEnabled() and not track.cancel_button.isEnabled()
