"""The annotator's loop in a real, maximised window at laptop and desktop screen sizes.

Each size runs tests/real_window_scenario.py in its own X server (Xvfb) with a window
manager (openbox), so maximising and the screen's limits are what a user gets. Screenshots
of every step are kept under ``$SAMLABEL_ARTEFACTS`` (default: pytest's tmp folder).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parents[1]  # tests/, where the scenario script lives
SCREENS = ["1920x1080", "1366x768"]


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (bash scripts/test.sh installs it)")
@pytest.mark.parametrize("screen", SCREENS)
def test_label_three_objects_track_copy_undo_in_a_maximised_window(screen, tmp_path):
    out = Path(os.environ.get("SAMLABEL_ARTEFACTS", tmp_path)) / f"window-{screen}"
    shutil.rmtree(out, ignore_errors=True)
    wm = "openbox >/dev/null 2>&1 & sleep 1; " if shutil.which("openbox") else ""
    cmd = f'{wm}exec "{sys.executable}" "{HERE / "real_window_scenario.py"}" "{out}"'
    run = subprocess.run(
        ["xvfb-run", "-a", "-s", f"-screen 0 {screen}x24", "bash", "-c", cmd],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "xcb", "NAPARI_CONFIG": str(tmp_path / "napari-settings.yaml")},
    )  # fmt: skip
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    failed = [name for name, r in results.items() if not r["ok"]]
    assert run.returncode == 0, f"{screen}: failed {failed or 'before any check'}\n{run.stderr[-3000:]}"
    assert shutil.which("openbox") is None or results["window inside the screen"]["window"][0] >= 0.9 * int(
        screen.split("x")[0]), "the window manager did not maximise the window"  # fmt: skip
    assert len(list(out.glob("*.png"))) >= 10
