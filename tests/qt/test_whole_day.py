"""Whole days in a real window (tests/day_microscopist.py, tests/day_clinician.py): real X key
presses and clicks, the focus left where a person leaves it, a check and a screenshot per step.
Each runs in its own X server with a window manager; the screenshots stay in the test's folder."""

import json

import pytest

from tests.window_helpers import run_in_a_window

pytestmark = pytest.mark.slow


def report(run, results):
    failed = {k: v for k, v in results.items() if not v.get("ok")}
    return f"{failed}\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}"


def test_a_microscopists_day_at_1920x1080(tmp_path):
    """Classes with hotkeys, five nuclei by keys, rows + Shift+T, a brush correction, re-track,
    undo/redo, lock, divide, Ctrl+S, quit with the question; next morning: reopen, CTC and COCO."""
    morning = tmp_path / "morning"
    run, results = run_in_a_window("day_microscopist.py", morning, "1920x1080", timeout=420)
    assert run.returncode == 0 and results and all(v["ok"] for v in results.values()), report(run, results)
    asked = json.loads((morning / "dialogs.json").read_text())
    assert [d["pressed"] for d in asked][-1] == "Save"
    after = tmp_path / "next_morning"
    run, results = run_in_a_window("day_microscopist.py", after, "1920x1080", args=[morning / "day.samlabel"],
                                   timeout=300)  # fmt: skip
    assert run.returncode == 0 and results and all(v["ok"] for v in results.values()), report(run, results)


def test_a_clinicians_day_at_1366x768(tmp_path):
    """A CT series, an ontology, the liver on axial and a lesion on sagittal, tracking along both
    axes (the lesion's run leaves the liver's axial slices as drawn), a brush correction, a DICOM SEG
    judged by dcmqi, Ctrl+S, quit; then `samlabel PROJECT` brings everything back, once."""
    day = tmp_path / "day"
    run, results = run_in_a_window("day_clinician.py", day, "1366x768", timeout=420)
    assert run.returncode == 0 and results and all(v["ok"] for v in results.values()), report(run, results)
    run, results = run_in_a_window("day_clinician.py", tmp_path / "reopen", "1366x768", args=[day / "ct.samlabel"])
    assert run.returncode == 0 and results and all(v["ok"] for v in results.values()), report(run, results)
