"""SAM 3 in a real window (issue 24, item 1), for the README's picture: skimage's coins image (a
photo shipped inside scikit-image: its microscopy images are downloaded, and there is no
network here) opened as ``samlabel`` opens it, the class 'coin' with its SAM 3 prompt typed in
the Classes dock, SAM 3 loaded in the Segment tab and Label all as coin pressed.

    python tests/sam3_docks_window.py OUT_DIR      # under Xvfb at 1920 x 1080 (run_in_a_window)

The model is the shrunk random-weight SAM 3 of tests/backends/test_sam3_concepts.py (threshold
0.2): its masks show the workflow, not SAM 3's quality. OUT_DIR/sam3_label_all.png is the shot.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from day_microscopist import open_window, tab  # noqa: E402
from window_helpers import Checks, run_scenario, wait_until, x_click, x_key  # noqa: E402


CLASSES = {"classes": [{"name": "coin", "color": "#ff8800", "hotkey": "1"},
                       {"name": "background", "color": "#4363d8", "hotkey": "2"}]}  # fmt: skip


def main(out: Path) -> None:
    import numpy as np
    import tifffile
    from qtpy.QtTest import QTest
    from skimage import data

    from napari_samlabel.backends.torch_guard import guard_torch_import
    from napari_samlabel.core import Ontology

    out.mkdir(parents=True, exist_ok=True)
    check = Checks(out)
    guard_torch_import()
    from hf_helpers import backend_tests

    concepts = backend_tests("test_sam3_concepts")
    folder = out / "sam3-tiny"
    model, processor = concepts.tiny_sam3()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    image = out / "coins.tif"
    tifffile.imwrite(image, data.coins())

    viewer, panel, shot = open_window([image], out)
    from napari_samlabel.api import current_session, start_session

    if current_session(viewer) is None:
        start_session(viewer, viewer.layers[0], ontology=Ontology.from_dict(
            CLASSES))  # fmt: skip
    s = current_session(viewer)
    s.ontology.replace_all(Ontology.from_dict(
        CLASSES))  # fmt: skip
    from napari_samlabel._qt.classes_widget import ClassesWidget

    classes = ClassesWidget(viewer)  # a second Classes dock, left: the panel shows Segment beside it
    viewer.window.add_dock_widget(classes, area="left", name="Classes (napari-samlabel)")
    QTest.qWait(300)
    # the prompt, typed as a person does: a click in the field, the text, Return
    classes.select_row("coin")
    x_click(classes.prompt_edit)
    QTest.qWait(200)
    QTest.keyClicks(classes.prompt_edit, "round metal coin")
    x_key("Return")
    check("the prompt typed in the Classes dock is the class's", s.ontology["coin"].prompt == "round metal coin")
    check("Return in the field saved no mask", not np.asarray(s.labels.data).any())
    # SAM 3 in the Segment tab
    tab(panel, "Segment")
    seg = panel.segment
    seg.model_combo.setCurrentText("sam3")
    seg.checkpoint_edit.setText(str(folder))
    seg.device_combo.setCurrentText("cpu")
    x_click(seg.load_button)
    wait_until(lambda: seg.backend is not None and seg.backend.name == "sam3" and seg.load_button.isEnabled(), 60000)
    check("SAM 3 loaded", "sam3 ready" in seg.model_line.text() and seg.similar_button.isEnabled())
    seg.backend.threshold = 0.2  # random weights score about 0.25
    seg.all_class_combo.setCurrentText("coin")
    panel.tabs.currentWidget().ensureWidgetVisible(seg.label_all_button)
    QTest.qWait(200)
    x_click(seg.label_all_button)
    if seg._label_all is None and not seg.status.text().startswith("Labeled"):
        seg.label_all_button.click()  # (the click did not land: the same button, pressed)
    wait_until(lambda: seg._label_all is None and seg.status.text().startswith("Labeled"), 60000)
    made = list(s.table.present())
    viewer.layers.selection.active = s.labels
    QTest.qWait(500)
    shot("sam3_label_all")
    check("Label all as coin labeled instances of coin", bool(made) and {r.class_name for r in made} == {"coin"},
          n=len(made), status=seg.status.text(), visible=seg.label_all_button.isVisible())  # fmt: skip


if __name__ == "__main__":
    run_scenario(main)
