"""The "Instances" dock: every object by class, and the bulk edits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from ..core.instances import format_frames
from ._common import StatusLine, guarded

if TYPE_CHECKING:
    import napari

    from .._napari.session import AnnotationSession

ALL_FRAMES, CURRENT_FRAME = "All frames", "Current frame"
COLUMNS = ["Instance", "Frames", "Conf.", "Source", "Status", "Lock"]
COL_NAME, COL_FRAMES, COL_CONF, COL_SOURCE, COL_STATUS, COL_LOCK = range(6)
ID_ROLE = Qt.UserRole

OP_DELETE_CLASS = "Delete all of a class"
OP_DELETE_BELOW = "Delete below confidence"
OP_DELETE_ALL = "Delete everything"
OP_COPY = "Copy selected to frames"
OP_SPLIT = "Split selected at current frame"
OPERATIONS = (OP_DELETE_CLASS, OP_DELETE_BELOW, OP_DELETE_ALL, OP_COPY, OP_SPLIT)


class InstancesWidget(QWidget):
    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        from .._napari.registry import sessions

        self.viewer = napari_viewer
        self.registry = sessions(napari_viewer)
        self._session: AnnotationSession | None = None
        self._building = False

        self.filter_combo = QComboBox()
        self.filter_combo.addItems([ALL_FRAMES, CURRENT_FRAME])
        self.filter_combo.currentTextChanged.connect(self.refresh)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.tree.setMinimumHeight(220)
        self.tree.itemClicked.connect(self._on_clicked)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.itemSelectionChanged.connect(self._share_selection)
        self.tree.setContextMenuPolicy(Qt.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)

        self.delete_button = QPushButton("Delete")
        self.merge_button = QPushButton("Merge")
        self.class_combo = QComboBox()
        self.change_class_button = QPushButton("Set class")
        self.delete_button.clicked.connect(self._delete_selected)
        self.merge_button.clicked.connect(self._merge_selected)
        self.change_class_button.clicked.connect(self._change_class)
        row = QHBoxLayout()
        for w in (self.delete_button, self.merge_button, self.class_combo, self.change_class_button):
            row.addWidget(w)

        # -- bulk edit
        self.first_spin, self.last_spin = QSpinBox(), QSpinBox()
        self.current_button = QPushButton("Current")
        self.all_button = QPushButton("All")
        self.current_button.clicked.connect(self._range_current)
        self.all_button.clicked.connect(self._range_all)
        frames = QHBoxLayout()
        for w in (self.first_spin, self.last_spin, self.current_button, self.all_button):
            frames.addWidget(w)
        self.op_combo = QComboBox()
        self.op_combo.addItems(OPERATIONS)
        self.bulk_class_combo = QComboBox()
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(0.5)
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self._apply_bulk)
        bulk_form = QFormLayout()
        bulk_form.addRow("Frames", frames)
        bulk_form.addRow("Operation", self.op_combo)
        bulk_form.addRow("Class", self.bulk_class_combo)
        bulk_form.addRow("Below", self.threshold_spin)
        bulk_form.addRow(self.apply_button)
        bulk_box = QWidget()
        bulk_box.setLayout(bulk_form)
        self.bulk = QCollapsible("Bulk edit")
        self.bulk.addWidget(bulk_box)
        self.bulk.expand(animate=False)

        self.status = StatusLine()
        top = QFormLayout()
        top.addRow("Show", self.filter_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        layout.addWidget(self.bulk)
        layout.addWidget(self.status)

        napari_viewer.dims.events.current_step.connect(self._on_step)
        self.registry.current_changed.connect(self._set_session)
        self._set_session(self.registry.current)

    # -- session -----------------------------------------------------------
    def _set_session(self, session: AnnotationSession | None) -> None:
        if self._session is not None:
            self._session.annotation.changed.disconnect(self.refresh)
            self._session.ontology.changed.disconnect(self.refresh)
        self._session = session
        if session is not None:
            session.annotation.changed.connect(self.refresh)
            session.ontology.changed.connect(self.refresh)
            self._range_all()
        self.refresh()

    def _on_step(self, event=None) -> None:
        if self.filter_combo.currentText() == CURRENT_FRAME:
            self.refresh()

    # -- list --------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        return sorted(it.data(COL_NAME, ID_ROLE) for it in self.tree.selectedItems() if it.data(COL_NAME, ID_ROLE))

    def refresh(self, *_args) -> None:
        s = self._session
        keep = set(self.selected_ids())
        self._building = True
        try:
            self.tree.clear()
            for combo in (self.class_combo, self.bulk_class_combo):
                current = combo.currentText()
                combo.clear()
                if s is not None:
                    combo.addItems(s.ontology.names)
                    if current in s.ontology:
                        combo.setCurrentText(current)
            if s is None:
                return
            frame = s.current_frame() if self.filter_combo.currentText() == CURRENT_FRAME else None
            for cls in s.ontology:
                recs = [r for r in s.table.of_class(cls.name) if frame is None or frame in r.frames]
                if not recs:
                    continue
                group = QTreeWidgetItem([f"{cls.title} ({len(recs)})"])
                group.setForeground(COL_NAME, _brush(cls.color))
                group.setFlags(group.flags() & ~Qt.ItemIsSelectable)
                self.tree.addTopLevelItem(group)
                for r in sorted(recs, key=lambda r: r.id):
                    item = QTreeWidgetItem(
                        [r.name, format_frames(r.frames), f"{r.mean_confidence:.2f}", r.sources, r.status, ""]
                    )
                    item.setData(COL_NAME, ID_ROLE, r.id)
                    item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                    item.setCheckState(COL_NAME, Qt.Checked if r.visible else Qt.Unchecked)
                    item.setCheckState(COL_LOCK, Qt.Checked if r.locked else Qt.Unchecked)
                    item.setToolTip(COL_NAME, "Tick to show, untick to hide")
                    group.addChild(item)
                    item.setSelected(r.id in keep)
                group.setExpanded(True)
            for col in range(len(COLUMNS)):
                self.tree.resizeColumnToContents(col)
            n = s.annotation.n_frames - 1
            for spin in (self.first_spin, self.last_spin):
                spin.setRange(0, n)
        finally:
            self._building = False

    def _share_selection(self) -> None:
        if self._session is not None and not self._building:
            self._session.set_selection(self.selected_ids())

    def _on_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        label_id = item.data(COL_NAME, ID_ROLE)
        if label_id and self._session is not None and column not in (COL_LOCK,):
            self._session.select_instance(label_id, jump=True)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        label_id = item.data(COL_NAME, ID_ROLE)
        if self._building or not label_id or self._session is None:
            return
        ann = self._session.annotation
        if column == COL_NAME:
            ann.set_visible([label_id], item.checkState(COL_NAME) == Qt.Checked)
        elif column == COL_LOCK:
            ann.set_locked([label_id], item.checkState(COL_LOCK) == Qt.Checked)

    def review_actions(self) -> dict:
        """What the right-click menu offers for the selected instances."""
        ann = self._session.annotation
        return {
            "Accept": lambda ids: ann.set_status(ids, "accepted"),
            "Reject": lambda ids: ann.set_status(ids, "rejected"),
            "Mark unreviewed": lambda ids: ann.set_status(ids, "unreviewed"),
            "Lock": lambda ids: ann.set_locked(ids, True),
            "Unlock": lambda ids: ann.set_locked(ids, False),
            "Show": lambda ids: ann.set_visible(ids, True),
            "Hide": lambda ids: ann.set_visible(ids, False),
        }

    def _context_menu(self, pos) -> None:
        from qtpy.QtWidgets import QMenu

        ids = self.selected_ids()
        if not ids or self._session is None:
            return
        menu = QMenu(self)
        for text, fn in self.review_actions().items():
            menu.addAction(text, lambda fn=fn: fn(ids))
        menu.addSeparator()
        menu.addAction("Delete", self._delete_selected)
        menu.exec_(self.tree.viewport().mapToGlobal(pos))

    # -- actions on the selection ----------------------------------------
    def _need_selection(self, at_least: int = 1) -> list[int] | None:
        ids = self.selected_ids()
        if self._session is None:
            self.status.error("No session: start annotating in the Classes dock.")
            return None
        if len(ids) < at_least:
            self.status.error(f"Select at least {at_least} instance(s) in the list.")
            return None
        return ids

    def _delete_selected(self) -> None:
        ids = self._need_selection()
        if ids and guarded(self.status, self._session.annotation.delete, ids) is not None:
            self.status.ok(f"Deleted {len(ids)} instance(s). Ctrl+Z on the labels layer undoes it.")

    def _merge_selected(self) -> None:
        ids = self._need_selection(2)
        if ids and guarded(self.status, self._session.annotation.merge, ids) is not None:
            self.status.ok(f"Merged {len(ids)} instances into {self._session.table[ids[0]].name}.")

    def _change_class(self) -> None:
        ids = self._need_selection()
        name = self.class_combo.currentText()
        if ids and guarded(self.status, self._session.annotation.change_class, ids, name) is not None:
            self.status.ok(f"{len(ids)} instance(s) are now {name}.")

    # -- bulk edit -------------------------------------------------------
    def frame_span(self) -> range:
        lo, hi = sorted((self.first_spin.value(), self.last_spin.value()))
        return range(lo, hi + 1)

    def _range_current(self) -> None:
        if self._session is not None:
            f = self._session.current_frame()
            self.first_spin.setValue(f)
            self.last_spin.setValue(f)

    def _range_all(self) -> None:
        if self._session is not None:
            n = self._session.annotation.n_frames - 1
            self.first_spin.setRange(0, n)
            self.last_spin.setRange(0, n)
            self.first_spin.setValue(0)
            self.last_spin.setValue(n)

    def _apply_bulk(self) -> None:
        s = self._session
        if s is None:
            self.status.error("No session: start annotating in the Classes dock.")
            return
        op, span, ann = self.op_combo.currentText(), self.frame_span(), s.annotation
        where = f"frames {span.start}-{span.stop - 1}"
        if op == OP_DELETE_CLASS:
            n = guarded(self.status, ann.delete_class, self.bulk_class_combo.currentText(), span)
        elif op == OP_DELETE_BELOW:
            n = guarded(self.status, ann.delete_below, self.threshold_spin.value(), span)
        elif op == OP_DELETE_ALL:
            n = guarded(self.status, ann.delete_all, span)
        elif op == OP_COPY:
            ids = self._need_selection()
            if not ids:
                return
            n = guarded(self.status, _one_step, ann, lambda: sum(ann.copy_to_frames(i, s.current_frame(), span) for i in ids))
        else:
            ids = self._need_selection()
            if not ids:
                return
            new = guarded(self.status, _one_step, ann, lambda: [ann.split(i, s.current_frame()) for i in ids])
            if new is not None:
                self.status.ok(f"Split into {', '.join(r.name for r in new)} from frame {s.current_frame()}.")
            return
        if n is not None:
            self.status.ok(f"{op}: {n} pixels changed on {where}.")


def _one_step(annotation, fn):
    """Several core calls as one user action (one Ctrl+Z)."""
    with annotation.action():
        return fn()


def _brush(color: str):
    from qtpy.QtGui import QBrush, QColor

    return QBrush(QColor(color))
