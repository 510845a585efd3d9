"""Helpers for tests that edit a saved project's files as another tool would."""

import json


def rewrite_instances(folder, change):
    """Change a saved project's instances.json as an editor or another tool would (the sizes
    project.json lists updated, so the copy is complete)."""
    records = json.loads((folder / "instances.json").read_text())
    change(records)
    (folder / "instances.json").write_text(json.dumps(records))
    info = json.loads((folder / "project.json").read_text())
    info["files"]["instances.json"] = (folder / "instances.json").stat().st_size
    (folder / "project.json").write_text(json.dumps(info))
