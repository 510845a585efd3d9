"""Project folders: labels + ontology + instance table (+ geometry) in one place.

Saved atomically: everything goes into ``<name>.saving``, the old folder is moved
aside, the new one renamed into place, the old one removed. A crash at any point
leaves either the old project or the new one; :func:`load_project` also finds the
old one if a crash came between the two renames.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..core.instances import InstanceTable
from ..core.ontology import Ontology

VERSION = 1


class ProjectError(ValueError):
    """A project folder that cannot be read; the message says which file and why."""


def save_project(folder, labels: np.ndarray, ontology: Ontology, table: InstanceTable, meta: dict | None = None) -> Path:
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".saving")
    old = folder.with_name(folder.name + ".old")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    np.save(tmp / "labels.npy", np.asarray(labels))
    ontology.save(tmp / "ontology.json")
    (tmp / "instances.json").write_text(json.dumps(table.to_json()), encoding="utf-8")
    info = {"version": VERSION, **_jsonable(meta or {})}
    (tmp / "project.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    if old.exists():
        shutil.rmtree(old)
    return folder


def load_project(folder) -> tuple[np.ndarray, Ontology, InstanceTable, dict]:
    folder = Path(folder)
    if not folder.exists() and folder.with_name(folder.name + ".old").exists():
        folder = folder.with_name(folder.name + ".old")  # a save crashed between its renames
    for name in ("labels.npy", "ontology.json", "instances.json", "project.json"):
        if not (folder / name).is_file():
            raise ProjectError(f"{folder}: not a samlabel project ({name} is missing)")
    try:
        labels = np.load(folder / "labels.npy")
    except Exception as e:
        raise ProjectError(f"{folder / 'labels.npy'}: cannot be read ({e})") from e
    ontology = Ontology.load(folder / "ontology.json")
    try:
        table = InstanceTable.from_json(json.loads((folder / "instances.json").read_text()))
        meta = json.loads((folder / "project.json").read_text())
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ProjectError(f"{folder}: instance table or project file is damaged ({e})") from e
    return labels, ontology, table, meta


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    return obj
