"""What holds a class by name follows the class's renames (issue 22, item 13): after a copy,
a rename in the Classes dock, then Ctrl+Shift+V pastes a new instance of the renamed class."""

from napari_samlabel.synthetic import disc


def test_paste_as_new_after_the_class_was_renamed(viewer, session):
    cell = session.annotation.new_instance("cell")
    a = session.commit(disc((40, 50), 20, 25, 6), region=(2,), label_id=cell.id)
    viewer.dims.set_current_step(0, 2)
    session.select_instance(a.id, jump=False)
    session.copy_selected()
    session.annotation.update_class("cell", name="cytoplasm")  # the Classes dock's rename
    viewer.dims.set_current_step(0, 5)

    new = session.paste(as_new=True)

    assert new.id != a.id and new.class_name == "cytoplasm" and new.frames == {5}
    assert "cell" not in session.ontology  # the old name did not come back as a class


def test_a_class_held_by_reference_follows_renames(classes):
    held = classes.ref("cell")
    classes.rename("cell", "cytoplasm")
    classes.add("cell")  # a new class that takes the old name is another class
    assert held.name == "cytoplasm"


def test_a_class_renamed_during_a_label_all_run_gets_the_rest_of_the_frames(classes):
    """The Classes dock stays usable while a run streams: the frames after a rename go to the
    renamed class, not to an error (or to a class brought back under the old name)."""
    import numpy as np
    from napari.components import ViewerModel

    from napari_samlabel._napari.label_all import LabelAllJob
    from napari_samlabel.api import start_session
    from napari_samlabel.backends.seeds import SeedGrowSegmenter

    movie = np.zeros((3, 40, 50), np.float32)
    for t in range(3):
        movie[t][disc((40, 50), 20, 20 + t, 7)] = 1.0
    viewer = ViewerModel()
    s = start_session(viewer, viewer.add_image(movie, name="movie"), ontology=classes)
    job = LabelAllJob(s, SeedGrowSegmenter(), "cell", frames=(0, 2))
    job.begin()
    for step in job.steps():
        job.apply(step)
        if step.frame == 0:
            s.annotation.update_class("cell", name="cytoplasm")
    job.finish(keep=True)
    assert {r.class_name for r in s.table if r.present} == {"cytoplasm"} and "cell" not in s.ontology
    assert all(s.labels.data[f].any() for f in range(3))
