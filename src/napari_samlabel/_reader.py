"""npe2 readers: DICOM (file, folder, list), NIfTI, OME-Zarr (a multiscale image folder,
read lazily) and samlabel project folders (their image, with the labels over it). Sniff
cheaply; None for anything else."""

from __future__ import annotations

from pathlib import Path


def _layer(data, meta: dict, default_name: str):
    from .io.geometry import Geometry

    geo = Geometry.from_meta(meta["geometry"]) if meta.get("geometry") else None
    kwargs = {"name": meta.get("name") or default_name, "metadata": dict(meta)}
    rgb = bool(meta.get("rgb"))
    ndim = data.ndim - 1 if rgb else data.ndim  # napari's axes: the colour channel is not one
    if rgb:
        kwargs["rgb"] = True
    spatial = min(ndim, 3)
    if geo is not None and ndim >= 2:
        lead = ndim - spatial
        step = [float(meta.get("time_step", 1.0))] * lead
        kwargs["scale"] = step + list(geo.napari_scale())[-spatial:]
        kwargs["translate"] = [0.0] * lead + list(geo.napari_translate())[-spatial:]
    if meta.get("window"):
        kwargs["contrast_limits"] = tuple(meta["window"])
    if meta.get("invert"):
        kwargs["colormap"] = "gray_r"  # MONOCHROME1: low values are white
    return (data, kwargs, "image")


def _tell_user(message: str | None) -> None:
    """What was skipped or opened with a caveat: one napari notification, and the log (the
    terminal of `samlabel FILE`)."""
    if not message:
        return
    import logging

    logging.getLogger("napari_samlabel").warning(message)
    try:
        from napari.utils.notifications import show_warning
    except ImportError:
        return
    show_warning(message)


def read_dicom_layers(path):
    from .io.dicom import read_dicom, report

    volumes = read_dicom(path)
    _tell_user(report(volumes, path))
    _orient_current_viewer()
    return _overlaid([_layer(vol, meta, "DICOM") for vol, meta in volumes], _current_viewer())


def read_one_series(path, series_uid: str):
    """Only the series the user picked (see the Classes dock's "Open DICOM series…")."""
    from .io.dicom import read_dicom, report

    volumes = read_dicom(path, series_uid)
    _tell_user(report(volumes, path))
    return _overlaid([_layer(vol, meta, "DICOM") for vol, meta in volumes], _current_viewer())


def read_nifti_layers(path):
    from .io.images import read_image

    data, meta = read_image(path)
    _orient_current_viewer()
    return _overlaid([_layer(data, meta, Path(str(path)).name.split(".")[0])], _current_viewer())


def _current_viewer():
    try:
        from napari import current_viewer
    except ImportError:
        return None
    return current_viewer()


def _patient_geometry(meta: dict | None, rgb: bool = False):
    """The Geometry of a grey patient image (colour pictures and images without geometry: None)."""
    from .io.geometry import Geometry

    meta = meta or {}
    if rgb or meta.get("rgb") or not meta.get("geometry"):
        return None
    try:
        return Geometry.from_meta(meta["geometry"])
    except (KeyError, ValueError, TypeError):
        return None


def _reference_in(viewer):
    """The patient image new ones are drawn over, as (frame, name): the current session's
    image, else the first visible grey image with patient geometry, else the first; None
    when the viewer has none."""
    if viewer is None:
        return None
    from napari.layers import Image

    from ._napari.registry import _REGISTRY
    from .io.placement import layer_frame

    def geometry(layer):
        return _patient_geometry(getattr(layer, "metadata", None), getattr(layer, "rgb", False))

    registry = _REGISTRY.get(viewer)
    current = registry.current.image if registry is not None and registry.current is not None else None
    images = [la for la in viewer.layers if isinstance(la, Image) and geometry(la) is not None]
    ranked = ([current] if current in images else []) + [la for la in images if la.visible] + images
    if not ranked:
        return None
    ref = ranked[0]
    spatial = min(ref.ndim, 3)
    return layer_frame(geometry(ref), list(ref.scale)[-spatial:], list(ref.translate)[-spatial:]), ref.name


