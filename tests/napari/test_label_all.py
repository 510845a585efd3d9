"""Label all, by class, over a frame range, without Qt: one undo step, cancel keeps or rolls
back, and a box with "One object per box" off gives one instance per object inside it.

The model is the weight-free seeds backend (its Otsu + watershed find-everything), except
where a test needs to count or interrupt the model's calls: ``CountingFinderForTest``.
"""

import threading

import numpy as np
import pytest
from napari.components import ViewerModel

from napari_samlabel._napari.label_all import LabelAllJob
from napari_samlabel._napari.prompting import PromptController
from napari_samlabel.api import start_session
from napari_samlabel.backends.seeds import SeedGrowSegmenter
from napari_samlabel.core.annotation import AnnotationError
from napari_samlabel.synthetic import disc

H, W = 64, 80
#: three objects per frame, drifting right one pixel a frame
CENTRES = [(16, 16), (16, 50), (46, 30)]


def make_movie(n=6):
    data = np.zeros((n, H, W), np.float32)
    for t in range(n):
        for r, c in CENTRES:
            data[t][disc((H, W), r, c + t, 7)] = 1.0
    return data + np.random.default_rng(0).normal(0, 0.02, data.shape).astype(np.float32)


class CountingFinderForTest:
    """A test double: the seeds backend's find-everything, noting each call (and able to
    cancel a job from inside a call, as a click on Cancel while the model runs would)."""

    name = "counting-finder-double"

    def __init__(self):
        self.inner = SeedGrowSegmenter()
        self.calls = 0
        self.cancel_on_call = None  # (call number, job)

    def set_image(self, rgb):
        self.inner.set_image(rgb)

    def predict(self, *a, **k):
        return self.inner.predict(*a, **k)

    def segment_all(self, rgb):
        self.calls += 1
        if self.cancel_on_call is not None and self.cancel_on_call[0] == self.calls:
            self.cancel_on_call[1].cancel()
        return self.inner.segment_all(rgb)


@pytest.fixture
def setup(classes):
    viewer = ViewerModel()
    image = viewer.add_image(make_movie(), name="movie")
    s = start_session(viewer, image, ontology=classes)
    return viewer, s


def instances_on(s, frame, class_name=None):
    ids = [i for i in np.unique(s.labels.data[frame]) if i]
    return [s.table[i] for i in ids if class_name is None or s.table[i].class_name == class_name]


def test_label_all_over_a_range_is_one_undo_step_of_the_class_picked(setup):
    viewer, s = setup
    said = []
    s.said.connect(said.append)
    pc = PromptController(s, SeedGrowSegmenter())
    viewer.dims.set_current_step(0, 2)
    assert s.current_class == "nucleus"
    made = pc.label_all("cell", frames=(1, 4))
    for f in range(1, 5):
        recs = instances_on(s, f)
        assert len(recs) == 3 and {r.class_name for r in recs} == {"cell"}, f"frame {f}"
        for r, c in CENTRES:  # each object is its own instance, where the object is
            assert s.labels.data[f, r, c + f] in {x.id for x in recs}
    assert not s.labels.data[0].any() and not s.labels.data[5].any()  # outside the range: untouched
    assert len(made) == 12 and {r.sources for r in made} == {"model"}
    assert s.current_class == "nucleus"  # the class picked for label all did not change the brush's
    s.labels.undo()
    assert not s.labels.data.any() and not any(r.present for r in s.table)
    assert said[-1] == "Undid the label all of cell on frames 1-4."
    s.labels.redo()
    assert all(len(instances_on(s, f, "cell")) == 3 for f in range(1, 5))


def test_label_all_on_the_plane_shown_is_the_default(setup):
    viewer, s = setup
    pc = PromptController(s, SeedGrowSegmenter())
    viewer.dims.set_current_step(0, 3)
    made = pc.label_all()
    assert len(made) == 3 and {r.class_name for r in made} == {"nucleus"}
    assert [f for f in range(6) if s.labels.data[f].any()] == [3]


