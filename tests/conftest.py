import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _own_settings(tmp_path_factory, monkeypatch):
    """Settings the docks keep between sessions (the tracking range) go to a test folder,
    never into the user's ~/.config."""
    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    try:
        from qtpy.QtCore import QSettings
    except Exception:  # no Qt: nothing to isolate
        return
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.NativeFormat, scope, str(folder))
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))


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
