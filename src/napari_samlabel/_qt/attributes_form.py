"""Forms for attribute values and frame classifications (the Instances dock's sections).

:class:`ValuesForm` makes one field per definition (text, number, one-of, any-of) and
says ``edited(name, value)`` when the user changes one (``None``: cleared). The two
sections only gather what to set and call the annotation; the values come back through
``annotation.changed`` like any edit (and Ctrl+Z undoes them).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from qtpy.QtCore import Signal
from qtpy.QtGui import QDoubleValidator
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.attributes import AttributeDef, shown
from ._common import StatusLine, guarded, narrow

NOT_SET = ""


class ValuesForm(QWidget):
    edited = Signal(str, object)

    def __init__(self) -> None:
        super().__init__()
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        # names above their fields: a long name never widens a slim panel, and the height
        # does not depend on the width (the folding section sizes itself by its size hint)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self.fields: dict[str, tuple[AttributeDef, QWidget]] = {}
        self._setting = False

    def set_specs(self, specs: Sequence[AttributeDef], label: Callable[[AttributeDef], str] = lambda d: d.name) -> None:
        if [d for d, _ in self.fields.values()] == list(specs):
            return  # the same fields: keep them (and the focus)
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields = {}
        for spec in specs:
            field = self._field(spec)
            self.fields[spec.name] = (spec, field)
            self.form.addRow(label(spec), field)

    def _field(self, spec: AttributeDef) -> QWidget:
        name = spec.name
        if spec.type == "one-of":
            combo = narrow(QComboBox(), 6)
            combo.addItems([NOT_SET, *spec.options])
            combo.currentTextChanged.connect(lambda text: self._say(name, text or None))
            return combo
        if spec.type == "any-of":  # two ticks a row: a slim panel never scrolls sideways
            box = QWidget()
            grid = QGridLayout(box)
            grid.setContentsMargins(0, 0, 0, 0)
            for i, option in enumerate(spec.options):
                tick = QCheckBox(option)
                tick.toggled.connect(lambda _on, box=box: self._say(name, self._ticked(box)))
                grid.addWidget(tick, i // 2, i % 2)
            return box
        edit = QLineEdit()
        if spec.type == "number":
            edit.setValidator(QDoubleValidator())
        edit.editingFinished.connect(lambda: self._say(name, edit.text().strip() or None))
        return edit

    @staticmethod
    def _ticked(box: QWidget) -> list[str]:
        return [t.text() for t in box.findChildren(QCheckBox) if t.isChecked()]

    def _say(self, name: str, value: Any) -> None:
        if not self._setting:
            self.edited.emit(name, value)

    def set_values(self, values: dict[str, Any]) -> None:
        """Show ``values`` without saying them back as edits."""
        self._setting = True
        try:
            for name, (spec, field) in self.fields.items():
                value = values.get(name)
                if isinstance(field, QComboBox):
                    field.setCurrentText(value or NOT_SET)
                elif isinstance(field, QLineEdit):
                    if not field.hasFocus():
                        field.setText(shown(value))
                else:
                    for tick in field.findChildren(QCheckBox):
                        tick.setChecked(tick.text() in (value or ()))
        finally:
            self._setting = False

    def value(self, name: str) -> Any:
        spec, field = self.fields[name]
        if isinstance(field, QComboBox):
            return field.currentText() or None
        if isinstance(field, QLineEdit):
            return field.text().strip() or None
        return self._ticked(field) or None


class AttributesSection(QWidget):
    """The selected instance's attributes: static ones, and dynamic ones on this frame."""

    def __init__(self, status: StatusLine) -> None:
        super().__init__()
        self.status = status
        self.session = None
        self.label_id: int | None = None
        self.heading = QLabel("Select one instance in the list.")
        self.heading.setWordWrap(True)
        self.values = ValuesForm()
        self.values.edited.connect(self._set)
        self.preserve = QCheckBox("Preserve chosen state")
        self.preserve.setToolTip("A per-frame value carries on to the frames you label after it")
        self.preserve.toggled.connect(self._preserve)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.values)
        layout.addWidget(self.preserve)

    def show_for(self, session, ids: Sequence[int]) -> None:
        self.session = session
        rec = session.table.get(ids[0]) if session is not None and len(ids) == 1 else None
        self.label_id = rec.id if rec is not None else None
        if session is not None:
            self.preserve.blockSignals(True)
            self.preserve.setChecked(session.annotation.preserve_attributes)
            self.preserve.blockSignals(False)
        if rec is None or rec.class_name not in session.ontology:
            self.heading.setText("Select one instance in the list." if session is not None else "No session.")
            self.values.set_specs([])
            return
        specs = session.ontology[rec.class_name].attributes
        frame = session.current_frame()
        if not specs:
            self.heading.setText(f"{rec.name}: its class has no attributes (define them in the ontology file).")
        else:
            self.heading.setText(f"{rec.name}, frame {frame}")
        self.values.set_specs(specs, lambda d: f"{d.name} (this frame)" if d.dynamic else d.name)
        self.values.set_values(rec.attributes_on(frame))

    def _set(self, name: str, value: Any) -> None:
        s = self.session
        if s is None or self.label_id is None:
            return
        spec = self.values.fields[name][0]
        frame = s.current_frame() if spec.dynamic else None
        rec = guarded(self.status, s.annotation.set_attribute, self.label_id, name, value, frame=frame)
        if rec is None:  # refused (the status line says why): show what is stored
            self.show_for(s, [self.label_id])
            return
        self.status.ok(f"{rec.name}: {name} = {shown(rec.attributes_on(frame).get(name)) or '(cleared)'}.")

    def _preserve(self, on: bool) -> None:
        if self.session is not None:
            self.session.annotation.preserve_attributes = bool(on)


