"""OME-Zarr metadata is checked, not trusted (issue 22, item 9): the full-resolution level is
found by the arrays' shapes whatever order ``datasets`` lists them in (and the user is told
when the order was wrong), and a bad scale or translation is one line naming the file and
the field instead of a traceback."""

import numpy as np
import pytest

from napari_samlabel.io import ImageReadError
from napari_samlabel.io.omezarr import read_ome_zarr


def write_pyramid(path, order=(0, 1), transforms=None, outer=None, version="0.4"):
    """A (t, y, x) movie at full and half resolution, written with zarr; ``order`` lists the
    levels as ``datasets`` names them (0: full resolution); ``transforms[i]``: level i's
    coordinateTransformations (default: scale 0.5 * 2**i on y and x)."""
    import zarr

    movie = np.arange(4 * 32 * 32, dtype=np.uint16).reshape(4, 32, 32)
    levels = [movie, movie[:, ::2, ::2]]
    group = zarr.open_group(str(path), mode="w", zarr_format=2 if version == "0.4" else 3)
    for i, lv in enumerate(levels):
        group.create_array(f"s{i}", shape=lv.shape, dtype=lv.dtype, chunks=(1, 16, 16))[...] = lv
    transforms = transforms or {}
    ms = {
        "version": version, "name": "cells",
        "axes": [{"name": "t", "type": "time"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
        "datasets": [{"path": f"s{i}", "coordinateTransformations": transforms.get(
            i, [{"type": "scale", "scale": [1.0, 0.5 * 2**i, 0.5 * 2**i]}])} for i in order],
    }  # fmt: skip
    if outer is not None:
        ms["coordinateTransformations"] = outer
    if version == "0.4":
        group.attrs["multiscales"] = [ms]
    else:
        group.attrs["ome"] = {"version": version, "multiscales": [ms]}
    return movie


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_levels_listed_smallest_first_are_read_by_their_shapes(tmp_path, version, classes, own_cache):
    """Labels were made on the half-resolution level, without a word, when the smallest
    level came first."""
    from napari.components import ViewerModel
    from napari.layers import Layer

    from napari_samlabel.api import start_session

    movie = write_pyramid(tmp_path / "cells.ome.zarr", order=(1, 0), version=version)
    (data, kwargs, kind), = read_ome_zarr(tmp_path / "cells.ome.zarr")
    assert [d.shape for d in data] == [(4, 32, 32), (4, 16, 16)]
    np.testing.assert_array_equal(np.asarray(data[0][2]), movie[2])
    np.testing.assert_allclose(kwargs["scale"], [1.0, 0.5, 0.5])  # the full-resolution level's own scale
    assert "'s0' (4, 32, 32)" in kwargs["metadata"]["report"] and "not listed largest first" in kwargs["metadata"]["report"]

    viewer = ViewerModel()
    session = start_session(viewer, viewer.add_layer(Layer.create(data, kwargs, kind)), ontology=classes)
    assert session.labels.data.shape == (4, 32, 32)  # labels at full resolution


def test_levels_in_order_say_nothing(tmp_path):
    write_pyramid(tmp_path / "cells.ome.zarr")
    (data, kwargs, _), = read_ome_zarr(tmp_path / "cells.ome.zarr")
    assert [d.shape for d in data] == [(4, 32, 32), (4, 16, 16)] and not kwargs["metadata"].get("report")


def scale(values):
    return {0: [{"type": "scale", "scale": values}]}


def scale_and(extra):
    return {0: [{"type": "scale", "scale": [1.0, 0.5, 0.5]}, extra]}


@pytest.mark.parametrize(
    "transforms, outer, field",
    [
        (scale([1.0, 0.0, 0.5]), None, "datasets[0].coordinateTransformations[0].scale: 0.0 is not above 0"),
        (scale([1.0, -1.0, 0.5]), None, "scale: -1.0 is not above 0"),
        (scale([1.0, "NaN", 0.5]), None, "scale: 'NaN' is not a number"),
        (scale([1.0, float("nan"), 0.5]), None, "scale: nan is not a finite number"),
        (scale([1.0, "abc", 0.5]), None, "scale: 'abc' is not a number"),
        (scale("abc"), None, "scale: 'abc' is not a list of 3 numbers"),
        (scale([1.0, 0.5]), None, "scale: 2 numbers for 3 axes"),
        (scale([1.0, True, 0.5]), None, "scale: True is not a number"),
        (scale_and({"type": "translation", "translation": [0, float("inf"), 0]}), None,
         "coordinateTransformations[1].translation: inf is not a finite number"),
        (scale_and({"type": "translation", "translation": [0, 1]}), None, "translation: 2 numbers for 3 axes"),
        (scale_and({"type": "translation", "translation": None}), None, "translation: None is not a list"),
        ({0: "scale"}, None, "datasets[0].coordinateTransformations: 'scale' is not a list"),
        ({0: ["scale"]}, None, "coordinateTransformations[0]: 'scale' is not an object"),
        ({}, [{"type": "scale", "scale": [1, 0, 1]}], "multiscales[0].coordinateTransformations[0].scale: 0 is not"),
    ],
    ids=["zero", "negative", "nan-text", "nan", "text", "not-a-list", "short", "bool", "translation-inf",
         "translation-short", "translation-none", "transforms-text", "transform-text", "outer-zero"],
)  # fmt: skip
def test_a_bad_scale_or_translation_is_one_line_naming_the_file_and_field(tmp_path, transforms, outer, field):
    # NaN and Infinity are what Python's json writes for them: the reader takes them too
    write_pyramid(tmp_path / "bad.ome.zarr", transforms=transforms, outer=outer)
    with pytest.raises(ImageReadError) as e:
        read_ome_zarr(tmp_path / "bad.ome.zarr")
    said = str(e.value)
    assert "\n" not in said and str(tmp_path / "bad.ome.zarr" / ".zattrs") in said
    assert field in said, said


def test_levels_that_are_no_pyramid_are_refused(tmp_path):
    """One level taller, the other wider: no level is the full resolution."""
    import zarr

    group = zarr.open_group(str(tmp_path / "odd.ome.zarr"), mode="w", zarr_format=2)
    group.create_array("a", shape=(32, 8), dtype="u1")
    group.create_array("b", shape=(8, 32), dtype="u1")
    group.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": "y"}, {"name": "x"}],
                                   "datasets": [{"path": "a"}, {"path": "b"}]}]  # fmt: skip
    with pytest.raises(ImageReadError, match=r"odd.ome.zarr.*datasets\[1\] \('b'\).*\(8, 32\).*larger than.*\(32, 8\)"):
        read_ome_zarr(tmp_path / "odd.ome.zarr")


def test_the_reader_tells_the_user_of_a_reordered_pyramid(tmp_path, monkeypatch):
    from napari_samlabel import _reader

    told = []
    monkeypatch.setattr(_reader, "_tell_user", told.append)
    write_pyramid(tmp_path / "cells.ome.zarr", order=(1, 0))
    _reader.read_ome_zarr_layers(str(tmp_path / "cells.ome.zarr"))
    assert len(told) == 1 and "not listed largest first" in told[0]
