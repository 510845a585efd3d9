"""Attributes (static, dynamic, preserve chosen state) and frame classifications: defined in
the ontology file, set on a session with undo, kept in the project, written to CSV and COCO."""

import csv
import json

import numpy as np
import pytest
from attribute_helpers import ONTOLOGY, square
from napari.components import ViewerModel

from napari_samlabel.api import AnnotationError, start_session
from napari_samlabel.core.ontology import Ontology, OntologyError
from napari_samlabel.io.coco import coco_instances
from napari_samlabel.io.instances_csv import write_instances_csv
from napari_samlabel.io.project import load_project, save_project

@pytest.fixture
def s():
    viewer = ViewerModel()
    layer = viewer.add_image(np.zeros((20, 48, 48), np.float32))
    return start_session(viewer, layer, ontology=Ontology.from_dict(json.loads(json.dumps(ONTOLOGY))))


def test_the_ontology_file_with_attributes_round_trips(tmp_path):
    path = tmp_path / "o.json"
    path.write_text(json.dumps(ONTOLOGY))
    o = Ontology.load(path)
    assert [a.name for a in o["cell"].attributes] == ["phase", "note", "area guess", "flags"]
    assert o["cell"].attributes[0].dynamic and not o["cell"].attributes[1].dynamic
    assert [c.name for c in o.classifications] == ["quality", "contains mitosis"]
    o.save(tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text()) == ONTOLOGY


@pytest.mark.parametrize("attribute, said", [
    ({"name": "phase", "type": "radio"}, 'classes[0] ("cell").attributes[0] ("phase").type: "radio" is not'),
    ({"name": "phase", "type": "one-of"}, "class 'cell': attribute 'phase': a one-of attribute needs 'options'"),
    ({"name": "phase", "type": "any-of", "options": ["a", "a"]}, "class 'cell': attribute 'phase': option 'a' is listed twice"),
    ({"name": "n", "type": "number", "options": ["1"]}, "class 'cell': attribute 'n': a number attribute has no 'options'"),
    ({"name": "n", "type": "text", "dynamic": "yes"}, 'classes[0] ("cell").attributes[0] ("n").dynamic: "yes" is not true or false'),
    ({"type": "text"}, 'classes[0] ("cell").attributes[0]: {"type": "text"} is not an attribute'),
])  # fmt: skip
def test_a_bad_attribute_definition_is_refused_naming_the_class_and_the_field(tmp_path, attribute, said):
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"classes": [{"name": "cell", "attributes": [attribute]}]}))
    with pytest.raises(OntologyError) as err:
        Ontology.load(path)
    assert str(err.value).startswith(f"{path}: ") and said in str(err.value), str(err.value)


def test_an_attribute_defined_twice_and_a_bad_classification_are_refused(tmp_path):
    twice = {"classes": [{"name": "cell", "attributes": [{"name": "a", "type": "text"}, {"name": "a", "type": "number"}]}]}
    with pytest.raises(OntologyError, match="class 'cell': attribute 'a' is defined twice"):
        Ontology.from_dict(twice, "o.json")
    bad = {"classes": [], "classifications": [{"name": "quality", "type": "one-of", "options": []}]}
    with pytest.raises(OntologyError, match=r'classifications\[0\] \("quality"\)\.options'):
        Ontology.from_dict(bad, "o.json")


def test_static_and_dynamic_values_are_checked_set_and_undone(s):
    a = s.commit(square(10, 10), region=(5,))
    s.commit(square(10, 10), region=(6,), label_id=a.id)
    s.annotation.set_attribute(a.id, "note", "odd shape")
    s.annotation.set_attribute(a.id, "flags", ["edge", "blurred"])
    s.annotation.set_attribute(a.id, "phase", "M", frame=6)
    rec = s.table[a.id]
    assert rec.attributes_on(5) == {"note": "odd shape", "flags": ("blurred", "edge")}  # the ontology's order
    assert rec.attributes_on(6)["phase"] == "M"
    for name, value, frame, said in [
        ("phase", "X", 6, "'X' is not one of G1, S, G2, M"),
        ("phase", "M", None, "is set per frame"),
        ("phase", "M", 9, "is not on frame 9"),
        ("area guess", "big", None, "'big' is not a number"),
        ("area guess", float("nan"), None, "not a finite number"),
        ("colour", "red", None, "has no attribute 'colour'"),
    ]:
        with pytest.raises(AnnotationError, match=said):
            s.annotation.set_attribute(a.id, name, value, frame=frame)
    assert s.table[a.id].attributes_on(6) == {"note": "odd shape", "flags": ("blurred", "edge"), "phase": "M"}

    s.labels.undo()  # the phase
    assert "phase" not in s.table[a.id].attributes_on(6)
    s.labels.undo()  # the flags
    assert s.table[a.id].attributes == {"note": "odd shape"}
    s.labels.redo()
    s.labels.redo()
    assert s.table[a.id].attributes_on(6) == {"note": "odd shape", "flags": ("blurred", "edge"), "phase": "M"}
    s.annotation.set_attribute(a.id, "note", None)  # clearing
    assert "note" not in s.table[a.id].attributes


def test_a_locked_instance_keeps_its_values(s):
    a = s.commit(square(10, 10), region=(5,))
    s.annotation.set_locked([a.id])
    with pytest.raises(AnnotationError, match="locked"):
        s.annotation.set_attribute(a.id, "note", "x")


