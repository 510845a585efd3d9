"""The "Classes" dock: start annotating an image, and edit the ontology."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.instances_check import table_problem
from ..core.ontology import HOTKEYS, KINDS, Ontology
from .window_hooks import dock_opened
from ._common import StatusLine, guarded, release_when_removed

if TYPE_CHECKING:
    import napari

    from .._napari.session import AnnotationSession

NEW_LABELS = "New labels layer"
COL_COLOR, COL_NAME, COL_KIND, COL_KEY = range(4)


class ChoiceDelegate(QStyledItemDelegate):
    """A text cell edited with a drop-down of fixed choices."""

    def __init__(self, choices, parent=None) -> None:
        super().__init__(parent)
        self.choices = list(choices)

    def createEditor(self, parent, option, index):
        combo = QComboBox(parent)
        combo.addItems(self.choices)
        combo.activated.connect(lambda _i, c=combo: self.commitData.emit(c))
        return combo

    def setEditorData(self, editor, index) -> None:
        editor.setCurrentText(index.data() or "")
        editor.showPopup()

    def setModelData(self, editor, model, index) -> None:
        model.setData(index, editor.currentText())


class ClassesWidget(QWidget):
    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        dock_opened(napari_viewer)
        from .._napari.registry import sessions

        self.viewer = napari_viewer
        self.registry = sessions(napari_viewer)
        self._ontology = Ontology()  # used until a session starts
        self._session: AnnotationSession | None = None
        self._building = False

        # -- start annotating
        self.image_combo = QComboBox()
        self.labels_combo = QComboBox()
        self.start_button = QPushButton("Start annotating")
        self.start_button.clicked.connect(self._start)
        self.dicom_button = QPushButton("Open one DICOM series…")
        self.dicom_button.setToolTip("Pick one series of a folder (File > Open opens them all)")
        self.dicom_button.clicked.connect(lambda: self.open_dicom_series())
        form = QFormLayout()
        form.addRow("Image", self.image_combo)
        form.addRow("Labels", self.labels_combo)

        # -- class table
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["", "Class", "Kind", "Key"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_NAME, QHeaderView.Stretch)
        # Kind and Key are text cells edited with a drop-down (a delegate): combo boxes as
        # cell widgets are invisible to ResizeToContents, which squashed them to ~35 px.
        for col in (COL_COLOR, COL_KIND, COL_KEY):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        self.table.setItemDelegateForColumn(COL_KIND, ChoiceDelegate(KINDS, self.table))
        self.table.setItemDelegateForColumn(COL_KEY, ChoiceDelegate(["", *HOTKEYS], self.table))
        self.table.setEditTriggers(
            QAbstractItemView.DoubleClicked | QAbstractItemView.SelectedClicked | QAbstractItemView.EditKeyPressed
        )
        self.table.setMinimumHeight(130)  # a few classes visible even with every dock open
        self.table.setMaximumHeight(240)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._on_row_selected)

        self.add_button = QPushButton("Add")
        self.delete_button = QPushButton("Delete")
        self.load_button = QPushButton("Load…")
        self.save_button = QPushButton("Save…")
        self.add_button.clicked.connect(self._add)
        self.delete_button.clicked.connect(self._delete)
        self.load_button.clicked.connect(lambda: self._load())
        self.save_button.clicked.connect(lambda: self._save())
        buttons = QHBoxLayout()
        for b in (self.add_button, self.delete_button, self.load_button, self.save_button):
            buttons.addWidget(b)

        # the selected class's SAM 3 prompt: what Label all with SAM 3 looks for (empty: its name)
        self.prompt_edit = QLineEdit()
        self.prompt_edit.setToolTip("What SAM 3 looks for when you Label all as this class, e.g. 'cell nucleus' "
                                    "(empty: the class name). Return or leaving the field keeps it; saved with the "
                                    "classes.")  # fmt: skip
        self.prompt_edit.editingFinished.connect(self._prompt_edited)
        self._prompt_for: str | None = None  # the class the field shows
        prompt_row = QFormLayout()
        prompt_row.addRow("SAM 3 prompt", self.prompt_edit)

        self.current_label = QLabel("")
        self.new_instance_button = QPushButton("New (M)")
        self.new_instance_button.setToolTip("Start a new instance of the current class")
        self.new_instance_button.clicked.connect(self._new_instance)
        current = QHBoxLayout()
        current.addWidget(self.current_label, 1)
        current.addWidget(self.new_instance_button)
        self.status = StatusLine()

        layout = QVBoxLayout(self)
        layout.addWidget(self.dicom_button)
        layout.addLayout(form)
        layout.addWidget(self.start_button)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addLayout(prompt_row)
        layout.addLayout(current)
        layout.addWidget(self.status)
        layout.addStretch(1)

        for ev in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            ev.connect(self._refresh_layer_choices)
        self.registry.current_changed.connect(self._set_session)
        self._ontology.changed.connect(self._rebuild)
        self._refresh_layer_choices()
        self._set_session(self.registry.current)
        self._released = False
        release_when_removed(self, self.release)

    def release(self) -> None:
        """The dock is gone (its X, or the window): it follows no layer list, session or classes."""
        if self._released:
            return
        self._released = True
        for ev in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            ev.disconnect(self._refresh_layer_choices)
        self.registry.current_changed.disconnect(self._set_session)
        if self._session is not None:
            self._wire(self._session, "disconnect")
            self._session = None
        self._ontology.changed.disconnect(self._rebuild)

    # -- which ontology we edit ------------------------------------------
    @property
    def ontology(self) -> Ontology:
        return self._session.ontology if self._session is not None else self._ontology

    def _set_session(self, session: AnnotationSession | None) -> None:
        if self._session is not None:
            self._wire(self._session, "disconnect")
        self._session = session
        if session is not None:
            self._wire(session, "connect")
        self._rebuild()

    def _wire(self, session: AnnotationSession, how: str) -> None:
        """Follow (or stop following) a session's ontology, class and brush id."""
        pairs = [
            (session.class_selected, self._show_current),
            (session.annotation.changed, self._show_current),
            (session.labels.events.selected_label, self._show_current),
        ]
        if session.ontology is not self._ontology:  # ours is followed already
            pairs.append((session.ontology.changed, self._rebuild))
        for signal, slot in pairs:
            getattr(signal, how)(slot)

    # -- start -------------------------------------------------------------
    def _refresh_layer_choices(self, event=None) -> None:
        from napari.layers import Image, Labels

        for combo, kind, extra in ((self.image_combo, Image, []), (self.labels_combo, Labels, [NEW_LABELS])):
            keep = combo.currentText()
            combo.clear()
            names = [layer.name for layer in self.viewer.layers if isinstance(layer, kind)]
            # the prompt layers (clicks, box, preview) are the plugin's own, never to annotate or adopt
            combo.addItems(extra + [n for n in names if not n.startswith("samlabel ")])
            if keep and combo.findText(keep) >= 0:
                combo.setCurrentText(keep)

    def open_dicom_series(self, folder: str | None = None, choose=None):
        """List the series of a folder (headers only), let the user pick one, open it.

        ``choose(labels) -> index`` replaces the dialog (scripts, tests)."""
        from qtpy.QtWidgets import QInputDialog

        from .._reader import read_one_series
        from ..io.dicom import list_series

        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "DICOM folder")
            if not folder:
                return None
        series = guarded(self.status, list_series, folder)
        if not series:
            self.status.error(f"{folder}: no DICOM image series found")
            return None
        labels = [f"{name} ({n} files)" for _, name, n in series]
        if choose is not None:
            index = choose(labels)
        else:
            item, ok = QInputDialog.getItem(self, "Open DICOM series", "Series", labels, 0, False)
            if not ok:
                return None
            index = labels.index(item)
        layers = guarded(self.status, read_one_series, folder, series[index][0])
        if not layers:
            return None
        data, kwargs, _ = layers[0]
        layer = self.viewer.add_image(data, **kwargs)
        self.image_combo.setCurrentText(layer.name)
        self.status.ok(f"Opened {layer.name}: {data.shape[0]} slices.")
        return layer

    def _start(self) -> None:
        from ..api import start_session

        name = self.image_combo.currentText()
        if not name:
            self.status.error("Open an image first.")
            return
        labels = self.labels_combo.currentText()
        labels = None if labels in ("", NEW_LABELS) else labels
        # the classes shown: the current session's on a second image, not the pre-session list
        ontology = self.ontology if len(self.ontology) else None
        from ..core.anatomy import LOAD_YOUR_OWN, anatomy_ontology, is_medical

        # none shown, a CT or MR: an anatomy list (SNOMED-coded in a DICOM SEG) rather than nothing
        anatomy = ontology is None and labels is None and is_medical(self.viewer.layers[name].metadata)
        if anatomy:
            ontology = anatomy_ontology()
        session = guarded(self.status, start_session, self.viewer, name, labels, ontology)
        if session is not None:
            self.viewer.layers.selection.active = session.labels
            start = f" Started with {len(session.ontology)} anatomy classes; {LOAD_YOUR_OWN}." if anatomy else ""
            self.status.ok(f"Annotating {name!r} into {session.labels.name!r}.{start} {session.notice}".strip())

    # -- table -----------------------------------------------------------
    def _rebuild(self) -> None:
        self._building = True
        try:
            self.table.setRowCount(0)
            for row, cls in enumerate(self.ontology):
                self.table.insertRow(row)
                swatch = QPushButton()
                swatch.setStyleSheet(f"background-color: {cls.color}; min-width: 18px; max-width: 18px;")
                swatch.setToolTip("Change colour")
                swatch.clicked.connect(lambda _=False, n=cls.name: self._pick_color(n))
                self.table.setCellWidget(row, COL_COLOR, swatch)
                self.table.setItem(row, COL_NAME, QTableWidgetItem(cls.name))
                for col, text in ((COL_KIND, cls.kind), (COL_KEY, cls.hotkey or "")):
                    item = QTableWidgetItem(text)
                    item.setToolTip("Double-click to change")
                    self.table.setItem(row, col, item)
        finally:
            self._building = False
        self._show_current()
        self._show_prompt()

    def _change(self, name: str, /, **changes) -> None:
        if self._building:
            return
        if self._session is not None:
            done = guarded(self.status, lambda: self._session.annotation.update_class(name, **changes) or True)
        else:
            done = guarded(self.status, lambda: self._ontology.update(name, **changes))
        if done is None:
            self._rebuild()  # show the ontology as it still is

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._building:
            return
        cls = self.ontology[self.ontology.names[item.row()]]
        text = item.text().strip()
        if item.column() == COL_NAME and text != cls.name:
            self._change(cls.name, name=item.text())
        elif item.column() == COL_KIND and text != cls.kind:
            self._change(cls.name, kind=text)
        elif item.column() == COL_KEY and text != (cls.hotkey or ""):
            self._change(cls.name, hotkey=text or None)

    def _pick_color(self, name: str) -> None:
        color = QColorDialog.getColor(QColor(self.ontology[name].color), self, f"Colour of {name}")
        if color.isValid():
            self._change(name, color=color.name())

    def _add(self) -> None:
        n = len(self.ontology) + 1
        while f"class {n}" in self.ontology:
            n += 1
        cls = guarded(self.status, self.ontology.add, f"class {n}")
        if cls is not None:
            self.select_row(cls.name)

    def _delete(self) -> None:
        row = self.table.currentRow()
        if row < 0:
            return
        name = self.ontology.names[row]
        if self._session is not None:
            guarded(self.status, self._session.annotation.remove_class, name)
        else:
            self._ontology.remove(name)

    def _load(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load classes", "", "Ontology (*.json);;All files (*)")
            if not path:
                return
        loaded = guarded(self.status, Ontology.load, path)
        if loaded is None:
            return  # the current ontology stays
        if self._session is not None:
            missing = [r.class_name for r in self._session.table.present() if r.class_name not in loaded]
            if missing:
                self.status.error(
                    f"{path} lacks classes that label instances here: {sorted(set(missing))}; nothing changed."
                )
                return
            problem = table_problem(self._session.table, loaded)
            if problem:  # saved, the project would be refused on opening
                self.status.error(f"{path} does not accept a value instances here hold ({problem}); nothing changed.")
                return
        self.ontology.replace_all(loaded)
        self.status.ok(f"Loaded {len(loaded)} classes from {path}.")

    def _save(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save classes", "classes.json", "Ontology (*.json)")
            if not path:
                return
        guarded(self.status, self.ontology.save, path)
        self.status.ok(f"Saved {len(self.ontology)} classes to {path}.")

    # -- current class ----------------------------------------------------
    def _on_row_selected(self) -> None:
        if self._building:
            return
        row = self.table.currentRow()
        if self._session is not None and 0 <= row < len(self.ontology):
            name = self.ontology.names[row]
            if name != self._session.current_class:
                self._session.select_class(name)
        self._show_prompt()

    # -- the selected class's SAM 3 prompt ---------------------------------
    def prompt_class(self) -> str | None:
        """The class the prompt field is for: the row picked (with a session, the current class)."""
        row = self.table.currentRow()
        if 0 <= row < len(self.ontology):
            return self.ontology.names[row]
        s = self._session
        return s.current_class if s is not None and s.current_class in self.ontology else None

    def _show_prompt(self, *_args) -> None:
        """The field shows the class's prompt, its name as the placeholder; text being typed
        for the same class is left alone."""
        name = self.prompt_class()
        self.prompt_edit.setEnabled(name is not None)
        self.prompt_edit.setPlaceholderText(name or "pick a class")
        if name == self._prompt_for and self.prompt_edit.hasFocus():
            return
        self._prompt_for = name
        self.prompt_edit.setText((self.ontology[name].prompt or "") if name is not None else "")

    def _prompt_edited(self) -> None:
        """Return (or leaving the field): the class's prompt becomes the text ('' for its name)."""
        name = self._prompt_for
        if name is None or name not in self.ontology:
            return
        text = " ".join(self.prompt_edit.text().split())
        if text == (self.ontology[name].prompt or ""):
            return
        self._change(name, prompt=text or None)
        cls = self.ontology[name]
        self.prompt_edit.setText(cls.prompt or "")
        self.status.ok(f"{name}: SAM 3 looks for '{cls.prompt_text}'.")

    def select_row(self, name: str) -> None:
        if name in self.ontology:
            self._building = True
            self.table.selectRow(self.ontology.names.index(name))
            self._building = False

    def _show_current(self, *_args) -> None:
        s = self._session
        if s is None:
            self.current_label.setText("No session: pick an image and press Start annotating.")
            return
        name = s.current_class
        if name is None or name not in s.ontology:
            self.current_label.setText("Add a class to start labeling.")
            return
        self.select_row(name)
        self._show_prompt()
        rec = s.table.get(s.labels.selected_label)
        target = rec.name if rec is not None else f"label {s.labels.selected_label}"
        self.current_label.setText(f"Labeling: {target}")

    def _new_instance(self) -> None:
        if self._session is not None:
            guarded(self.status, self._session.new_instance)
