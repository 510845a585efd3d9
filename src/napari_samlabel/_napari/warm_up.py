"""What the first actions would compile or load, done once per process in a background
thread as soon as the window answers, so neither the start nor a first action waits.

An empty Shapes layer (the box prompt layer) compiles napari's numba triangulation: 6 s on
the GUI thread after a fresh install (an empty numba cache), 0.5 s to load on later starts;
here a second process compiles it into numba's disk cache. The weight-free backend's first
click loads scikit-image's segmentation and morphology modules (150 ms); plugins' backends
are found by scanning every installed distribution (70-140 ms). napari's label colours
compile nothing: PartSegCore's compiled backend is a dependency and napari picks it over
numba (with numba they cost 2-4 s at every start, 11 s after a fresh install, and the first
brush stroke froze 1.9 s).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None
_go = threading.Event()  # set once the window answers: the warm-up never delays the start
_done = threading.Event()
GO_ANYWAY_S = 3.0  # without a GUI to say go (a script), begin after this


def start() -> threading.Event:
    """Start the warm-up once per process (later calls return the same event). Its work
    begins at :func:`go` (or after ``GO_ANYWAY_S``), so it never competes with start-up."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_run, name="samlabel-warm-up", daemon=True)
            _thread.start()
    return _done


def go() -> None:
    """The window answers: begin the work."""
    _go.set()


def wait(timeout: float | None = None) -> bool:
    """Until the warm-up (if one was started) is done; True when done or never started."""
    return _thread is None or _done.wait(timeout)


def _run() -> None:
    _go.wait(GO_ANYWAY_S)
    try:
        _warm()
    except Exception:  # a warm-up that fails only makes the first use slower
        log.warning("start-up warm-up failed; the first actions may be slow", exc_info=True)
    finally:
        _done.set()


# Compiled in a process of its own, into numba's disk cache: a compile here held this
# interpreter's lock for 100-300 ms at a time, and the viewer stalled that long meanwhile.
_COMPILE = "from napari.layers import Shapes; Shapes()"


def _warm() -> None:
    from ..backends.registry import model_names
    from ..backends.seeds import warm_up as warm_seeds

    # Shapes layers (the box prompt layer) then load the kernels from the disk cache (loading
    # them here too held the interpreter's lock 110 ms at a time: no gain over the GUI doing it)
    # at the lowest priority: on two cores the compile slowed the X server and the viewer (a
    # first brush stroke paused 206 ms while it ran)
    nice = (lambda: os.nice(19)) if hasattr(os, "nice") else None
    subprocess.run([sys.executable, "-c", _COMPILE], capture_output=True, timeout=300, check=False, preexec_fn=nice)
    warm_seeds()  # the first click with the weight-free backend
    model_names()  # plugins' backends: one scan of every installed distribution (70-140 ms)
