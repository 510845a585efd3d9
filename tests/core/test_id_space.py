"""The id space (issue 22, item 3): the next id never leaves what the labels hold and the
project reader accepts (core.label_ids.MAX_ID), however big the ids that came in."""

import json
from importlib.resources import files

import pytest

from napari_samlabel.core.instances import InstanceTable
from napari_samlabel.core.label_ids import MAX_ID, LabelIdError


def test_after_the_largest_id_the_next_one_is_the_lowest_never_used():
    table = InstanceTable()
    for i in (1, 2, 3, 5, MAX_ID):
        table.adopt(i, "cell")
    assert table.next_id == 4
    assert [table.allocate("cell").id for _ in range(2)] == [4, 6]
    table.adopt(6, "cell")  # an id taken meanwhile is never handed out twice
    assert [table.allocate("cell").id for _ in range(2)] == [7, 8]


def test_a_next_id_beyond_the_range_read_from_a_file_stays_in_range():
    table = InstanceTable.from_json({"next_id": 2**31, "instances": [{"id": 1, "class_name": "cell"}]})
    assert table.allocate("cell").id == 2
    assert table.to_json()["next_id"] == 3


def test_an_id_the_labels_cannot_hold_is_refused():
    table = InstanceTable()
    with pytest.raises(LabelIdError, match="4294967295 is above 2147483647"):
        table.adopt(2**32 - 1, "cell")
    assert len(table) == 0 and table.next_id == 1


def test_the_project_schema_and_the_label_check_share_the_limit():
    schema = json.loads(files("napari_samlabel").joinpath("schemas", "instances.schema.json").read_text("utf-8"))
    assert schema["$defs"]["instance"]["properties"]["id"]["maximum"] == MAX_ID
