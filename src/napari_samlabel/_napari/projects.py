"""Projects reopened into a viewer: over their image, or over the file they record.

No Qt. ``api.open_project`` / ``api.open_project_folder`` and the reader's File > Open of a
project folder both come here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..io import labelstore
from ..io.projectlock import acquire, describe, is_stale, read_owner
from .registry import sessions, unwrap
from .session import AnnotationSession, image_file, new_labels_layer, pixel_hash_of
from .view import labels_shape

MODES = ("write", "read", "copy")

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Image


def open_project(viewer: ViewerModel, image: Image | str, folder: str | Path, mode: str = "write") -> AnnotationSession:
    """Reopen a saved project over its image: labels, classes and instance table as saved.

    An empty session on the image (the one samlabel starts at launch: no instance, no edit)
    gives way: its labels layer is removed, not left beside the project's.

    ``mode`` "write" locks the project for this session (:mod:`..io.projectlock`), or raises
    ``ProjectLocked`` naming who has it open (or saying its folder cannot be written here);
    "read" opens it read-only (saving into it is refused; Save project… elsewhere keeps changes
    elsewhere); "copy" opens an unsaved copy (Save project asks where). Those two keep their
    working array in the cache, never beside the project where the owner's is."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")

    from ..io.project import ProjectError, check_pixels, load_project

    viewer = unwrap(viewer)
    image = unwrap(viewer.layers[image] if isinstance(image, str) else image)
    registry = sessions(viewer)
    for open_one in registry.sessions:  # opening it again would add a second, diverging copy
        if open_one.project_folder is not None and _same_folder(open_one.project_folder, folder):
            registry.set_current(open_one)
            viewer.layers.selection.active = open_one.labels
            open_one.say(f"{Path(folder).name} is already open as {open_one.labels.name!r}.", warn=True)
            return open_one
    labels, ontology, table, meta = load_project(folder)
    if meta.get("image_hash"):  # a lookalike (same name and shape, another file) is another image
        check_pixels(folder, meta, pixel_hash_of(image), "nothing was opened: open its own image first")
    layer = new_labels_layer(image)
    if layer.data.shape != labels.shape:
        raise ProjectError(f"{folder}: labels have shape {labels.shape}, image {image.name!r} {layer.data.shape}")
    lock = acquire(folder) if mode == "write" else None  # ProjectLocked: who has it open
    try:
        layer.data = _working_labels(labels, image, meta, folder, lock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    layer.name = Path(folder).name + (" (copy)" if mode == "copy" else "")
    layer.metadata["source_image"] = meta.get("source_image") or layer.metadata.get("source_image", {})
    blank = [s for s in registry.sessions if s.image is image and _untouched(s)]
    viewer.layers.append(layer)
    session = AnnotationSession(image, labels=layer, ontology=ontology, viewer=viewer, table=table,
                                frame_axis=meta.get("frame_axis", "auto"))  # fmt: skip
    session.project_folder = Path(folder) if mode != "copy" else None  # Save project and autosave write back here
    session.project_lock = lock  # released when the session closes
    if mode == "read":
        owner = read_owner(folder)
        live = owner is not None and not is_stale(owner)
        session.read_only = f"open for writing by {describe(owner)}" if live else "opened read-only"
    session.saved_version = session.version
    sessions(viewer).add(session)
    for empty in blank:  # the registry closes a session whose labels layer goes
        if empty.labels in viewer.layers:
            viewer.layers.remove(empty.labels)
    for note in meta.get("notes", []):  # what opening repaired (classes added) is said
        session.say(note, warn=True)
    return session


def _working_labels(labels, image, meta: dict, folder, lock):
    """Labels on disk are edited in a working array (the project's stay as saved): beside the
    project for the holder of its lock (only one: a second session making its own there would
    replace the first's under it), in the cache otherwise, or where beside cannot be written."""
    if not labelstore.is_on_disk(labels):
        return labels
    key = str(meta.get("image_key") or "")
    if lock is not None:
        try:
            return labelstore.working_copy(labels, image.name, key, folder)
        except OSError:  # the folder the project is in is read-only: the cache serves
            pass
    return labelstore.working_copy(labels, image.name, key)


def open_project_folder(viewer: ViewerModel, folder: str | Path, open_files, mode: str = "write") -> AnnotationSession:
    """A project folder on its own (`samlabel FOLDER`, File > Open): opened over its image, the
    one the viewer has, else the file the project records, opened first. ProjectError saying
    what to open first where neither is there. ``open_files(viewer, paths)`` opens the
    recorded image (the readers' own: passed in, as they open projects through this)."""
    from ..io.project import ProjectError, project_image

    viewer = unwrap(viewer)
    folder = Path(folder)
    name, shape, path = project_image(folder)
    image = _image_for(list(viewer.layers), name, shape, path)
    if image is None and path is not None and path.exists():
        image = _image_for(open_files(viewer, [str(path)]), name, shape, None)
        if image is None:
            raise ProjectError(f"{folder}: its image {path} has no layer of the labels' shape {shape}")
    if image is None:
        why = f"its image {path} is not there" if path is not None else \
            f"it does not record where its image {name!r} ({' x '.join(map(str, shape))}) is"  # fmt: skip
        raise ProjectError(f"{folder}: {why}: open the image first, then Open project… (or: samlabel IMAGE {folder})")
    return open_project(viewer, image, folder, mode)


def _image_for(layers, name: str, shape: tuple, path: Path | None):
    """The image layer a project goes over: of the labels' shape, read from ``path`` (or, with
    no file to tell, named as the project's image); None where none is."""
    from napari.layers import Image  # (not layer._type_string: proxied layers warn on private names)

    fits = [layer for layer in layers if isinstance(layer, Image) and labels_shape(layer) == shape]
    if path is not None:
        return next((layer for layer in fits if image_file(layer) == str(path.resolve())), None)
    return next((layer for layer in fits if layer.name == name), fits[0] if len(fits) == 1 else None)


def _untouched(session: AnnotationSession) -> bool:
    """No instance, nothing to undo or redo, no project: the labels a start made and nobody used."""
    labels = session.labels
    return session.project_folder is None and not session.table.present() and not labels._undo_history \
        and not labels._redo_history  # fmt: skip


def _same_folder(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
