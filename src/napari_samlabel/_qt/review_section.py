"""The Instances dock's Review section: accept or reject the selected instances (on this
frame or as a whole) with a comment, and the open issues, each a click away from its
frame and instance."""

from __future__ import annotations

from typing import Callable, Sequence

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QCheckBox, QHBoxLayout, QLineEdit, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ._common import StatusLine, guarded

NOTE_ROLE = Qt.ItemDataRole.UserRole


class ReviewSection(QWidget):
    def __init__(self, status: StatusLine, selected: Callable[[], Sequence[int]]) -> None:
        super().__init__()
        self.status, self.selected = status, selected
        self.session = None
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("Comment (what is wrong, what to check)")
        self.this_frame = QCheckBox("On this frame only")
        self.this_frame.setToolTip("Off: the verdict is on the whole instance (its Status)")
        self.accept_button = QPushButton("Accept")
        self.reject_button = QPushButton("Reject")
        self.accept_button.clicked.connect(lambda: self.review("accepted"))
        self.reject_button.clicked.connect(lambda: self.review("rejected"))
        self.issues = QListWidget()
        self.issues.setToolTip("Open issues: click one to go to its frame and instance")
        self.issues.setMinimumHeight(60)
        self.issues.itemClicked.connect(self.go_to)
        self.resolve_button = QPushButton("Resolve")
        self.resolve_button.setToolTip("Mark the issue picked in the list as resolved")
        self.resolve_button.clicked.connect(self.resolve)
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.comment)
        layout.addWidget(self.this_frame)
        layout.addLayout(buttons)
        layout.addWidget(self.issues)
        layout.addWidget(self.resolve_button)

    def show_for(self, session) -> None:
        """List the open issues (the selected one stays selected)."""
        self.session = session
        picked = self.issues.currentItem().data(NOTE_ROLE) if self.issues.currentItem() is not None else None
        self.issues.blockSignals(True)
        self.issues.clear()
        if session is not None:
            table = session.table
            for note in table.reviews.open_issues():
                name = table[note.instance].name if note.instance in table else f"instance {note.instance}"
                item = QListWidgetItem(f"{name}, {note.where()}: {note.comment or '(no comment)'}")
                item.setData(NOTE_ROLE, note.id)
                item.setToolTip(f"{note.author} {note.time}".strip())
                self.issues.addItem(item)
                if note.id == picked:
                    self.issues.setCurrentItem(item)
        self.issues.blockSignals(False)

    def review(self, verdict: str) -> None:
        s, ids = self.session, list(self.selected())
        if s is None or not ids:
            self.status.error("Select the instances to review in the list.")
            return
        frame = s.current_frame() if self.this_frame.isChecked() else None
        notes = guarded(self.status, s.annotation.review, ids, verdict, self.comment.text(), frame=frame)
        if notes is None:
            return
        self.comment.clear()
        where = "" if frame is None else f" on frame {frame}"
        names = ", ".join(s.table[i].name for i in ids)
        self.status.ok(f"{verdict.capitalize()} {names}{where}." + (" It is an open issue until resolved." if verdict == "rejected" else ""))

    def go_to(self, item: QListWidgetItem) -> None:
        s = self.session
        if s is None:
            return
        note = s.table.reviews[item.data(NOTE_ROLE)]
        if note.frame is not None:
            s.go_to_frame(note.frame)
        guarded(self.status, s.select_instance, note.instance, jump=note.frame is None)

    def resolve(self) -> None:
        item = self.issues.currentItem()
        if self.session is None or item is None:
            self.status.error("Pick an open issue in the list first.")
            return
        self.session.annotation.resolve_issue(item.data(NOTE_ROLE))
        self.status.ok("Resolved.")
