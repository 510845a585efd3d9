"""The error every reader raises for a file it cannot read (its own module: the image
readers and the DICOM reader both raise it, and images dispatches to dicom)."""

from ..core.errors import SamlabelError


class ExportError(SamlabelError, ValueError):
    """Labels that a format cannot hold as they are; the message says what to change."""


class ImageReadError(SamlabelError, ValueError):
    """A file that cannot be read as an image; the message names it and why."""
