"""The error every reader raises for a file it cannot read (its own module: the image
readers and the DICOM reader both raise it, and images dispatches to dicom)."""

from ..core.errors import SamlabelError


class ImageReadError(SamlabelError, ValueError):
    """A file that cannot be read as an image; the message names it and why."""