def _overlaid(layers: list, viewer=None) -> list:
    """Each patient image layer placed in the world of the reference, so that one patient point
    has one world coordinate in all (as Slicer overlays series of one study): the reference is
    the patient image already in ``viewer`` (see ``_reference_in``), else the first of
    ``layers``. Axes that run the other way get a negative scale (napari slices and draws
    that correctly); a series cut in another plane or tilted from the reference cannot be
    overlaid by napari: it is added hidden, placed alone, and one line says which and why
    (``io/placement.py``)."""
    from .io.placement import not_overlaid, own_frame, place, plane_of

    ref = _reference_in(viewer)
    refused = []
    for data, kwargs, _kind in layers:
        geo = _patient_geometry(kwargs.get("metadata"), kwargs.get("rgb", False))
        scale = list(kwargs.get("scale", ()))
        ndim = len(scale)
        if geo is None or ndim < 2:
            continue
        spatial = min(ndim, 3)
        if ref is None:  # the first of those opened together: placed alone, as always
            ref = own_frame(geo), kwargs["name"]
            continue
        frame, ref_name = ref
        p = place(geo, frame, tuple(data.shape)[ndim - spatial : ndim])
        if p.refused:
            kwargs["visible"] = False
            refused.append((kwargs["name"], plane_of(geo.direction[:, 2]), p.refused))
        kwargs["scale"] = scale[: ndim - spatial] + list(p.scale)[-spatial:]
        kwargs["translate"] = list(kwargs["translate"])[: ndim - spatial] + list(p.translate)[-spatial:]
    if refused:
        _tell_user(not_overlaid(refused, ref[1], ref[0].plane))
    return layers


def _orient_current_viewer() -> None:
    """A patient image opened with File > Open shows the radiological convention at once
    (superior up, patient letters, slider names: ``_napari/orientation.py``): the window's
    per-viewer owner is made now, and orients the layer napari is about to add."""
    from napari import current_viewer

    viewer = current_viewer()
    if viewer is not None:
        from ._napari.registry import sessions

        sessions(viewer)


def read_ome_zarr_layers(path):
    """An OME-Zarr image folder as a lazy multiscale layer (see ``io.omezarr``)."""
    from .io.omezarr import read_ome_zarr

    layers = read_ome_zarr(path[0] if isinstance(path, list) else path)
    meta = layers[0][1]["metadata"]  # one dict, or one per channel: the same words in each
    _tell_user((meta[0] if isinstance(meta, list) else meta).get("report"))
    return layers


SNIFF_LIMIT = 2000  # files looked at before saying a folder holds no DICOM


def _is_dicomdir(p: Path) -> bool:
    return p.name.upper() == "DICOMDIR" and p.is_file()


def _folder_has_dicom(folder: Path) -> bool:
    """Stops at the first DICOM file (a DICOMDIR tree answers at once), never scans a huge
    non-DICOM tree to the end."""
    from .io.dicom import is_dicom_file

    for n, f in enumerate(folder.rglob("*")):
        if n >= SNIFF_LIMIT:
            return False
        if f.is_file() and is_dicom_file(f):
            return True
    return False


def open_project_in(viewer, folder) -> None:
    """A project folder over its image in ``viewer`` (see ``api.open_project_folder``); where it
    cannot be, what to open first is said in one line, never raised: `samlabel FOLDER` opens
    its window all the same, and napari's File > Open shows no traceback."""
    from ._napari.projects import open_project_folder
    from .core.errors import SamlabelError, message
    from .io.projectlock import ProjectLocked, describe

    try:
        try:
            open_project_folder(viewer, folder, open_files)
        except ProjectLocked as e:  # another session has it open: read-only harms nobody, and says so
            open_project_folder(viewer, folder, open_files, mode="read")
            why = f"open for writing by {describe(e.owner)}" if e.owner else "its folder cannot be written here"
            # the meaning first: napari's notification shows the start of a long line only
            _tell_user(f"Opened read-only: {why} ({e.folder}); Save project… to another folder keeps your changes")
    except SamlabelError as e:
        _tell_user(message(e))


def read_project_folder(path):
    """File > Open of a project folder: its image and labels go into the window it was opened
    in; napari adds nothing more (the null layer ``[(None,)]``)."""
    return _into_current_viewer(path, open_project_in, "a samlabel project opens in a viewer window (samlabel {})")


def _into_current_viewer(path, open_in, no_window: str):
    """``open_in(viewer, path)`` in the window File > Open was used in (one line where there is
    none); napari adds nothing more: the null layer ``[(None,)]``."""
    from napari import current_viewer

    path = str(path[0] if isinstance(path, list) else path)
    viewer = current_viewer()
    if viewer is None:
        _tell_user(f"{path}: " + no_window.format(path))
    else:
        open_in(viewer, path)
    return [(None,)]


def read_dicomdir_folder(path):
    """A DICOMDIR file stands for its folder: every series under it."""
    paths = path if isinstance(path, list) else [path]
    return read_dicom_layers(str(Path(str(paths[0])).parent))


def open_seg_in(viewer, path) -> None:
    """A DICOM SEG onto the labeling session of the series it segments (as Import… does);
    where there is none, one line says what to open first, never raised."""
    import pydicom

    from ._napari.importing import import_into_session
    from ._napari.registry import sessions
    from .core.errors import SamlabelError, message

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        refs = sorted({str(s.SeriesInstanceUID) for s in ds.get("ReferencedSeriesSequence", [])})
        found = [s for s in sessions(viewer).sessions
                 if s.labels.metadata.get("source_image", {}).get("series_uid") in refs]  # fmt: skip
        if not found:
            _tell_user(f"{path}: a DICOM SEG of series {', '.join(refs) or '(none named)'}; open that series and "
                       "start labeling it, then open the SEG")  # fmt: skip
            return
        import_into_session(found[0], path)
    except (SamlabelError, OSError, pydicom.errors.InvalidDicomError) as e:
        _tell_user(message(e) if isinstance(e, SamlabelError) else f"{path}: cannot be read ({e})")


