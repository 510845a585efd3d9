"""A CT or MR starts with an anatomy list, not the microscopy sample's nucleus/mitotic/debris
(issue 23, item 7): through `samlabel FILE` and through the Classes dock's Start annotating;
the status line says how to load one's own classes. A microscopy stack keeps its start."""

import os

import numpy as np
import pytest

pytest.importorskip("nibabel")

from napari_samlabel.api import current_session
from napari_samlabel.core.anatomy import ANATOMY


def _anatomical():
    from nibabel.testing import data_path

    return os.path.join(data_path, "anatomical.nii")


@pytest.mark.slow
def test_samlabel_on_a_nifti_starts_with_anatomy(make_napari_viewer, monkeypatch):
    import napari

    from napari_samlabel import cli

    monkeypatch.setattr(napari, "Viewer", lambda **kw: make_napari_viewer(show=True))
    viewer = cli.open_viewer(None, [_anatomical()])
    session = current_session(viewer)
    assert session.ontology.names == [n for n, *_ in ANATOMY]  # was nucleus, mitotic, debris
    assert session.current_class == "liver"
    assert "Classes > Load" in viewer.status


def test_start_annotating_a_nifti_starts_with_anatomy_and_says_how_to_load_your_own(make_napari_viewer):
    from napari_samlabel.io.images import read_image

    viewer = make_napari_viewer()
    data, meta = read_image(_anatomical())
    viewer.add_image(data, name="brain", metadata=meta)
    viewer.add_image(np.zeros((4, 32, 32), np.float32), name="movie")
    _, classes = viewer.window.add_plugin_dock_widget("napari-samlabel", "Classes")
    classes.image_combo.setCurrentText("brain")
    classes.start_button.click()
    assert current_session(viewer).ontology.names == [n for n, *_ in ANATOMY]  # was empty
    assert "8 anatomy classes" in classes.status.text() and "Classes > Load" in classes.status.text()


def test_a_microscopy_stack_does_not_get_anatomy(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 32, 32), np.float32), name="movie")
    _, classes = viewer.window.add_plugin_dock_widget("napari-samlabel", "Classes")
    classes.start_button.click()
    assert len(current_session(viewer).ontology) == 0 and "anatomy" not in classes.status.text()
