"""A seeded random walk over everything a user can do, checking after every step
that nothing was lost or silently changed.

Steps: commits in each panoptic mode, deletes, merges, class changes and
renames, copy-to-frames, split, lock/unlock, delete-below, seeds tracking (with
edits made while the run writes, then kept or discarded), interpolation,
napari's brush/eraser/fill/polygon through the layer, undo and redo.

After every step: locked pixels unchanged, ids never reused, the table's frames
equal the frames where each id is, manual frames have confidence 1.0 and the
features show what the table holds. At the end, undo-all gives back the start
exactly (pixels and table) and redo-all the end.
"""

import numpy as np
import pandas as pd
import pytest
from napari.components import ViewerModel
from napari.layers import Labels

from napari_samlabel.api import AnnotationError, import_labels, start_session
from napari_samlabel.core.label_ids import MAX_ID
from napari_samlabel.synthetic import disc

SHAPE = (5, 32, 40)
STEPS = 500


def table_state(s):
    return {
        r.id: (r.class_name, sorted(r.frames), sorted(r.frame_scores.items()), sorted(r.frame_sources.items()))
        for r in s.table
        if r.present
    }


class Walk:
    def __init__(self, seed, classes, folder=None):
        self.folder = folder  # where imported files are written
        self.rng = np.random.default_rng(seed)
        self.viewer = ViewerModel()
        movie = self.rng.random(SHAPE)
        for f in range(SHAPE[0]):  # a few bright blobs for the seeds tracker
            movie[f] += 2 * disc(SHAPE[1:], 10 + f, 12, 5) + 2 * disc(SHAPE[1:], 22, 28 - f, 4)
        image = self.viewer.add_image(movie, name="movie")
        layer = Labels(np.zeros(SHAPE, np.uint32), name="labels")
        layer._history_limit = 100_000  # so undo-all can reach the start
        layer._reset_history()
        self.viewer.add_layer(layer)
        self.s = start_session(self.viewer, image, labels=layer, ontology=classes)
        self.s.store._warn = lambda message: None
        self.seen: set[int] = set()
        self.locked: dict[int, np.ndarray] = {}
        self.job = None
        self.steps = None
        self.log: list[str] = []

    # -- helpers -----------------------------------------------------------
    @property
    def data(self):
        return self.s.labels.data

    def present(self):
        return [r.id for r in self.s.table if r.present]

    def pick(self, ids):
        return int(self.rng.choice(ids)) if len(ids) else None

    def random_disc(self):
        h, w = SHAPE[1:]
        return disc((h, w), self.rng.integers(0, h), self.rng.integers(0, w), self.rng.integers(2, 7))

    def frame(self):
        return int(self.rng.integers(0, SHAPE[0]))

    # -- actions -------------------------------------------------------------
    def commit(self):
        cls = self.rng.choice(self.s.ontology.names)
        self.s.select_class(str(cls))
        mode = ["exclude", "overwrite"][int(self.rng.integers(0, 2))]
        before = set(self.present())
        rec = self.s.commit(self.random_disc(), region=(self.frame(),), mode=mode)
        if rec.id not in before and not rec.stuff:
            assert rec.id not in self.seen, f"id {rec.id} reused"

    def brush(self):
        s, f = self.s, self.frame()
        s.new_instance()
        label = s.labels.selected_label
        assert s.table[label].stuff or label not in self.seen, f"brush id {label} reused"  # stuff: one label
        s.labels.brush_size = int(self.rng.integers(2, 9))
        tool = self.rng.integers(0, 5)
        y, x = int(self.rng.integers(0, SHAPE[1])), int(self.rng.integers(0, SHAPE[2]))
        if tool == 0:
            s.labels._begin_stroke()
            s.labels.paint((f, y, x), label)
            s.labels.paint((f, min(y + 3, SHAPE[1] - 1), x), label)
            s.labels._commit_stroke()
        elif tool == 1:
            s.labels.paint((f, y, x), 0)  # eraser
        elif tool == 2:
            s.labels.fill((f, y, x), label)
        elif tool == 3:
            s.labels.paint_polygon(np.array([[f, y, x], [f, y, x + 9], [f, y + 7, x + 4]]), label)
        else:  # paint into an existing instance (grows it, or not if locked)
            target = self.pick(self.present())
            if target is not None:
                s.labels.paint((f, y, x), target)

    def delete(self):
        i = self.pick(self.present())
        if i is not None:
            self.s.annotation.delete([i])

    def merge(self):
        ids = self.present()
        if len(ids) >= 2:
            a, b = self.rng.choice(ids, 2, replace=False)
            self.s.annotation.merge([int(a), int(b)])

    def change_class(self):
        i = self.pick(self.present())
        if i is not None:
            self.s.annotation.change_class([i], str(self.rng.choice(self.s.ontology.names)))

    def rename(self):
        name = str(self.rng.choice(self.s.ontology.names))
        self.s.annotation.update_class(name, name=name + "'" if len(name) < 12 else name.rstrip("'"))

    def copy(self):
        ids = [i for i in self.present() if not self.s.table[i].stuff]
        i = self.pick(ids)
        if i is not None:
            src = min(self.s.table[i].frames)
            self.s.annotation.copy_to_frames(i, src, range(0, SHAPE[0]), mode=["exclude", "overwrite"][int(self.rng.integers(0, 2))])

    def split(self):
        ids = [i for i in self.present() if len(self.s.table[i].frames) >= 2 and not self.s.table[i].stuff]
        i = self.pick(ids)
        if i is not None:
            self.s.annotation.split(i, sorted(self.s.table[i].frames)[1])

    def lock(self):
        i = self.pick(self.present())
        if i is None:
            return
        if i in self.locked:
            self.s.annotation.set_locked([i], False)
            del self.locked[i]
        else:
            self.s.annotation.set_locked([i], True)
            self.locked[i] = self.data == i

    def delete_below(self):
        self.s.annotation.delete_below(float(self.rng.random()))

    def interpolate(self):
        i = self.pick([i for i in self.present() if not self.s.table[i].stuff])
        if i is not None:
            self.s.annotation.interpolate(i)

    def track(self):
        from napari_samlabel._napari.tracking import TrackOptions, make_job
        from napari_samlabel.backends.seeds import SeedGrowSegmenter

        if self.job is not None:
            return self.track_step()
        f = self.frame()
        self.viewer.dims.set_current_step(0, f)
        here = [i for i in self.present() if f in self.s.table[i].frames]
        if not here:
            return
        ids = [int(i) for i in self.rng.choice(here, min(2, len(here)), replace=False)]
        job = make_job(self.s, SeedGrowSegmenter().tracker(), ids, TrackOptions("both", None, stop_after=2))
        self.job, self.steps = job, job.steps()
        self.run_start, self.user_changed = self.data.copy(), np.zeros(SHAPE, bool)
        job.begin()

    def track_step(self):
        """One frame of the open run, or its end (kept or discarded)."""
        step = next(self.steps, None)
        if step is None or self.rng.random() < 0.2:
            job, self.job = self.job, None
            if step is None or self.rng.random() < 0.5:
                job.finish(keep=True)
            else:
                job.cancel()
                job.finish(keep=False)
                # Keep off: nothing of the run stays; what differs from its start, the user changed
                left = (self.data != self.run_start) & ~self.user_changed
                assert not left.any(), f"a cancelled run left {int(left.sum())} px it wrote"
        else:
            self.job.apply(step)

    def cancel_after_edit(self):
        """A run the user edits during, then cancels with Keep off: all of it goes."""
        if self.job is not None:
            return self.track_step()
        self.track()
        if self.job is None:
            return
        for _ in range(2):
            step = next(self.steps, None)
            if step is not None:
                self.job.apply(step)
            before = self.data.copy()
            try:
                self.commit()
            except AnnotationError:
                pass
            self.user_changed |= self.data != before
        job, self.job = self.job, None
        job.cancel()
        job.finish(keep=False)
        left = (self.data != self.run_start) & ~self.user_changed
        assert not left.any(), f"a cancelled run left {int(left.sum())} px it wrote"

    def import_extreme(self):
        """A label image from elsewhere whose ids do not fit (2^31-1 fits, the rest are renumbered)."""
        if self.folder is None or self.job is not None:
            return
        ids = [int(self.rng.choice([2**31 - 1, 2**31 + 7, 2**32 - 1, 3]))]
        lab = np.zeros(SHAPE, np.uint64 if max(ids) >= 2**32 else np.uint32)
        f = self.frame()
        lab[f][self.random_disc()] = ids[0]
        path = self.folder / f"import{len(self.log)}.npy"
        np.save(path, lab)
        import_labels(self.s, path, mode=str(self.rng.choice(["exclude", "overwrite"])))
        assert self.s.table.next_id <= MAX_ID and all(r.id <= MAX_ID for r in self.s.table)

    def undo(self):
        before = self.data.copy()
        self.s.labels.undo()
        if self.job is not None:  # refused while a run writes
            assert (self.data == before).all()

    def redo(self):
        self.s.labels.redo()

    def visible(self):
        i = self.pick(self.present())
        if i is not None:
            self.s.annotation.set_visible([i], bool(self.rng.random() < 0.5))
            self.s.annotation.set_status([i], str(self.rng.choice(["accepted", "rejected", "unreviewed"])))

    ACTIONS = {
        "commit": 14, "brush": 12, "delete": 5, "merge": 3, "change_class": 4, "rename": 2, "copy": 3,
        "split": 3, "lock": 6, "delete_below": 2, "interpolate": 3, "track": 8, "undo": 14, "redo": 8,
        "visible": 3, "cancel_after_edit": 3, "import_extreme": 2,
    }  # fmt: skip

    # -- invariants ---------------------------------------------------------------
    def check(self, what):
        data, table = self.data, self.s.table
        for i, mask in self.locked.items():
            assert ((data == i) == mask).all(), f"{what}: locked instance {i} changed"
        ids = np.unique(data)
        for rec in table:
            where = {f for f in range(SHAPE[0]) if (data[f] == rec.id).any()} if rec.id in ids else set()
            assert rec.frames == where, f"{what}: table says {rec.id} is on {rec.frames}, pixels say {where}"
            for f in rec.frames:
                if rec.source_on(f) == "manual":
                    assert rec.score_on(f) == 1.0, f"{what}: manual frame {f} of {rec.id} has {rec.score_on(f)}"
        unknown = [int(i) for i in ids if i and int(i) not in table]
        assert not unknown, f"{what}: pixels of ids without a record {unknown}"
        check_layer_view(self.s, what)
        self.seen |= {int(i) for i in ids if i}

    def run(self, n):
        names = list(self.ACTIONS)
        weights = np.array([self.ACTIONS[k] for k in names], float)
        start = (self.data.copy(), table_state(self.s))
        for k in range(n):
            name = str(self.rng.choice(names, p=weights / weights.sum()))
            before = (self.data.copy(), table_state(self.s))
            try:
                getattr(self, name)()
                if self.job is not None and name not in ("track", "track_step"):
                    self.user_changed |= self.data != before[0]  # the user's edit during the run
            except AnnotationError:
                after = (self.data, table_state(self.s))
                assert (after[0] == before[0]).all() and after[1] == before[1], f"step {k} {name}: refused but changed"
            self.log.append(name)
            self.check(f"step {k} ({name})")
        if self.job is not None:
            self.job.finish(keep=True)
            self.job = None
        for i in list(self.locked):  # locks would (rightly) refuse undoing their instances
            self.s.annotation.set_locked([i], False)
        self.locked.clear()
        end = (self.data.copy(), table_state(self.s))
        layer = self.s.labels
        n = len(layer._undo_history)
        for _ in range(n):
            layer.undo()
        assert (self.data == start[0]).all(), "undo-all does not give back the start pixels"
        assert table_state(self.s) == start[1], "undo-all does not give back the start table"
        for _ in range(n):
            layer.redo()
        assert (self.data == end[0]).all(), "redo-all does not give back the end pixels"
        assert table_state(self.s) == end[1], "redo-all does not give back the end table"


def check_layer_view(s, what):
    """The layer's features, napari's label -> row index (its status bar) and the colours, kept
    by what changed, are what a rebuild from the table gives."""
    layer, table = s.labels, s.table
    feats = layer.features.sort_values("index").reset_index(drop=True)
    expected = pd.DataFrame(table.to_columns())
    pd.testing.assert_frame_equal(feats, expected, check_dtype=False, obj=what)
    rows = {int(i): k for k, i in enumerate(layer.features["index"])}
    assert layer._label_index == rows, f"{what}: napari's status bar would show another instance's row"
    ids = np.array([r.id for r in table], np.uint32)
    if len(ids):
        want = np.array([s._view.color_of(r) for r in table], np.float32)
        np.testing.assert_allclose(layer.colormap.map(ids), want, atol=1e-6, err_msg=what)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_random_walk_keeps_every_invariant(classes, seed, tmp_path):
    Walk(seed, classes, tmp_path).run(STEPS)
