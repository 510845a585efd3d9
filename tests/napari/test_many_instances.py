"""10,000 instances (issue 22, item 14): an edit costs the same whatever the number of
instances, because the layer's colours, features and the Instances list follow the table's
change feed instead of being rebuilt. Counted, not timed (timings: benchmarks/
bench_many_instances.py): rows built and colour-map rebuilds per edit, at 5,000 instances."""

import numpy as np
import pytest
from napari.components import ViewerModel

from napari_samlabel._napari import layer_view
from napari_samlabel._napari.instance_rows import RowTracker
from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology
from napari_samlabel.synthetic import instance_grid

N = 5_000
SIDE = 512


@pytest.fixture(scope="module")
def dense():
    onto = Ontology()
    onto.add("cell")
    onto.add("nucleus")
    viewer = ViewerModel()
    image = viewer.add_image(np.zeros((SIDE, SIDE), np.uint8), name="tissue")
    labels = viewer.add_labels(instance_grid(N, SIDE), name="cells")
    s = start_session(viewer, image, labels=labels, ontology=onto)
    yield viewer, s
    s.close()


@pytest.fixture
def rows_built(monkeypatch):
    calls = []
    real = layer_view.feature_row
    monkeypatch.setattr(layer_view, "feature_row", lambda rec: calls.append(rec.id) or real(rec))
    return calls


def square(k):
    m = np.zeros((SIDE, SIDE), bool)
    m[2 + 4 * (k % 12): 5 + 4 * (k % 12), 8 * (k // 12): 8 * (k // 12) + 6] = True
    return m


def test_commits_of_one_class_touch_only_their_rows_and_rarely_the_colour_map(dense, rows_built):
    viewer, s = dense
    s.select_class("cell")
    builds = s._view.colormap_builds
    features = s.labels.features
    for k in range(40):
        rec = s.commit(square(k))
        hover = s.labels.get_status((4 * (k % 12) + 3, 8 * (k // 12) + 2))["coordinates"]  # napari's status bar
        assert f"name: Cell ({rec.id})," in hover
    assert len(rows_built) <= 3 * 40  # the new instance, the brush's next fresh id: never the 5,000
    assert s._view.colormap_builds - builds <= 1  # new ids of the class labeled were already coloured
    assert s.labels.features is features and len(features) == N + 40  # rows appended in place
    np.testing.assert_allclose(s.labels.colormap.map(np.uint32(rec.id)), s._view.color_of(rec), atol=1e-6)


def test_lock_status_and_undo_redraw_one_row(dense, rows_built):
    viewer, s = dense
    builds = s._view.colormap_builds
    s.annotation.set_locked([17], True)
    s.annotation.set_status([18], "accepted")
    assert rows_built == [17, 18] and s._view.colormap_builds == builds  # no colour changed
    feats = s.labels.features.set_index("index")
    assert feats.loc[17, "locked"] and feats.loc[18, "status"] == "accepted"
    rows_built.clear()
    rec = s.commit(square(50))
    s.labels.undo()
    assert rec.id not in set(s.labels.features["index"]) and len(rows_built) <= 6
    assert s.labels.get_status((3 + 4 * 2, 8 * 4 + 2))["coordinates"].endswith("0; [No Properties]")


def test_the_instances_list_follows_by_what_changed(dense):
    viewer, s = dense
    tracker, feed = RowTracker(), s.table.watch()
    tracker.update(s.table, feed.take())  # everything, once
    before = len(tracker.rows)
    rec = s.commit(square(60))
    s.annotation.set_locked([rec.id], True)
    changes = tracker.update(s.table, feed.take())
    assert changes.added == [rec.id] and len(tracker.rows) == before + 1 and tracker.rows[rec.id].locked
    feed.close()


def test_a_thousand_classes_do_not_slow_a_commit(monkeypatch):
    onto = Ontology()
    for k in range(1000):
        onto.add(f"class {k}")
    viewer = ViewerModel()
    image = viewer.add_image(np.zeros((64, 64), np.uint8))
    s = start_session(viewer, image, ontology=onto)
    written = []
    real = Ontology.to_dict
    monkeypatch.setattr(Ontology, "to_dict", lambda self: written.append(1) or real(self))
    m = np.zeros((64, 64), bool)
    m[5:9, 5:9] = True
    s.commit(m)
    assert written == []  # the layer's copy of the ontology is written when the classes change
    s.annotation.update_class("class 3", color="#123456")
    assert written and s.labels.metadata["samlabel"]["ontology"]["classes"][3]["color"] == "#123456"
