import pytest


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
