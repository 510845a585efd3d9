"""File > Open of a DICOM SEG (issue 23, item 6): onto the labeling session of its series."""

import numpy as np
import pytest

from dicom_helpers import write_dicom_series

pytest.importorskip("highdicom")


def test_file_open_of_a_seg_puts_it_onto_the_session_of_its_series(tmp_path, viewer, monkeypatch):
    """File > Open of a DICOM SEG (the plugin's reader) adds no layer: its segments go into the
    labeling session of the series it segments; with no such session, one line says so."""
    from napari_samlabel._reader import napari_get_reader, open_seg_in, read_seg_onto_session
    from napari_samlabel.api import start_session
    from napari_samlabel.core import Annotation, Ontology
    from napari_samlabel.io import read_image
    from napari_samlabel.io.exporting import export

    write_dicom_series(tmp_path / "ct", np.zeros((6, 30, 40), np.int16))
    data, meta = read_image(tmp_path / "ct")
    labels = np.zeros(data.shape, np.uint32)
    labels[1, 2:5, 2:6] = 1
    onto = Ontology.from_dict({"classes": [{"name": "liver", "color": "#dc143c"}]})
    src = Annotation(labels, onto, frame_axis=0)
    src.table.adopt(1, "liver")
    src.sync_frames()
    export("dicom-seg", tmp_path / "seg.dcm", labels, onto, src.table, 0, meta)
    assert napari_get_reader(str(tmp_path / "seg.dcm")) is read_seg_onto_session
    image = viewer.add_image(data, metadata=meta, name="CT")
    said = []
    monkeypatch.setattr("napari_samlabel._reader._tell_user", said.append)
    open_seg_in(viewer, str(tmp_path / "seg.dcm"))  # no session yet: nothing changes, one line
    assert len(said) == 1 and "seg.dcm: a DICOM SEG of series" in said[0] and len(viewer.layers) == 1
    session = start_session(viewer, image)
    open_seg_in(viewer, str(tmp_path / "seg.dcm"))
    got = np.asarray(session.labels.data)
    assert np.array_equal(got != 0, labels == 1) and "liver" in session.ontology
