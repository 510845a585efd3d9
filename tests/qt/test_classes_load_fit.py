"""Classes > Load refuses an ontology that does not define values instances hold (issue 22,
item 7): the project saved after it would be refused on opening."""

import json

import numpy as np
from attribute_helpers import ONTOLOGY, square

from napari_samlabel.api import current_session
from napari_samlabel.core.ontology import Ontology


def test_loading_classes_without_an_attribute_in_use_is_refused(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 48, 48), np.float32), name="movie")
    _, classes = viewer.window.add_plugin_dock_widget("napari-samlabel", "Classes")
    classes._ontology.replace_all(Ontology.from_dict(json.loads(json.dumps(ONTOLOGY))))
    classes.start_button.click()
    s = current_session(viewer)
    rec = s.commit(square(10, 10), region=(1,))
    s.annotation.set_attribute(rec.id, "flags", ["edge"])
    other = json.loads(json.dumps(ONTOLOGY))
    other["classes"][0]["attributes"][3]["options"] = ["blurred", "touching"]  # 'edge' is gone
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(other))
    classes._load(str(path))
    assert "'edge' is not one of blurred, touching" in classes.status.text() and str(path) in classes.status.text()
    assert s.ontology["cell"].attributes[3].options == ("blurred", "touching", "edge")
