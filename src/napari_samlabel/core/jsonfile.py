"""The plugin's JSON files (ontology, project, prompts), read one way and checked against
their schemas (``napari_samlabel/schemas/*.schema.json``, listed in the README).

Every problem is one message that starts with the file and names the place in it
(``classes[2].color``), raised as the loader's own error class, so each loader (and a field
added later) gets the same treatment: text that is not UTF-8, binary files, NaN, nesting
deep enough to crash the parser, wrong types and values.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

MAX_BYTES = 64 * 2**20  # no ontology, project or prompt file comes near; a wrong file might
MAX_DEPTH = 64  # our formats nest 5 levels; Python's parser dies of recursion near 1000


def read_json(path: str | Path, error: type[Exception] = ValueError, what: str = "JSON file") -> Any:
    """The JSON value in ``path``; ``error`` (naming the file and the problem) otherwise."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise error(f"{path}: {size / 2**20:.0f} MB is not a {what} (at most {MAX_BYTES // 2**20} MB)")
        raw = path.read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    text = _text(raw, path, error, what)
    if _depth(text) > MAX_DEPTH:
        raise error(f"{path}: nested more than {MAX_DEPTH} levels deep: not a {what}")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise error(f"{path}: not valid JSON ({e.msg.removesuffix(' starting at')}, line {e.lineno}, column {e.colno})") from None
    except _Constant as c:
        raise error(f"{path}: {c.args[0]} is not a number JSON allows (write a number or null)") from None


def _text(raw: bytes, path: Path, error: type[Exception], what: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte order mark (Windows editors)
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw[:4096]:
        raise error(f"{path}: binary data, not a {what} (JSON text)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise error(
            f"{path}: not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); save it as UTF-8"
        ) from None


def _depth(text: str) -> int:
    """How deep brackets nest, strings skipped: checked before parsing, which would recurse."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
        elif ch in "]}":
            depth -= 1
    return deepest


class _Constant(Exception):
    pass


def _no_constant(name: str):
    raise _Constant(name)  # NaN, Infinity: Python's json reads them, nothing else does


@lru_cache(maxsize=None)
def schema(name: str) -> dict:
    """A schema shipped with the package, by name (``ontology``, ``project``, ``prompts``)."""
    from importlib.resources import files

    return json.loads(files("napari_samlabel").joinpath("schemas", f"{name}.schema.json").read_text("utf-8"))


@lru_cache(maxsize=None)
def _validator(name: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(name))


def check(data: Any, name: str, source: str | Path, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` naming ``source`` and the place in it where ``data`` breaks schema ``name``."""
    from jsonschema.exceptions import best_match

    found = best_match(_validator(name).iter_errors(data))
    if found is None:
        return
    where = place(found.absolute_path, data)
    # jsonschema's own words name regexes and "any of the given schemas": the description of
    # the field says what is wanted, in a user's words
    wanted = _description(schema(name), found.absolute_schema_path)
    problem = f"{_short(found.instance)} is not {wanted}" if wanted else found.message
    raise error(f"{source}: {where + ': ' if where else ''}{problem}")


def _description(root: dict, schema_path) -> str | None:
    """The deepest ``description`` on the way to the failing keyword (local $refs followed)."""
    node, found = root, root.get("description")
    for key in schema_path:
        if isinstance(node, dict) and "$ref" in node and key not in node:
            node = _resolve(root, node["$ref"])
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "$ref" in node:
            node = _resolve(root, node["$ref"])
        if isinstance(node, dict) and node.get("description"):
            found = node["description"]
    return found


def _resolve(root: dict, ref: str):
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def place(path, data: Any = None) -> str:
    """``['classes', 2, 'color']`` -> ``classes[2].color``; with the ``data``, an item that
    has a name says it: ``classes[2] ("cell").attributes[0] ("phase").type``."""
    out, node = "", data
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
        if isinstance(part, int) and isinstance(node, dict) and isinstance(node.get("name"), str):
            out += f" ({json.dumps(node['name'])})"
    return out


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or value == value else "NaN"
    return text if len(text) <= 60 else text[:57] + "..."
