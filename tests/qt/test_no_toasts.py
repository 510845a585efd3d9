"""napari's own warnings must not pop up as toasts from the plugin's work: no private-attribute
access through the proxied viewer (Open project), no deprecated overlay (frame labels)."""

import warnings

import numpy as np
import pytest

from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology
from napari_samlabel.synthetic import disc

pytestmark = pytest.mark.slow  # real windows: each test over 2 s

SHAPE = (40, 50)


def napari_warnings(caught):
    return [str(w.message) for w in caught if "private" in str(w.message).lower()
            or "deprecat" in str(w.message).lower()]  # fmt: skip


def test_open_project_and_frame_labels_raise_no_napari_warning(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((3, *SHAPE), np.float32), name="movie")
    onto = Ontology.from_dict({"classes": [{"name": "cell"}],
                               "classifications": [{"name": "quality", "type": "one-of", "options": ["good", "blurred"]}]})  # fmt: skip
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = start_session(viewer, image, ontology=onto)  # the frame-labels overlay shows the classification
        s.commit(disc(SHAPE, 20, 20, 5), region=(0,))
        viewer.dims.set_current_step(0, 1)
        folder = panel.export.save_project(str(tmp_path / "movie.samlabel"))
        viewer.layers.remove(s.labels)
        viewer.layers.selection.active = image
        opened = panel.export.open_project(str(folder))
    assert opened is not None and len(opened.table.present()) == 1
    assert not napari_warnings(caught), napari_warnings(caught)
