"""The "Instances" dock: every object in one searchable, sortable list, and the bulk edits.

The list is a Qt item model over :class:`~napari_samlabel._napari.instance_rows.RowTracker`:
a change to the annotation updates only the rows of the instances it touched
(the selection and scroll position stay), and a proxy model does search,
frame filter and sort.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from qtpy.QtCore import (
    QAbstractTableModel,
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QStyleOptionHeader,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from .._napari.instance_rows import SORT_KEYS, Row, RowChanges, RowTracker, matches, on_frames
from .window_hooks import dock_opened
from ._common import StatusLine, collapsible, guarded, narrow as _compact, refit, release_when_removed
from .attributes_form import AttributesSection, FrameLabelsSection
from .review_section import ReviewSection

if TYPE_CHECKING:
    import napari

    from .._napari.session import AnnotationSession

ALL_FRAMES, CURRENT_FRAME, FRAME_RANGE = "All frames", "Current frame", "Frame range"
# what a slim panel shows first comes first: the columns that fit show, in this order (InstanceList)
COLUMNS = ["Instance", "Class", "Frames", "Conf.", "Lock", "Keys", "Status", "Source", "Parent"]
COL_NAME, COL_CLASS, COL_FRAMES, COL_CONF, COL_LOCK, COL_KEYS, COL_STATUS, COL_SOURCE, COL_PARENT = range(len(COLUMNS))
ID_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
_SORT_OF = {COL_NAME: "id", COL_CLASS: "class", COL_FRAMES: "frames", COL_CONF: "confidence",
            COL_SOURCE: "source", COL_STATUS: "status", COL_LOCK: "locked", COL_PARENT: "parent",
            COL_KEYS: "keyframes"}  # fmt: skip
_HEADER_TIPS = {
    COL_NAME: "Tick to show, untick to hide; click the header to sort by id; right-click it to pick the "
              "columns (those that fit the list's width show)",
    COL_FRAMES: "Frames the instance is on; sorts by first frame",
    COL_KEYS: "Keyframes: the frames you drew or corrected (prompts, brush, commits), not tracked or "
              "interpolated ones. Tracking conditions on them and never overwrites them; Interpolate "
              "fills between them",
    COL_CONF: "Mean confidence over its frames (manual frames are 1.0)",
    COL_LOCK: "Locked instances are never changed by any tool",
    COL_PARENT: "The instance it divided from (Track dock: Divide, Link)",
}
#: a change this large is shown by one reset rather than row by row
_RESET_ABOVE = 200

OP_DELETE_CLASS = "Delete all of a class"
OP_DELETE_BELOW = "Delete below confidence"
OP_DELETE_ALL = "Delete everything"
OP_COPY = "Copy selected to frames"
OP_SPLIT = "Split selected at current frame"
OPERATIONS = (OP_DELETE_CLASS, OP_DELETE_BELOW, OP_DELETE_ALL, OP_COPY, OP_SPLIT)

_CHECKED = Qt.CheckState.Checked
# a flat list: "never has children" spares the view a hasChildren() call per row
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_FLAGS_CHECKABLE = _FLAGS | Qt.ItemFlag.ItemIsUserCheckable


def _holding(widget: QWidget) -> QVBoxLayout:
    layout = QVBoxLayout()
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget)
    return layout


def _is_checked(value) -> bool:
    return getattr(value, "value", value) == _CHECKED.value


class InstanceModel(QAbstractTableModel):
    """One row per present instance, in the order they appeared; edits go to ``on_check``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tracker = RowTracker()
        self._ids: list[int] = []
        self._pos: dict[int, int] = {}
        self._gone: dict[int, Row] = {}
        self.colors: dict[str, object] = {}  # class name -> QColor
        self.on_check: Callable[[int, int, bool], None] | None = None  # (id, column, checked)

    # -- reading ------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def row(self, source_row: int) -> Row:
        i = self._ids[source_row]
        row = self.tracker.rows.get(i)
        return row if row is not None else self._gone[i]  # asked while its removal is under way

    def row_of_id(self, label_id: int) -> int | None:
        return self._pos.get(label_id)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, col = self.row(index.row()), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return r.name
            if col == COL_CLASS:
                return r.class_name
            if col == COL_FRAMES:
                return r.frames_text
            if col == COL_KEYS:
                return r.keys_text
            if col == COL_CONF:
                return f"{r.confidence:.2f}"
            if col == COL_SOURCE:
                return r.sources
            if col == COL_STATUS:
                return r.status
            if col == COL_PARENT:
                return str(r.parent) if r.parent else ""
            return None
        if role == SORT_ROLE:
            return SORT_KEYS[_SORT_OF[col]](r)
        if role == ID_ROLE:
            return r.id
        if role == Qt.ItemDataRole.CheckStateRole:
            if col == COL_NAME:
                return _CHECKED if r.visible else Qt.CheckState.Unchecked
            if col == COL_LOCK:
                return _CHECKED if r.locked else Qt.CheckState.Unchecked
            return None
        if role == Qt.ItemDataRole.DecorationRole and col == COL_CLASS:
            return self.colors.get(r.class_name)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_NAME:  # every column's value: a slim panel shows only some columns
                parent = f", divided from {r.parent}" if r.parent else ""
                return (f"{r.name}: {r.class_name}, frames {r.frames_text}, keyframes {r.keys_text or 'none'}, "
                        f"confidence {r.confidence:.2f}, {r.status}, {r.sources}{', locked' if r.locked else ''}"
                        f"{parent}\nTick to show, untick to hide; click to select and go to it")  # fmt: skip
            if col in (COL_FRAMES, COL_KEYS):
                return f"Frames {r.frames_text}\nKeyframes (yours) {r.keys_text or 'none'}"
            if col == COL_LOCK:
                return "Locked: no tool changes it"
            if col == COL_PARENT and r.parent:
                return f"Divided from instance {r.parent}"
        return None

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return _HEADER_TIPS.get(section)
        return None

    def flags(self, index: QModelIndex):
        # the view asks for every row on each layout: constants, no enum arithmetic
        return _FLAGS_CHECKABLE if index.column() in (COL_NAME, COL_LOCK) else _FLAGS

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or index.column() not in (COL_NAME, COL_LOCK):
            return False
        if self.on_check is not None:
            self.on_check(self.row(index.row()).id, index.column(), _is_checked(value))
        return True  # the annotation's change signal brings the new state back

    # -- following the table ------------------------------------------------
    def update(self, table, ids: set[int] | None = None) -> RowChanges:
        """Bring the rows up to date with ``table`` (None: no session), touching only changed rows
        (``ids``: the only ones that can have changed; None: look at all)."""
        changes = self.tracker.update(table, ids)
        if not changes:
            return changes
        if len(changes.added) + len(changes.removed) > _RESET_ABOVE:
            self.beginResetModel()
            self._ids = list(self.tracker.rows)
            self._reindex()
            self.endResetModel()
            return changes
        if changes.removed:
            rows = sorted((self._pos[i] for i in changes.removed), reverse=True)
            runs: list[list[int]] = []
            for r in rows:  # contiguous runs, last first
                if runs and runs[-1][0] == r + 1:
                    runs[-1][0] = r
                else:
                    runs.append([r, r])
            self._gone = changes.gone
            try:
                for lo, hi in runs:
                    self.beginRemoveRows(QModelIndex(), lo, hi)
                    del self._ids[lo : hi + 1]
                    self.endRemoveRows()
            finally:
                self._gone = {}
            self._reindex()
        if changes.added:
            n = len(self._ids)
            self.beginInsertRows(QModelIndex(), n, n + len(changes.added) - 1)
            self._ids.extend(changes.added)
            for k, i in enumerate(changes.added):
                self._pos[i] = n + k
            self.endInsertRows()
        last = len(COLUMNS) - 1
        for i in changes.changed:
            r = self._pos[i]
            self.dataChanged.emit(self.index(r, 0), self.index(r, last))
        return changes

    def _reindex(self) -> None:
        self._pos = {i: k for k, i in enumerate(self._ids)}

    def recolor(self, colors: dict) -> None:
        self.colors = colors
        if self._ids:
            self.dataChanged.emit(
                self.index(0, COL_CLASS), self.index(len(self._ids) - 1, COL_CLASS), [Qt.ItemDataRole.DecorationRole]
            )


