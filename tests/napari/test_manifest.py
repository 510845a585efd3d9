"""Manifest tier: npe2 wiring, sample data, and a cheap import."""

import subprocess
import sys

import numpy as np


def test_manifest_is_valid():
    from npe2 import PluginManifest

    pm = PluginManifest.from_distribution("napari-samlabel")
    pm.validate_imports()
    widgets = {w.display_name for w in pm.contributions.widgets}
    assert {"Classes", "Instances"} <= widgets


def test_npe2_validate_cli():
    result = subprocess.run(["npe2", "validate", "napari-samlabel"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sample_data_through_npe2():
    import npe2

    pm = npe2.PluginManager.instance()
    pm.discover()
    sample = pm.get_manifest("napari-samlabel").contributions.sample_data[0]
    (data, meta, kind), = sample.exec()
    assert kind == "image" and data.shape == (20, 192, 192) and data.dtype == np.uint16
    assert meta["contrast_limits"][1] > meta["contrast_limits"][0]


def test_import_does_not_pull_torch_sam2_qt_or_dask_distributed():
    code = (
        "import sys, napari_samlabel, napari_samlabel.core, napari_samlabel.api; "
        "heavy = [m for m in ('torch', 'sam2', 'qtpy', 'PyQt6', 'PyQt5', 'distributed') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_opens_viewer_by_default(monkeypatch):
    import napari

    from napari_samlabel import cli

    calls = []
    monkeypatch.setattr(cli, "open_viewer", lambda *a: calls.append(a))
    monkeypatch.setattr(napari, "run", lambda: calls.append("run"))
    assert cli.main([]) == 0
    assert cli.main(["a.tif", "--sample", "volume"]) == 0
    assert calls == [("timelapse", [], None), "run", ("volume", ["a.tif"], None), "run"]


def test_sam2_without_torch_says_what_to_install(monkeypatch):
    import sys

    import pytest

    from napari_samlabel.backends.registry import ModelUnavailable, load_backend

    monkeypatch.setitem(sys.modules, "torch", None)  # as on a machine without the sam extra
    monkeypatch.delitem(sys.modules, "napari_samlabel.backends.sam2", raising=False)
    with pytest.raises(ModelUnavailable, match=r"pip install 'napari-samlabel\[sam\]'"):
        load_backend("sam2.1-tiny")
    assert load_backend("seeds").name == "seeds"