def run_with_cancel_after(job, frame):
    """What the dock does: the worker's frames written as they come; Cancel after ``frame``."""
    job.begin()
    for step in job.steps():
        job.receive(step)
        job.drain()
        if step.frame == frame:
            job.cancel()


@pytest.mark.parametrize("keep", [True, False])
def test_cancel_stops_within_one_frame_and_keeps_or_rolls_back(setup, keep):
    viewer, s = setup
    model = CountingFinderForTest()
    before = s.commit(disc((H, W), 5, 75, 3), region=(0,))  # the user's earlier work
    job = LabelAllJob(s, model, "cell", frames=(0, 5))
    run_with_cancel_after(job, 2)
    assert model.calls == 3  # frames 0, 1, 2: the model never ran on frame 3
    job.finish(keep=keep)
    labeled = [f for f in range(6) if instances_on(s, f, "cell")]
    assert labeled == ([0, 1, 2] if keep else [])
    assert s.table[before.id].present
    if keep:
        s.labels.undo()  # the frames done are one step
        assert not instances_on(s, 1, "cell") and s.table[before.id].present


def test_cancel_while_the_model_runs_drops_that_frame(setup):
    viewer, s = setup
    model = CountingFinderForTest()
    job = LabelAllJob(s, model, "cell", frames=(0, 5))
    model.cancel_on_call = (2, job)  # Cancel clicked while frame 1 is being computed
    job.run()
    assert model.calls == 2 and [f for f in range(6) if s.labels.data[f].any()] == [0]


def test_user_edit_during_a_run_stays_its_own_step(setup):
    viewer, s = setup
    job = LabelAllJob(s, SeedGrowSegmenter(), "cell", frames=(0, 3))
    job.begin()
    steps = job.steps()
    job.apply(next(steps))
    mine = s.commit(disc((H, W), 5, 75, 3), region=(4,))  # the user labels frame 4 meanwhile
    for step in steps:
        job.apply(step)
    job.finish(keep=True)
    assert len(instances_on(s, 3, "cell")) == 3
    s.labels.undo()  # the run's frames after the user's edit
    assert not instances_on(s, 3, "cell") and s.table[mine.id].present
    s.labels.undo()  # the user's edit
    assert not s.table[mine.id].present and len(instances_on(s, 0, "cell")) == 3


def run_with_an_edit(s, job, edit_after, cancel_after):
    """The dock's loop: frames written as they come; the user commits after ``edit_after``."""
    mine = None
    job.begin()
    for step in job.steps():
        job.receive(step)
        job.drain()
        if step.frame == edit_after:
            mine = s.commit(disc((H, W), 5, 75, 3), region=(step.frame,))  # a small object in a corner
        if step.frame == cancel_after:
            job.cancel()
    return mine


def test_keep_off_after_an_edit_takes_back_every_frame_of_the_run(setup):
    viewer, s = setup
    job = LabelAllJob(s, SeedGrowSegmenter(), "cell", frames=(0, 5))
    mine = run_with_an_edit(s, job, edit_after=1, cancel_after=3)
    assert [f for f in range(6) if instances_on(s, f, "cell")] == [0, 1, 2, 3]  # written as they came
    job.finish(keep=False)
    assert [f for f in range(6) if instances_on(s, f, "cell")] == []  # nothing of the run stays
    assert not any(r.present for r in s.table if r.class_name == "cell")
    assert s.table[mine.id].present and (s.labels.data == mine.id).sum() == (disc((H, W), 5, 75, 3)).sum()
    assert job.made == [] and "taken back" in job.undo_note(False)
    s.labels.undo()  # the take-back is one step: the frames before the edit come back
    assert [f for f in range(6) if instances_on(s, f, "cell")] == [0, 1]
    assert s.table[mine.id].present


