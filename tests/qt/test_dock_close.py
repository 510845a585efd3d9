"""Real window: closing a dock with its X lets go of what it bound. napari takes the widget
out of its dock without closing it, so keys stayed bound to a panel nobody saw (Shift+T
started runs from it) and were bound twice once the panel was reopened."""

import gc

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QPushButton

from napari_samlabel._napari.registry import sessions
from napari_samlabel.api import start_session
from napari_samlabel.synthetic import fluorescence_timelapse

pytestmark = pytest.mark.slow

DOCK_KEYS = {"Shift-A", "Shift-T", "Shift-Alt-T", "Shift-D"}


def close_with_its_x(qtbot, viewer, widget):
    x = widget.parent().findChild(QPushButton, "QTitleBarCloseButton")  # napari's dock around it
    qtbot.mouseClick(x, Qt.LeftButton)
    qtbot.wait(50)
    assert widget.parent() is None


@pytest.mark.parametrize("name", ["SAM Label", "Track", "Segment"])
def test_the_x_takes_back_the_keys_and_reopening_binds_them_once(make_napari_viewer, qtbot, name):
    viewer = make_napari_viewer(show=True)
    viewer.add_image(np.zeros((5, 32, 32), np.float32))
    keys = sessions(viewer).keys
    _, widget = viewer.window.add_plugin_dock_widget("napari-samlabel", name)
    bound = {k: len(v) for k, v in keys._handlers.items()}
    assert bound.keys() & DOCK_KEYS
    close_with_its_x(qtbot, viewer, widget)
    assert not (set(keys._handlers) & DOCK_KEYS & bound.keys())
    viewer.window.add_plugin_dock_widget("napari-samlabel", name)
    assert {k: len(v) for k, v in keys._handlers.items()} == bound


def test_closing_the_panel_mid_run_stops_the_run_and_closes_its_undo_step(make_napari_viewer, qtbot, classes):
    from napari_samlabel._qt.track_widget import ALL_HERE

    # long enough that the run is still going when the X is clicked: a tick writes what the
    # worker sent within its budget, and 40 small frames could all land (and the run end) in one
    image, truth = fluorescence_timelapse(n_frames=200, size=128, n_cells=3, seed=2)
    viewer = make_napari_viewer(show=True)
    s = start_session(viewer, viewer.add_image(image, name="movie"), ontology=classes)
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    viewer.dims.set_current_step(0, 0)
    for k in np.unique(truth[0])[1:]:
        s.commit(truth[0] == k, region=(0,))
    track = panel.track
    track.objects_combo.setCurrentText(ALL_HERE)
    track.to_end.setChecked(True)
    thresholds = gc.get_threshold()
    qtbot.mouseClick(track.track_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: track.job is None or track.job.done >= 2, timeout=60000)
    assert track.job is not None, f"the run ended before the X was clicked: {track.status.text()}"
    close_with_its_x(qtbot, viewer, panel)
    qtbot.waitUntil(lambda: track.worker is None, timeout=60000)  # the run ended by itself
    assert not s.annotation.running and s.annotation._open == []
    assert gc.get_threshold() == thresholds  # the run gave the collector back
    done = max(max(r.frames) for r in s.table.present())
    assert done < 199  # stopped, not run to the end
