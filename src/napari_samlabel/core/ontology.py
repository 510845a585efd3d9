"""Classes to label with, and their JSON file format.

File format (extra fields are kept on load and written back)::

    {"classes": [{"name": "nucleus", "color": "#ff8800", "kind": "thing", "hotkey": "1",
                  "prompt": "cell nucleus",
                  "attributes": [{"name": "phase", "type": "one-of", "options": ["G1", "M"],
                                  "dynamic": true}]}],
     "classifications": [{"name": "quality", "type": "one-of", "options": ["good", "blurred"]}]}

``kind`` is ``thing`` (each object is its own instance) or ``stuff`` (one label
for the whole class, as in panoptic segmentation). ``attributes`` (per instance, or per
frame when ``dynamic``) and frame-level ``classifications`` are defined in
:mod:`.attributes`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from psygnal import Signal

from .errors import SamlabelError
from .attributes import AttributeDef, InvalidAttribute, definitions

KINDS = ("thing", "stuff")
HOTKEYS = tuple("123456789")
_HEX = re.compile(r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
# A qualitative palette (Glasbey-like) for classes added without a colour.
#: Class colours, none near the green and red of include/exclude clicks (a green class
#: made a positive click invisible on its own preview).
DEFAULT_COLORS = (
    "#ff8800", "#4363d8", "#f032e6", "#42d4f4", "#ffe119",
    "#911eb4", "#fabed4", "#469990", "#dcbeff", "#9a6324",
    "#fffac8", "#000075", "#a9a9a9", "#808000", "#ffd8b1",
)  # fmt: skip


class UnknownClass(SamlabelError, KeyError):
    """A class name the ontology lacks (a ``KeyError``, as a missing key is)."""


class OntologyError(SamlabelError, ValueError):
    """An ontology file or edit is invalid; the message says what and where."""


def normalize_color(color: Any) -> str:
    """Return ``#rrggbb`` for a hex string or an RGB(A) sequence of 0-1 floats or 0-255 ints."""
    if isinstance(color, str):
        if not _HEX.match(color.strip()):
            raise OntologyError(f"colour {color!r} is not a hex colour like '#ff8800'")
        return color.strip().lower()[:7]
    try:
        values = [float(c) for c in color][:3]
    except TypeError:
        raise OntologyError(f"colour {color!r} is neither '#rrggbb' nor an RGB triple") from None
    if len(values) != 3:
        raise OntologyError(f"colour {color!r} needs three components")
    if not all(math.isfinite(v) for v in values):
        raise OntologyError(f"colour {color!r} has a component that is not a number")
    if all(v <= 1.0 for v in values):
        values = [v * 255 for v in values]
    if any(v < 0 or v > 255 for v in values):
        raise OntologyError(f"colour {color!r} has components outside 0-255")
    return "#" + "".join(f"{round(v):02x}" for v in values)


