"""OME-Zarr images (OME-NGFF 0.4 on zarr v2, 0.5 on zarr v3): a multiscale pyramid, read lazily.

Each level is a dask array over the zarr array, so napari reads only the chunks it shows
and the session only the full-resolution plane it prompts or tracks on (``levels[0]``);
labels are made at full resolution. The full resolution is found by the arrays' shapes, not
by the order ``datasets`` lists them in (a file that lists them otherwise is read, and said).
Axes, scale and translation come from the ``multiscales`` metadata, each checked (finite
numbers, one per axis, a scale above 0; an error names the file and the field); a channel axis becomes napari's ``channel_axis`` (one layer per
channel, named from ``omero``). Plates and wells (HCS) and labels groups are not read here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .errors import ImageReadError


def multiscales_of(folder: str | Path) -> dict | None:
    """The first ``multiscales`` entry of an OME-Zarr image group, or None (never raises)."""
    folder = Path(folder)
    for name in (".zattrs", "zarr.json"):
        f = folder / name
        if not f.is_file():
            continue
        try:
            attrs = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(attrs, dict):
            return None
        if name == "zarr.json":
            attrs = attrs.get("attributes") or {}
        attrs = attrs.get("ome", attrs)  # 0.5 keeps everything under "ome"
        ms = attrs.get("multiscales") if isinstance(attrs, dict) else None
        if isinstance(ms, list) and ms and isinstance(ms[0], dict) and ms[0].get("datasets"):
            return ms[0]
    return None


def is_ome_zarr(folder: str | Path) -> bool:
    return Path(folder).is_dir() and multiscales_of(folder) is not None


def _axes(ms: dict, ndim: int) -> list[dict]:
    axes = ms.get("axes")
    if not axes:  # 0.1/0.2: t c z y x, the last ndim of them
        return [{"name": n} for n in "tczyx"[-ndim:]]
    return [a if isinstance(a, dict) else {"name": str(a)} for a in axes]


def _metadata_file(folder: Path) -> Path:
    """The file that holds the ``multiscales`` metadata (as :func:`multiscales_of` reads it)."""
    return next((folder / n for n in (".zattrs", "zarr.json") if (folder / n).is_file()), folder)


def _transforms(items, ndim: int, where: str) -> tuple[list[float] | None, list[float] | None]:
    """(scale, translation) of a ``coordinateTransformations`` list, each checked: a scale of
    0, NaN or text made napari fail with a traceback. ``where``: the file and the field."""
    if items is None:
        return None, None
    if not isinstance(items, list):
        raise ImageReadError(f"{where}: {items!r} is not a list")
    scale = translate = None
    for j, t in enumerate(items):
        if not isinstance(t, dict):
            raise ImageReadError(f"{where}[{j}]: {t!r} is not an object")
        if t.get("type") == "scale" and "scale" in t:
            scale = _numbers(t["scale"], ndim, f"{where}[{j}].scale", above_zero=True)
        elif t.get("type") == "translation" and "translation" in t:
            translate = _numbers(t["translation"], ndim, f"{where}[{j}].translation")
    return scale, translate


def _numbers(values, ndim: int, where: str, above_zero: bool = False) -> list[float]:
    """``ndim`` finite numbers (above 0 for a scale), or a one-line error naming ``where``."""
    if not isinstance(values, list):
        raise ImageReadError(f"{where}: {values!r} is not a list of {ndim} numbers")
    if len(values) != ndim:
        raise ImageReadError(f"{where}: {len(values)} numbers for {ndim} axes")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):  # JSON true is no number
            raise ImageReadError(f"{where}: {v!r} is not a number")
        if not math.isfinite(v):
            raise ImageReadError(f"{where}: {v} is not a finite number")
        if above_zero and v <= 0:
            raise ImageReadError(f"{where}: {v} is not above 0")
    return [float(v) for v in values]


def _largest_first(levels: list, datasets: list, where: str) -> list[int]:
    """The levels' indices in ``datasets``, full resolution first, by their arrays' shapes
    (napari's order, and the level the session labels). Refused when they are no pyramid:
    a later level larger than an earlier one along some axis."""
    order = sorted(range(len(levels)), key=lambda i: -math.prod(levels[i].shape))  # stable: ties keep the file's order
    for big, small in zip(order, order[1:]):
        if any(s > b for s, b in zip(levels[small].shape, levels[big].shape)):
            raise ImageReadError(
                f"{where}: datasets[{small}] ({datasets[small]['path']!r}) of shape {tuple(levels[small].shape)} is "
                f"larger than datasets[{big}] ({datasets[big]['path']!r}) of shape {tuple(levels[big].shape)} along "
                "an axis: the levels are no pyramid"
            )
    return order


def read_ome_zarr(path: str | Path) -> list[tuple]:
    """napari layer data tuples for an OME-Zarr image folder (one per channel)."""
    import dask.array as da
    import zarr

    folder = Path(path)
    ms = multiscales_of(folder)
    if ms is None:
        raise ImageReadError(f"{folder}: not an OME-Zarr image (no multiscales metadata)")
    try:
        group = zarr.open_group(str(folder), mode="r")
        levels = [da.from_zarr(group[str(d["path"])]) for d in ms["datasets"]]
    except Exception as e:  # a missing level, a damaged zarr.json
        raise ImageReadError(f"{folder}: cannot be read as OME-Zarr ({type(e).__name__}: {e})") from None
    ndim = levels[0].ndim
    axes = _axes(ms, ndim)
    if len(axes) != ndim or any(lv.ndim != ndim for lv in levels):
        raise ImageReadError(f"{folder}: the metadata names {len(axes)} axes, the arrays have {ndim}")
    where = f"{_metadata_file(folder)}: multiscales[0]"
    order = _largest_first(levels, ms["datasets"], where)
    full = ms["datasets"][order[0]]
    note = "" if order == sorted(order) else (
        f"{folder}: its levels are not listed largest first; read by their shapes: the full resolution is "
        f"{full['path']!r} {tuple(levels[order[0]].shape)}"
    )  # fmt: skip
    levels = [levels[i] for i in order]
    scale, translate = _transforms(full.get("coordinateTransformations"), ndim,
                                   f"{where}.datasets[{order[0]}].coordinateTransformations")  # fmt: skip
    outer_scale, outer_translate = _transforms(ms.get("coordinateTransformations"), ndim,
                                               f"{where}.coordinateTransformations")  # fmt: skip
    scale = scale or [1.0] * ndim
    translate = translate or [0.0] * ndim
    if outer_scale:  # the multiscale-level transform applies after the dataset's
        translate = [t * s for t, s in zip(translate, outer_scale)]
        scale = [a * b for a, b in zip(scale, outer_scale)]
    if outer_translate:
        translate = [a + b for a, b in zip(translate, outer_translate)]
    names = [str(a.get("name", "")) for a in axes]
    channel = next((i for i, a in enumerate(axes) if a.get("type") == "channel" or a.get("name") == "c"), None)
    keep = [i for i in range(ndim) if i != channel]
    meta = {"source": str(folder), "format": "ome-zarr", "axes": [names[i] for i in keep],
            "levels": [list(lv.shape) for lv in levels]}  # fmt: skip
    if note:
        meta["report"] = note  # the reader tells the user
    kwargs = {
        "name": ms.get("name") or folder.name.split(".")[0],
        "scale": [scale[i] for i in keep],
        "translate": [translate[i] for i in keep],
        "metadata": meta,
    }
    if any(a.get("unit") for a in axes):
        kwargs["units"] = [axes[i].get("unit") or "pixel" for i in keep]
    kwargs["axis_labels"] = [names[i] for i in keep]
    data = levels if len(levels) > 1 else levels[0]
    if len(levels) > 1:
        kwargs["multiscale"] = True
    if channel is not None and levels[0].shape[channel] > 1:
        kwargs["channel_axis"] = channel
        omero = _omero(folder)
        labels = [c.get("label") for c in omero.get("channels", [])] if omero else []
        if labels and len(labels) == levels[0].shape[channel]:
            kwargs["name"] = [str(n) for n in labels]
        kwargs["metadata"] = [dict(meta) for _ in range(levels[0].shape[channel])]
    elif channel is not None:  # one channel: not an axis napari needs
        index = tuple(0 if i == channel else slice(None) for i in range(ndim))
        data = [lv[index] for lv in levels] if len(levels) > 1 else levels[0][index]
    return [(data, kwargs, "image")]


def _omero(folder: Path) -> dict | None:
    for name in (".zattrs", "zarr.json"):
        try:
            attrs = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if name == "zarr.json":
            attrs = attrs.get("attributes") or {}
        attrs = attrs.get("ome", attrs)
        if isinstance(attrs.get("omero"), dict):
            return attrs["omero"]
    return None
