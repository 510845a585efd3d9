"""A microscopist's day in a real window, as ``samlabel movie.tif`` opens it.

Run by tests/qt/test_whole_day.py in its own X server with a window manager:

    python tests/day_microscopist.py OUT_DIR            # the morning: label, track, correct, save, quit
    python tests/day_microscopist.py OUT_DIR PROJECT    # the relaunch: reopen, export CTC and COCO

Keys are real X key presses (xdotool) to whatever has the focus: a list row, a combo box,
a button, the canvas, as a person leaves it. Clicks and drags on the canvas are real X mouse
events. Each step leaves a screenshot and a line in OUT_DIR/results.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from window_helpers import (  # noqa: E402
    Checks,
    answer_dialogs,
    pick_from_menu,
    run_scenario,
    wait_until,
    x_click,
    x_click_canvas,
    x_drag_canvas,
    x_key,
)

CLASSES = {"classes": [{"name": "nucleus", "color": "#ff8800", "hotkey": "1"},
                       {"name": "mitosis", "color": "#e6194b", "hotkey": "2"}]}  # fmt: skip
FRAME = 9  # where the day starts


def open_window(files, out: Path):
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    from napari_samlabel._qt.panel import SamLabelPanel
    from napari_samlabel.cli import open_viewer

    viewer = open_viewer(None, [str(f) for f in files])  # what `samlabel movie.tif` does
    win = viewer.window._qt_window
    win.showMaximized()
    wait_until(lambda: win.isMaximized(), 5000)
    QTest.qWait(600)
    win.activateWindow()
    win.raise_()
    QTest.qWait(200)
    panel = win.findChild(SamLabelPanel)
    n = [0]

    def shot(name: str) -> None:
        from imageio.v3 import imwrite

        n[0] += 1
        imwrite(out / f"{n[0]:02d}_{name}.png", viewer.screenshot(canvas_only=False, flash=False))

    del QApplication
    return viewer, panel, shot


def gone(window) -> bool:
    from qtpy import sip

    return sip.isdeleted(window) or not window.isVisible()


def tab(panel, title: str):
    """Click the tab's title, as a person does."""
    from qtpy.QtTest import QTest

    bar = panel.tabs.tabBar()
    index = [panel.tabs.tabText(i) for i in range(panel.tabs.count())].index(title)
    x_click(bar, bar.tabRect(index).center())
    QTest.qWait(50)
    return panel.tabs.widget(index).widget()


def show_control(panel, widget) -> None:
    """Scroll the current tab so ``widget`` is on screen (a person scrolls to it)."""
    area = panel.tabs.currentWidget()
    area.ensureWidgetVisible(widget)


def row_point(instances, label_id: int, column: int = 1, box: bool = False):
    """Where to click the row of ``label_id`` (``box``: on the cell's check box, at its left)."""
    from napari_samlabel._qt.instances_widget import ID_ROLE

    view = instances.tree
    model = view.model()
    for r in range(model.rowCount()):
        if model.index(r, 0).data(ID_ROLE) == label_id:
            view.scrollTo(model.index(r, column))  # a person scrolls to the row (and the column)
            rect = view.visualRect(model.index(r, column))
            point = rect.center()
            if box:
                point.setX(rect.left() + 10)
            return view.viewport(), point
    raise AssertionError(f"{label_id} is not in the list")


def track_by_key(combo: str, track) -> None:
    """Shift+T (or Shift+Alt+T) as a key press, then wait for the run it starts to end."""
    x_key(combo)
    wait_until(lambda: track.worker is not None, 3000)
    wait_until(lambda: track.worker is None, 60000)


def centre(mask: np.ndarray):
    from scipy import ndimage as ndi

    d = ndi.distance_transform_edt(mask)
    return np.unravel_index(np.argmax(d), d.shape)


