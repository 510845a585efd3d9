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