def hex_to_rgba(color: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    c = normalize_color(color)
    return (int(c[1:3], 16) / 255, int(c[3:5], 16) / 255, int(c[5:7], 16) / 255, alpha)


@dataclass(frozen=True)
class ObjectClass:
    name: str
    color: str = "#ff8800"
    kind: str = "thing"
    hotkey: str | None = None
    attributes: tuple[AttributeDef, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)
    #: the text a concept model (SAM 3) looks for in "Label all": "cell nucleus" for "nucleus";
    #: None: the class's name
    prompt: str | None = None

    def __post_init__(self) -> None:
        name = str(self.name).strip()
        if not name:
            raise OntologyError("a class needs a non-empty name")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "color", normalize_color(self.color))
        if self.kind not in KINDS:
            raise OntologyError(f"class {name!r}: kind must be 'thing' or 'stuff', not {self.kind!r}")
        hotkey = None if self.hotkey in (None, "") else str(self.hotkey)
        if hotkey is not None and hotkey not in HOTKEYS:
            raise OntologyError(f"class {name!r}: hotkey must be one of 1-9, not {self.hotkey!r}")
        object.__setattr__(self, "hotkey", hotkey)
        prompt = None if self.prompt is None else " ".join(str(self.prompt).split())
        object.__setattr__(self, "prompt", prompt or None)

    @property
    def prompt_text(self) -> str:
        """What a concept model is asked for: the class's ``prompt``, else its name."""
        return self.prompt or self.name

    @property
    def is_stuff(self) -> bool:
        return self.kind == "stuff"

    @property
    def title(self) -> str:
        """The name as shown in lists: 'nucleus' -> 'Nucleus'."""
        return self.name[:1].upper() + self.name[1:]

    def to_dict(self) -> dict:
        out = dict(self.extra)
        out.update(name=self.name, color=self.color, kind=self.kind)
        if self.hotkey is not None:
            out["hotkey"] = self.hotkey
        if self.attributes:
            out["attributes"] = [a.to_dict() for a in self.attributes]
        if self.prompt is not None:
            out["prompt"] = self.prompt
        return out

    @classmethod
    def from_dict(cls, d: Any, where: str = "") -> ObjectClass:
        if not isinstance(d, dict):
            raise OntologyError(f"{where}each class must be an object, got {type(d).__name__}")
        if "name" not in d:
            raise OntologyError(f"{where}a class has no 'name'")
        known = {"name", "color", "kind", "hotkey", "attributes", "prompt"}
        hotkey = d.get("hotkey")
        try:
            return cls(
                name=d["name"],
                color=d.get("color", DEFAULT_COLORS[0]),
                kind=d.get("kind", "thing"),
                hotkey=None if hotkey is None else str(hotkey),
                attributes=definitions(d.get("attributes"), ""),
                extra={k: v for k, v in d.items() if k not in known},
                prompt=d.get("prompt"),
            )
        except (OntologyError, InvalidAttribute) as e:
            raise OntologyError(f"{where}{e}") from None


class ClassRef:
    """A class held by name across edits (the clipboard, a running job): its ``name`` follows
    the ontology's renames, so what it names later is the class it was given, renamed."""

    def __init__(self, ontology: Ontology, name: str) -> None:
        self.name = name
        ontology.renamed.connect(self._follow)  # (psygnal holds it weakly: gone with this object)

    def _follow(self, old: str, new: str) -> None:
        if self.name == old:
            self.name = new


