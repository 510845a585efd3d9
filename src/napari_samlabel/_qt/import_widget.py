"""The Import… button of the Export tab: labels made elsewhere (a model's output, a
colleague's labels) into the current session. Thin: ``_napari.importing`` does the work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QWidget

from ..core.errors import message
from ._common import USER_ERRORS, StatusLine, require_session

if TYPE_CHECKING:
    import napari

FILTER = "Labels (*.json *.tif *.tiff *.npy *.nii *.nii.gz *.csv *.zip *.dcm res_track.txt labelmap.txt);;All files (*)"
TIP = (
    "Labels made elsewhere become instances of this session (one Ctrl+Z takes them back):\n"
    "- COCO instances or panoptic JSON\n"
    "- a Cell Tracking Challenge result: pick its res_track.txt (or a maskTTT.tif)\n"
    "- CVAT's Segmentation mask 1.1 (as CVAT or the cvat-mask export writes it): its .zip, or labelmap.txt\n"
    "- a DICOM SEG (.dcm) over the DICOM series open here: segments become classes with their codes\n"
    "- a label image (.tif, .npy, .nii.gz), with a class table .csv (id, class[, confidence, source])\n"
    "  picked with it or named like it\n"
    "Ids already used here are renumbered; locked instances are never overwritten."
)


class ImportControls(QWidget):
    def __init__(self, napari_viewer: napari.Viewer, status: StatusLine | None = None) -> None:
        super().__init__()
        from .._napari.registry import sessions

        self.viewer = napari_viewer
        self.registry = sessions(napari_viewer)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip(TIP)
        self.import_button.clicked.connect(lambda: self.import_labels())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.import_button)
        self.status = status
        if status is None:  # on its own: a status line of its own
            self.status = StatusLine()
            layout.addWidget(self.status, 1)

    def import_labels(self, paths=None):
        """Import ``paths`` (default: ask) into the current session; the report, or None."""
        from napari.utils.notifications import show_warning

        from .._napari.importing import import_into_session

        s = require_session(self.registry, self.status)
        if s is None:
            return None
        if paths is None:
            paths, _ = QFileDialog.getOpenFileNames(self, "Import labels", "", FILTER)
            if not paths:
                return None
        try:
            report = import_into_session(s, paths)
        except (*USER_ERRORS, OSError) as e:  # OSError: a file that cannot be opened
            msg = message(e)
            self.status.error(f"Nothing imported: {msg}")
            show_warning(f"Nothing imported: {msg}")
            return None
        text = report.summary()
        self.status.ok(text[:1].upper() + text[1:] + ".", undo_of=s)  # Ctrl+Z takes the import back
        return report
