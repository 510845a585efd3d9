"""The first minute after a fresh install, in a real window: `samlabel` opens, and about a
second after the window answers the user presses Shift+A, clicks a nucleus, presses Enter,
turns SAM mode off and paints a stroke with napari's brush. Nothing compiled or loaded on
first use may pause the viewer: each first action is measured on its own.

Run by tests/qt/test_first_use.py with an empty numba cache (NUMBA_CACHE_DIR), as on a
fresh install:

    xvfb-run -a -s "-screen 0 1920x1080x24" python tests/first_use_scenario.py OUT_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from pauses import PauseMeter  # noqa: E402
from window_helpers import Checks, click, drag, key, run_scenario, wait_until  # noqa: E402


def main(out: Path) -> dict:
    started = time.perf_counter()
    from qtpy.QtTest import QTest
    from scipy import ndimage as ndi

    from napari_samlabel.api import current_session
    from napari_samlabel.cli import freeze_startup_objects, open_viewer
    from napari_samlabel.synthetic import fluorescence_timelapse

    out.mkdir(parents=True, exist_ok=True)

    check = Checks(out)
    results = check.results

    viewer = open_viewer("timelapse")  # what `samlabel` does
    freeze_startup_objects()
    QTest.qWait(0)
    results["window answered after (s)"] = {"ok": True, "s": round(time.perf_counter() - started, 2)}
    win = viewer.window._qt_window
    wait_until(win.isMaximized, 3000)
    check("the first window opens maximised", win.isMaximized(), size=[win.width(), win.height()])
    meter = PauseMeter()
    meter.start()
    meter.step = "idle after start"
    QTest.qWait(1000)  # a person finds the panel and the image
    s = current_session(viewer)
    _, truth = fluorescence_timelapse()
    frame = 9
    viewer.dims.set_current_step(0, frame)
    d = ndi.distance_transform_edt(truth[frame] == 2)
    centre = np.unravel_index(np.argmax(d), d.shape)
    firsts = {}

    def first(name: str, action) -> None:
        meter.stop()
        meter.start()
        meter.step = name
        action()
        QTest.qWait(300)
        meter.stop()
        firsts[name] = (meter.within(0.15), meter.figures())
        meter.start()

    first("Shift+A", lambda: key(viewer, "Shift-A"))
    from napari_samlabel._qt.panel import SamLabelPanel

    panel = next(w for w in viewer.window.dock_widgets.values() if isinstance(w, SamLabelPanel))
    c = panel.segment.controller
    check("Shift+A turned SAM mode on", panel.segment.sam_mode)

    def click_and_wait():
        click(viewer, s.image, centre)
        wait_until(lambda: c.result is not None, 15000)

    first("first click and its preview", click_and_wait)
    check("the first click shows a preview", c.result is not None)
    before = len(list(s.table.present()))
    first("Enter", lambda: (key(viewer, "Enter"), wait_until(lambda: len(list(s.table.present())) > before, 5000)))
    check("Enter saved it", len(list(s.table.present())) == before + 1)
    first("Shift+A off", lambda: key(viewer, "Shift-A"))
    s.labels.mode = "paint"
    key(viewer, "M")
    brush = s.labels.selected_label
    r, col = 20, 20
    first("first brush stroke", lambda: drag(viewer, s.labels, [(r, col + k) for k in range(0, 40, 4)]))
    painted = int((s.labels.data[frame] == brush).sum())
    check("the first stroke painted the whole drag, not a dab", painted > 40 * s.labels.brush_size * 0.5,
          pixels=painted, brush_size=s.labels.brush_size)  # fmt: skip
    meter.stop()
    for name, (ok, fig) in firsts.items():
        check(f"{name}: no pause over 150 ms (+ the machine's own lateness)", ok, **fig)
    return results


if __name__ == "__main__":
    run_scenario(main)
