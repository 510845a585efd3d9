"""Overlay layers (Shapes from instances, Tracks, the slice line) lie on the labels however
the image is placed in the world, and drawn Shapes land where they were drawn."""

import numpy as np
import pytest
from napari.components import ViewerModel

from napari_samlabel._napari.shapes import add_instance_shapes, instances_from_shapes
from napari_samlabel._napari.tracks import add_tracks_layer
from napari_samlabel.api import start_session
from napari_samlabel.core.ontology import Ontology

PLACE = {"scale": (1.0, 2.0, 0.5), "translate": (0.0, 10.0, -4.0), "rotate": 30.0}


@pytest.fixture
def s():
    viewer = ViewerModel()
    layer = viewer.add_image(np.zeros((4, 40, 60), np.float32), **PLACE)
    onto = Ontology()
    onto.add("cell")
    return start_session(viewer, layer, ontology=onto)


def square(shape=(40, 60), r0=10, c0=20, n=8):
    m = np.zeros(shape, bool)
    m[r0 : r0 + n, c0 : c0 + n] = True
    return m


def test_shapes_and_tracks_take_the_labels_place_even_rotated(s):
    a = s.commit(square(), region=(1,))
    s.commit(square(r0=12), region=(2,), label_id=a.id)
    shapes = add_instance_shapes(s, "polygon")
    tracks = add_tracks_layer(s)
    for layer in (shapes, tracks):
        # before: scale and translate only, so over a rotated image the overlay sat 30 degrees off
        assert np.allclose(layer.affine.affine_matrix, s.labels.affine.affine_matrix)
        assert np.allclose(layer._data_to_world.affine_matrix, s.labels._data_to_world.affine_matrix)
    corner = shapes.data_to_world(shapes.data[0][0])
    assert np.allclose(s.labels.world_to_data(corner)[1:], shapes.data[0][0][1:])


def test_a_shape_drawn_in_a_layer_placed_otherwise_lands_where_it_was_drawn(s):
    from napari.layers import Shapes

    # a rectangle around labels pixels rows 10-17, cols 20-27 on frame 2, given in world coordinates
    corners = np.array([[2, 10, 20], [2, 10, 27], [2, 17, 27], [2, 17, 20]], float)
    world = np.array([s.labels.data_to_world(c) for c in corners])
    other = Shapes(ndim=3, scale=(1.0, 3.0, 3.0))  # the user's own layer, another grid
    other.add_rectangles(np.array([other.world_to_data(w) for w in world]))
    (made,) = instances_from_shapes(s, other)
    assert made.frames == {2}
    got = s.labels.data[2] == made.id
    assert got.sum() == 64 and got[10:18, 20:28].all()
    s.labels.undo()
    assert not (s.labels.data == made.id).any()


def test_a_polygon_moved_a_little_moves_every_pixel_of_its_instance(s):
    """Its new pixels beside the old ones are two thin crescents: they were taken for specks that
    other instances left of the mask, and the tips (one pixel each) were not written."""
    yy, xx = np.mgrid[:40, :60]
    a = s.commit(np.hypot(yy - 12, xx - 15) <= 6, region=(1,))  # a one-pixel tip at the top and bottom
    before = s.labels.data.copy()
    shapes = add_instance_shapes(s, "polygon")
    moved = np.array(shapes.data[0])
    moved[:, 2] += 3
    shapes.data = [moved]
    assert [r.id for r in instances_from_shapes(s, shapes)] == [a.id]
    assert np.array_equal(s.labels.data[1] == a.id, np.roll(before[1] == a.id, 3, axis=1))