def test_preserve_chosen_state_carries_a_dynamic_value_to_frames_labeled_after_it(s):
    a = s.commit(square(10, 10), region=(12,))
    s.annotation.set_attribute(a.id, "phase", "M", frame=12)
    s.commit(square(10, 10), region=(13,), label_id=a.id)  # preserve off: nothing carried
    assert "phase" not in s.table[a.id].attributes_on(13)
    s.annotation.preserve_attributes = True
    for f in (14, 15):
        s.commit(square(10, 11), region=(f,), label_id=a.id)
    s.annotation.set_attribute(a.id, "phase", "G1", frame=15)
    s.commit(square(10, 12), region=(16,), label_id=a.id)
    assert [s.table[a.id].attributes_on(f).get("phase") for f in range(12, 17)] == ["M", None, "M", "G1", "G1"]
    s.labels.undo()  # frame 16 and the value it took go together
    assert 16 not in s.table[a.id].frame_attributes and 16 not in s.table[a.id].frames


def test_preserve_chosen_state_reaches_frames_a_tracking_run_labels(s):
    from napari_samlabel._napari.tracking import TrackOptions, make_job
    from napari_samlabel.backends.seeds import SeedGrowSegmenter

    image = np.zeros((20, 48, 48), np.float32)
    image[:, 6:14, 6:14] = 1.0
    s.image.data = image
    a = s.commit(square(10, 10), region=(3,))
    s.annotation.set_attribute(a.id, "phase", "S", frame=3)
    s.annotation.preserve_attributes = True
    s.viewer.dims.set_current_step(0, 3)
    make_job(s, SeedGrowSegmenter().tracker(), [a.id], TrackOptions("forward", 5)).run()
    rec = s.table[a.id]
    assert rec.frames == set(range(3, 8))
    assert all(rec.attributes_on(f).get("phase") == "S" for f in rec.frames)


def test_classifications_over_a_range_are_one_undo_step(s):
    assert s.annotation.set_classification((4, 9), "quality", "blurred") == list(range(4, 10))
    s.annotation.set_classification(6, "contains mitosis", "yes")
    with pytest.raises(AnnotationError, match="'meh' is not one of good, blurred"):
        s.annotation.set_classification(3, "quality", "meh")
    with pytest.raises(AnnotationError, match="has no attribute 'focus'"):
        s.annotation.set_classification(3, "focus", "ok")
    labels = s.table.frame_labels
    assert [labels.on(f).get("quality") for f in (3, 4, 9, 10)] == [None, "blurred", "blurred", None]
    assert labels.on(6) == {"quality": "blurred", "contains mitosis": "yes"}
    s.labels.undo()
    assert s.table.frame_labels.on(6) == {"quality": "blurred"}
    s.labels.undo()
    assert s.table.frame_labels.values == {}
    s.labels.redo()
    assert [s.table.frame_labels.on(f).get("quality") for f in range(4, 10)] == ["blurred"] * 6


def test_values_are_kept_in_the_project_and_written_to_csv_and_coco(s, tmp_path):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    a = s.commit(square(10, 10), region=(2,))
    s.commit(square(12, 10), region=(3,), label_id=a.id)
    b = s.commit(square(30, 30), region=(2,))
    s.annotation.set_attribute(a.id, "phase", "G2", frame=2)
    s.annotation.set_attribute(a.id, "phase", "M", frame=3)
    s.annotation.set_attribute(a.id, "flags", ["touching"])
    s.annotation.set_attribute(b.id, "area guess", 64)
    s.annotation.set_classification(2, "quality", "good")

    save_project(tmp_path / "p", s.labels.data, s.ontology, s.table, {"frame_axis": 0})
    _, ontology, table, _ = load_project(tmp_path / "p")
    assert [a_.name for a_ in ontology["cell"].attributes] == ["phase", "note", "area guess", "flags"]
    assert table[a.id].attributes_on(3) == {"flags": ("touching",), "phase": "M"}
    assert table[b.id].attributes == {"area guess": 64.0} and table.frame_labels.on(2) == {"quality": "good"}

    rows = {int(r["id"]): r for r in csv.DictReader(open(write_instances_csv(tmp_path / "i.csv", s.labels.data, s.table)))}
    assert rows[a.id]["attr:phase"] == "G2 (2), M (3)" and rows[a.id]["attr:flags"] == "touching"
    assert rows[b.id]["attr:area guess"] == "64" and rows[b.id]["attr:phase"] == ""

    data = coco_instances(s.labels.data, s.table, s.ontology, frame_axis=0)
    (tmp_path / "c.json").write_text(json.dumps(data))
    coco = COCO(str(tmp_path / "c.json"))
    on3 = coco.loadAnns(coco.getAnnIds(imgIds=[4]))  # image ids are frame + 1
    assert [(x["instance_id"], x["attributes"]) for x in on3] == [(a.id, {"flags": ["touching"], "phase": "M"})]
    assert mask_utils.decode(on3[0]["segmentation"]).astype(bool).tolist() == (s.labels.data[3] == a.id).tolist()
    assert coco.loadImgs([3])[0]["attributes"] == {"quality": "good"} and coco.loadImgs([4])[0]["attributes"] == {}
