"""Every bad input gets a clear answer (issue 15): the message names the file and the place in
it and says what is wrong; nothing already made changes. The JSON files (ontology, project,
prompts) are read by one reader and checked against the schemas in napari_samlabel/schemas."""

import json

import numpy as np

import pytest

from napari_samlabel.core import Ontology, OntologyError


def latin1_names(tmp):
    (tmp / "o.json").write_bytes('{"classes": [{"name": "noyau cellulé"}]}'.encode("latin-1"))
    return "not UTF-8 text (byte 0xe9 on line 1); save it as UTF-8"


def binary(tmp):
    (tmp / "o.json").write_bytes(bytes(range(256)) * 40_000)  # 10 MB of binary
    return "binary data, not a ontology file"


def deeply_nested(tmp):
    (tmp / "o.json").write_text('{"classes": ' + "[" * 5000 + "]" * 5000 + "}")
    return "nested more than 64 levels deep"


def nan_colour(tmp):
    (tmp / "o.json").write_text('{"classes": [{"name": "a", "color": [NaN, 0, 0]}]}')
    return "NaN is not a number JSON allows"


def number_name(tmp):
    (tmp / "o.json").write_text('{"classes": [{"name": 3}]}')
    return "classes[0].name: 3 is not a class name (text)"


def object_name(tmp):
    (tmp / "o.json").write_text('{"classes": [{"name": {"en": "cell"}}]}')
    return 'classes[0].name: {"en": "cell"} is not a class name (text)'


def list_not_object(tmp):
    (tmp / "o.json").write_text('[{"name": "cell"}]')
    return "is not an object with a 'classes' list"


def colour_out_of_range(tmp):
    (tmp / "o.json").write_text('{"classes": [{"name": "a", "color": [300, 0, 0]}]}')
    return "classes[0] (\"a\").color[0]: 300 is not a number 0-255"


@pytest.mark.parametrize("bad", [latin1_names, binary, deeply_nested, nan_colour, number_name, object_name,
                                 list_not_object, colour_out_of_range])  # fmt: skip
def test_a_bad_ontology_file_is_named_with_its_problem(tmp_path, bad):
    said = bad(tmp_path)
    with pytest.raises(OntologyError) as err:
        Ontology.load(tmp_path / "o.json")
    assert str(err.value).startswith(f"{tmp_path / 'o.json'}: ") and said in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_utf16_with_a_byte_order_mark_is_read(tmp_path):
    """Windows editors save UTF-16 with a BOM: read it rather than refuse it."""
    (tmp_path / "o.json").write_text('{"classes": [{"name": "noyau cellulé"}]}', encoding="utf-16")
    assert Ontology.load(tmp_path / "o.json").names == ["noyau cellulé"]


def test_a_nan_colour_given_in_python_is_refused_not_a_crash():
    with pytest.raises(OntologyError, match="has a component that is not a number"):
        Ontology.from_dict({"classes": [{"name": "a", "color": [float("nan"), 0, 0]}]})


def test_the_schema_is_valid_and_describes_what_the_loader_keeps(tmp_path):
    from jsonschema import Draft202012Validator

    from napari_samlabel.core.jsonfile import schema

    Draft202012Validator.check_schema(schema("ontology"))
    onto = Ontology.from_dict({"classes": [{"name": "a", "hotkey": 1, "description": "kept"}]})
    Draft202012Validator(schema("ontology")).validate(json.loads(json.dumps(onto.to_dict())))


@pytest.mark.slow
def test_a_bad_ontology_in_the_classes_dock_changes_nothing(make_napari_viewer, tmp_path, monkeypatch):
    """The dock says it in its status line and a napari notification; the session keeps its classes."""
    from napari_samlabel.api import start_session

    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", shown.append)
    viewer = make_napari_viewer()
    onto = Ontology.from_dict({"classes": [{"name": "nucleus"}]})
    s = start_session(viewer, viewer.add_image(np.zeros((2, 20, 20)), name="im"), ontology=onto)
    s.commit(np.ones((20, 20), bool), region=(0,))
    _, classes = viewer.window.add_plugin_dock_widget("napari-samlabel", "Classes")
    latin1_names(tmp_path)
    before = (s.ontology.to_dict(), s.labels.data.copy())
    classes._load(str(tmp_path / "o.json"))
    assert "not UTF-8 text" in classes.status.text() and str(tmp_path / "o.json") in classes.status.text()
    assert shown and "not UTF-8 text" in shown[-1]
    assert s.ontology.to_dict() == before[0] and (s.labels.data == before[1]).all()