class Ontology:
    """An ordered set of uniquely named classes with unique hotkeys.

    Every edit validates before it changes anything, so a rejected edit leaves
    the ontology as it was. ``changed`` fires after each accepted edit;
    ``renamed`` fires with (old, new) so instance tables can follow.
    """

    changed = Signal()
    renamed = Signal(str, str)

    def __init__(self, classes: list[ObjectClass] | None = None, classifications: tuple[AttributeDef, ...] = ()) -> None:
        self._classes: list[ObjectClass] = []
        #: frame-level labels ("quality: good/blurred"), one value per frame each
        self.classifications: tuple[AttributeDef, ...] = tuple(classifications)
        self._set(list(classes or []))

    # -- reading ---------------------------------------------------------
    def __iter__(self) -> Iterator[ObjectClass]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self._classes)

    def __getitem__(self, name: str) -> ObjectClass:
        for c in self._classes:
            if c.name == name:
                return c
        raise UnknownClass(f"no class named {name!r}; classes are {self.names}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._classes]

    def by_hotkey(self, key: str) -> ObjectClass | None:
        return next((c for c in self._classes if c.hotkey == str(key)), None)

    # -- editing ---------------------------------------------------------
    def add(
        self,
        name: str,
        color: Any = None,
        kind: str = "thing",
        hotkey: str | None = "auto",
        extra: dict | None = None,
    ) -> ObjectClass:
        """Add a class; colour and hotkey default to the next free ones. ``extra``: fields kept
        with the class and written back (a DICOM SEG's segment codes, ``dicom_codes``)."""
        if hotkey == "auto":
            used = {c.hotkey for c in self._classes}
            hotkey = next((k for k in HOTKEYS if k not in used), None)
        if color is None:
            used_colors = {c.color for c in self._classes}
            color = next((c for c in DEFAULT_COLORS if c not in used_colors), DEFAULT_COLORS[0])
        cls = ObjectClass(name=name, color=color, kind=kind, hotkey=hotkey, extra=dict(extra or {}))
        self._set([*self._classes, cls])
        return cls

    def update(self, name: str, /, **changes: Any) -> ObjectClass:
        """Change a class's name, color, kind, hotkey, attributes (definitions or dicts) or
        prompt (the text a concept model looks for; None or '': the name)."""
        old = self[name]
        unknown = set(changes) - {"name", "color", "kind", "hotkey", "attributes", "prompt"}
        if unknown:
            raise OntologyError(f"cannot change {sorted(unknown)} of a class")
        if "attributes" in changes:
            attrs = [a.to_dict() if isinstance(a, AttributeDef) else a for a in changes["attributes"]]
            try:
                changes["attributes"] = definitions(attrs, f"class {name!r}: ")
            except InvalidAttribute as e:
                raise OntologyError(str(e)) from None
        new = replace(old, **changes)
        classes = [new if c is old else c for c in self._classes]
        _check_unique(classes)
        self._classes = classes
        if new.name != old.name:  # followers rename first, so 'changed' finds them consistent
            self.renamed.emit(old.name, new.name)
        self.changed.emit()
        return new

    def rename(self, name: str, new_name: str) -> ObjectClass:
        return self.update(name, name=new_name)

    def ref(self, name: str) -> ClassRef:
        """``name``'s class, held across edits: its ``name`` follows renames."""
        return ClassRef(self, name)

    def remove(self, name: str) -> None:
        cls = self[name]
        self._set([c for c in self._classes if c is not cls])

    def replace_all(self, other: Ontology) -> None:
        self.classifications = other.classifications
        self._set(list(other))

    def _set(self, classes: list[ObjectClass]) -> None:
        _check_unique(classes)
        self._classes = classes
        self.changed.emit()

    # -- file format -----------------------------------------------------
    def to_dict(self) -> dict:
        out: dict = {"classes": [c.to_dict() for c in self._classes]}
        if self.classifications:
            out["classifications"] = [a.to_dict() for a in self.classifications]
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "ontology") -> Ontology:
        from .jsonfile import check

        check(data, "ontology", source, OntologyError)  # schemas/ontology.schema.json
        items = data["classes"]
        classes = [ObjectClass.from_dict(d, where=f"{source}: {_class_place(d, i)}: ") for i, d in enumerate(items)]
        try:
            _check_unique(classes)
            classifications = definitions(data.get("classifications"), "classifications: ")
        except (OntologyError, InvalidAttribute) as e:
            raise OntologyError(f"{source}: {e}") from None
        return cls(classes, classifications)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)  # atomic: a crash never leaves half a file

    @classmethod
    def load(cls, path: str | Path) -> Ontology:
        from .jsonfile import read_json

        return cls.from_dict(read_json(path, OntologyError, "ontology file"), source=str(path))

    def __repr__(self) -> str:
        return f"Ontology({self.names})"


def _class_place(d: Any, i: int) -> str:
    name = d.get("name") if isinstance(d, dict) else None
    return f"class {name.strip()!r}" if isinstance(name, str) and name.strip() else f"class #{i + 1}"


def _check_unique(classes: list[ObjectClass]) -> None:
    seen: dict[str, str] = {}
    keys: dict[str, str] = {}
    for c in classes:
        if c.name.lower() in seen:
            raise OntologyError(f"class name {c.name!r} is used twice")
        seen[c.name.lower()] = c.name
        if c.hotkey is not None:
            if c.hotkey in keys:
                raise OntologyError(f"hotkey {c.hotkey} is used by both {keys[c.hotkey]!r} and {c.name!r}")
            keys[c.hotkey] = c.name