def morning(out: Path) -> None:
    import tifffile
    from qtpy.QtWidgets import QApplication, QFileDialog

    from napari_samlabel._qt import project_dialog
    from napari_samlabel.api import current_session
    from napari_samlabel.synthetic import fluorescence_timelapse

    out.mkdir(parents=True, exist_ok=True)
    image, truth = fluorescence_timelapse()
    movie = out / "movie.tif"
    tifffile.imwrite(movie, image)
    classes = out / "classes.json"
    classes.write_text(json.dumps(CLASSES))
    check = Checks(out)
    viewer, panel, shot = open_window([movie], out)
    s = current_session(viewer)
    check("samlabel opens the movie with a session", s is not None and s.image.data.shape == image.shape)
    shot("opened")

    # -- classes with hotkeys: Classes > Load… -----------------------------------------
    QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (str(classes), ""))  # the file a person picks
    classes_tab = tab(panel, "Classes")
    load = next(b for b in classes_tab.findChildren(type(panel.keys_button)) if b.text() == "Load…")
    show_control(panel, load)
    x_click(load)
    check("Load… gives the session the user's classes", s.ontology.names == ["nucleus", "mitosis"]
          and s.current_class == "nucleus", names=s.ontology.names, current=s.current_class)  # fmt: skip
    shot("classes_loaded")

    # -- five nuclei by keys, the focus left on the Load button ------------------------
    viewer.dims.set_current_step(0, FRAME)
    x_key("shift+a")
    seg = panel.segment
    check("Shift+A with the focus on a button turns SAM mode on", seg.sam_mode,
          focus=type(QApplication.focusWidget()).__name__)  # fmt: skip
    c = seg.controller
    objects = [int(k) for k in np.unique(truth[FRAME]) if k and (truth[-1] == k).any()][:5]
    made = []
    for k, obj in enumerate(objects):
        x_key("2" if k == 4 else "1")  # the fifth is dividing: mitosis
        before = {r.id for r in s.table.present()}
        x_click_canvas(viewer, s.image, centre(truth[FRAME] == obj))
        wait_until(lambda: c.result is not None and c.result.generation == c._generation, 10000)
        x_key("Return")
        wait_until(lambda: len(s.table.present()) == len(before) + 1, 5000)
        new = [r for r in s.table.present() if r.id not in before]
        ok = len(new) == 1 and new[0].class_name == ("mitosis" if k == 4 else "nucleus")
        check(f"nucleus {k + 1}: a click and Enter save it as its class", ok,
              made=[(r.id, r.class_name) for r in new], focus=type(QApplication.focusWidget()).__name__)  # fmt: skip
        made.append(new[0].id)
    check("the last one saved is the selection", s.selection == [made[-1]], selection=s.selection)
    shot("five_saved")

    # -- select a row and Shift+T, the focus left in the list --------------------------
    instances = tab(panel, "Instances")
    first = made[0]
    x_click(*row_point(instances, first))
    check("a click on a row selects it", s.selection == [first], selection=s.selection,
          focus=type(QApplication.focusWidget()).__name__)  # fmt: skip
    track = panel.track
    track_by_key("shift+t", track)
    frames = sorted(s.table[first].frames)
    check("Shift+T from the list tracks the selected row forward", frames[-1] > FRAME + 3, frames=frames,
          status=track.status.text())  # fmt: skip
    shot("tracked")

    # -- Right in the list steps a frame; correct that frame with napari's brush ------------
    x_key("Right")
    x_key("Right")
    check("Right twice from the list steps two frames", viewer.dims.current_step[0] == FRAME + 2,
          step=viewer.dims.current_step[0])  # fmt: skip
    x_key("shift+a")
    check("Shift+A from the list turns SAM mode off", not seg.sam_mode)
    s.labels.mode = "paint"  # the brush button of napari's layer controls
    s.labels.brush_size = 5
    s.labels.selected_label = first
    mask = s.labels.data[FRAME + 2] == first
    r0, c0 = centre(mask)
    x_drag_canvas(viewer, s.labels, [(r0, c0), (r0 - 14, c0), (r0 - 18, c0 + 3)])
    grown = int((s.labels.data[FRAME + 2] == first).sum()) - int(mask.sum())
    shot("stroke")
    check("the brush stroke corrects the tracked frame", grown > 5 and s.table[first].source_on(FRAME + 2) == "manual",
          grown=grown, source=s.table[first].source_on(FRAME + 2), active=str(viewer.layers.selection.active),
          mode=s.labels.mode, label=s.labels.selected_label, first=first)  # fmt: skip
    corrected = s.labels.data[FRAME + 2].copy()
    shot("corrected")

    # -- re-track from the start frame: the corrected frame stays -------------------------
    viewer.dims.set_current_step(0, FRAME)
    x_click(*row_point(instances, first))
    track_by_key("shift+t", track)
    check("re-tracking keeps the corrected frame as drawn", np.array_equal(s.labels.data[FRAME + 2] == first,
          corrected == first), status=track.status.text())  # fmt: skip
    said = track.status.text()
    promised = "Ctrl+Z" in said
    after_retrack = s.labels.data.copy()
    x_key("ctrl+z")
    undone = s.labels.data.copy()
    if promised:
        check("Ctrl+Z undoes the re-track only", np.array_equal(undone[FRAME + 2], corrected)
              and not np.array_equal(undone, after_retrack), said=said, after=track.status.text())  # fmt: skip
    else:
        check("a re-track that changed nothing promised nothing", "no undo step" in said, said=said)
    x_key("ctrl+shift+z")
    check("Ctrl+Shift+Z redoes it", np.array_equal(s.labels.data, after_retrack))
    shot("undo_redo")

    # -- lock from the list; the brush cannot change it -----------------------------------
    second = made[1]
    seen_menu: list = []
    picker = pick_from_menu("Lock", seen_menu)
    x_click(*row_point(instances, second), button=3)  # right click: the row's menu, then Lock
    wait_until(lambda: s.table[second].locked, 3000)
    picker.stop()
    shot("locked_from_the_menu")
    check("right click > Lock locks the instance", s.table[second].locked, menu=seen_menu)
    before = s.labels.data[FRAME].copy()
    r1, c1 = centre(before == second)
    s.labels.selected_label = made[2]
    x_drag_canvas(viewer, s.labels, [(r1, c1 - 3), (r1, c1 + 3)])
    check("a brush stroke over a locked instance leaves it whole", np.array_equal(s.labels.data[FRAME] == second,
          before == second))  # fmt: skip
    shot("locked")

    # -- divide: the mitosis splits into two on the next frame ------------------------------
    mother = made[4]
    s.labels.selected_label = mother
    next_frame = FRAME + 1
    viewer.dims.set_current_step(0, next_frame)
    body = s.labels.data[next_frame] == mother
    if not body.any():  # not tracked yet: the user paints her on the next frame too
        body = truth[next_frame] == objects[4]
    rows, cols = np.nonzero(body)
    rm, cm = int(rows.mean()), int(cols.mean())
    s.labels.mode = "erase"
    x_drag_canvas(viewer, s.labels, [(rm - 20, cm), (rm, cm), (rm + 20, cm)])  # the cleavage furrow
    s.labels.mode = "paint"
    s.labels.selected_label = mother
    if not (s.labels.data[next_frame] == mother).any():
        x_drag_canvas(viewer, s.labels, [(rm, cm - 8), (rm, cm - 3)])
        x_drag_canvas(viewer, s.labels, [(rm, cm + 3), (rm, cm + 8)])
    viewer.dims.set_current_step(0, FRAME)
    x_click(*row_point(instances, mother))
    x_key("shift+d")
    daughters = [r for r in s.table if r.parent == mother]
    check("Shift+D divides the selected mitosis into two daughters", len(daughters) == 2,
          daughters=[r.id for r in daughters], status=panel.track.status.text())  # fmt: skip
    shot("divided")

    # -- save: Ctrl+S the first time asks where, then saves in place ------------------------
    folder = out / "day.samlabel"
    asked = []
    project_dialog.ask_project_folder = lambda parent, session: asked.append(1) or folder
    x_key("ctrl+s")
    check("Ctrl+S asks where the first time and saves", folder.is_dir() and asked == [1] and s.version == s.saved_version)
    s.commit(truth[FRAME] == [k for k in np.unique(truth[FRAME]) if k and k not in objects][0], region=(FRAME,))
    x_key("ctrl+s")
    check("Ctrl+S again saves in place without asking", asked == [1] and s.version == s.saved_version)
    n_saved = len(s.table.present())
    shot("saved")

    # -- an afternoon edit, then quit: the question names what would be lost ----------------
    x_click(*row_point(instances, made[3]))
    x_key("Delete")
    # the X server hands the key over when it can: on a loaded machine later than x_key's wait
    wait_until(lambda: made[3] not in {r.id for r in s.table.present()}, 3000)
    check("Delete in the list deletes the row's instance", made[3] not in {r.id for r in s.table.present()})
    seen: list = []
    timer = answer_dialogs({"Close application": "Close", "Unsaved labels": "Save"}, seen)
    window = viewer.window._qt_window
    x_key("ctrl+q")
    wait_until(lambda: gone(window), 10000)
    timer.stop()
    (out / "dialogs.json").write_text(json.dumps(seen, indent=1))
    check("quitting asked Save / Discard / Cancel, naming the image", any(d["pressed"] == "Save" for d in seen)
          and any("movie" in d["dialog"] for d in seen), dialogs=seen)  # fmt: skip
    from napari_samlabel.io.project import load_project

    _labels, _onto, table, _meta = load_project(folder)
    check("Save on quit wrote the afternoon's delete", len(table.present()) == n_saved - 1
          and made[3] not in {r.id for r in table.present()}, saved=len(table.present()))  # fmt: skip
    (out / "expected.json").write_text(json.dumps({"instances": len(table.present()), "daughters": 2}))