# -- prompts files (samlabel segment / track / batch) ------------------------------------------
PROMPT_CASES = {
    "points as a string": ({"id": 1, "frame": [2], "points": "10,10"}, 'objects[0].points: "10,10" is not a list of clicks'),
    "a click with 3 numbers": ({"id": 1, "frame": [2], "points": [[1, 2, 3]]}, "objects[0].points[0]: [1, 2, 3] is not a click [row, column]"),
    "a box with 3 numbers": ({"id": 1, "frame": [2], "box": [1, 2, 3]}, "objects[0].box: [1, 2, 3] is not a box [row0, column0, row1, column1]"),
    "id as a string": ({"id": "cell-1", "frame": [2], "box": [1, 1, 9, 9]}, 'objects[0].id: "cell-1" is not a label id'),
    "id of 2^40": ({"id": 2**40, "frame": [2], "box": [1, 1, 9, 9]}, "objects[0].id: 1099511627776 is not a label id: a whole number from 1 to 2147483647"),
    "frame as an int": ({"id": 1, "frame": 2, "box": [1, 1, 9, 9]}, "objects[0].frame: 2 is not a list of indices"),
    "frame out of range": ({"id": 1, "frame": [40], "box": [1, 1, 9, 9]}, "objects[0]: frame 40 is outside axis 0 of the image (0-3)"),
}


@pytest.mark.parametrize("case", list(PROMPT_CASES))
def test_a_bad_prompts_file_is_one_line_naming_the_file_and_the_object(tmp_path, capsys, case):
    from napari_samlabel.cli import main

    obj, said = PROMPT_CASES[case]
    np.save(tmp_path / "img.npy", np.zeros((4, 20, 20), np.float32))
    (tmp_path / "p.json").write_text(json.dumps({"objects": [obj]}))
    rc = main(["segment", str(tmp_path / "img.npy"), "--prompts", str(tmp_path / "p.json"), "-o", str(tmp_path / "o.npy")])
    err = capsys.readouterr().err
    assert rc == 2 and f"{tmp_path / 'p.json'}: {said}" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err and not (tmp_path / "o.npy").exists()


def test_one_id_with_two_classes_is_refused_not_half_ignored(tmp_path):
    from napari_samlabel.headless import PromptFileError, load_prompts

    (tmp_path / "p.json").write_text(json.dumps({"objects": [
        {"id": 2, "class": "nucleus", "frame": [0], "box": [1, 1, 9, 9]},
        {"id": 2, "class": "cell", "frame": [1], "box": [1, 1, 9, 9]}]}))  # fmt: skip
    with pytest.raises(PromptFileError, match=r"objects\[1\]: id 2 is class 'cell' here but 'nucleus' in objects\[0\]"):
        load_prompts(tmp_path / "p.json")


