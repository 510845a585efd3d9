"""The clinician's scenario in three linked views (issue 23), in a real window: a CT series,
the "3 views" button (axial canvas, sagittal and coronal linked views), a SAM prompt in the
sagittal view, Shift+T through the sagittal slices, a brush correction in the coronal view
(Ctrl+Z / Ctrl+Shift+Z there), a DICOM SEG judged by dcmqi; then, in a fresh window, File >
Open of the SEG onto the series gives back the same voxels per class.

    python tests/day_clinician_views.py OUT_DIR                 # the day in three views (1920 x 1080)
    python tests/day_clinician_views.py OUT_DIR SEG DAY_DIR     # the SEG back in, a fresh window
    python tests/day_clinician_views.py OUT_DIR LAPTOP          # 1366 x 768: the three views stay usable

Real X key presses (xdotool) to wherever the focus is, real clicks and drags on the canvases
(a linked view's own canvas included); a check and a screenshot per step in OUT_DIR.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from day_clinician import ORGAN, export_seg, open_with_classes, phantom  # noqa: E402
from day_microscopist import open_window, show_control, tab  # noqa: E402
from window_helpers import (  # noqa: E402
    Checks,
    canvas_point,
    run_scenario,
    wait_until,
    x_click,
    x_click_canvas,
    x_drag_canvas,
    x_key,
)


def linked_qt(panel, vm):
    """The Qt viewer (canvas) of a linked view."""
    from napari_samlabel._qt.three_views import _manager

    m = _manager(panel.viewer)
    return next(w.qt_viewer for w in (m.right_widget, m.bottom_widget) if w.vm_container.viewer_model is vm)


def by_plane(panel) -> dict:
    return {panel.three_views._orient[id(vm)].plane: vm for vm in panel.three_views.views()}


def write_series(out: Path) -> Path:
    from dicom_helpers import write_dicom_series

    vol, _truth = phantom()
    series = out / "CT"
    write_dicom_series(series, vol, spacing=(2.5, 0.8, 0.8), description="CT ABDOMEN", window=(120, 400))
    return series


def show_three_views(check, viewer, panel) -> dict:
    """A real click on "3 views"; the three planes and their letters."""
    from napari_samlabel._napari.registry import sessions

    show_control(panel, panel.views_button)
    x_click(panel.views_button)
    wait_until(lambda: len(panel.three_views.views()) == 2, 5000)
    views = by_plane(panel)
    main = sessions(viewer).orientation
    letters = {"axial": main.letters(), **{p: panel.three_views._orient[id(vm)].letters() for p, vm in views.items()}}
    check("the '3 views' button shows axial in the canvas, sagittal and coronal linked",
          panel.views_button.isChecked() and main.plane == "axial" and set(views) == {"sagittal", "coronal"},
          main=main.plane, linked=sorted(views))  # fmt: skip
    check("each view has its patient letters (sagittal: S up, A left; coronal: S up, R left; axial: A up, R left)",
          letters["sagittal"] == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
          and letters["coronal"] == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
          and letters["axial"] == {"top": "A", "bottom": "P", "left": "R", "right": "L"}, letters=letters)  # fmt: skip
    return views


def track_along(combo: str, track) -> int | None:
    """Shift+T / Shift+Alt+T as a key press; the axis of the run it started, once it ends."""
    x_key(combo)
    wait_until(lambda: track.worker is not None, 3000)
    job = track.job
    axis = job.axis if job is not None else None
    if job is not None:
        print("run:", combo, "along axis", job.axis, "from", job.start, job.options.direction, flush=True)
    wait_until(lambda: track.worker is None, 60000)
    return axis


def day(out: Path) -> None:
    from qtpy.QtTest import QTest

    from napari_samlabel._napari.registry import sessions

    out.mkdir(parents=True, exist_ok=True)
    series = write_series(out)
    check = Checks(out)

    # 1. the series, the ontology ---------------------------------------------------------------
    viewer, panel, shot, s = open_with_classes(out, series, check)

    # 2. three views ------------------------------------------------------------------------------
    views = show_three_views(check, viewer, panel)
    for axis, index in enumerate(ORGAN):  # the crosshair on the organ (a click in a view moves it too)
        viewer.dims.set_current_step(axis, index)
    QTest.qWait(100)
    sagittal, coronal = views["sagittal"], views["coronal"]
    sag_qt, cor_qt = linked_qt(panel, sagittal), linked_qt(panel, coronal)
    check("the sagittal view shows z and y, the coronal z and x, at the crosshair",
          tuple(sagittal.dims.displayed) == (0, 1) and tuple(coronal.dims.displayed) == (0, 2)
          and tuple(viewer.dims.displayed) == (1, 2)
          and round(s.image.world_to_data(sagittal.dims.point)[2]) == ORGAN[2]
          and round(s.image.world_to_data(coronal.dims.point)[1]) == ORGAN[1],
          sagittal=list(sagittal.dims.displayed), coronal=list(coronal.dims.displayed),
          sagittal_x=float(s.image.world_to_data(sagittal.dims.point)[2]),
          coronal_y=float(s.image.world_to_data(coronal.dims.point)[1]))  # fmt: skip
    seen = {}
    for name, vm in views.items():
        native, p = canvas_point(viewer, s.image, [ORGAN[a] for a in vm.dims.displayed], linked_qt(panel, vm))
        seen[name] = [p.x(), p.y(), native.width(), native.height()]
    check("after the slice changes each linked view still shows the organ under the crosshair",
          all(0 < x < w and 0 < y < h for x, y, w, h in seen.values()), at=seen)  # fmt: skip
    shot("three_views")

    # 3. a prompt in the sagittal view ------------------------------------------------------------
    x_key("shift+a")
    seg = panel.segment
    c = seg.controller
    check("Shift+A: SAM mode on", seg.sam_mode)
    x_key("1")
    x_click_canvas(viewer, s.image, ORGAN[:2], qt_viewer=sag_qt)  # rows z, columns y
    views_of = sessions(viewer).views
    check("the click on the sagittal view makes it the working view, a point there",
          views_of.working is sagittal and len(c.points.data) == 1,
          points=np.round(np.asarray(c.points.data), 1).tolist())  # fmt: skip
    wait_until(lambda: c.result is not None and c.result.generation == c._generation, 10000)
    plane = c.current_plane()
    check("the prompt is on the sagittal plane (z and y shown, x fixed)", set(plane.displayed) == {0, 1},
          displayed=list(plane.displayed))  # fmt: skip
    shot("sagittal_prompt")
    x_key("Return")
    wait_until(lambda: len(s.table.present()) == 1, 5000)
    liver = s.table.present()[0] if s.table.present() else None
    where = np.nonzero(np.asarray(s.labels.data) == (liver.id if liver else -1))
    columns = sorted({int(x) for x in where[2]})
    check("Enter saves the liver on one sagittal plane (its pixels in one x column)",
          liver is not None and liver.class_name == "liver" and columns == [ORGAN[2]] and len(where[0]) > 50,
          columns=columns, pixels=len(where[0]))  # fmt: skip

    # 4. tracked through the sagittal slices -------------------------------------------------------
    axes = [track_along("shift+t", panel.track), track_along("shift+alt+t", panel.track)]
    data = np.asarray(s.labels.data)
    columns = sorted({int(x) for x in np.nonzero(data == liver.id)[2]})
    check("Shift+T and Shift+Alt+T over the sagittal view track the liver along x, both ways",
          axes == [2, 2] and columns[0] < ORGAN[2] - 6 and columns[-1] > ORGAN[2] + 6 and len(columns) > 12,
          axes=axes, columns=[columns[0], columns[-1], len(columns)], status=panel.track.status.text())  # fmt: skip
    shot("tracked")

    # 5. a correction in the coronal view with napari's brush --------------------------------------
    print("frame axis:", s.frame_axis, "coronal shows", list(coronal.dims.displayed), flush=True)
    x_key("shift+a")  # SAM mode off
    y = ORGAN[1]
    viewer.layers.selection.active = s.labels  # the labels row in the layer list
    s.labels.mode = "paint"  # napari's brush button
    s.labels.brush_size = 6
    s.labels.selected_label = liver.id
    before = np.asarray(s.labels.data).copy()
    row = ORGAN[0] + 1
    right = max(int(x) for x in np.nonzero(before[row, y] == liver.id)[0])  # the liver's edge on that row
    stroke = [(row, right - 3), (row, right + 4), (row, right + 10)]
    x_drag_canvas(viewer, s.labels, stroke, qt_viewer=cor_qt)  # rows z, columns x
    after = np.asarray(s.labels.data).copy()
    changed = np.nonzero(after != before)
    frames = sorted({int(z) for z in changed[0]})
    planes_y = sorted({int(v) for v in changed[1]})
    check("a brush stroke on the coronal view adds to the liver on that coronal plane",
          views_of.working is coronal and (after == liver.id).sum() > (before == liver.id).sum()
          and planes_y == [y] and np.all(after[changed] == liver.id),
          before=int((before == liver.id).sum()), after=int((after == liver.id).sum()), planes_y=planes_y,
          frames=frames)  # fmt: skip
    sources = {z: s.table[liver.id].source_on(z) for z in frames}
    check(f"the slices it touched (frame axis {s.frame_axis}: z) are the liver's, recorded as manual",
          s.frame_axis == 0 and set(frames) <= set(s.table[liver.id].frames)
          and all(v == "manual" for v in sources.values()), sources=sources)  # fmt: skip
    shot("coronal_brush")
    x_key("ctrl+z")
    undone = np.array_equal(np.asarray(s.labels.data), before)
    x_key("ctrl+shift+z")
    redone = np.array_equal(np.asarray(s.labels.data), after)
    check("Ctrl+Z over the coronal view takes the stroke back, Ctrl+Shift+Z puts it back",
          undone and redone and views_of.working is coronal, undone=undone, redone=redone)  # fmt: skip
    s.labels.mode = "pan_zoom"

    # 6. DICOM SEG, judged by dcmqi -----------------------------------------------------------------
    seg_file = out / "seg.dcm"
    counts = export_seg(panel, seg_file, out)
    check("the Export tab writes the DICOM SEG", seg_file.is_file())
    labels = np.asarray(s.labels.data)
    want = {r.class_name: int((labels == r.id).sum()) for r in s.table.present()}
    check("dcmqi reads the SEG: the liver, every voxel", counts == want == {"liver": want.get("liver", -1)},
          dcmqi=counts, labels=want)  # fmt: skip
    masks = {name: np.isin(labels, [r.id for r in s.table.of_class(name)]) for name in want}
    np.savez_compressed(out / "expected.npz", **masks)

    # 8. the three views at the end ----------------------------------------------------------------
    tab(panel, "Segment")
    x_click_canvas(viewer, s.image, ORGAN[1:])  # the mouse back on the canvas (pan/zoom: nothing drawn)
    shot("three_views_end")


def seg_back(out: Path, day_dir: Path) -> None:
    """7. a fresh window: the series, then File > Open of the SEG onto it."""
    from napari_samlabel.api import current_session

    out.mkdir(parents=True, exist_ok=True)
    check = Checks(out)
    expected = dict(np.load(day_dir / "expected.npz"))
    viewer, panel, shot = open_window([day_dir / "CT"], out)
    s = current_session(viewer)
    check("samlabel opens the series with a session, no labels yet", s is not None and not s.table.present())
    views = show_three_views(check, viewer, panel)
    layers = len(viewer.layers)
    viewer.open(str(day_dir / "seg.dcm"), plugin="napari-samlabel")  # File > Open
    wait_until(lambda: bool(s.table.present()), 5000)
    labels = np.asarray(s.labels.data)
    names = {r.class_name for r in s.table.present()}
    got = {name: np.isin(labels, [r.id for r in s.table.of_class(name)]) for name in names}
    check("File > Open of the SEG puts its segments into the session as classes, no new layer",
          sorted(got) == sorted(expected) and len(viewer.layers) == layers and all(n in s.ontology for n in expected),
          got=sorted(got), expected=sorted(expected), ontology=s.ontology.names)  # fmt: skip
    same = {name: bool(np.array_equal(got.get(name), mask)) for name, mask in expected.items()}
    check("every voxel of each segment equals the day's labels of that class", all(same.values()),
          same=same, voxels={n: int(m.sum()) for n, m in expected.items()},
          got={n: int(m.sum()) for n, m in got.items()})  # fmt: skip
    copies = [vm.layers[s.labels.name] for vm in views.values()]
    check("the linked views show the imported labels", all(np.asarray(c.data).max() > 0 for c in copies))
    shot("seg_back_in")


def laptop(out: Path) -> None:
    """1366 x 768: the three views beside the panel, each canvas big enough to work in."""
    from qtpy.QtCore import QRect
    from qtpy.QtWidgets import QApplication

    from napari_samlabel.api import current_session

    out.mkdir(parents=True, exist_ok=True)
    check = Checks(out)
    viewer, panel, shot = open_window([write_series(out)], out)
    s = current_session(viewer)
    check("samlabel opens the series with a session", s is not None)
    views = show_three_views(check, viewer, panel)
    from qtpy.QtTest import QTest

    QTest.qWait(1000)  # the linked views are laid out (before: Qt's 800 x 600 of a new widget)
    screen = QApplication.primaryScreen().availableGeometry()
    win = viewer.window._qt_window

    def on_screen(w) -> bool:
        g = QRect(w.mapToGlobal(w.rect().topLeft()), w.size())
        return screen.contains(g) and w.visibleRegion().boundingRect() == w.rect()

    canvases = {"axial": viewer.window._qt_viewer.canvas.native,
                **{p: linked_qt(panel, vm).canvas.native for p, vm in views.items()}}  # fmt: skip
    sizes = {p: [w.width(), w.height()] for p, w in canvases.items()}
    # the sagittal view gets 36% of the ~730 px between napari's layer controls and the panel: ~266 px
    check("every canvas at least 250 x 200 px", all(w >= 250 and h >= 200 for w, h in sizes.values()), sizes=sizes)
    check("the window fits the screen", screen.contains(win.frameGeometry()) or win.isMaximized()
          and win.width() <= screen.width(), window=[win.width(), win.height()], screen=[screen.width(), screen.height()])  # fmt: skip
    dock = panel.parentWidget()
    while dock is not None and type(dock).__name__ not in ("QtViewerDockWidget", "QDockWidget"):
        dock = dock.parentWidget()
    check("the SAM Label panel is whole on screen, the '3 views' button visible",
          on_screen(dock or panel) and on_screen(panel.views_button) and panel.views_button.isVisible(),
          panel=[panel.width(), panel.height()], panel_visible=list(panel.visibleRegion().boundingRect().getRect()),
          button=list(panel.views_button.visibleRegion().boundingRect().getRect()))  # fmt: skip
    shot("three_views_1366")


def main(out: Path) -> None:
    if len(sys.argv) > 2 and sys.argv[2] == "SEG":
        seg_back(out, Path(sys.argv[3]))
    elif len(sys.argv) > 2 and sys.argv[2] == "LAPTOP":
        laptop(out)
    else:
        day(out)


if __name__ == "__main__":
    run_scenario(main)
