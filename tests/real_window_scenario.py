"""A user's session in a real, maximised napari window, as ``samlabel`` opens it.

Run by tests/test_real_window.py once per screen size, each in its own X server with a
window manager (so maximise and the screen's limits are real):

    xvfb-run -a -s "-screen 0 1366x768x24" python tests/real_window_scenario.py OUT_DIR

Every step is a real mouse or key event on the canvas or a widget; each step leaves a
screenshot in OUT_DIR and a line in OUT_DIR/results.json. Exits 1 on the first failed check.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from pauses import PauseMeter, napari_redraw_pause  # noqa: E402
from window_helpers import Checks, click, drag, key, run_scenario, wait_until  # noqa: E402


def main(out: Path) -> dict:
    from qtpy.QtWidgets import QAbstractButton, QApplication, QComboBox

    from napari_samlabel._napari.keys import SHORTCUTS
    from napari_samlabel._qt.panel import SamLabelPanel
    from napari_samlabel.api import current_session
    from napari_samlabel.cli import open_viewer
    from napari_samlabel.synthetic import fluorescence_timelapse

    gaps = PauseMeter()
    out.mkdir(parents=True, exist_ok=True)
    from napari_samlabel.cli import freeze_startup_objects

    viewer = open_viewer("timelapse")  # what `samlabel` does
    freeze_startup_objects()
    win = viewer.window._qt_window
    win.showMaximized()
    app = QApplication.instance()
    wait_until(lambda: win.isMaximized(), 5000)
    QApplicationWait = 600
    from qtpy.QtTest import QTest

    QTest.qWait(QApplicationWait)
    panel = next(dw.widget() for dw in viewer.window._dock_widgets.values() if isinstance(dw.widget(), SamLabelPanel))
    s = current_session(viewer)
    n = 0

    def shot(name: str) -> None:
        nonlocal n
        n += 1
        from imageio.v3 import imwrite

        imwrite(out / f"{n:02d}_{name}.png", viewer.screenshot(canvas_only=False, flash=False))
        gaps.skip()  # the screenshot's own pause is the test's, not the plugin's

    check = Checks(out)
    results = check.results

    # -- the window fits the screen -------------------------------------------------
    screen = app.primaryScreen().availableGeometry()
    frame = win.frameGeometry()
    canvas = viewer.window._qt_viewer.canvas.native
    check("window inside the screen", screen.contains(frame) or frame.width() <= screen.width() + 2
          and frame.height() <= screen.height() + 2, screen=[screen.width(), screen.height()],
          window=[frame.width(), frame.height()], minimum=[win.minimumSizeHint().width(), win.minimumSizeHint().height()])  # fmt: skip
    check("canvas keeps half the width and most of the height",
          canvas.width() >= 0.5 * win.width() and canvas.height() >= 0.7 * win.height(),
          canvas=[canvas.width(), canvas.height()], share=round(canvas.width() / win.width(), 3))  # fmt: skip
    slider = viewer.window._qt_viewer.dims
    top_left = slider.mapToGlobal(slider.rect().topLeft())
    bottom_right = slider.mapToGlobal(slider.rect().bottomRight())
    check("time slider on screen", screen.contains(top_left) and screen.contains(bottom_right))
    clipped, texts_cut, sideways = {}, {}, {}
    for i in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(i)
        QTest.qWait(50)
        area = panel.tabs.widget(i)
        content = area.widget()
        # reachable: nothing wider than the panel (no horizontal scrolling exists); the
        # panel's scroll area itself lies on screen, so every row can be scrolled to
        if content.minimumSizeHint().width() > area.viewport().width() + 1:
            clipped[panel.tabs.tabText(i)] = [content.minimumSizeHint().width(), area.viewport().width()]
        vp = area.viewport()
        inside = screen.contains(vp.mapToGlobal(vp.rect().topLeft())) and screen.contains(
            vp.mapToGlobal(vp.rect().bottomRight()))
        controls = [w for w in content.findChildren((QAbstractButton, QComboBox)) if w.isVisibleTo(content)]
        if not inside or not controls:
            clipped[panel.tabs.tabText(i)] = "off screen" if not inside else "no controls"
        cut = cut_texts(content)
        if cut:
            texts_cut[panel.tabs.tabText(i)] = cut
        if panel.tabs.widget(i).widget() is panel.instances:
            sideways = list_overflow(panel.instances)
        shot(f"tab_{panel.tabs.tabText(i).lower()}")
    check("every tab's controls fit the panel and the panel is on screen", not clipped, clipped=clipped)
    check("no label, button or check box text is cut or elided in any tab", not texts_cut, cut=texts_cut)
    check("the Instances list's columns fit without a sideways scroll", not sideways, **sideways)
    # a point larger (napari's Preferences > Appearance > font size): the Track tab had 1 px
    # to spare at the default, and a point more cut its "to the end" and "Unlink" off
    from napari.settings import get_settings

    appearance = get_settings().appearance
    default_font = appearance.font_size
    appearance.font_size = default_font + 1
    QTest.qWait(300)
    larger_cut = {}
    for i in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(i)
        QTest.qWait(50)
        cut = cut_texts(panel.tabs.widget(i).widget())
        if panel.tabs.widget(i).widget() is panel.instances:
            cut += [[k, v] for k, v in list_overflow(panel.instances).items()]
        if cut:
            larger_cut[panel.tabs.tabText(i)] = cut
    panel.tabs.setCurrentIndex(3)
    QTest.qWait(50)
    shot("tab_track_font_larger")
    appearance.font_size = default_font
    QTest.qWait(300)
    check("no text cut and no sideways scroll at a font a point larger", not larger_cut,
          font_size=default_font + 1, cut=larger_cut)  # fmt: skip
    panel.tabs.setCurrentIndex(1)

    # -- SAM mode, three objects with clicks and Enter --------------------------------
    _, truth = fluorescence_timelapse()
    frame_index = 9
    viewer.dims.set_current_step(0, frame_index)
    viewer.reset_view()
    QTest.qWait(100)
    key(viewer, "Shift-A")
    seg = panel.segment
    check("Shift+A turns SAM mode on", seg.sam_mode and viewer.layers.selection.active is seg.controller.points
          and "on" in panel.mode_label.text())  # fmt: skip
    c = seg.controller
    from scipy import ndimage as ndi

    def centre(obj: int):
        m = truth[frame_index] == obj
        d = ndi.distance_transform_edt(m)
        return np.unravel_index(np.argmax(d), d.shape)

    redraw = napari_redraw_pause(viewer, QTest.qWait)  # napari's own, this window, this run
    results["napari's own redraw pause"] = {"ok": True, "ms": round(redraw * 1000)}
    gaps.start()
    made = []
    for k, obj in enumerate((2, 3, 4)):
        gaps.step = f"click {k + 1}"
        click(viewer, s.image, centre(obj))
        gaps.step = f"preview {k + 1}"
        positive = c.points.features["positive"].to_numpy(bool)
        check(f"object {k + 1}: the click is positive", len(positive) == 1 and positive[-1], positive=positive.tolist())
        if k == 0:  # a background click, the case that left every later click negative
            bg = np.argwhere(ndi.binary_dilation(truth[frame_index] > 0, iterations=6) == 0)[0]
            click(viewer, s.image, tuple(bg), button=__import__("qtpy.QtCore", fromlist=["Qt"]).Qt.RightButton)
            positive = c.points.features["positive"].to_numpy(bool)
            check("right click is negative", positive.tolist() == [True, False], positive=positive.tolist())
        wait_until(lambda: c.result is not None and c.result.generation == c._generation, 10000)
        shot(f"object_{k + 1}_preview")
        before = {r.id for r in s.table if r.present}
        gaps.step = f"Enter {k + 1}"
        key(viewer, "Enter")
        wait_until(lambda: len([r for r in s.table if r.present]) == len(before) + 1, 5000)
        gaps.step = f"after Enter {k + 1}"
        new = [r for r in s.table if r.present and r.id not in before]
        rec = new[0] if len(new) == 1 else None
        check(f"object {k + 1}: Enter saves it", rec is not None and rec.present and frame_index in rec.frames,
              instances=len([r for r in s.table if r.present]))  # fmt: skip
        overlap = np.logical_and(s.labels.data[frame_index] == rec.id, truth[frame_index] == obj).sum()
        check(f"object {k + 1}: the mask is on the object", overlap > 0.5 * (s.labels.data[frame_index] == rec.id).sum())
        made.append(rec.id)
        shot(f"object_{k + 1}_saved")
    gaps.stop()
    check("labeling never paused the GUI over 150 ms (+ the machine's lateness, napari's redraw)",
          gaps.within(0.15, baseline=redraw), **gaps.figures())
    panel.tabs.setCurrentIndex(2)  # the Instances tab, with the three rows
    QTest.qWait(100)
    check("the Instances list shows its rows' names and classes whole, without a sideways scroll",
          not list_overflow(panel.instances), **list_overflow(panel.instances))
    shot("instances_listed")
    panel.tabs.setCurrentIndex(1)
    QTest.qWait(50)

    # -- copy / paste onto the next frame ------------------------------------------
    key(viewer, "Control-C")
    check("Ctrl+C copies the instance saved last", s.clipboard is not None and s.clipboard.label_id == made[-1])
    viewer.dims.set_current_step(0, frame_index + 1)
    QTest.qWait(50)
    key(viewer, "Control-V")
    check("Ctrl+V pastes it on this frame as the same instance", frame_index + 1 in s.table[made[-1]].frames)
    shot("pasted")
    # -- Ctrl+Z with the clicks layer active ---------------------------------------
    check("the clicks layer is active", viewer.layers.selection.active is c.points)
    key(viewer, "Control-Z")
    check("Ctrl+Z undoes the paste from the clicks layer", frame_index + 1 not in s.table[made[-1]].frames)
    viewer.dims.set_current_step(0, frame_index)
    QTest.qWait(50)

    # -- Shift+T tracks the instance saved last -----------------------------------
    track = panel.track
    if hasattr(track, "track_now"):
        gaps.start()
        gaps.step = "tracking"
        key(viewer, "Shift-T")
        done = wait_until(lambda: track.worker is None and len(s.table[made[-1]].frames) > 1, 60000)
        gaps.stop()
        check("Shift+T tracks the instance saved last", done, frames=sorted(s.table[made[-1]].frames))
        check("tracking never paused the GUI over 100 ms (+ the machine's lateness, napari's redraw)",
              gaps.within(0.10, baseline=redraw), **gaps.figures())
        shot("tracked")

    # -- napari's polygon on the labels layer while SAM mode is on: Enter and Esc are napari's
    viewer.layers.selection.active = s.labels  # as a click on the layer list does
    s.labels.mode = "polygon"
    key(viewer, "M")  # a new instance for the polygon: the labels layer stays active
    poly_id = s.labels.selected_label
    check("M in SAM mode keeps the labels layer active", viewer.layers.selection.active is s.labels
          and s.table.is_unused(poly_id))  # fmt: skip
    bg = np.argwhere(ndi.binary_dilation(truth[frame_index] > 0, iterations=8) == 0)
    r0, c0 = bg[len(bg) // 2]
    square = [(r0 - 5, c0 - 5), (r0 - 5, c0 + 5), (r0 + 5, c0 + 5), (r0 + 5, c0 - 5)]
    for p in square[:2]:
        click(viewer, s.labels, p, wait=40)
    key(viewer, "Escape")
    overlay = s.labels._overlays["polygon"]
    check("Esc cancels napari's polygon in SAM mode", len(overlay.points) == 0 and not (s.labels.data == poly_id).any()
          and seg.sam_mode and len(c.points.data) == 0)  # fmt: skip
    for p in square:
        click(viewer, s.labels, p, wait=40)
    key(viewer, "Enter")
    painted = int((s.labels.data[frame_index] == poly_id).sum())
    check("Enter finishes napari's polygon in SAM mode", 60 < painted < 200 and len(c.points.data) == 0, pixels=painted)
    shot("polygon")
    key(viewer, "Control-Z")
    check("Ctrl+Z undoes the polygon", not (s.labels.data == poly_id).any())
    s.labels.mode = "paint"

    # -- Shift+A off ------------------------------------------------------------------
    key(viewer, "Shift-A")
    check("Shift+A turns SAM mode off", not seg.sam_mode and viewer.layers.selection.active is s.labels)
    s.labels.mode = "paint"
    key(viewer, "M")
    brush = s.labels.selected_label
    drag(viewer, s.labels, [(r0, c0 - 6), (r0, c0), (r0, c0 + 6)])
    painted = int((s.labels.data[frame_index] == brush).sum())
    check("napari's brush paints a new instance with SAM mode off", painted > 10 and brush in s.table, pixels=painted)
    key(viewer, "Control-Z")
    check("Ctrl+Z undoes the stroke", not (s.labels.data == brush).any())

    # -- every listed key is bound -------------------------------------------------
    keys = panel.segment.registry.keys.bound_keys()
    mouse = ("click", "drag")
    listed = [k for k, _, _ in SHORTCUTS if not any(m in k.lower() for m in mouse) and k not in ("1-9",)]
    missing = [k for k in listed if k not in keys and k.lower() not in keys]
    check("every key in the shortcuts list is bound", not missing, missing=missing)
    dialog = panel.show_shortcuts()
    check("the Keys dialog lists them", dialog.table.rowCount() == len(SHORTCUTS))
    dialog.close()
    return results


def cut_texts(content) -> list:
    """Every shown label, button and check box whose text the user cannot read whole: the
    widget is narrower than its text (with its margins, padding, check box indicator), or
    lies partly beyond the right edge of the tab (no sideways scrolling exists), or a
    wrapped label has fewer lines of height than its text needs. [text, needs, has] each."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QAbstractButton, QLabel

    cut = []
    for w in content.findChildren((QLabel, QAbstractButton)):
        text = w.text()
        visible = w.visibleRegion().boundingRect()  # clipped by the tab and folded sections
        if not text or not w.isVisibleTo(content) or visible.isEmpty():
            continue
        if isinstance(w, QLabel):
            if w.wordWrap():
                if w.heightForWidth(w.width()) > w.height() + 1 or visible.width() < w.width():
                    cut.append([text[:40], [w.width(), w.heightForWidth(w.width())], [visible.width(), w.height()]])
                continue
            m = w.contentsMargins()
            rich = w.textFormat() == Qt.TextFormat.RichText or (
                w.textFormat() == Qt.TextFormat.AutoText and Qt.mightBeRichText(text))
            needs = (w.sizeHint().width() if rich or w.pixmap() is not None and not w.pixmap().isNull()
                     else w.fontMetrics().horizontalAdvance(text) + m.left() + m.right() + 2 * w.margin() + max(w.indent(), 0))  # fmt: skip
        else:  # buttons and check boxes: the text, padding and indicator the style asks for
            needs = w.sizeHint().width()
        if min(w.width(), visible.width()) < needs:
            cut.append([text[:40], needs, min(w.width(), visible.width())])
    return cut


def list_overflow(instances) -> dict:
    """What of the Instances list is not readable at its width: a horizontal scroll bar, a
    shown column narrower than its header, the Instance or Class column narrower than a row's
    name or class. Empty when all is well."""
    from qtpy.QtCore import Qt

    from napari_samlabel._qt.instances_widget import COL_CLASS, COL_NAME

    tree, header = instances.tree, instances.tree.header()
    out = {}
    if tree.horizontalScrollBar().isVisible():
        out["horizontal scroll bar"] = [header.length(), tree.viewport().width()]
    model = tree.model()
    for col in range(model.columnCount()):
        if header.isSectionHidden(col):
            continue
        title = model.headerData(col, Qt.Orientation.Horizontal)
        needs = header.fontMetrics().horizontalAdvance(title) + 4  # the theme's 2 px padding each side
        if col in (COL_NAME, COL_CLASS) and model.rowCount():  # Instance, Class: every row's text whole
            needs = max(needs, tree.sizeHintForColumn(col))
        if header.sectionSize(col) < needs:
            out[title] = [needs, header.sectionSize(col)]
    return out


if __name__ == "__main__":
    run_scenario(main)