# -- label arrays exported, imported or adopted ------------------------------------------------
LABEL_CASES = {
    "probabilities": (np.full((2, 8, 8), 0.5, np.float32), "fractional values (e.g. 0.5)"),
    "NaN": (np.where(np.eye(8, dtype=bool), np.nan, 1.0)[None], "8 NaN or infinite value(s)"),
    "negative ids": (-np.ones((2, 8, 8), np.int16), "negative id -1"),
    "ids beyond 2^31": (np.full((2, 8, 8), 2**33, np.int64), "id 8589934592 is above 2147483647"),
}


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_samlabel_export_refuses_an_array_that_holds_no_label_ids(tmp_path, capsys, case):
    """Before: a float array exported to CSV exited 0 with a header-only file."""
    from napari_samlabel.cli import main

    arr, said = LABEL_CASES[case]
    np.save(tmp_path / "labels.npy", arr)
    (tmp_path / "c.json").write_text('{"classes": [{"name": "cell"}]}')
    rc = main(["export", str(tmp_path / "labels.npy"), "--ontology", str(tmp_path / "c.json"),
               "--format", "csv", "-o", str(tmp_path / "out.csv")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and f"{tmp_path / 'labels.npy'}: {said}" in err and not (tmp_path / "out.csv").exists()


# -- project folders ----------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path, session):
    """A saved project of a session with one instance."""
    session.commit(np.ones((40, 50), bool), region=(1,))
    return session.save_project(tmp_path / "p.samlabel")


def _edit_json(path, change):
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


def _npy_labels(folder, labels):
    """The project as saved before labels.zarr (labels.npy), with ``labels``."""
    import shutil

    shutil.rmtree(folder / "labels.zarr")
    np.save(folder / "labels.npy", labels)
    _edit_json(folder / "project.json", lambda d: {**{k: v for k, v in d.items() if not k.startswith("labels")},
                                                   "files": {**d["files"], "labels.npy": 0}})  # fmt: skip


def _zarr_labels(folder, labels):
    """labels.zarr rewritten by another tool with ``labels``."""
    from napari_samlabel.io.labelstore import create_labels

    create_labels(folder / "labels.zarr", labels.shape, labels.dtype, temporary=False)[...] = labels
    from napari_samlabel.io.labelstore import tree_stats

    _edit_json(folder / "project.json", lambda d: dict(d, **{"labels.zarr": list(tree_stats(folder / "labels.zarr"))}))


def _with(key, value):
    def change(d):
        d[key] = value
        return d

    return change


def _instances(**fields):
    def change(d):
        d["instances"][0].update(fields)
        return d

    return change


PROJECT_CASES = {
    "project.json is a list": (lambda p: (p / "project.json").write_text("[1, 2]"),
                               "project.json: [1, 2] is not an object (the project's description)"),
    "frame_axis as text": (lambda p: _edit_json(p / "project.json", _with("frame_axis", "abc")),
                           'project.json: frame_axis: "abc" is not the frame (time or slice) axis'),
    "frame_axis 7": (lambda p: _edit_json(p / "project.json", _with("frame_axis", 7)),
                     "project.json: frame_axis 7 is outside the 3D labels (0-2)"),
    "labels as floats": (lambda p: _npy_labels(p, np.full((8, 40, 50), 0.5)), "labels.npy: fractional values"),
    "negative ids": (lambda p: _npy_labels(p, -np.ones((8, 40, 50), np.int32)), "labels.npy: negative id -1"),
    "labels.zarr negative ids": (lambda p: _zarr_labels(p, -np.ones((8, 40, 50), np.int32)), "labels.zarr: negative id -1"),
    "labels.zarr floats": (lambda p: _zarr_labels(p, np.full((8, 40, 50), 0.5)), "labels.zarr: float64 values are not"),
    'locked as "false"': (lambda p: _edit_json(p / "instances.json", _instances(locked="false")),
                          'instances.json: instances[0].locked: "false" is not true or false (not text)'),
}


@pytest.mark.parametrize("case", list(PROJECT_CASES))
def test_a_damaged_project_is_named_with_the_file_and_the_field(project, case):
    """Before: AttributeError / TypeError tracebacks, "label 0 is the background", or read as locked."""
    from napari_samlabel.io.project import ProjectError, load_project

    damage, said = PROJECT_CASES[case]
    damage(project)
    if case != "project.json is a list":  # as a hand or another tool edits it: the sizes agree
        _edit_json(project / "project.json", lambda d: dict(d, files={n: (project / n).stat().st_size for n in d["files"]}))
    with pytest.raises(ProjectError) as err:
        load_project(project)
    assert said in str(err.value) and str(project) in str(err.value), str(err.value)


def test_an_instance_whose_class_the_ontology_lacks_is_kept_and_said(project, session):
    """Before: kept, then missing from the Instances dock and from COCO and DICOM SEG exports."""
    from napari_samlabel.api import open_project

    _edit_json(project / "ontology.json", lambda d: {"classes": [c for c in d["classes"] if c["name"] != "nucleus"]})
    _edit_json(project / "project.json", lambda d: dict(d, files={n: (project / n).stat().st_size for n in d["files"]}))
    from napari.components import ViewerModel

    session.close()  # the session that saved it holds it for writing until it closes (the project's lock)
    other = ViewerModel()  # another napari window: the project is not open there
    s = open_project(other, other.add_image(session.image.data, name="again"), project)  # its own pixels
    assert "'nucleus' missing from ontology.json: added" in other.status
    assert "nucleus" in s.ontology.names and s.table[1].class_name == "nucleus"
    import csv

    with open(s.export("csv", project.parent / "o.csv"), newline="") as f:
        assert [row["class"] for row in csv.DictReader(f)] == ["nucleus"]  # in the exports too


def test_open_a_file_as_a_project_or_save_into_a_file(tmp_path, session):
    from napari_samlabel.io.project import ProjectError, load_project

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ProjectError, match="notes.txt is a file, not a project folder"):
        load_project(tmp_path / "notes.txt")
    with pytest.raises(ProjectError, match="notes.txt is a file, not a project folder; nothing was written"):
        session.save_project(tmp_path / "notes.txt")
    with pytest.raises(ProjectError, match="cannot create the folder it goes in"):
        session.save_project(tmp_path / "notes.txt" / "inside.samlabel")
    assert (tmp_path / "notes.txt").read_text() == "x"


@pytest.mark.parametrize("values, said", [(-np.ones((8, 40, 50), np.int32), "negative id -1"),
                                          (np.full((8, 40, 50), 2**33, np.int64), "id 8589934592 is above 2147483647")])  # fmt: skip
def test_adopting_a_labels_layer_without_label_ids_is_refused_and_changes_nothing(viewer, classes, values, said):
    """Before: a traceback ("Please install numba") or labels that could never be written back."""
    from napari.layers import Labels

    from napari_samlabel.api import start_session
    from napari_samlabel.core import AnnotationError

    image = viewer.add_image(np.zeros((8, 40, 50)), name="im")
    layer = viewer.add_layer(Labels(values.copy(), name="theirs"))
    with pytest.raises(AnnotationError, match=f"labels layer 'theirs': {said}"):
        start_session(viewer, image, labels=layer, ontology=classes)
    assert (layer.data == values).all() and layer.data.dtype == values.dtype


def test_samlabel_v_adds_the_traceback_to_the_one_line(tmp_path, capsys):
    from napari_samlabel import cli

    np.save(tmp_path / "img.npy", np.zeros((4, 20, 20), np.float32))
    (tmp_path / "p.json").write_text('{"objects": [{"id": "x"}]}')
    args = ["segment", str(tmp_path / "img.npy"), "--prompts", str(tmp_path / "p.json"), "-o", str(tmp_path / "o.npy")]
    assert cli.main(args) == 2 and "Traceback" not in capsys.readouterr().err
    try:
        assert cli.main(["-v", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"samlabel segment: {tmp_path / 'p.json'}: objects[0].id") and "Traceback" in err
    finally:
        cli.VERBOSE = False
