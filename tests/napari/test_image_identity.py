"""Two images that look alike (issue 22, item 2): two different ``img.tif`` files of one
shape, opened by napari's own reader (no metadata), are two images by their pixels: their
autosaves stay apart, one's labels are never saved into, or opened over, the other's."""

import json
import time

import numpy as np
import pytest
import tifffile

from napari_samlabel.api import open_project, start_session
from napari_samlabel.io.project import ProjectError, load_project
from napari_samlabel.synthetic import disc


@pytest.fixture(scope="module", autouse=True)
def _napari_reader():
    from napari.plugins import _initialize_plugins

    _initialize_plugins()  # napari's builtin reader, as the app has it


def patient_tif(tmp_path, who: str, seed: int):
    path = tmp_path / who / "img.tif"
    path.parent.mkdir()
    tifffile.imwrite(path, np.random.default_rng(seed).integers(0, 255, (3, 30, 30), dtype=np.uint8))
    return path


def opened(path, classes):
    """A fresh viewer (another day, another window) with ``path`` read by napari, one instance drawn."""
    from napari.components import ViewerModel

    viewer = ViewerModel()
    (image,) = viewer.open(str(path), plugin="napari")
    session = start_session(viewer, image, ontology=classes)
    session.commit(disc((30, 30), 10 + 5 * len(viewer.layers), 12, 4), region=(1,))
    return viewer, image, session


@pytest.fixture
def patients(tmp_path, classes):
    a = opened(patient_tif(tmp_path, "A", 1), classes)
    b = opened(patient_tif(tmp_path, "B", 2), classes)
    assert a[1].name == b[1].name == "img" and a[1].metadata == b[1].metadata == {}
    return a, b


def test_two_lookalike_tifs_autosave_apart(patients, tmp_path):
    from napari_samlabel._napari.autosave import autosave

    (_, _, a), (_, _, b) = patients
    (folder_a,) = autosave([a], root=tmp_path / "cache")
    (folder_b,) = autosave([b], root=tmp_path / "cache")
    assert folder_a != folder_b
    assert np.array_equal(load_project(folder_a)[0], np.asarray(a.labels.data))  # B did not overwrite A
    assert np.array_equal(load_project(folder_b)[0], np.asarray(b.labels.data))


def test_saving_b_into_a_lookalikes_project_is_refused(patients, tmp_path):
    (_, _, a), (_, _, b) = patients
    folder = a.save_project(tmp_path / "A.samlabel")
    with pytest.raises(ProjectError) as refused:
        b.save_project(folder)
    message = str(refused.value)
    assert "\n" not in message and str(folder) in message and "other pixels" in message
    assert np.array_equal(load_project(folder)[0], np.asarray(a.labels.data))  # A's labels kept


def test_a_project_opened_over_a_lookalike_image_is_refused(patients, tmp_path):
    (_, _, a), (viewer_b, image_b, b) = patients
    folder = a.save_project(tmp_path / "A.samlabel")
    layers_before = list(viewer_b.layers)
    with pytest.raises(ProjectError) as refused:
        open_project(viewer_b, image_b, folder)
    message = str(refused.value)
    assert "\n" not in message and str(folder) in message and "other pixels" in message
    assert list(viewer_b.layers) == layers_before and b.table.present()  # B's labels untouched


def test_a_project_reopens_over_its_own_image(patients, tmp_path):
    (viewer_a, image_a, a), _ = patients
    folder = a.save_project(tmp_path / "A.samlabel")
    assert json.loads((folder / "project.json").read_text())["image_hash"]
    again = open_project(viewer_a, image_a, folder)
    assert np.array_equal(np.asarray(again.labels.data), np.asarray(a.labels.data))
    again.save_project()  # and saves back into it


def test_a_project_saved_before_image_hashes_still_opens_and_saves(patients, tmp_path):
    (viewer_a, image_a, a), _ = patients
    folder = a.save_project(tmp_path / "A.samlabel")
    info = json.loads((folder / "project.json").read_text())
    del info["image_hash"]  # as older versions wrote it
    (folder / "project.json").write_text(json.dumps(info))
    again = open_project(viewer_a, image_a, folder)
    assert again.table.present()
    again.save_project()


def test_the_pixel_hash_of_a_2gb_lazy_image_reads_a_few_planes(monkeypatch):
    """Computed once per session, and cheap: a lazy image is never read whole."""
    import dask.array as da
    from napari.components import ViewerModel

    reads = []

    def plane(block, block_info=None):
        reads.append(block_info[None]["chunk-location"])
        return np.full(block.shape, block_info[None]["chunk-location"][0] % 251, np.uint8)

    lazy = da.zeros((500, 2048, 2048), dtype=np.uint8, chunks=(1, 2048, 2048)).map_blocks(plane, dtype=np.uint8)
    assert lazy.nbytes >= 2e9
    viewer = ViewerModel()
    session = start_session(viewer, viewer.add_image(lazy, name="big", contrast_limits=(0, 255)))
    reads.clear()
    start = time.perf_counter()
    first = session.image_key
    took = time.perf_counter() - start
    assert took < 1.0 and len(reads) <= 16
    reads.clear()
    assert session.image_key == first and not reads  # cached
