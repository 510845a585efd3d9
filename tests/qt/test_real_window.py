"""The annotator's loop in a real, maximised window at laptop and desktop screen sizes.

Each size runs tests/real_window_scenario.py in its own X server (Xvfb) with a window
manager (openbox), so maximising and the screen's limits are what a user gets. Screenshots
of every step are kept under ``$SAMLABEL_ARTEFACTS`` (default: pytest's tmp folder).
"""

import os
import shutil
from pathlib import Path

import pytest
from window_helpers import run_in_a_window

pytestmark = pytest.mark.slow

SCREENS = ["1920x1080", "1366x768"]


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (bash scripts/test.sh installs it)")
@pytest.mark.parametrize("screen", SCREENS)
def test_label_three_objects_track_copy_undo_in_a_maximised_window(screen, tmp_path):
    out = Path(os.environ.get("SAMLABEL_ARTEFACTS", tmp_path)) / f"window-{screen}"
    run, results = run_in_a_window("real_window_scenario.py", out, screen)
    failed = [name for name, r in results.items() if not r["ok"]]
    assert run.returncode == 0, f"{screen}: failed {failed or 'before any check'}\n{run.stderr[-3000:]}"
    assert shutil.which("openbox") is None or results["window inside the screen"]["window"][0] >= 0.9 * int(
        screen.split("x")[0]), "the window manager did not maximise the window"  # fmt: skip
    assert len(list(out.glob("*.png"))) >= 10
