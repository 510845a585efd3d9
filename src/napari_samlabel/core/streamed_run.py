"""Long work that writes as it goes (a tracking run, label all over frames): the shape
they share, so each can be run in one thread by scripts and the CLI."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator


class StreamedRun(ABC):
    """A run yields steps (in a worker, or here) and writes each into one transaction:
    ``begin()`` opens it, ``apply(step)`` writes, ``finish(keep)`` commits or rolls back."""

    @abstractmethod
    def begin(self) -> None: ...

    @abstractmethod
    def steps(self) -> Iterator: ...

    @abstractmethod
    def apply(self, step) -> None: ...

    @abstractmethod
    def finish(self, keep: bool = True) -> None: ...

    txn = None
    #: undo steps the run pushed, once finished: 0 when it changed nothing (then no Ctrl+Z
    #: is promised, or the next one would take back the user's own last edit)
    undo_steps = 0
    #: a run cancelled without keeping, after the user's edits split it: its earlier parts
    #: were taken back as one more undo step
    taken_back = False

    def close_transaction(self, keep: bool) -> None:
        txn, self.txn = self.txn, None
        if txn is None:
            return
        txn.commit() if keep else txn.rollback()
        self.undo_steps = txn.parts
        self.taken_back = txn.taken_back

    def undo_note(self, keep: bool) -> str:
        """What Ctrl+Z will do about this run, said only when true."""
        if not keep:
            return "Its frames from before your edits were taken back too (Ctrl+Z brings them back)." \
                if self.taken_back else ""
        if self.undo_steps == 0:
            return "Nothing changed: no undo step."
        if self.undo_steps == 1:
            return "One Ctrl+Z undoes it."
        return f"Split around your edits: {self.undo_steps} undo steps."

    def run(self):
        """Everything in this thread (scripts, tests, the CLI): one undo step, none on error."""
        self.begin()
        try:
            for step in self.steps():
                self.apply(step)
        except BaseException:
            self.finish(keep=False)
            raise
        self.finish(keep=True)
        return self