def read_seg_onto_session(path):
    """File > Open of a DICOM SEG: its segments into the open session of its series (napari
    adds no layer: the null layer ``[(None,)]``)."""
    return _into_current_viewer(path, open_seg_in, "a DICOM SEG opens onto its series in a viewer window")


def napari_get_reader(path):
    """DICOM files/folders (DICOMDIR included), NIfTI files, OME-Zarr image folders and samlabel
    project folders; None for anything else (never raises).

    The manifest claims only these names (.dcm, .dicom, .ima, .nii, .nii.gz, extensionless
    names of up to 8 characters as DICOM media use, and folders), so napari's File > Open
    never asks "choose a reader" for a .tif or .png because of this plugin."""
    from .io.dicom import is_dicom_file

    paths = path if isinstance(path, list) else [path]
    try:
        ps = [Path(str(p)) for p in paths]
        if not ps:
            return None
        if all(p.name.lower().endswith((".nii", ".nii.gz")) and p.is_file() for p in ps) and len(ps) == 1:
            return read_nifti_layers
        if len(ps) == 1 and _is_dicomdir(ps[0]):
            return read_dicomdir_folder
        if len(ps) == 1 and ps[0].is_dir():
            from .io.omezarr import is_ome_zarr
            from .io.project import is_project

            if is_project(ps[0]):  # napari's own reader took it for a stack of images and failed
                return read_project_folder
            if is_ome_zarr(ps[0]):  # before the DICOM sniff: a pyramid's thousands of chunk files
                return read_ome_zarr_layers
        if len(ps) == 1 and ps[0].is_file():
            from .io.importing import is_dicom_seg

            if is_dicom_seg(ps[0]):  # labels, not an image: onto the session of its series
                return read_seg_onto_session
        if all(p.is_file() and is_dicom_file(p) for p in ps):
            return read_dicom_layers
        if len(ps) == 1 and ps[0].is_dir() and _folder_has_dicom(ps[0]):
            return read_dicom_layers
    except OSError:
        return None
    return None


# -- opening paths into a viewer as `samlabel FILE...` does --------------------------------
PLUGIN = "napari-samlabel"


def open_files(viewer, files) -> list:
    """Open paths the way ``samlabel FILE...`` does: the plugin's reader for what it claims
    (DICOM files and folders, DICOMDIR, NIfTI: spacing, origin and metadata["geometry"]
    kept, so NIfTI and DICOM SEG exports keep the geometry), napari's usual choice for the
    rest. DICOM slices given one by one are read together, one layer per series. A project
    folder opens last, over its image (given with it, or the file it records)."""
    paths = [str(f) for f in files]
    readers = {p: napari_get_reader(p) for p in paths}
    slices = [p for p in paths if readers[p] is read_dicom_layers and Path(p).is_file()]
    projects = [p for p in paths if readers[p] is read_project_folder]
    added, slices_done = [], False
    for p in paths:
        if p in projects:
            continue
        if readers[p] is None:
            added += _open_with_napari(viewer, p)
        elif p in slices and len(slices) > 1:
            if not slices_done:
                added += _open_with_plugin(viewer, slices)
                slices_done = True
        else:
            added += _open_with_plugin(viewer, [p])
    for p in projects:
        before = list(viewer.layers)
        open_project_in(viewer, p)
        added += [layer for layer in viewer.layers if layer not in before]
    return added


def _open_with_plugin(viewer, paths: list[str]) -> list:
    """Through napari (layer source, progress) when npe2's name patterns let it; otherwise
    (a long extensionless DICOM name, slices with mixed suffixes) the same reader, called here."""
    from npe2 import PluginManager

    try:
        claimed = any(r.plugin_name == PLUGIN for r in PluginManager.instance().iter_compatible_readers(paths))
    except ValueError:  # npe2 refuses a stack whose names have different suffixes
        claimed = False
    if claimed:
        return viewer.open(paths if len(paths) > 1 else paths[0], stack=len(paths) > 1, plugin=PLUGIN)
    from napari.layers import Layer

    reader = napari_get_reader(paths if len(paths) > 1 else paths[0])
    return [viewer.add_layer(Layer.create(*ld)) for ld in reader(paths if len(paths) > 1 else paths[0])]


def _open_with_napari(viewer, path: str) -> list:
    """The user's saved reader choice or the only reader; napari's own when several claim it."""
    from napari.errors import MultipleReaderError

    try:
        return viewer.open(path, plugin=None)
    except MultipleReaderError as e:
        choices = list(e.available_plugins)
        return viewer.open(path, plugin="napari" if "napari" in choices else choices[0])
