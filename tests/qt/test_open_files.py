"""`samlabel FILE` and File > Open read DICOM and NIfTI through the plugin's reader (spacing,
origin and metadata kept), and leave .tif and .png to napari without a "choose reader" dialog.

The files come from pydicom's and nibabel's own test data; the expected spacing is read
from their headers with pydicom and nibabel, not with our code."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")
from pydicom.data import get_testdata_file  # noqa: E402

PLUGIN = "napari-samlabel"


def test_data(name: str) -> str:
    return get_testdata_file(name)


test_data.__test__ = False  # a helper, not a test


def nibabel_file(name: str) -> str:
    from nibabel.testing import data_path

    return os.path.join(data_path, name)


def series_folder(tmp_path) -> Path:
    """pydicom's five-slice CT series (extensionless names, as on a DICOM CD), under a
    DICOMDIR-style tree: study/PT000000/SE000000/<files>."""
    src = Path(test_data("CT_small.dcm")).parent / "dicomdirtests" / "98892001" / "CT5N"
    dst = tmp_path / "study" / "PT000000" / "SE000000"
    shutil.copytree(src, dst)
    return tmp_path / "study"


def mr_series(tmp_path, n=4) -> Path:
    """Copies of pydicom's MR_small slice moved along its normal: a 4-slice series whose
    files have long extensionless names (no name pattern can claim them)."""
    folder = tmp_path / "mr"
    folder.mkdir()
    ds = pydicom.dcmread(test_data("MR_small.dcm"))
    iop = np.array(ds.ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    for k in range(n):
        s = pydicom.dcmread(test_data("MR_small.dcm"))
        s.ImagePositionPatient = [float(v) for v in np.array(ds.ImagePositionPatient, float) + 2.5 * k * normal]
        s.SOPInstanceUID = pydicom.uid.generate_uid()
        s.InstanceNumber = k + 1
        s.save_as(folder / f"MRIMAGE_SLICE_{n - k:04d}")  # file names in reverse order on purpose
    return folder


def dicom_spacing(path) -> list[float]:
    """(z, y, x) spacing as pydicom reads it: slice distance from two positions, else thickness."""
    files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).is_dir() else [Path(path)]
    dss = [pydicom.dcmread(f) for f in files]
    dss = [d for d in dss if "PixelData" in d]
    dy, dx = (float(v) for v in dss[0].PixelSpacing)
    if len(dss) > 1:
        iop = np.array(dss[0].ImageOrientationPatient, float)
        normal = np.cross(iop[:3], iop[3:])
        z = sorted(float(np.dot(normal, np.array(d.ImagePositionPatient, float))) for d in dss)
        dz = z[1] - z[0]
    else:
        dz = float(dss[0].SliceThickness)
    return [dz, dy, dx]


def nifti_spacing(path) -> list[float]:
    zooms = nib.load(path).header.get_zooms()[:3]
    return [float(v) for v in zooms[::-1]]


def samlabel_readers(path) -> set:
    import npe2

    pm = npe2.PluginManager.instance()
    pm.discover()  # as napari does at start-up
    assert PLUGIN in {m.name for m in pm.iter_manifests()}
    return {r.plugin_name for r in pm.iter_compatible_readers([str(path)])}


# -- the manifest claims only what the plugin reads better ---------------------------------
def test_manifest_claims_dicom_nifti_and_folders_but_not_tif_or_png(tmp_path):
    for name in ("a.tif", "a.TIFF", "a.png", "a.jpg", "a.ome.tif", "a.npy", "a.zarr", "notes.txt", "1.2.840.5"):
        assert PLUGIN not in samlabel_readers(tmp_path / name), name
    for name in ("a.dcm", "A.DCM", "a.dicom", "a.IMA", "a.nii", "a.nii.gz", "4648", "IM00000J", "DICOMDIR"):
        assert PLUGIN in samlabel_readers(tmp_path / name), name
    assert PLUGIN in samlabel_readers(tmp_path)  # folders: the reader then looks inside


def test_reader_sniffs_content(tmp_path):
    from napari_samlabel._reader import napari_get_reader

    folder = series_folder(tmp_path)
    tif = tmp_path / "a.tif"
    import tifffile

    tifffile.imwrite(tif, np.zeros((4, 4), np.uint8))
    assert napari_get_reader(str(tif)) is None
    assert napari_get_reader(str(tmp_path / "empty_dir_missing")) is None
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.txt").write_text("no dicom here")
    assert napari_get_reader(str(tmp_path / "plain")) is None
    assert napari_get_reader(str(folder)) is not None
    assert napari_get_reader(nibabel_file("anatomical.nii")) is not None


# -- samlabel FILE: cli.open_viewer ----------------------------------------------------------
@pytest.fixture
def launch(make_napari_viewer, monkeypatch):
    """cli.open_viewer(None, files) in a real window (napari.Viewer made by pytest's fixture
    so that it is closed afterwards)."""
    import napari

    from napari_samlabel import cli

    monkeypatch.setattr(napari, "Viewer", lambda **kw: make_napari_viewer(show=True))
    return lambda *files: cli.open_viewer(None, [str(f) for f in files])


def image_layers(viewer):
    return [layer for layer in viewer.layers if layer._type_string == "image"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["anatomical.nii", "example4d.nii.gz"])
def test_samlabel_opens_nifti_with_its_spacing(launch, name):
    path = nibabel_file(name)
    viewer = launch(path)  # napari's own reader raised OSError here
    (image,) = image_layers(viewer)
    img = nib.load(path)
    assert image.data.shape[-3:] == img.shape[:3][::-1]
    np.testing.assert_allclose(image.scale[-3:], nifti_spacing(path), rtol=1e-5)
    geo = image.metadata["geometry"]
    np.testing.assert_allclose(geo["spacing"], nifti_spacing(path), rtol=1e-5)
    assert image.source.reader_plugin == PLUGIN
    assert viewer.layers.selection.active._type_string == "labels"  # the session started on it


@pytest.mark.slow
def test_samlabel_opens_a_dicom_file_with_spacing_and_window(launch):
    path = test_data("CT_small.dcm")
    viewer = launch(path)
    (image,) = image_layers(viewer)
    ds = pydicom.dcmread(path)
    np.testing.assert_allclose(image.scale[-3:], dicom_spacing(path), rtol=1e-5)
    np.testing.assert_allclose(image.metadata["geometry"]["origin"], [float(v) for v in ds.ImagePositionPatient])
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(np.asarray(image.data)[0], hu)
    assert image.source.reader_plugin == PLUGIN and image.metadata["modality"] == "CT"


@pytest.mark.slow
def test_samlabel_opens_a_dicomdir_style_folder_as_one_volume(launch, tmp_path):
    folder = series_folder(tmp_path)
    viewer = launch(folder)  # napari's fallback opened it without spacing or metadata
    (image,) = image_layers(viewer)
    assert image.data.shape == (5, 16, 16)
    np.testing.assert_allclose(image.scale, dicom_spacing(folder), rtol=1e-4)
    assert image.metadata["geometry"] and len(image.metadata["files"]) == 5
    assert image.source.reader_plugin == PLUGIN

    shutil.copy(Path(test_data("CT_small.dcm")).parent / "dicomdirtests" / "DICOMDIR", folder / "DICOMDIR")
    viewer2 = launch(folder / "DICOMDIR")  # the DICOMDIR file stands for its folder
    (image2,) = image_layers(viewer2)
    assert image2.data.shape == (5, 16, 16) and image2.metadata["geometry"] == image.metadata["geometry"]


@pytest.mark.slow
def test_samlabel_opens_extensionless_slices_given_one_by_one(launch, tmp_path):
    """Long extensionless names (no npe2 pattern claims them) and a folder of them."""
    folder = mr_series(tmp_path)
    files = sorted(folder.iterdir())
    viewer = launch(*files)  # four slices: one series, one volume, ordered by position
    (image,) = image_layers(viewer)
    assert image.data.shape == (4, 64, 64)
    np.testing.assert_allclose(image.scale, dicom_spacing(folder), rtol=1e-4)
    first = pydicom.dcmread(folder / "MRIMAGE_SLICE_0004")  # k = 0: the lowest position
    np.testing.assert_allclose(image.metadata["geometry"]["origin"], [float(v) for v in first.ImagePositionPatient])

    viewer2 = launch(files[0])  # one extensionless slice on its own
    (single,) = image_layers(viewer2)
    assert single.data.shape == (1, 64, 64) and single.metadata["geometry"]


@pytest.mark.slow
def test_samlabel_opens_a_tif_through_napari(launch, tmp_path):
    import tifffile

    path = tmp_path / "cells.tif"
    tifffile.imwrite(path, np.arange(3 * 20 * 30, dtype=np.uint16).reshape(3, 20, 30))
    viewer = launch(path)
    (image,) = image_layers(viewer)
    assert image.data.shape == (3, 20, 30) and image.source.reader_plugin == "napari"


# -- File > Open in the window ----------------------------------------------------------------
@pytest.fixture
def file_open(make_napari_viewer, monkeypatch):
    """What napari's File > Open does once a path is chosen (QtViewer._qt_open), with the
    "choose reader" dialog recorded instead of shown."""
    import napari._qt.qt_viewer as qv

    viewer = make_napari_viewer(show=True)
    dialogs = []
    monkeypatch.setattr(qv, "handle_gui_reading", lambda paths, *a, **k: dialogs.append(paths))

    def open_(path):
        viewer.window._qt_viewer._qt_open([str(path)], stack=False)
        return dialogs

    return viewer, open_


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".tif", ".png"])
def test_file_open_of_a_tif_or_png_asks_no_reader(file_open, tmp_path, suffix):
    from skimage import io

    viewer, open_ = file_open
    path = tmp_path / f"cells{suffix}"
    io.imsave(path, (np.arange(20 * 30) % 256).astype(np.uint8).reshape(20, 30), check_contrast=False)
    assert open_(path) == []  # with the old "*" pattern napari asked "choose reader" every time
    assert viewer.layers[-1].data.shape == (20, 30)


@pytest.mark.slow
def test_file_open_of_an_extensionless_dicom_file_uses_the_plugin(file_open, tmp_path):
    viewer, open_ = file_open
    folder = series_folder(tmp_path)
    path = next((folder / "PT000000" / "SE000000").iterdir())
    assert open_(path) == []
    (image,) = image_layers(viewer)
    assert image.source.reader_plugin == PLUGIN and image.metadata["geometry"]


# -- project folders: `samlabel FOLDER`, File > Open --------------------------------------------
def movie_tif(tmp_path, name="cells") -> Path:
    import tifffile

    path = tmp_path / f"{name}.tif"
    tifffile.imwrite(path, np.arange(3 * 20 * 30, dtype=np.uint16).reshape(3, 20, 30))
    return path


def saved_over(viewer, image, folder):
    """A project with one instance on frame 1, saved over ``image``: (folder, the labels)."""
    from napari_samlabel.api import start_session

    s = start_session(viewer, image)
    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:12] = True
    s.commit(mask, region=(1,))
    return s.save_project(folder), np.asarray(s.labels.data).copy()


def labels_layers(viewer):
    return [layer for layer in viewer.layers if layer._type_string == "labels"]


@pytest.mark.slow
def test_samlabel_opens_a_project_folder_with_the_image_it_records(launch, tmp_path):
    from napari_samlabel.api import current_session

    tif = movie_tif(tmp_path)
    first = launch(tif)  # samlabel cells.tif, label, Save project
    folder, labels = saved_over(first, image_layers(first)[0], tmp_path / "cells.samlabel")
    viewer = launch(folder)  # before: MultipleReaderError (napari's reader took it for a stack of images)
    (image,) = image_layers(viewer)
    assert image.source.path == str(tif)
    (layer,) = labels_layers(viewer)  # the project's labels, no empty ones beside them
    s = current_session(viewer)
    assert s.labels is layer and s.image is image and s.project_folder == folder
    assert np.array_equal(layer.data, labels) and [sorted(r.frames) for r in s.table.present()] == [[1]]


@pytest.mark.slow
def test_samlabel_says_what_to_open_first_for_a_project_that_cannot_tell(launch, tmp_path, monkeypatch):
    """Saved over an image made in memory: the project cannot know its file. One line says what
    to open; given with the image, it opens over it."""
    from napari.components import ViewerModel

    warnings = []
    monkeypatch.setattr("napari.utils.notifications.show_warning", warnings.append)
    v = ViewerModel()
    image = v.add_image(np.arange(3 * 20 * 30, dtype=np.uint16).reshape(3, 20, 30), name="movie")
    folder, labels = saved_over(v, image, tmp_path / "movie.samlabel")
    viewer = launch(folder)  # no traceback: the window opens, empty
    assert not viewer.layers
    (line,) = [w for w in warnings if str(folder) in w]
    assert line == (f"{folder}: it does not record where its image 'movie' (3 x 20 x 30) is: open the image first, "
                    f"then Open project… (or: samlabel IMAGE {folder})")  # fmt: skip
    viewer = launch(movie_tif(tmp_path, "movie"), folder)
    (layer,) = labels_layers(viewer)
    assert np.array_equal(layer.data, labels) and len(image_layers(viewer)) == 1


@pytest.mark.slow
def test_file_open_of_a_project_folder_opens_its_image_and_labels(file_open, tmp_path):
    """napari asks which reader opens a folder (its own or SAM Label): SAM Label opens the
    project over its image, adding nothing else."""
    from napari.components import ViewerModel

    from napari_samlabel.api import current_session

    viewer, open_ = file_open
    tif = movie_tif(tmp_path)
    v = ViewerModel()
    (image,) = v.open(str(tif), plugin="napari")
    folder, labels = saved_over(v, image, tmp_path / "cells.samlabel")
    assert open_(folder) == [[str(folder)]]  # napari's question, as for any folder
    viewer.open(str(folder), plugin=PLUGIN)  # the user's answer
    (image,) = image_layers(viewer)
    (layer,) = labels_layers(viewer)
    assert np.array_equal(layer.data, labels) and current_session(viewer).project_folder == folder
    assert image.source.path == str(tif)


@pytest.mark.slow
def test_opening_a_project_replaces_the_empty_labels_samlabel_started(launch, tmp_path):
    from napari_samlabel._napari.registry import sessions
    from napari_samlabel.api import current_session, open_project

    tif = movie_tif(tmp_path)
    first = launch(tif)
    folder, labels = saved_over(first, image_layers(first)[0], tmp_path / "cells.samlabel")
    current_session(first).close()  # done with it there: its lock on the project is given back
    viewer = launch(tif)  # samlabel cells.tif: an empty session started on it
    empty = current_session(viewer)
    s = open_project(viewer, image_layers(viewer)[0], folder)
    assert labels_layers(viewer) == [s.labels] and sessions(viewer).sessions == [s]  # before: both layers
    assert np.array_equal(s.labels.data, labels) and empty.labels not in viewer.layers
    s.close()

    viewer = launch(tif)
    used = current_session(viewer)
    used.commit(np.ones((20, 30), bool), region=(0,))  # work in it: it stays
    s = open_project(viewer, image_layers(viewer)[0], folder)
    assert labels_layers(viewer) == [used.labels, s.labels]
