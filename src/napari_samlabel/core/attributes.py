"""Attributes of instances and classifications of frames: their definitions and values.

In the ontology file a class may list ``attributes`` and the file may list frame-level
``classifications``, each ``{"name", "type", "options", "dynamic"}`` with ``type`` one of
``text``, ``number``, ``one-of`` (radio: one option), ``any-of`` (checklist: a list of
options). A *static* attribute has one value per instance, a *dynamic* one a value per
frame ("phase: M" on frames 12-15). A classification always has a value per frame.

Values are checked against their definition when set: ``text`` -> str, ``number`` -> a
finite float, ``one-of`` -> one of the options, ``any-of`` -> a tuple of options in the
ontology's order. ``None`` clears a value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable
from .errors import SamlabelError

TYPES = ("text", "number", "one-of", "any-of")
#: between the options of an any-of value where it is one text (tables, CSV)
ANY_OF_SEPARATOR = "; "


class InvalidAttribute(SamlabelError, ValueError):
    """A definition or a value is invalid; the message names the class and the field."""


@dataclass(frozen=True)
class AttributeDef:
    name: str
    type: str = "text"
    options: tuple[str, ...] = ()
    dynamic: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, d: Any, where: str) -> AttributeDef:
        """``where`` names the owner for messages: "class 'cell': " or "classifications: "."""
        if not isinstance(d, dict):
            raise InvalidAttribute(f"{where}an attribute must be an object with a 'name' and a 'type'")
        name = str(d.get("name", "")).strip()
        if not name:
            raise InvalidAttribute(f"{where}an attribute has no 'name'")
        here = f"{where}attribute {name!r}: "
        kind = d.get("type", "text")
        if kind not in TYPES:
            raise InvalidAttribute(f"{here}type {kind!r} is not one of {', '.join(TYPES)}")
        options = d.get("options", [])
        if kind in ("one-of", "any-of"):
            if not isinstance(options, list) or not options or not all(isinstance(o, str) and o.strip() for o in options):
                raise InvalidAttribute(f"{here}a {kind} attribute needs 'options': a list of option names (text)")
            options = [o.strip() for o in options]
            twice = sorted({o for o in options if options.count(o) > 1})
            if twice:
                raise InvalidAttribute(f"{here}option {twice[0]!r} is listed twice")
            # refused, not escaped: a spreadsheet user splits the cell on ';', and a rename now
            # costs less than a backslash in every table and CSV
            joined = next((o for o in options if kind == "any-of" and ANY_OF_SEPARATOR.strip() in o), None)
            if joined is not None:
                raise InvalidAttribute(f"{here}option {joined!r} holds ';', which separates the options of an any-of "
                                       "value in tables and CSV: rename it")  # fmt: skip
        elif options:
            raise InvalidAttribute(f"{here}a {kind} attribute has no 'options' (only one-of and any-of do)")
        dynamic = d.get("dynamic", False)
        if not isinstance(dynamic, bool):
            raise InvalidAttribute(f"{here}'dynamic' must be true or false, not {dynamic!r}")
        known = {"name", "type", "options", "dynamic"}
        return cls(name, kind, tuple(options), dynamic, {k: v for k, v in d.items() if k not in known})

    def to_dict(self) -> dict:
        out = dict(self.extra)
        out.update(name=self.name, type=self.type)
        if self.options:
            out["options"] = list(self.options)
        if self.dynamic:
            out["dynamic"] = True
        return out

    def value(self, value: Any) -> Any:
        """``value`` as stored (see the module's doc), or an error saying what is wanted."""
        if value is None:
            return None
        what = f"{self.name!r} ({self.type})"
        if self.type == "text":
            return str(value)
        if self.type == "number":
            try:
                if isinstance(value, bool):
                    raise ValueError
                number = float(value)
            except (TypeError, ValueError):
                raise InvalidAttribute(f"{what}: {value!r} is not a number") from None
            if not math.isfinite(number):
                raise InvalidAttribute(f"{what}: {value!r} is not a finite number")
            return number
        if self.type == "one-of":
            if value not in self.options:
                raise InvalidAttribute(f"{what}: {value!r} is not one of {', '.join(self.options)}")
            return value
        picked = [value] if isinstance(value, str) else list(value)
        unknown = [v for v in picked if v not in self.options]
        if unknown:
            raise InvalidAttribute(f"{what}: {unknown[0]!r} is not one of {', '.join(self.options)}")
        return tuple(o for o in self.options if o in picked)


def definitions(items: Any, where: str) -> tuple[AttributeDef, ...]:
    """Definitions from a file's list; each name once."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise InvalidAttribute(f"{where}'attributes' must be a list")
    defs = tuple(AttributeDef.from_dict(d, where) for d in items)
    names = [d.name for d in defs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidAttribute(f"{where}attribute {twice[0]!r} is defined twice")
    return defs


def find(defs: Iterable[AttributeDef], name: str, owner: str) -> AttributeDef:
    for d in defs:
        if d.name == name:
            return d
    names = ", ".join(d.name for d in defs) or "none"
    raise InvalidAttribute(f"{owner} has no attribute {name!r} (it has: {names})")


def shown(value: Any) -> str:
    """A value as a person reads it (tables, CSV): any-of joined with '; ' (no option holds a ';')."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ANY_OF_SEPARATOR.join(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def json_values(values: dict[str, Any]) -> dict[str, Any]:
    """Values as JSON holds them (any-of as a list)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def from_json(value: Any) -> Any:
    """JSON gives lists where values hold tuples (any-of)."""
    return tuple(value) if isinstance(value, list) else value


@dataclass
class FrameLabels:
    """The frame-level classifications of a session: frame -> {name: value}.

    Kept by the instance table beside the instances (under :data:`FRAME_LABELS` in its
    undo journal), so setting one is an undo step like any edit."""

    values: dict[int, dict[str, Any]] = field(default_factory=dict)

    def copy(self) -> FrameLabels:
        return FrameLabels({f: dict(v) for f, v in self.values.items()})

    def on(self, frame: int) -> dict[str, Any]:
        return dict(self.values.get(int(frame), {}))

    def set(self, frame: int, name: str, value: Any) -> None:
        here = self.values.setdefault(int(frame), {})
        if value is None:
            here.pop(name, None)
            if not here:
                del self.values[int(frame)]
        else:
            here[name] = value

    def to_json(self) -> dict:
        return {str(f): json_values(dict(sorted(vals.items()))) for f, vals in sorted(self.values.items())}

    @classmethod
    def from_json(cls, data: Any) -> FrameLabels:
        return cls({int(f): {k: from_json(v) for k, v in vals.items()} for f, vals in (data or {}).items()})


#: The key of the frame labels in the instance table's undo journal: label 0 is the
#: background, never an instance.
FRAME_LABELS = 0