def test_keep_off_in_overwrite_mode_puts_back_what_the_run_covered(setup):
    viewer, s = setup
    theirs = s.commit(disc((H, W), 16, 16, 9), region=(0,))  # under the first object: the run overwrites it
    before = s.labels.data.copy()
    job = LabelAllJob(s, SeedGrowSegmenter(), "cell", frames=(0, 3), mode="overwrite")
    mine = run_with_an_edit(s, job, edit_after=0, cancel_after=2)
    assert (s.labels.data[0] == theirs.id).sum() < (before[0] == theirs.id).sum()
    job.finish(keep=False)
    expected = before.copy()
    expected[s.labels.data == mine.id] = mine.id
    np.testing.assert_array_equal(s.labels.data, expected)  # exactly as before, plus the user's edit
    assert s.table[theirs.id].frames == {0}


def test_bad_range_or_class_is_one_clear_message_and_changes_nothing(setup):
    viewer, s = setup
    pc = PromptController(s, SeedGrowSegmenter())
    with pytest.raises(AnnotationError, match="frames 4-9: frame 6 is outside 0-5"):
        pc.label_all("cell", frames=(4, 9))
    with pytest.raises(AnnotationError, match="no class 'tumour'"):
        pc.label_all("tumour")
    assert not s.labels.data.any()


def test_box_with_one_object_per_box_off_gives_one_instance_per_object_inside(classes):
    viewer = ViewerModel()
    img = np.zeros((H, W), np.float32)
    inside = [(14, 14), (14, 34), (34, 22)]
    outside = [(50, 66), (14, 66)]
    for r, c in inside + outside:
        img[disc((H, W), r, c, 6)] = 1.0
    s = start_session(viewer, viewer.add_image(img, name="cells"), ontology=classes)
    pc = PromptController(s, SeedGrowSegmenter())
    s.select_class("cell")
    pc.set_box([4, 4], [44, 44])  # around three cells; two others lie outside
    one = pc.commit_or_report()  # Enter, "One object per box" on (the default): one instance
    assert not isinstance(one, list) and one.present
    s.labels.undo()
    pc.one_per_box = False
    pc.set_box([4, 4], [44, 44])
    assert pc.update_preview() is None and not pc.preview.data.any()  # no one-object preview for it
    made = pc.commit_or_report()  # Enter
    assert len(made) == 3 and {r.class_name for r in made} == {"cell"}
    for r, c in inside:
        assert s.labels.data[r, c] in {m.id for m in made}
    assert len({s.labels.data[r, c] for r, c in inside}) == 3  # one instance per object
    ys, xs = np.nonzero(s.labels.data)
    assert ys.max() <= 44 and xs.max() <= 44  # nothing outside the box
    assert len(pc.boxes.data) == 0  # the box was used up
    s.labels.undo()
    assert not s.labels.data.any()


def test_box_over_a_range_finds_the_objects_inside_it_on_every_frame(setup):
    viewer, s = setup
    pc = PromptController(s, SeedGrowSegmenter())
    pc.one_per_box = False
    viewer.dims.set_current_step(0, 0)
    pc.set_box([0, 0, 0], [0, 34, 68])  # the two upper objects, on every frame of the range
    made = pc.label_all("cell", frames=(0, 2))
    assert len(made) == 6
    for f in range(3):
        assert len(instances_on(s, f, "cell")) == 2 and not s.labels.data[f, 35:].any()


def test_steps_run_in_a_worker_thread(setup):
    viewer, s = setup
    job = LabelAllJob(s, SeedGrowSegmenter(), "cell", frames=(0, 1))
    got = []
    t = threading.Thread(target=lambda: got.extend(job.steps()))
    t.start()
    t.join(30)
    job.begin()
    for step in got:
        job.apply(step)
    job.finish()
    assert [g.frame for g in got] == [0, 1] and len(instances_on(s, 1, "cell")) == 3
