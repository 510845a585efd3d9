"""An instance table read from a file (a project's ``instances.json``) checked against the
ontology it opens with: what its schema (``schemas/instances.schema.json``, checked first)
cannot say. Attribute and classification values must be ones the ontology defines, reviews
must be of instances the file has, ids must be listed once. Each problem is one line naming
the file and the field, so nothing the ontology cannot show goes silently into CSV or COCO.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .attributes import AttributeDef, InvalidAttribute
from .ontology import ObjectClass, Ontology

if TYPE_CHECKING:
    from .instances import Instance, InstanceTable


def check_against_ontology(records: dict, ontology: Ontology, source: str | Path, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` naming ``source`` and the field of the first problem in ``records``
    (a dict the instances schema accepts)."""
    problem = _first_problem(records, ontology)
    if problem is not None:
        raise error(f"{source}: {problem}")


def table_problem(table: InstanceTable, ontology: Ontology) -> str | None:
    """The first value of ``table`` that ``ontology`` would refuse when the project is opened
    (before an ontology replaces the session's), or None."""
    return _first_problem(table.to_json(), ontology)


def keep_fitting(rec: Instance, cls: ObjectClass) -> None:
    """Drop the values of ``rec`` that class ``cls`` does not accept (a class change)."""
    defs = {d.name: d for d in cls.attributes}
    rec.attributes = {k: v for k, v in rec.attributes.items() if _fits(defs, k, v, False)}
    per_frame = {f: {k: v for k, v in vals.items() if _fits(defs, k, v, True)} for f, vals in rec.frame_attributes.items()}
    rec.frame_attributes = {f: vals for f, vals in per_frame.items() if vals}


def _fits(defs: dict[str, AttributeDef], name: str, value: Any, dynamic: bool) -> bool:
    return _values_problem({name: value}, defs, "", "", dynamic) is None


def _first_problem(records: dict, ontology: Ontology) -> str | None:
    ids: set[int] = set()
    for k, rec in enumerate(records.get("instances", [])):
        where = f"instances[{k}] (id {rec['id']})"
        if rec["id"] in ids:
            return f"{where}.id: {rec['id']} is listed twice"
        ids.add(rec["id"])
        cls = rec["class_name"]
        if cls not in ontology:  # a class astray: the opener adds it, and its values, back (said)
            continue
        defs = {d.name: d for d in ontology[cls].attributes}
        found = _values_problem(rec.get("attributes") or {}, defs, f"class {cls!r}", f"{where}.attributes", False)
        for frame, values in (rec.get("frame_attributes") or {}).items():
            found = found or _values_problem(values, defs, f"class {cls!r}", f"{where}.frame_attributes.{frame}", True)
        if found:
            return found
    classifications = {d.name: d for d in ontology.classifications}
    for frame, values in (records.get("frame_labels") or {}).items():
        found = _values_problem(values, classifications, "the ontology", f"frame_labels.{frame}", None, "classification")
        if found:
            return found
    return _reviews_problem(records.get("reviews") or [], ids)


def _values_problem(values: dict, defs: dict[str, AttributeDef], owner: str, where: str, dynamic: bool | None,
                    what: str = "attribute") -> str | None:  # fmt: skip
    """``dynamic``: whether ``values`` are per frame (None: either, as classifications are)."""
    for name, value in values.items():
        here = f"{where}.{name}"
        spec = defs.get(name)
        if spec is None:
            return f"{here}: {owner} has no {what} {name!r}"
        if dynamic is not None and spec.dynamic != dynamic:
            return f"{here}: " + (f"{name!r} is set per frame (frame_attributes)" if spec.dynamic
                                  else f"{name!r} is one value per instance (attributes)")  # fmt: skip
        problem = _value_problem(spec, value)
        if problem:
            return f"{here}: {problem}"
    return None


def _value_problem(spec: AttributeDef, value: Any) -> str | None:
    try:
        spec.value(value)
    except InvalidAttribute as e:  # its words start with the attribute, which the field names already
        return str(e).removeprefix(f"{spec.name!r} ({spec.type}): ")
    return None


def _reviews_problem(notes: list[dict], ids: set[int]) -> str | None:
    seen: set[int] = set()
    for k, note in enumerate(notes):
        if note["id"] in seen:
            return f"reviews[{k}].id: {note['id']} is listed twice"
        seen.add(note["id"])
        if note["instance"] not in ids:
            return f"reviews[{k}].instance: {note['instance']} is no instance of this project"
    return None
