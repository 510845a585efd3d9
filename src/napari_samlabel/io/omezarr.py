"""OME-Zarr images (OME-NGFF 0.4 on zarr v2, 0.5 on zarr v3): a multiscale pyramid, read lazily.

Each level is a dask array over the zarr array, so napari reads only the chunks it shows
and the session only the full-resolution plane it prompts or tracks on (``levels[0]``);
labels are made at full resolution. Axes, scale and translation come from the
``multiscales`` metadata; a channel axis becomes napari's ``channel_axis`` (one layer per
channel, named from ``omero``). Plates and wells (HCS) and labels groups are not read here.
"""

from __future__ import annotations

import json
from pathlib import Path


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


def _transforms(items) -> tuple[list[float] | None, list[float] | None]:
    scale = translate = None
    for t in items or ():
        if t.get("type") == "scale" and "scale" in t:
            scale = [float(v) for v in t["scale"]]
        elif t.get("type") == "translation" and "translation" in t:
            translate = [float(v) for v in t["translation"]]
    return scale, translate


def read_ome_zarr(path: str | Path) -> list[tuple]:
    """napari layer data tuples for an OME-Zarr image folder (one per channel)."""
    import dask.array as da
    import zarr

    from .errors import ImageReadError

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
    scale, translate = _transforms(ms["datasets"][0].get("coordinateTransformations"))
    outer_scale, outer_translate = _transforms(ms.get("coordinateTransformations"))
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
