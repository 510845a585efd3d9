"""The errors of reading, importing and exporting files, in their own module: several
modules raise each (images and the DICOM reader it dispatches to; the importer and the
CTC reader it uses), and none of them should import another for its error class."""

from ..core.errors import SamlabelError


class ExportError(SamlabelError, ValueError):
    """Labels that a format cannot hold as they are; the message says what to change."""


class ImageReadError(SamlabelError, ValueError):
    """A file that cannot be read as an image; the message names it and why."""


class LabelImportError(SamlabelError, ValueError):
    """A file that cannot be imported; the message names it and says why."""


class ProjectError(SamlabelError, ValueError):
    """A project folder that cannot be read or written; the message says which and why."""


class DiskFull(SamlabelError, OSError):
    """The disk (or the quota) filled while a file was written; the message names the file, the
    space free and about how much was needed. An OSError, as the full disk's own error is."""
