"""A model that labels but does not track (SAM 3's concept model) says so when asked to track,
in one line naming what to load, instead of an AttributeError."""

import pytest

from napari_samlabel._napari.registry import sessions
from napari_samlabel.core.errors import SamlabelError


class LabelOnlyDouble:
    """Test double: a backend with no tracker, as SAM 3 from a concept-only folder is."""

    name = "sam3"

    def segment_all(self, rgb):
        return []


def test_tracking_with_a_labelling_only_model_says_what_to_load(viewer):
    registry = sessions(viewer)
    registry.backend = LabelOnlyDouble()
    with pytest.raises(SamlabelError, match="sam3 labels but does not track: load a SAM 2 model"):
        registry.tracker()
    registry.backend = None
    assert registry.tracker() is not None, "the weight-free model tracks"
