"""The "SAM Label" panel: every dock in one slim tabbed side panel that fits a laptop screen.

Each tab is the same widget as the separate dock of that name, inside a scroll area, so
the panel never asks the main window for more height than the screen has (four stacked
docks asked for 1772 px). ``samlabel`` opens this panel; the separate docks stay in
*Plugins > SAM Label* for people who want them side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QSize, Qt
from qtpy.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ._common import StatusLine, compact, release_when_removed
from .three_views import ThreeViews

if TYPE_CHECKING:
    import napari

#: The panel's width: a fifth of the screen, within these bounds. With napari's layer
#: docks (about 330 px) the canvas keeps over half of a 1366 px screen.
MIN_WIDTH, MAX_WIDTH = 300, 400


class SamLabelPanel(QWidget):
    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        from .classes_widget import ClassesWidget
        from .export_widget import ExportWidget
        from .instances_widget import InstancesWidget
        from .segment_widget import SegmentWidget
        from .track_widget import TrackWidget

        self.viewer = napari_viewer
        self.classes = ClassesWidget(napari_viewer)
        self.segment = SegmentWidget(napari_viewer)
        self.instances = InstancesWidget(napari_viewer)
        self.track = TrackWidget(napari_viewer)
        self.export = ExportWidget(napari_viewer)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)  # slimmer tabs: all five fit in 300 px
        self.tabs.tabBar().setExpanding(False)
        self.tabs.tabBar().setStyleSheet("QTabBar::tab { padding: 3px 5px; margin: 0px; min-width: 0px; }")
        self.tabs.setUsesScrollButtons(True)
        for title, widget in (("Classes", self.classes), ("Segment", self.segment),
                              ("Instances", self.instances), ("Track", self.track), ("Export", self.export)):  # fmt: skip
            self.tabs.addTab(_scrolled(compact(widget)), title)

        self.mode_label = QLabel()
        self.keys_button = QPushButton("Keys")
        self.keys_button.setToolTip("Every key the plugin binds")
        self.keys_button.clicked.connect(self.show_shortcuts)
        self.three_views = ThreeViews(napari_viewer)
        self.views_button = QPushButton("3 views")
        self.views_button.setCheckable(True)
        self.views_button.setToolTip("Axial, coronal and sagittal at once: two linked views beside the canvas, "
                                     "one crosshair; prompts, brush and keys work in each")  # fmt: skip
        self.views_button.toggled.connect(self.three_views.set_shown)
        top = QHBoxLayout()
        top.addWidget(self.mode_label, 1)
        top.addWidget(self.views_button)
        top.addWidget(self.keys_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        # A key can start work in a tab not shown (Shift+T from the Segment tab): its
        # messages are echoed here, named by their tab.
        self.echo = StatusLine()
        self.echo.setMaximumHeight(3 * self.echo.fontMetrics().height() + 4)
        layout.addWidget(self.echo)
        for i in range(self.tabs.count()):
            tab = self.tabs.widget(i).widget()
            if hasattr(tab, "status"):
                tab.status.said.connect(lambda text, err, i=i: self._echo(i, text, err))
        self.tabs.currentChanged.connect(lambda _i: self.echo.ok(""))
        self.setMinimumWidth(MIN_WIDTH)
        self.setMaximumWidth(MAX_WIDTH)
        self.segment.sam_mode_changed.connect(self._show_mode)
        self._show_mode(self.segment.sam_mode)
        release_when_removed(self, self.release, forget=self.forget)

    def release(self) -> None:
        """The panel is gone (its X): every tab lets go of its keys, runs and session."""
        self.segment.release()
        self.track.release()
        self.instances.close_links()
        self.export.release()
        self.classes.release()
        self.three_views.close()

    def forget(self) -> None:
        """The window is being destroyed: the same, but the layers stay with the viewer."""
        self.segment.forget()
        self.three_views.forget()
        self.release()

    def sizeHint(self) -> QSize:
        screen = self.screen() if hasattr(self, "screen") and self.screen() is not None else None
        width = screen.availableGeometry().width() if screen is not None else 1920
        return QSize(int(min(max(width * 0.2, MIN_WIDTH), MAX_WIDTH)), 600)

    def _echo(self, tab: int, text: str, error: bool) -> None:
        if tab != self.tabs.currentIndex() and text:
            line = f"{self.tabs.tabText(tab)}: {text}"
            (self.echo.error if error else self.echo.ok)(line)

    def _show_mode(self, on: bool) -> None:
        self.mode_label.setText("SAM mode: <b>on</b> (Shift+A)" if on else "SAM mode: off (Shift+A)")

    def show_shortcuts(self) -> QDialog:
        dialog = shortcuts_dialog(self)
        dialog.show()
        return dialog


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    area.setWidget(widget)
    return area


def shortcuts_dialog(parent: QWidget | None = None) -> QDialog:
    """A table of :data:`napari_samlabel._napari.keys.SHORTCUTS`."""
    from .._napari.keys import SHORTCUTS, key_text

    dialog = QDialog(parent)
    dialog.setWindowTitle("SAM Label: keyboard shortcuts")
    table = QTableWidget(len(SHORTCUTS), 3)
    table.setHorizontalHeaderLabels(["Key", "What it does", "Where"])
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.NoEditTriggers)
    for row, entry in enumerate(SHORTCUTS):
        for col, text in enumerate(entry):
            table.setItem(row, col, QTableWidgetItem(key_text(text) if col == 0 else text))
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
    table.resizeColumnToContents(0)
    table.resizeColumnToContents(2)
    layout = QVBoxLayout(dialog)
    layout.addWidget(table)
    dialog.resize(760, 520)
    dialog.table = table
    return dialog
