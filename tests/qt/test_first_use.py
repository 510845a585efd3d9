"""The first actions after a fresh install pause the viewer no more than later ones: what
napari and the plugin compile or load on first use (numba's shape and label-colour kernels,
scikit-image's modules) is warmed off the GUI thread at start. A fresh install is an empty
numba cache and no napari settings; each first action (Shift+A, a click, Enter, a brush
stroke) is measured alone, and the first window opens maximised.
Before the start-up warm-up the first Shift+A froze the window for seconds and the first
stroke lost its drag."""

import json
import os
import shutil
from pathlib import Path

import pytest
from window_helpers import run_in_a_window

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (bash scripts/test.sh installs it)")
def test_first_actions_after_a_fresh_install_do_not_freeze_the_window(tmp_path):
    out = Path(os.environ.get("SAMLABEL_ARTEFACTS", tmp_path)) / "first-use"
    numba_cache = tmp_path / "numba-cache"  # empty: nothing compiled yet, as after pip install
    numba_cache.mkdir()
    run, results = run_in_a_window("first_use_scenario.py", out, env={"NUMBA_CACHE_DIR": str(numba_cache)})
    print(json.dumps(results, indent=1))
    failed = {name: r for name, r in results.items() if not r["ok"]}
    assert run.returncode == 0, f"failed {failed or 'before any check'}\n{run.stderr[-3000:]}"
