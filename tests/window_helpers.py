"""Driving a real napari window: where a data pixel is on the canvas, clicks, keys, drags."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest

MODIFIERS = {"Shift": Qt.ShiftModifier, "Control": Qt.ControlModifier, "Alt": Qt.AltModifier}


def canvas_point(viewer, layer, yx):
    """Where the data pixel (row, col) of the shown plane is on the canvas widget."""
    native = viewer.window._qt_viewer.canvas.native
    data = np.asarray(layer.world_to_data(viewer.dims.point), float)
    data[-2:] = yx
    world = np.asarray(layer.data_to_world(data))[-2:]
    center = np.asarray(viewer.camera.center[-2:])
    zoom = viewer.camera.zoom
    ratio = native.devicePixelRatioF() if hasattr(native, "devicePixelRatioF") else 1.0
    y, x = (world - center) * zoom / ratio + np.array([native.height(), native.width()]) / 2
    return native, QPoint(int(round(x)), int(round(y)))


def click(viewer, layer, yx, button=Qt.LeftButton, wait=30):
    native, p = canvas_point(viewer, layer, yx)
    QTest.mouseMove(native, p)
    QTest.mousePress(native, button, Qt.NoModifier, p)
    QTest.mouseRelease(native, button, Qt.NoModifier, p)
    QTest.qWait(wait)


def drag(viewer, layer, points, wait=20):
    native, start = canvas_point(viewer, layer, points[0])
    QTest.mousePress(native, Qt.LeftButton, Qt.NoModifier, start)
    for yx in points[1:]:
        QTest.mouseMove(native, canvas_point(viewer, layer, yx)[1])
        QTest.qWait(5)
    QTest.mouseRelease(native, Qt.LeftButton, Qt.NoModifier, canvas_point(viewer, layer, points[-1])[1])
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


def wait_until(predicate, timeout_ms=10000, step=20) -> bool:
    waited = 0
    while not predicate():
        if waited >= timeout_ms:
            return False
        QTest.qWait(step)
        waited += step
    return True