def relaunch(out: Path, project: Path) -> None:
    """The next morning: open the movie again, open the project, export CTC and COCO."""
    from qtpy.QtWidgets import QFileDialog

    from napari_samlabel.api import current_session

    out.mkdir(parents=True, exist_ok=True)
    check = Checks(out)
    expected = json.loads((project.parent / "expected.json").read_text())
    viewer, panel, shot = open_window([project.parent / "movie.tif"], out)
    export = tab(panel, "Export")
    QFileDialog.getExistingDirectory = staticmethod(lambda *a, **k: str(project))
    open_button = next(b for b in export.findChildren(type(panel.keys_button)) if b.text() == "Open project…")
    show_control(panel, open_button)
    x_click(open_button)
    s = current_session(viewer)
    check("Open project… brings the day back", s is not None and len(s.table.present()) == expected["instances"]
          and sum(1 for r in s.table if r.parent) == expected["daughters"], status=export.status.text())  # fmt: skip
    shot("reopened")

    ctc = out / "01_RES"
    ctc.mkdir()
    QFileDialog.getExistingDirectory = staticmethod(lambda *a, **k: str(ctc))
    export.format_combo.setCurrentText("ctc")
    x_click(next(b for b in export.findChildren(type(panel.keys_button)) if b.text() == "Export…"))
    import subprocess

    valid = subprocess.run([sys.executable, "-c", "from ctc_metrics.scripts.validate import main; main()",
                            "--res", str(ctc), "-n", "1"], capture_output=True, text=True)  # fmt: skip
    check("py-ctcmetrics finds the CTC export valid", valid.returncode == 0 and "Valid: 1.0" in valid.stdout,
          out=valid.stdout[-300:] + valid.stderr[-300:], status=export.status.text())  # fmt: skip

    coco = out / "coco.json"
    QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (str(coco), ""))
    export.format_combo.setCurrentText("coco")
    x_click(next(b for b in export.findChildren(type(panel.keys_button)) if b.text() == "Export…"))
    from pycocotools.coco import COCO

    api = COCO(str(coco))
    labels = np.asarray(s.labels.data)
    bad = []
    for ann in api.loadAnns(api.getAnnIds()):
        img = api.loadImgs(ann["image_id"])[0]
        frame = int(img["frame"])
        got = api.annToMask(ann).astype(bool)
        want = labels[frame] == ann["instance_id"]
        if want.any() and np.logical_xor(got, want).sum() > 0.02 * want.sum():
            bad.append(ann["id"])
    check("pycocotools reads every COCO mask back as the labels", len(api.getAnnIds()) > 0 and not bad,
          annotations=len(api.getAnnIds()), bad=bad[:5])  # fmt: skip
    shot("exported")


def main(out: Path) -> None:
    if len(sys.argv) > 2:
        relaunch(out, Path(sys.argv[2]))
    else:
        morning(out)


if __name__ == "__main__":
    run_scenario(main)
