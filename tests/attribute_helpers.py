"""An ontology with attributes and classifications, and a square mask: shared by the attribute
tests of the napari tier and the Attributes dock's tests of the Qt tier (a test module importing
another by bare name only worked when both tiers were collected together)."""

import numpy as np

ONTOLOGY = {
    "classes": [
        {"name": "cell", "color": "#ff8800", "kind": "thing", "hotkey": "1", "attributes": [
            {"name": "phase", "type": "one-of", "options": ["G1", "S", "G2", "M"], "dynamic": True},
            {"name": "note", "type": "text"},
            {"name": "area guess", "type": "number"},
            {"name": "flags", "type": "any-of", "options": ["blurred", "touching", "edge"]},
        ]},
        {"name": "debris", "color": "#4363d8", "kind": "thing", "hotkey": "2"},
    ],
    "classifications": [
        {"name": "quality", "type": "one-of", "options": ["good", "blurred"]},
        {"name": "contains mitosis", "type": "one-of", "options": ["yes", "no"]},
    ],
}  # fmt: skip


def square(y, x, r=4, shape=(48, 48)):
    m = np.zeros(shape, bool)
    m[y - r : y + r, x - r : x + r] = True
    return m
