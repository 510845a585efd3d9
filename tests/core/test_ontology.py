import json
import numpy as np

import pytest

from napari_samlabel.core.ontology import ObjectClass, Ontology, OntologyError


def test_round_trip_keeps_extra_fields(tmp_path):
    data = {
        "classes": [
            {"name": "nucleus", "color": "#FF8800", "kind": "thing", "hotkey": "1", "description": "DAPI"},
            {"name": "background", "color": "#202020", "kind": "stuff", "hotkey": 2},
        ]
    }
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(data))
    onto = Ontology.load(path)
    assert onto.names == ["nucleus", "background"]
    assert onto["nucleus"].color == "#ff8800"
    assert onto["background"].is_stuff and onto["background"].hotkey == "2"
    out = tmp_path / "out.json"
    onto.save(out)
    saved = json.loads(out.read_text())
    assert saved["classes"][0]["description"] == "DAPI"
    assert Ontology.load(out).to_dict() == onto.to_dict()


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "not valid JSON (Expecting property name enclosed in double quotes, line 1"),
        ('{"labels": []}', "is not an object with a 'classes' list"),
        ('{"classes": {}}', "classes: {} is not a list of classes"),
        ('{"classes": [{"color": "#ffffff"}]}', "classes[0]: {\"color\": \"#ffffff\"} is not a class: an object with a 'name'"),
        ('{"classes": [{"name": "a", "kind": "blob"}]}', "classes[0] (\"a\").kind: \"blob\" is not 'thing' or 'stuff'"),
        ('{"classes": [{"name": "a", "color": "orange-ish"}]}', "classes[0] (\"a\").color: \"orange-ish\" is not a colour: '#rrggbb'"),
        ('{"classes": [{"name": "a", "hotkey": "0"}]}', "classes[0] (\"a\").hotkey: \"0\" is not a hotkey: one of 1-9"),
        ('{"classes": [{"name": "a"}, {"name": "A"}]}', "used twice"),
        ('{"classes": [{"name": "a", "hotkey": "1"}, {"name": "b", "hotkey": "1"}]}', "hotkey 1 is used by both"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(OntologyError) as err:
        Ontology.load(path)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(OntologyError, match="cannot read the ontology file"):
        Ontology.load(tmp_path / "nope.json")


def test_rejected_edit_leaves_ontology_unchanged():
    onto = Ontology()
    onto.add("nucleus")
    onto.add("cell")
    before = onto.to_dict()
    with pytest.raises(OntologyError):
        onto.rename("cell", "Nucleus")  # names are unique regardless of case
    with pytest.raises(OntologyError):
        onto.update("cell", hotkey="1")
    assert onto.to_dict() == before


def test_add_picks_free_hotkeys_and_colours_and_rename_is_announced():
    onto = Ontology()
    a, b = onto.add("a"), onto.add("b")
    assert (a.hotkey, b.hotkey) == ("1", "2") and a.color != b.color
    renamed = []
    onto.renamed.connect(lambda old, new: renamed.append((old, new)))
    onto.rename("a", "axon")
    assert renamed == [("a", "axon")] and onto.by_hotkey("1").name == "axon"
    onto.remove("b")
    assert onto.names == ["axon"]


def test_object_class_title_and_color_forms():
    c = ObjectClass("nucleus", color=(1.0, 0.5, 0.0))
    assert c.title == "Nucleus" and c.color == "#ff8000"
    assert ObjectClass("x", color=[255, 0, 0]).color == "#ff0000"


def test_default_class_colours_differ_from_the_click_colours():
    """A class coloured like the include (green) or exclude (red) click hid the clicks on its preview."""
    from napari_samlabel._napari.prompting import NEGATIVE, POSITIVE
    from napari_samlabel.cli import DEMO_CLASSES
    from napari_samlabel.core.ontology import DEFAULT_COLORS, hex_to_rgba

    colours = list(DEFAULT_COLORS) + [c["color"] for c in DEMO_CLASSES["classes"]]
    for colour in colours:
        rgb = np.asarray(hex_to_rgba(colour)[:3])
        for click in (POSITIVE, NEGATIVE):
            assert np.linalg.norm(rgb - np.asarray(click[:3])) > 0.4, (colour, click)
