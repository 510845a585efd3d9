"""Numpy-only core: no napari, no Qt, no torch."""

from .annotation import Annotation, AnnotationError, ArrayStore
from .compose import Mode
from .instances import Instance, InstanceTable
from .ontology import ObjectClass, Ontology, OntologyError

__all__ = [
    "Annotation", "AnnotationError", "ArrayStore", "Instance", "InstanceTable",
    "Mode", "ObjectClass", "Ontology", "OntologyError",
]  # fmt: skip
