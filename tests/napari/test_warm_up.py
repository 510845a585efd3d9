"""The start-up warm-up: once per process, off the calling thread, and it leaves what the
first actions need ready (plugins' backends read, the seeds backend's modules loaded)."""

import sys
import threading

import pytest

from napari_samlabel._napari import warm_up
from napari_samlabel.backends import registry


@pytest.mark.slow
def test_the_warm_up_runs_once_in_its_own_thread_and_readies_the_first_actions():
    done = warm_up.start()
    assert warm_up.start() is done  # once per process
    assert warm_up._thread is not threading.current_thread()
    warm_up.go()
    assert warm_up.wait(180)
    assert registry._entry_points_read  # Track no longer scans every distribution on the GUI thread
    assert "skimage.segmentation" in sys.modules
