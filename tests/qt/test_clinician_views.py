"""The clinician's scenario in three linked views (issue 23), in real windows (tests/day_clinician_views.py):
real X clicks and keys, a check and a screenshot per step, each run in its own X server with a window
manager; the screenshots stay in the test's folder."""

import pytest

from tests.window_helpers import run_in_a_window

pytestmark = pytest.mark.slow


def report(run, results):
    failed = {k: v for k, v in results.items() if not v.get("ok")}
    return f"{failed}\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}"


def test_a_clinicians_series_in_three_views_at_1920x1080(tmp_path):
    """CT series -> '3 views' (axial, sagittal, coronal, their letters) -> a SAM click and Enter in the
    sagittal view -> Shift+T / Shift+Alt+T along x -> a brush stroke in the coronal view (manual on its
    slices, Ctrl+Z / Ctrl+Shift+Z) -> DICOM SEG judged by dcmqi; then a fresh window: the series, File >
    Open of the SEG -> every voxel of each class as it was."""
    day = tmp_path / "day"
    run, results = run_in_a_window("day_clinician_views.py", day, "1920x1080", timeout=420)
    assert run.returncode == 0 and results and all(v["ok"] for v in results.values()), report(run, results)
    run, results = run_in_a_window("day_clinician_views.py", tmp_path / "seg_back", "1920x1080", args=["SEG", day])
    assert run.returncode == 0 and results and all(v["ok"] for v in results.values()), report(run, results)


def test_three_views_stay_usable_at_1366x768(tmp_path):
    """On a laptop screen the three views fit beside the panel: every canvas big enough to work in, the
    window on the screen, the SAM Label panel whole and its '3 views' button visible."""
    run, results = run_in_a_window("day_clinician_views.py", tmp_path / "laptop", "1366x768", args=["LAPTOP"])
    assert run.returncode == 0 and results and all(v["ok"] for v in results.values()), report(run, results)