class InstanceFilter(QSortFilterProxyModel):
    """Search text and frame range over an :class:`InstanceModel`; sorts by :data:`SORT_ROLE`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.text = ""
        self.frames: tuple[int | None, int | None] | None = None  # None: all frames
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_rule(self, text: str, frames) -> None:
        if (text, frames) == (self.text, self.frames):
            return
        begin = getattr(self, "beginFilterChange", None)  # Qt >= 6.10
        if begin is not None:
            begin()
            self.text, self.frames = text, frames
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.text, self.frames = text, frames
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        if not self.text and self.frames is None:
            return True
        r = self.sourceModel().row(source_row)
        if self.frames is not None and not on_frames(r, *self.frames):
            return False
        return matches(r, self.text)


class InstanceList(QTreeView):
    """The list; Delete or Backspace deletes the selected instances.

    It never scrolls sideways: the Instance column takes the width left, and of the other
    columns, in :data:`COLUMNS` order, those that fit beside it and the Class column are
    shown (a 300 px panel: Instance, Class, Frames, Conf.; a wider dock: more). A right
    click on the header picks the columns wanted; the Instance cell's tooltip has them all.
    """

    delete_pressed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.class_names: Callable[[], list[str]] = list  # the ontology's, for the columns' widths
        self.unwanted: set[int] = set()  # columns the user turned off
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self.fit_columns)
        self._fitted_width = -1
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # "Mitoch…ndrion (12)": the id stays
        header = self.header()
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(24)
        header.setResizeContentsPrecision(30)  # widths from the rows shown and a few more: fitting stays cheap
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._column_menu)

    def setModel(self, model) -> None:
        super().setModel(model)
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset, model.layoutChanged):
            signal.connect(self.refit)
        self.header().sortIndicatorChanged.connect(self.refit)
        header = self.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selectionModel().hasSelection():
            self.delete_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.Type.Resize and self.viewport().width() != self._fitted_width:
            self.fit_columns()
        return super().viewportEvent(event)

    def refit(self, *_args) -> None:
        """Fit the columns to the width soon (once for many changes)."""
        self._fit_timer.start()

    def column_width(self, col: int) -> int:
        """What a column needs to show its header, and for Instance and Class their text whole."""
        header = self.header()
        opt = QStyleOptionHeader()  # as the header measures a section, its sort arrow included
        opt.initFrom(header)
        opt.text, opt.section = COLUMNS[col], col
        if header.sortIndicatorSection() == col:  # room for the sort arrow where it is drawn
            opt.sortIndicator = QStyleOptionHeader.SortIndicator.SortDown
        size = header.style().sizeFromContents(QStyle.ContentsType.CT_HeaderSection, opt, QSize(), header)
        need = max(size.width(), header.fontMetrics().horizontalAdvance(COLUMNS[col]) + 8)
        if col in (COL_NAME, COL_CLASS):
            metrics, names = self.fontMetrics(), self.class_names() or ["nucleus"]
            widest = max(metrics.horizontalAdvance(f"{n[:1].upper()}{n[1:]} (99)" if col == COL_NAME else n) for n in names)
            need = max(need, widest + 32, self.sizeHintForColumn(col))  # 32: check box or colour, margins
        elif col == COL_FRAMES:
            need = max(need, self.fontMetrics().horizontalAdvance("00-00") + 12)
        return need

    def fit_columns(self) -> None:
        """Show the columns that fit the width (none scrolls sideways), each wide enough."""
        model = self.model()
        width = self.viewport().width()
        if model is None or width <= 0:
            return
        self._fitted_width = width
        header = self.header()
        need = {col: self.column_width(col) for col in range(len(COLUMNS))}
        need[COL_CLASS] = min(need[COL_CLASS], width * 2 // 5)  # a long class name: elided, not the list
        used = min(need[COL_NAME], width - need[COL_CLASS]) + need[COL_CLASS]
        shown, room = {COL_NAME, COL_CLASS}, True
        for col in range(len(COLUMNS)):
            if col in shown or col in self.unwanted:
                continue
            room = room and used + need[col] <= width
            if room:
                shown.add(col)
                used += need[col]
        for col in range(len(COLUMNS)):
            header.setSectionHidden(col, col not in shown)
            if col in shown and col != COL_NAME:
                header.resizeSection(col, need[col])
        self.updateGeometries()  # the scroll bars now, not at the next layout

    def _column_menu(self, pos) -> None:
        from qtpy.QtWidgets import QMenu

        menu = QMenu(self)
        for col, title in enumerate(COLUMNS):
            if col in (COL_NAME, COL_CLASS):
                continue
            wanted = col not in self.unwanted
            no_room = wanted and self.header().isSectionHidden(col)
            action = menu.addAction(f"{title} (no room: widen the panel or untick another)" if no_room else title)
            action.setCheckable(True)
            action.setChecked(wanted)
            action.toggled.connect(lambda on, col=col: self.want_column(col, on))
        menu.exec(self.header().mapToGlobal(pos))

    def want_column(self, col: int, on: bool) -> None:
        """Show (when it fits) or never show a column; Instance and Class always show."""
        if col in (COL_NAME, COL_CLASS):
            return
        (self.unwanted.discard if on else self.unwanted.add)(col)
        self.fit_columns()


class InstancesWidget(QWidget):
    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        dock_opened(napari_viewer)
        from .._napari.registry import sessions

        self.viewer = napari_viewer
        self.registry = sessions(napari_viewer)
        self._session: AnnotationSession | None = None
        self._building = False
        #: asks the user (title, question) -> yes?; tests may replace it
        self.confirm: Callable[[str, str], bool] = self._ask

        # -- search and frame filter
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search name, class or id")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._apply_filter)
        self.filter_combo = QComboBox()
        self.filter_combo.addItems([ALL_FRAMES, CURRENT_FRAME, FRAME_RANGE])
        self.filter_combo.setToolTip("Show instances on all frames, the current frame, or a frame range")
        self.filter_combo.currentTextChanged.connect(self._on_filter_mode)
        _compact(self.filter_combo, 7)
        self.range_first_spin, self.range_last_spin = _compact(QSpinBox()), _compact(QSpinBox())
        for spin, tip in ((self.range_first_spin, "First frame shown"), (self.range_last_spin, "Last frame shown")):
            spin.setToolTip(tip)
            spin.setVisible(False)
            spin.valueChanged.connect(self._apply_filter)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.filter_combo)
        top.addWidget(self.range_first_spin)
        top.addWidget(self.range_last_spin)

        # -- the list
        self.model = InstanceModel(self)
        self.model.on_check = self._on_check
        self.proxy = InstanceFilter(self)
        self.proxy.setSourceModel(self.model)
        self.tree = InstanceList()
        self.tree.setModel(self.proxy)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setMinimumHeight(120)
        self.tree.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.tree.class_names = lambda: self._session.ontology.names if self._session is not None else []
        self.tree.clicked.connect(self._on_clicked)
        self.tree.selectionModel().selectionChanged.connect(self._share_selection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.delete_pressed.connect(self._delete_selected)

        # -- actions on the selection
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected instances (Delete key in the list)")
        self.merge_button = QPushButton("Merge")
        self.merge_button.setToolTip("Merge the selected instances into the first (CVAT's join); with fewer than "
                                     "two selected: those the line in the 'slice line' layer crosses")  # fmt: skip
        self.class_combo = _compact(QComboBox(), 6)
        self.change_class_button = QPushButton("Set")
        self.change_class_button.setToolTip("Give the selected instances the class picked beside")
        self.delete_button.clicked.connect(self._delete_selected)
        self.merge_button.clicked.connect(self._merge_selected)
        self.change_class_button.clicked.connect(self._change_class)
        row, class_row = QHBoxLayout(), QHBoxLayout()  # two rows: fits a 300 px panel
        row.setContentsMargins(0, 0, 0, 0)
        class_row.setContentsMargins(0, 0, 0, 0)
        for w in (self.delete_button, self.merge_button):
            row.addWidget(w)
        for w in (self.class_combo, self.change_class_button):
            class_row.addWidget(w)
        class_row.setStretch(0, 1)  # (Split parts goes first in this row, Slice in the one above: 3 buttons a row)
        # -- reshape (CVAT's slice; its join is Merge): a line drawn in the "slice line" layer, see _napari.reshape
        self.slice_button = QPushButton("Slice")
        self.slice_button.setToolTip("Cut the instance in two along the line drawn in the 'slice line' layer "
                                     "(the first press makes that layer: click points, double-click to end)")  # fmt: skip
        self.split_parts_button = QPushButton("Split parts")
        self.split_parts_button.setToolTip("Each disconnected part of the selected instances becomes an instance")
        self.slice_button.clicked.connect(self._slice)
        self.split_parts_button.clicked.connect(self._split_parts)
        row.addWidget(self.slice_button)
        class_row.insertWidget(0, self.split_parts_button)

        # -- bulk edit
        self.first_spin, self.last_spin = _compact(QSpinBox()), _compact(QSpinBox())
        self.current_button = QPushButton("Current")
        self.all_button = QPushButton("All")
        self.current_button.clicked.connect(self._range_current)
        self.all_button.clicked.connect(self._range_all)
        frames, frame_buttons = QHBoxLayout(), QHBoxLayout()  # two rows: fits a 300 px panel
        for w in (self.first_spin, self.last_spin):
            frames.addWidget(w)
        for w in (self.current_button, self.all_button):
            frame_buttons.addWidget(w)
        self.op_combo = _compact(QComboBox(), 14)
        self.op_combo.addItems(OPERATIONS)
        self.bulk_class_combo = _compact(QComboBox(), 8)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(0.5)
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self._apply_bulk)
        bulk_form = QFormLayout()
        bulk_form.setContentsMargins(0, 0, 0, 0)
        bulk_form.addRow("Frames", frames)
        bulk_form.addRow("", frame_buttons)
        bulk_form.addRow("Operation", self.op_combo)
        bulk_form.addRow("Class", self.bulk_class_combo)
        bulk_form.addRow("Below", self.threshold_spin)
        bulk_form.addRow(self.apply_button)
        self.bulk = collapsible("Bulk edit", bulk_form)

        self.status = StatusLine()
        # attributes of the selected instance, classifications of frames (from the ontology)
        self.attributes = AttributesSection(self.status)
        self.frame_labels = FrameLabelsSection(self.status)
        self.review = ReviewSection(self.status, self.selected_ids)
        # one folding section with three pages: the list keeps its height on a 768 px screen
        self.details = QTabWidget()
        self.details.setDocumentMode(True)
        for title, page in (("Attributes", self.attributes), ("Frame labels", self.frame_labels), ("Review", self.review)):
            self.details.addTab(page, title)
        self.details_box = collapsible("Attributes, frame labels, review", _holding(self.details))
        self.details.currentChanged.connect(lambda _i: refit(self.details_box))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        layout.addLayout(class_row)
        layout.addWidget(self.bulk)
        layout.addWidget(self.details_box)
        layout.addWidget(self.status)

        napari_viewer.dims.events.current_step.connect(self._on_step)
        self.registry.current_changed.connect(self._set_session)
        release_when_removed(self, self.close_links)
        self._set_session(self.registry.current)

    def close_links(self) -> None:
        """Stop following the viewer and the session (the dock is gone)."""
        self.viewer.dims.events.current_step.disconnect(self._on_step)
        self.registry.current_changed.disconnect(self._set_session)
        if self._session is not None:
            self._session.annotation.changed.disconnect(self._on_changed)
            self._session.ontology.changed.disconnect(self._on_ontology)
            self._session.selection_changed.disconnect(self._follow_selection)
            self._session = None
        self._watch(None)

    # -- session -----------------------------------------------------------
    def _set_session(self, session: AnnotationSession | None) -> None:
        if self._session is not None:
            self._session.annotation.changed.disconnect(self._on_changed)
            self._session.ontology.changed.disconnect(self._on_ontology)
            self._session.selection_changed.disconnect(self._follow_selection)
        self._session = session
        self._watch(session)
        self._building = True
        try:  # another session: a new list
            self.model.beginResetModel()
            self.model.tracker.clear()
            self.model._ids, self.model._pos = [], {}
            self.model.endResetModel()
        finally:
            self._building = False
        if session is not None:
            session.annotation.changed.connect(self._on_changed)
            session.ontology.changed.connect(self._on_ontology)
            session.selection_changed.connect(self._follow_selection)
            self._range_all()
        self.refresh()

    _feed = None  # the table's changes since the list last looked (rows redrawn: only those)

    def _watch(self, session: AnnotationSession | None) -> None:
        if self._feed is not None:
            self._feed.close()
        self._feed = session.table.watch() if session is not None else None

    def _follow_selection(self, ids) -> None:
        """The session picked instances itself (a new one just saved): the list shows it, so
        the row highlighted is what the next Shift+T tracks."""
        if sorted(ids) == self.selected_ids():
            return
        QTimer.singleShot(0, lambda: self._select_rows(ids))  # after the list has its new rows

    def _select_rows(self, ids) -> None:
        if self._session is None or sorted(ids) == self.selected_ids():
            return
        chosen = QItemSelection()
        for i in ids:
            row = self.model.row_of_id(int(i))
            if row is None:
                continue
            index = self.proxy.mapFromSource(self.model.index(row, COL_NAME))
            if index.isValid():
                chosen.select(index, index)
        self._building = True
        try:
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            self.tree.selectionModel().select(chosen, flags)
        finally:
            self._building = False
        self._show_values()

    def _on_step(self, event=None) -> None:
        if self.filter_combo.currentText() == CURRENT_FRAME:
            self._apply_filter()
        self._show_values()

    def _show_values(self) -> None:
        """The attribute and frame-label forms follow the selection, the frame and the edits."""
        self.attributes.show_for(self._session, self.selected_ids())
        self.frame_labels.show_for(self._session)
        self.review.show_for(self._session)
        refit(self.details_box)

    # -- list --------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        rows = self.tree.selectionModel().selectedRows(COL_NAME)
        return sorted(int(ix.data(ID_ROLE)) for ix in rows)

    def refresh(self, *_args) -> None:
        """Bring everything up to date: class lists, frame ranges and the changed rows."""
        self._on_ontology()

    def _on_ontology(self, *_args) -> None:
        s = self._session
        for combo in (self.class_combo, self.bulk_class_combo):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            if s is not None:
                combo.addItems(s.ontology.names)
                if current in s.ontology:
                    combo.setCurrentText(current)
            combo.blockSignals(False)
        from qtpy.QtGui import QColor

        self.model.recolor({c.name: QColor(c.color) for c in s.ontology} if s is not None else {})
        self._on_changed()
        self.tree.refit()  # class names set the Instance and Class columns' widths

    def _on_changed(self, *_args) -> None:
        """The annotation changed: update the rows of the instances that did, nothing else."""
        s = self._session
        self._building = True
        try:
            before = set(self.selected_ids())
            self.model.update(s.table if s is not None else None, self._feed.take() if self._feed is not None else None)
            if s is not None:
                n = s.annotation.n_frames - 1
                for spin in (self.first_spin, self.last_spin, self.range_first_spin, self.range_last_spin):
                    if spin.maximum() != n:
                        spin.setRange(0, n)
        finally:
            self._building = False
        if set(self.selected_ids()) != before:  # selected instances went away
            self._share_selection()
        self._show_values()

    def _on_filter_mode(self, mode: str) -> None:
        ranged = mode == FRAME_RANGE
        if ranged and self._session is not None and self.range_first_spin.value() == self.range_last_spin.value() == 0:
            f = self._session.current_frame()
            self.range_first_spin.setValue(f)
            self.range_last_spin.setValue(f)
        for spin in (self.range_first_spin, self.range_last_spin):
            spin.setVisible(ranged)
        self._apply_filter()

    def filter_frames(self) -> tuple[int | None, int | None] | None:
        """The frames the list is limited to: None for all frames."""
        mode = self.filter_combo.currentText()
        if mode == CURRENT_FRAME:
            f = self._session.current_frame() if self._session is not None else 0
            return (f, f)
        if mode == FRAME_RANGE:
            return (self.range_first_spin.value(), self.range_last_spin.value())
        return None

    def _apply_filter(self, *_args) -> None:
        self._building = True
        try:
            before = set(self.selected_ids())
            self.proxy.set_rule(self.search_edit.text(), self.filter_frames())
        finally:
            self._building = False
        if set(self.selected_ids()) != before:
            self._share_selection()

    def _share_selection(self, *_args) -> None:
        if self._session is not None and not self._building:
            self._session.set_selection(self.selected_ids())
            self._show_values()

    def _on_clicked(self, index: QModelIndex) -> None:
        label_id = index.data(ID_ROLE)
        if label_id and self._session is not None and index.column() != COL_LOCK:
            guarded(self.status, self._session.select_instance, int(label_id), jump=True)

    def _on_check(self, label_id: int, column: int, checked: bool) -> None:
        if self._session is None:
            return
        ann = self._session.annotation
        if column == COL_NAME:
            ann.set_visible([label_id], checked)
        elif column == COL_LOCK:
            ann.set_locked([label_id], checked)

    def review_actions(self) -> dict:
        """What the right-click menu offers for the selected instances."""
        ann = self._session.annotation
        return {
            "Accept": lambda ids: ann.review(ids, "accepted"),  # a note too (Review section: with a comment)
            "Reject": lambda ids: ann.review(ids, "rejected"),
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
            menu.addAction(text, lambda fn=fn, text=text: self._menu_action(text, fn, ids))
        menu.addSeparator()
        menu.addAction("Delete", self._delete_selected)
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def _menu_action(self, text: str, fn, ids) -> None:
        """A row-menu action, said in the status line (the Lock column may not be shown)."""
        if guarded(self.status, lambda: fn(ids) or True) is None:
            return  # refused: the status line says why
        table = self._session.table
        names = ", ".join(table[i].name for i in ids if i in table)
        self.status.ok(f"{text}: {names}.")

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
        if self._session is not None and len(self.selected_ids()) < 2:
            self._join()  # CVAT's join: the instances a drawn line crosses
            return
        ids = self._need_selection(2)
        if ids and guarded(self.status, self._session.annotation.merge, ids) is not None:
            self.status.ok(f"Merged {len(ids)} instances into {self._session.table[ids[0]].name}.")

    def _line_or_hint(self, what: str):
        """The drawn slice line, or None after making its layer ready and saying how to draw."""
        from .._napari.reshape import DRAW_HINT, drawn_line, line_layer

        found = guarded(self.status, lambda: drawn_line(self._session) or False)  # None: an error, said
        if found is False:
            line_layer(self._session)
            self.status.ok(f"{DRAW_HINT}, then press {what} again.")
        return found or None

    def _slice(self) -> None:
        from .._napari.reshape import slice_with_line

        if self._need_selection(0) is None or self._line_or_hint("Slice") is None:
            return
        new = guarded(self.status, slice_with_line, self._session)
        if new is not None:
            self.status.ok(f"Sliced: the smaller side is now {new.name}. Ctrl+Z on the labels layer undoes it.")

    def _join(self) -> None:
        from .._napari.reshape import LINE_LAYER, drawn_line, join_with_line

        found = guarded(self.status, lambda: drawn_line(self._session) or False)  # None: an error, said
        if found is False:
            self.status.error(f"Select at least 2 instance(s) in the list, or draw a line across them in the "
                              f"{LINE_LAYER!r} layer (Slice makes it).")  # fmt: skip
        if not found:
            return
        into = guarded(self.status, join_with_line, self._session)
        if into is not None:
            self.status.ok(f"Joined into {self._session.table[into].name}. Ctrl+Z on the labels layer undoes it.")

    def _split_parts(self) -> None:
        from .._napari.reshape import split_into_parts

        if self._need_selection(0) is None:
            return
        made = guarded(self.status, split_into_parts, self._session, self.selected_ids() or None)
        if made is not None:
            self.status.ok(f"New from the parts: {', '.join(r.name for r in made)}. Ctrl+Z on the labels layer undoes it.")

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

    def _ask(self, title: str, question: str) -> bool:
        Btn = QMessageBox.StandardButton
        return QMessageBox.question(self, title, question, Btn.Yes | Btn.No, Btn.No) == Btn.Yes

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
            ids = set().union(*(s.table.on_frame(f) for f in span))
            if not ids:
                self.status.ok(f"Nothing to delete on {where}.")
                return
            on = [f for f in span if s.table.on_frame(f)]
            question = (
                f"Delete all {len(ids)} instance(s) on {len(on)} frame(s) of {where}?\n"
                "Ctrl+Z on the labels layer undoes it."
            )
            if not self.confirm(OP_DELETE_ALL, question):
                self.status.ok("Nothing deleted.")
                return
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
