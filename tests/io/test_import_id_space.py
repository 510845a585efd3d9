"""Imports and projects with extreme ids (issue 22, item 3): ids that do not fit are
renumbered and said, the user's labels stay as they were, undo is exact, and every later
commit and save works and opens again."""

import json

import numpy as np
import pytest

from napari_samlabel.api import import_labels, open_project
from napari_samlabel.core.label_ids import MAX_ID
from napari_samlabel.io.project import load_project
from project_helpers import rewrite_instances


@pytest.fixture
def drawn(session):
    """One cell the user drew on frame 0."""
    session.select_class("cell")
    mask = np.zeros((40, 50), bool)
    mask[30:35, 40:45] = True
    session.commit(mask, (0,))
    return session


def _commit_new(session, frame=1):
    mask = np.zeros((40, 50), bool)
    mask[1:4, 1:4] = True
    return session.commit(mask, (frame,))


def _saves_and_opens(session, folder):
    """The project saved now opens again, with every instance."""
    session.save_project(folder)
    labels, _, table, _ = load_project(folder)
    assert {r.id for r in table.present()} == {r.id for r in session.table.present()}
    assert int(labels.max()) <= MAX_ID


def test_a_label_image_with_the_largest_id_keeps_it_and_the_next_id_fits(drawn, tmp_path):
    s = drawn
    theirs = np.zeros(s.labels.data.shape, np.uint32)
    theirs[2, :5, :5] = MAX_ID
    np.save(tmp_path / "big.npy", theirs)
    import_labels(s, tmp_path / "big.npy", class_name="cell")
    assert (s.labels.data[2, :5, :5] == MAX_ID).all()
    new = _commit_new(s)
    assert 0 < new.id < MAX_ID and s.labels.selected_label <= MAX_ID
    _saves_and_opens(s, tmp_path / "p.samlabel")


def test_a_label_image_with_ids_past_the_range_is_renumbered_and_undone_exactly(drawn, tmp_path):
    s = drawn
    before_labels, before_table = s.labels.data.copy(), json.dumps(s.table.to_json(), sort_keys=True)
    theirs = np.zeros(s.labels.data.shape, np.uint32)
    theirs[2, :5, :5] = 2**32 - 1
    theirs[3, :5, :5] = 2**31
    theirs[0, 30:35, 40:45] = 9  # over the user's cell: the user's pixels stay (exclude mode)
    np.save(tmp_path / "huge.npy", theirs)
    report = import_labels(s, tmp_path / "huge.npy", class_name="cell")
    assert "renumbered 2 ids that did not fit (largest 4294967295)" in report.summary()
    new_big, new_half = report.renumbered[2**32 - 1], report.renumbered[2**31]
    assert max(new_big, new_half) <= MAX_ID
    assert (s.labels.data[2, :5, :5] == new_big).all() and (s.labels.data[3, :5, :5] == new_half).all()
    assert np.array_equal(s.labels.data[0], before_labels[0])  # the user's cell untouched
    s.labels.undo()
    assert np.array_equal(s.labels.data, before_labels)
    assert {r.id for r in s.table.present()} == {r["id"] for r in json.loads(before_table)["instances"] if r["frames"]}
    new = _commit_new(s)  # napari's WrongSelectedLabelError here before
    assert new.id <= MAX_ID and (s.labels.data[1, 1:4, 1:4] == new.id).all()
    _saves_and_opens(s, tmp_path / "p.samlabel")


def test_a_coco_instance_id_past_the_range_is_renumbered(drawn, tmp_path):
    s = drawn
    square = [[5, 5, 15, 5, 15, 15, 5, 15]]
    data = {
        "images": [{"id": k, "width": 50, "height": 40, "frame": k} for k in range(8)],
        "categories": [{"id": 1, "name": "cell"}],
        "annotations": [{"id": 1, "image_id": 4, "category_id": 1, "instance_id": 2**31 + 7, "segmentation": square}],
    }
    (tmp_path / "big.json").write_text(json.dumps(data))
    report = import_labels(s, tmp_path / "big.json")
    assert "renumbered 1 id that did not fit (largest 2147483655)" in report.summary()
    got = report.renumbered[2**31 + 7]
    assert got <= MAX_ID and (s.labels.data[4, 5:15, 5:15] == got).all()
    assert _commit_new(s).id <= MAX_ID
    _saves_and_opens(s, tmp_path / "p.samlabel")


def test_a_project_whose_next_id_is_past_the_range_opens_and_keeps_saving(drawn, tmp_path):
    from napari.components import ViewerModel

    folder = tmp_path / "p.samlabel"
    drawn.save_project(folder, remember=False)  # a copy: not held open by this session
    rewrite_instances(folder, lambda records: records.update(next_id=2**31))
    viewer = ViewerModel()  # another window
    image = viewer.add_image(drawn.image.data, name=drawn.image.name)
    s = open_project(viewer, image, folder)
    assert s is not drawn
    new = _commit_new(s)
    assert new.id <= MAX_ID and s.labels.selected_label <= MAX_ID
    _saves_and_opens(s, tmp_path / "q.samlabel")
