"""Review notes: verdicts with comments on instances or frames, open issues, kept in the project."""

import json

import numpy as np
import pytest

from napari_samlabel.core.annotation import Annotation, AnnotationError
from napari_samlabel.core.instances import InstanceTable
from napari_samlabel.core.ontology import Ontology


@pytest.fixture
def ann():
    o = Ontology()
    o.add("cell")
    a = Annotation(np.zeros((6, 20, 20), np.uint16), o, frame_axis=0)
    for label_id, frames in ((1, (1, 2, 3)), (2, (2,))):
        rec = a.new_instance("cell")
        assert rec.id == label_id
        m = np.zeros((20, 20), bool)
        m[label_id * 5 : label_id * 5 + 3, 2:5] = True
        for f in frames:
            a.write_mask(m, rec.id, region=(f,))
    return a


def test_a_rejection_is_an_open_issue_until_resolved_or_accepted(ann):
    (frame_note,) = ann.review([1], "rejected", "  leaks  ", frame=2)
    ann.review([2], "rejected", "wrong class")
    assert frame_note.comment == "leaks" and ann.table[1].status == "unreviewed" and ann.table[2].status == "rejected"
    assert [(n.instance, n.frame) for n in ann.table.reviews.open_issues()] == [(2, None), (1, 2)]
    ann.review([1], "accepted", frame=3)  # another frame: the issue on frame 2 stays open
    assert [n.instance for n in ann.table.reviews.open_issues()] == [2, 1]
    ann.review([1], "accepted")  # the whole instance: settles its issues
    ann.resolve_issue(ann.table.reviews.open_issues()[0].id)
    assert ann.table.reviews.open_issues() == [] and ann.table[1].status == "accepted"
    assert len(ann.table.reviews) == 4  # the record is kept


def test_a_verdict_on_a_frame_the_instance_is_not_on_is_refused(ann):
    with pytest.raises(AnnotationError, match=r"Cell \(2\) is not on frame 3"):
        ann.review([1, 2], "rejected", frame=3)  # none is noted: 1 is there, 2 is not
    with pytest.raises(ValueError, match="accepted or rejected"):
        ann.review([1], "maybe")
    assert len(ann.table.reviews) == 0


def test_notes_round_trip_through_the_instances_file(ann):
    ann.review([1], "rejected", "check frame 2", frame=2)
    again = InstanceTable.from_json(json.loads(json.dumps(ann.table.to_json())))
    (note,) = again.reviews.open_issues()
    assert (note.instance, note.frame, note.comment, note.verdict) == (1, 2, "check frame 2", "rejected")
