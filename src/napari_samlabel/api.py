"""The Python API the dock widgets use; works without Qt (scripts, notebooks).

>>> from napari.components import ViewerModel
>>> from napari_samlabel.api import start_session
>>> viewer = ViewerModel()
>>> image = viewer.add_image(data)                        # doctest: +SKIP
>>> session = start_session(viewer, image, ontology="classes.json")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._napari.registry import sessions, unwrap
from ._napari.session import AnnotationSession
from .core import Annotation, AnnotationError, Mode, ObjectClass, Ontology, OntologyError

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Image, Labels

__all__ = [
    "Annotation", "AnnotationError", "AnnotationSession", "Mode", "ObjectClass", "Ontology",
    "OntologyError", "current_session", "import_labels", "open_project", "open_project_folder", "start_session",
]  # fmt: skip


def start_session(
    viewer: ViewerModel,
    image: Image | str,
    labels: Labels | str | None = None,
    ontology: Ontology | str | Path | None = None,
) -> AnnotationSession:
    """Bind an image layer to a new (or adopted) Labels layer and make it current.

    Starting again on an image that already has a session returns that session.
    """
    viewer = unwrap(viewer)
    if isinstance(image, str):
        image = viewer.layers[image]
    if isinstance(labels, str):
        labels = viewer.layers[labels]
    image, labels = unwrap(image), unwrap(labels)
    registry = sessions(viewer)
    existing = registry.for_layer(labels if labels is not None else image)
    if existing is not None and (labels is None or existing.labels is labels):
        registry.set_current(existing)
        return existing
    session = AnnotationSession(image, labels=labels, ontology=ontology, viewer=viewer)
    registry.add(session)
    return session


def current_session(viewer: ViewerModel) -> AnnotationSession | None:
    return sessions(viewer).current


def open_project(viewer: ViewerModel, image: Image | str, folder: str | Path) -> AnnotationSession:
    """Reopen a saved project over its image: labels, classes and instance table as saved.

    An empty session on the image (the one samlabel starts at launch: no instance, no edit)
    gives way: its labels layer is removed, not left beside the project's."""

    from ._napari.session import new_labels_layer
    from .io.project import ProjectError, load_project

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
    layer = new_labels_layer(image)
    if layer.data.shape != labels.shape:
        raise ProjectError(f"{folder}: labels have shape {labels.shape}, image {image.name!r} {layer.data.shape}")
    layer.data = labels
    layer.name = Path(folder).name
    layer.metadata["source_image"] = meta.get("source_image") or layer.metadata.get("source_image", {})
    blank = [s for s in registry.sessions if s.image is image and _untouched(s)]
    viewer.layers.append(layer)
    session = AnnotationSession(image, labels=layer, ontology=ontology, viewer=viewer, table=table,
                                frame_axis=meta.get("frame_axis", "auto"))  # fmt: skip
    session.project_folder = Path(folder)  # Save project and autosave write back here
    session.saved_version = session.version
    sessions(viewer).add(session)
    for empty in blank:  # the registry closes a session whose labels layer goes
        if empty.labels in viewer.layers:
            viewer.layers.remove(empty.labels)
    for note in meta.get("notes", []):  # what opening repaired (classes added) is said
        session.say(note, warn=True)
    return session


def open_project_folder(viewer: ViewerModel, folder: str | Path) -> AnnotationSession:
    """A project folder on its own (`samlabel FOLDER`, File > Open): opened over its image, the
    one the viewer has, else the file the project records, opened first. ProjectError saying
    what to open first where neither is there."""
    from .cli import open_files
    from .io.project import ProjectError, project_image

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
    return open_project(viewer, image, folder)


def _image_for(layers, name: str, shape: tuple, path: Path | None):
    """The image layer a project goes over: of the labels' shape, read from ``path`` (or, with
    no file to tell, named as the project's image); None where none is."""
    from napari.layers import Image  # (not layer._type_string: proxied layers warn on private names)

    from ._napari.session import image_file
    from ._napari.view import labels_shape

    fits = [layer for layer in layers if isinstance(layer, Image) and labels_shape(layer) == shape]
    if path is not None:
        return next((layer for layer in fits if image_file(layer) == str(path.resolve())), None)
    return next((layer for layer in fits if layer.name == name), fits[0] if len(fits) == 1 else None)


def _untouched(session: AnnotationSession) -> bool:
    """No instance, nothing to undo or redo, no project: the labels a start made and nobody used."""
    labels = session.labels
    return session.project_folder is None and not session.table.present() and not labels._undo_history \
        and not labels._redo_history  # fmt: skip


def import_labels(session: AnnotationSession, path, class_name: str | None = None, mode: Mode | str = Mode.EXCLUDE):
    """Labels made elsewhere into ``session`` as one undo step: a COCO instances or panoptic
    JSON, a Cell Tracking Challenge result folder, a CVAT "Segmentation mask 1.1" folder or .zip,
    or a label image (.tif, .npy, .nii.gz;
    ``path`` may be a list with its class table .csv). Returns the report (``.summary()``).

    Ids already used in the session are renumbered, classes the ontology lacks are added,
    locked instances are never overwritten; bad input raises naming the file, changing nothing."""
    from ._napari.importing import import_into_session

    return import_into_session(session, path, class_name=class_name, mode=mode)


def _same_folder(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
