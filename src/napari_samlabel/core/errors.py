"""The plugin's one error family.

``SamlabelError`` is an error a user can act on: its message names the file, field or
instance and the problem. Docks show it as a red status line and ``samlabel`` as one line
on stderr; any other exception is a bug and keeps its traceback. Each member keeps the
builtin base callers already catch (``ValueError``, ``KeyError``, ``FileNotFoundError``).
"""

from __future__ import annotations


class SamlabelError(Exception):
    """An error a user can act on: the message names the file/field/instance and the problem."""


def message(e: BaseException) -> str:
    """The text to show for ``e`` (a ``KeyError``'s own text, without the quotes ``str`` adds)."""
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    return str(e)
