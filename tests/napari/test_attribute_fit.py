"""What the app writes, its own checks accept on opening (issue 22, item 7): a project is
refused when an attribute value does not fit the ontology, so no edit may leave one behind."""

import json

import numpy as np
import pytest
from attribute_helpers import ONTOLOGY, square
from napari.components import ViewerModel

from napari_samlabel.api import AnnotationError, start_session
from napari_samlabel.core.ontology import Ontology
from napari_samlabel.io.project import load_project


@pytest.fixture
def s():
    viewer = ViewerModel()
    layer = viewer.add_image(np.zeros((6, 48, 48), np.float32))
    return start_session(viewer, layer, ontology=Ontology.from_dict(json.loads(json.dumps(ONTOLOGY))))


@pytest.fixture
def cell(s):
    """A cell with a dynamic and a static value."""
    rec = s.commit(square(10, 10), region=(2,))
    s.annotation.set_attribute(rec.id, "phase", "M", frame=2)
    s.annotation.set_attribute(rec.id, "note", "round")
    return rec


def test_a_class_change_drops_the_values_the_new_class_lacks_and_undo_brings_them_back(s, cell, tmp_path):
    s.annotation.change_class([cell.id], "debris")
    assert s.table[cell.id].attributes_on(2) == {}
    s.save_project(tmp_path / "p.samlabel")
    _, _, table, _ = load_project(tmp_path / "p.samlabel")  # refused before: debris has no 'note'
    assert table[cell.id].class_name == "debris"
    s.labels.undo()
    assert s.table[cell.id].class_name == "cell" and s.table[cell.id].attributes_on(2) == {"phase": "M", "note": "round"}


def test_attribute_definitions_that_refuse_values_in_use_are_refused(s, cell):
    before = s.ontology.to_dict()
    without_phase = [a for a in ONTOLOGY["classes"][0]["attributes"] if a["name"] != "phase"]
    with pytest.raises(AnnotationError, match=r"frame_attributes\.2\.phase: class 'cell' has no attribute 'phase'"):
        s.annotation.update_class("cell", attributes=without_phase)
    assert s.ontology.to_dict() == before
    s.annotation.update_class("cell", attributes=[*without_phase, {"name": "phase", "type": "text", "dynamic": True}])
    assert s.ontology["cell"].attributes[-1].type == "text"
