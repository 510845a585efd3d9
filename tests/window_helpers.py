"""Driving a real napari window: where a data pixel is on the canvas, clicks, keys, drags."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest

MODIFIERS = {"Shift": Qt.ShiftModifier, "Control": Qt.ControlModifier, "Alt": Qt.AltModifier}


def canvas_point(viewer, layer, yx, qt_viewer=None):
    """Where the data pixel (row, col) of the shown plane (rows and columns as displayed)
    is on the canvas widget of ``qt_viewer`` (the window's canvas by default; a linked
    view's), the camera's orientation (a flipped axis: superior up) included."""
    qt_viewer = qt_viewer if qt_viewer is not None else viewer.window._qt_viewer
    model = qt_viewer.viewer
    native = qt_viewer.canvas.native
    shown = list(model.dims.displayed)  # (rows, columns) on screen: not the last two after a roll
    offset = model.dims.ndim - layer.ndim
    data = np.asarray(layer.world_to_data(model.dims.point), float)
    data[[d - offset for d in shown]] = yx
    world = np.asarray(layer.data_to_world(data))[[d - offset for d in shown]]
    camera = model.scene.camera if hasattr(model, "scene") else model.camera
    center = np.asarray(camera.center[-2:])
    flip = np.array([1.0 if str(getattr(v, "value", v)) in ("down", "right") else -1.0 for v in camera.orientation2d])
    ratio = native.devicePixelRatioF() if hasattr(native, "devicePixelRatioF") else 1.0
    y, x = (world - center) * flip * camera.zoom / ratio + np.array([native.height(), native.width()]) / 2
    return native, QPoint(int(round(x)), int(round(y)))


def click(viewer, layer, yx, button=Qt.LeftButton, wait=30, qt_viewer=None):
    native, p = canvas_point(viewer, layer, yx, qt_viewer)
    QTest.mouseMove(native, p)
    QTest.mousePress(native, button, Qt.NoModifier, p)
    QTest.mouseRelease(native, button, Qt.NoModifier, p)
    QTest.qWait(wait)


def drag(viewer, layer, points, wait=20, qt_viewer=None):
    native, start = canvas_point(viewer, layer, points[0], qt_viewer)
    QTest.mousePress(native, Qt.LeftButton, Qt.NoModifier, start)
    for yx in points[1:]:
        QTest.mouseMove(native, canvas_point(viewer, layer, yx, qt_viewer)[1])
        QTest.qWait(5)
    QTest.mouseRelease(native, Qt.LeftButton, Qt.NoModifier, canvas_point(viewer, layer, points[-1], qt_viewer)[1])
    QTest.qWait(wait)


def key(viewer, combo: str, wait=30):
    """A real key press on the canvas, napari's spelling: "Shift-A", "Control-Shift-V", "Enter"."""
    *mods, name = combo.split("-")
    modifiers = Qt.NoModifier
    for m in mods:
        modifiers |= MODIFIERS[m]
    special = {"Enter": Qt.Key_Return, "Escape": Qt.Key_Escape, "Right": Qt.Key_Right, "Left": Qt.Key_Left}
    code = special.get(name) or getattr(Qt, f"Key_{name.upper()}")
    native = viewer.window._qt_viewer.canvas.native
    native.setFocus()
    QTest.keyClick(native, code, modifiers)
    QTest.qWait(wait)


# -- real X events (xdotool): keys go to whatever has the focus, as a keyboard's do ----------
def x_key(combo: str, wait: int = 80) -> None:
    """A real key press, xdotool's spelling ("shift+t", "Return", "ctrl+z", "Right", "1"),
    to the widget that has the focus: nothing moves the focus to the canvas first."""
    subprocess.run(["xdotool", "key", "--clearmodifiers", combo], check=True)
    QTest.qWait(wait)


def x_click(widget, point=None, button: int = 1, wait: int = 120) -> None:
    """A real click on ``widget`` at ``point`` (its centre by default)."""
    g = widget.mapToGlobal(point if point is not None else widget.rect().center())
    subprocess.run(["xdotool", "mousemove", "--sync", str(g.x()), str(g.y()), "click", str(button)], check=True)
    QTest.qWait(wait)


def x_click_canvas(viewer, layer, yx, button: int = 1, wait: int = 120, qt_viewer=None) -> None:
    native, p = canvas_point(viewer, layer, yx, qt_viewer)
    x_click(native, p, button, wait)


def x_drag_canvas(viewer, layer, points, button: int = 1, wait: int = 120, qt_viewer=None) -> None:
    """A real drag through the data pixels ``points`` of the shown plane (Qt sees each move
    with the button held: one xdotool call per step, events processed in between)."""
    native = canvas_point(viewer, layer, points[0], qt_viewer)[0]
    glob = [native.mapToGlobal(canvas_point(viewer, layer, yx, qt_viewer)[1]) for yx in points]
    subprocess.run(["xdotool", "mousemove", "--sync", str(glob[0].x()), str(glob[0].y()), "mousedown", str(button)],
                   check=True)  # fmt: skip
    QTest.qWait(30)
    for a, b in zip(glob[:-1], glob[1:]):
        for t in np.linspace(0, 1, 5)[1:]:
            x, y = round(a.x() + (b.x() - a.x()) * t), round(a.y() + (b.y() - a.y()) * t)
            subprocess.run(["xdotool", "mousemove", "--sync", str(x), str(y)], check=True)
            QTest.qWait(15)
    subprocess.run(["xdotool", "mouseup", str(button)], check=True)
    QTest.qWait(wait)


def answer_dialogs(answers: dict[str, str], log: list):
    """Answer the modal dialogs that come up, as a person would click: ``answers`` maps a
    word of the dialog's text to the button to press; what was seen goes to ``log``. Keep
    the returned timer alive while dialogs may come."""
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QAbstractButton, QApplication, QLabel

    def poll():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            return
        text = " ".join([dialog.windowTitle(), *(w.text() for w in dialog.findChildren(QLabel))])
        for word, button in answers.items():
            if word.lower() not in text.lower():
                continue
            for b in dialog.findChildren(QAbstractButton):
                if b.text().replace("&", "") == button and b.isVisible():
                    log.append({"dialog": text[:400], "pressed": button})
                    QTest.mouseClick(b, Qt.LeftButton)
                    return

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(150)
    return timer


def pick_from_menu(label: str, log: list):
    """Pick ``label`` in the next popup menu (a right click's menu runs its own event loop:
    the pick must be waiting before the click). Keep the returned timer alive."""
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    def poll():
        menu = QApplication.activePopupWidget()
        if menu is None or not hasattr(menu, "actions"):
            return
        timer.stop()
        log.extend(a.text() for a in menu.actions())
        action = next((a for a in menu.actions() if a.text().replace("&", "") == label), None)
        if action is None:
            menu.close()
            return
        g = menu.mapToGlobal(menu.actionGeometry(action).center())
        subprocess.run(["xdotool", "mousemove", "--sync", str(g.x()), str(g.y()), "click", "1"], check=True)

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    return timer


def wait_until(predicate, timeout_ms=10000, step=20) -> bool:
    waited = 0
    while not predicate():
        if waited >= timeout_ms:
            return False
        QTest.qWait(step)
        waited += step
    return True


class Checks:
    """A scenario's checks, each written to OUT/results.json as it is made (the test that ran
    the scenario reads the file); a failed check stops the scenario."""

    def __init__(self, out) -> None:
        self.out = out
        self.results: dict = {}

    def __call__(self, name: str, ok: bool, **figures) -> None:
        self.results[name] = {"ok": bool(ok), **figures}
        (self.out / "results.json").write_text(json.dumps(self.results, indent=1))
        if not ok:
            raise AssertionError(f"{name}: {figures}")


def run_scenario(main) -> None:
    """``python SCENARIO.py OUT_DIR``: exit 0 when every check held, 1 with the traceback."""
    try:
        main(Path(sys.argv[1]))
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)


def run_in_a_window(scenario: str, out, screen: str = "1920x1080", env: dict | None = None, args=(),
                    timeout: int = 300, keep: bool = False):
    """Run ``tests/SCENARIO`` in its own X server (Xvfb) with a window manager (openbox), so
    maximising and the screen's limits are what a user gets, and napari's settings as on a
    first start (a new file). Returns (the process, the checks it wrote to OUT/results.json)."""
    if not keep:  # a later phase of one day keeps what the earlier one left
        shutil.rmtree(out, ignore_errors=True)
    script = Path(__file__).resolve().parent / scenario
    extra = " ".join(f'"{a}"' for a in args)
    wm = "openbox >/dev/null 2>&1 & sleep 1; " if shutil.which("openbox") else ""
    run = subprocess.run(
        ["xvfb-run", "-a", "-s", f"-screen 0 {screen}x24", "bash", "-c", f'{wm}exec "{sys.executable}" "{script}" "{out}" {extra}'],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "QT_QPA_PLATFORM": "xcb", "NAPARI_CONFIG": str(Path(out).parent / f"napari-{screen}.yaml"),
             **(env or {})},
    )  # fmt: skip
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return run, results
