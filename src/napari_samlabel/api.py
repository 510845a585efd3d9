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

from ._napari import projects
from ._napari.registry import sessions, unwrap
from ._napari.session import AnnotationSession
from .core import Annotation, AnnotationError, Mode, ObjectClass, Ontology, OntologyError
from .io.projectlock import ProjectLocked

if TYPE_CHECKING:
    from napari.components import ViewerModel
    from napari.layers import Image, Labels

__all__ = [
    "Annotation", "AnnotationError", "AnnotationSession", "Mode", "ObjectClass", "Ontology",
    "OntologyError", "ProjectLocked", "current_session", "import_labels", "open_project", "open_project_folder", "start_session",
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


def open_project(viewer: ViewerModel, image: Image | str, folder: str | Path, mode: str = "write") -> AnnotationSession:
    """Reopen a saved project over its image: labels, classes and instance table as saved.

    An empty session on the image (the one samlabel starts at launch: no instance, no edit)
    gives way: its labels layer is removed, not left beside the project's.

    ``mode``: "write" (locked for this session; :class:`ProjectLocked` naming the owner where
    another has it open), "read" (saving into it refused) or "copy" (saved where you choose)."""
    return projects.open_project(viewer, image, folder, mode)


def open_project_folder(viewer: ViewerModel, folder: str | Path, mode: str = "write") -> AnnotationSession:
    """A project folder on its own (`samlabel FOLDER`, File > Open): opened over its image, the
    one the viewer has, else the file the project records, opened first. ProjectError saying
    what to open first where neither is there; ``mode`` as in :func:`open_project`."""
    from ._reader import open_files  # napari's readers: only once a project asks for its image

    return projects.open_project_folder(viewer, folder, open_files, mode)


def import_labels(session: AnnotationSession, path, class_name: str | None = None, mode: Mode | str = Mode.EXCLUDE):
    """Labels made elsewhere into ``session`` as one undo step: a COCO instances or panoptic
    JSON, a Cell Tracking Challenge result folder, a CVAT "Segmentation mask 1.1" folder or .zip,
    a DICOM SEG over the session's DICOM series, or a label image (.tif, .npy, .nii.gz;
    ``path`` may be a list with its class table .csv). Returns the report (``.summary()``).

    Ids already used in the session are renumbered, classes the ontology lacks are added,
    locked instances are never overwritten; bad input raises naming the file, changing nothing."""
    from ._napari.importing import import_into_session

    return import_into_session(session, path, class_name=class_name, mode=mode)
