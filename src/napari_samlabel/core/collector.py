"""Holding back the garbage collector's full collections while long work feeds the GUI.

A full (generation 2) collection walks every object the process keeps: after napari,
Qt and the libraries have loaded, and more after an hour of annotating, that pauses the
GUI thread 150-250 ms at a random moment. While a tracking run writes frames, only the
young generations are collected (cheap: they hold what the run just made); the full
collection waits until the last run ends. This does not touch ``gc.freeze``, which
``samlabel`` uses at start-up and which must outlive any run.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["hold_full_collections"]

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] | None = None
_NEVER = 2**31 - 1  # a generation-2 threshold no run reaches


def hold_full_collections():
    """Hold back full collections until the returned ``release()`` is called (each
    holder releases once; the thresholds come back when the last holder has)."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            first, second, _ = _saved
            gc.set_threshold(first, second, _NEVER)
        _holders += 1
    released = False

    def release() -> None:
        nonlocal released
        global _holders, _saved
        with _lock:
            if released:
                return
            released = True
            _holders -= 1
            if _holders == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None

    return release
