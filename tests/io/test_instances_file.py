"""A project's instances.json, every field checked against the schema and the ontology
(issue 22, item 7): reviews, frame classifications and attribute values that are malformed or
that the ontology does not define are refused in one line naming the file and the field,
instead of opening silently (and going into CSV/COCO) or raising a bare KeyError."""

import json

import numpy as np
import pytest
from attribute_helpers import ONTOLOGY

from napari_samlabel.core.instances import InstanceTable
from napari_samlabel.core.ontology import Ontology
from napari_samlabel.io.project import ProjectError, load_project, save_project
from project_helpers import rewrite_instances


@pytest.fixture
def project(tmp_path):
    """A cell on frames 0-1 with static and dynamic values, debris on frame 1, a quality
    classification on frame 1 and a rejection of the cell on frame 0."""
    labels = np.zeros((4, 10, 10), np.uint32)
    labels[0, :3, :3] = labels[1, :3, :3] = 1
    labels[1, 5:, 5:] = 2
    table = InstanceTable()
    cell = table.adopt(1, "cell", frames={0, 1})
    cell.attributes = {"note": "round", "flags": ("touching",), "area guess": 9.0}
    cell.frame_attributes = {0: {"phase": "G1"}, 1: {"phase": "M"}}
    table.adopt(2, "debris", frames={1})
    table.frame_labels.set(1, "quality", "good")
    table.reviews.add(1, "rejected", "the edge is off", frame=0)
    folder = tmp_path / "p.samlabel"
    save_project(folder, labels, Ontology.from_dict(json.loads(json.dumps(ONTOLOGY))), table, {"frame_axis": 0})
    return folder


def test_a_valid_project_opens_with_every_value(project):
    _, _, table, _ = load_project(project)
    assert table[1].attributes_on(1) == {"note": "round", "flags": ("touching",), "area guess": 9.0, "phase": "M"}
    assert table.frame_labels.on(1) == {"quality": "good"}
    assert [n.is_open for n in table.reviews] == [True]


def review(**fields):
    return lambda r: r["reviews"][0].update(fields)


def cell(**fields):
    return lambda r: r["instances"][0].update(fields)


def cell_value(name, value):
    return lambda r: r["instances"][0]["attributes"].update({name: value})


BROKEN = {
    "resolved as text": (review(resolved="false"), 'reviews[0].resolved: "false" is not true or false'),
    "a verdict maybe": (review(verdict="maybe"), 'reviews[0].verdict: "maybe" is not a verdict: accepted or rejected'),
    "a review of no instance": (review(instance=999), "reviews[0].instance: 999 is no instance of this project"),
    "a review without its id": (lambda r: r["reviews"][0].pop("id"), "reviews[0]:"),
    "a review on frame text": (review(frame="one"), 'reviews[0].frame: "one" is not'),
    "reviews not a list": (lambda r: r.update(reviews={"1": "ok"}), "reviews:"),
    "a review id twice": (lambda r: r["reviews"].append(dict(r["reviews"][0])), "reviews[1].id: 1 is listed twice"),
    "frame labels a list": (lambda r: r.update(frame_labels=["good"]), "frame_labels:"),
    "frame labels on frame text": (lambda r: r.update(frame_labels={"first": {"quality": "good"}}), "frame_labels:"),
    "a classification not defined": (lambda r: r.update(frame_labels={"1": {"focus": "ok"}}),
                                     "frame_labels.1.focus: the ontology has no classification 'focus'"),
    "a classification outside its options": (lambda r: r.update(frame_labels={"1": {"quality": "meh"}}),
                                             "frame_labels.1.quality: 'meh' is not one of good, blurred"),
    "a value outside its options": (cell_value("flags", ["sharp"]),
                                    "instances[0] (id 1).attributes.flags: 'sharp' is not one of blurred, touching, edge"),
    "text for a number": (cell_value("area guess", "abc"), "instances[0] (id 1).attributes.area guess: 'abc' is not a number"),
    "an attribute not defined": (cell_value("size", "big"), "instances[0] (id 1).attributes.size: class 'cell' has no attribute 'size'"),
    "an attribute of a class without any": (lambda r: r["instances"][1].update(attributes={"note": "x"}),
                                            "instances[1] (id 2).attributes.note: class 'debris' has no attribute 'note'"),
    "a dynamic value as a static one": (cell_value("phase", "G1"),
                                        "instances[0] (id 1).attributes.phase: 'phase' is set per frame (frame_attributes)"),
    "a static value per frame": (cell(frame_attributes={"0": {"note": "x"}}),
                                 "instances[0] (id 1).frame_attributes.0.note: 'note' is one value per instance (attributes)"),
    "attributes a list": (cell(attributes=["G1"]), "instances[0].attributes:"),
    "frame attributes on frame text": (cell(frame_attributes={"x": {"phase": "G1"}}), "instances[0].frame_attributes:"),
    "an instance id twice": (lambda r: r["instances"][1].update(id=1), "instances[1] (id 1).id: 1 is listed twice"),
}  # fmt: skip


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_a_broken_field_is_refused_in_one_line_naming_it(project, broken):
    change, where = BROKEN[broken]
    rewrite_instances(project, change)
    before = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}
    with pytest.raises(ProjectError) as refused:
        load_project(project)
    message = str(refused.value)
    assert message.startswith(f"{project / 'instances.json'}: ") and "\n" not in message
    assert where in message
    assert {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()} == before  # nothing changed
