"""What every dock does as it opens, once per window: the warm-up, keys wherever the focus
is, the unsaved-labels question on close."""

from __future__ import annotations

from qtpy.QtCore import QTimer

from .._napari import warm_up
from .unsaved import unsaved_guard
from .window_keys import window_keys


def dock_opened(viewer) -> None:
    """The process's warm-up starts once, off the GUI thread, as soon as the event loop turns
    (the window answers); the window's keys work wherever the focus is (:mod:`.window_keys`);
    closing it with unsaved labels asks first (:mod:`.unsaved`)."""
    if not warm_up.start().is_set():
        QTimer.singleShot(0, warm_up.go)
    window_keys(viewer)
    unsaved_guard(viewer)