class FrameLabelsSection(QWidget):
    """The frame classifications: set on the frames from-to (the current one by default)."""

    def __init__(self, status: StatusLine) -> None:
        super().__init__()
        self.status = status
        self.session = None
        self.values = ValuesForm()
        self.first_spin, self.last_spin = narrow(QSpinBox()), narrow(QSpinBox())
        self.here_button = QPushButton("This frame")
        self.here_button.clicked.connect(self.to_current)
        self.set_button = QPushButton("Set")
        self.set_button.setToolTip("Set these values on the frames from-to (one Ctrl+Z undoes it)")
        self.set_button.clicked.connect(self.apply)
        frames, buttons = QHBoxLayout(), QHBoxLayout()  # two rows: a slim panel never scrolls sideways
        frames.addWidget(QLabel("Frames"))
        frames.addWidget(self.first_spin, 1)
        frames.addWidget(QLabel("to"))
        frames.addWidget(self.last_spin, 1)
        buttons.addWidget(self.here_button)
        buttons.addWidget(self.set_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.values)
        layout.addLayout(frames)
        layout.addLayout(buttons)

    def show_for(self, session) -> None:
        self.session = session
        specs = session.ontology.classifications if session is not None else ()
        self.values.set_specs(specs)
        if session is None:
            return
        n = max(session.annotation.n_frames - 1, 0) if session.annotation.frame_axis is not None else 0
        for spin in (self.first_spin, self.last_spin):
            spin.setRange(0, n)
        self.values.set_values(session.table.frame_labels.on(session.current_frame()))

    def to_current(self) -> None:
        if self.session is not None:
            f = self.session.current_frame()
            self.first_spin.setValue(f)
            self.last_spin.setValue(f)

    def apply(self) -> None:
        s = self.session
        if s is None or not self.values.fields:
            self.status.error("The ontology defines no frame classifications.")
            return
        first, last = sorted((self.first_spin.value(), self.last_spin.value()))
        values = {name: self.values.value(name) for name in self.values.fields}
        if guarded(self.status, s.annotation.set_classifications, (first, last), values) is None:
            return
        what = ", ".join(f"{n}: {shown(values[n]) or '-'}" for n in self.values.fields)
        shown_frame = s.current_frame()
        moved = ""
        if not first <= shown_frame <= last:  # else the line on the canvas reads "-" as if nothing was set
            s.go_to_frame(first)
            moved = f" (went to frame {first}: frame {shown_frame} is outside the range)"
        self.status.ok(f"Frames {first}-{last}: {what}{moved}.")
