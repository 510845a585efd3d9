"""Fixtures shared by every tier: tests/core (numpy only), tests/napari (napari models, no Qt),
tests/qt (docks and the real window), tests/io (readers, exports, third-party judges),
tests/backends (SAM 2, seeds, tracking). Helper modules (window_helpers, sam2_helpers, ...)
sit beside this file and import by bare name (pyproject: pytest ``pythonpath = ["tests"]``)."""

import gc

import numpy as np
import pytest


def pytest_collection_modifyitems(config, items):
    """Every test under tests/qt opens a Qt window (about 1.2 s each on 2 cores): they run in the
    full suite, not in the quick tier (-m "not slow"), which then stays under 2 minutes."""
    for item in items:
        if item.path.parent.name == "qt":
            item.add_marker(pytest.mark.slow)


def pytest_runtest_setup(item):
    """Before a test that makes a napari viewer, freeze what earlier tests left alive, as
    `samlabel` freezes what start-up made: napari runs a full collection each time a layer is
    removed (closing a viewer removes them all), and over a whole test session's heap each one
    took 0.5-1.5 s (120 s of the suite's teardowns). Garbage is collected first; what the test
    makes is collected as usual, so napari's leak checks still see the test's own viewer."""
    if "make_napari_viewer" in item.fixturenames:
        gc.collect()
        gc.freeze()


@pytest.fixture(autouse=True)
def _own_settings(tmp_path_factory, monkeypatch):
    """Settings the docks keep between sessions (the tracking range) go to a test folder,
    never into the user's ~/.config."""
    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    # the cache too (autosaves, which the next start offers to recover): never the user's
    monkeypatch.setenv("SAMLABEL_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        from qtpy.QtCore import QSettings
    except Exception:  # no Qt: nothing to isolate
        return
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.NativeFormat, scope, str(folder))
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """The cache (SAMLABEL_CACHE: checkpoints, working label arrays, undo files) in a test folder,
    never the user's; labels on disk only where a test asks for it."""
    from napari_samlabel.io import labelstore

    monkeypatch.setenv("SAMLABEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(labelstore.ON_DISK_ENV, raising=False)


@pytest.fixture
def classes():
    from napari_samlabel.core import Ontology

    return Ontology.from_dict(
        {
            "classes": [
                {"name": "nucleus", "color": "#ff8800", "kind": "thing", "hotkey": "1"},
                {"name": "cell", "color": "#3cb44b", "kind": "thing", "hotkey": "2"},
                {"name": "background", "color": "#4363d8", "kind": "stuff", "hotkey": "3"},
            ]
        }
    )


@pytest.fixture
def movie():
    """A 14-frame 112 x 112 fluorescence time-lapse of five moving cells (synthetic, with truth).
    Test files that need another movie name theirs differently (``tracking_movie``, ``dock_movie``...)."""
    from napari_samlabel.synthetic import fluorescence_timelapse

    return fluorescence_timelapse(n_frames=14, size=112, n_cells=5, seed=4)


@pytest.fixture(scope="module")
def model():
    """SAM 2.1 tiny at 256 px with seeded random weights (tests/sam2_helpers.py), built once per
    test file; skips where torch or sam2 is not installed."""
    from napari_samlabel.backends.torch_guard import guard_torch_import

    guard_torch_import()  # before torch: a napari test may have loaded Mesa's LLVM
    pytest.importorskip("torch")
    pytest.importorskip("sam2")
    from sam2_helpers import small_model

    return small_model()


@pytest.fixture
def viewer():
    """A napari viewer model without Qt (test modules with a real window override this)."""
    from napari.components import ViewerModel

    return ViewerModel()


@pytest.fixture
def session(viewer, classes):
    """A session on an 8-frame 40 x 50 movie."""
    from napari_samlabel.api import start_session

    image = viewer.add_image(np.random.default_rng(0).random((8, 40, 50)), name="movie")
    return start_session(viewer, image, ontology=classes)
