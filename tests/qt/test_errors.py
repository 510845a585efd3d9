"""One error family: what a user can act on is a SamlabelError (a red line in a dock, one
line from `samlabel`); anything else is a bug and keeps its traceback. `samlabel -v` shows
what the plugin logs (files skipped, fallbacks, downloads)."""

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import napari_samlabel
from napari_samlabel.core.errors import SamlabelError

PACKAGE = Path(napari_samlabel.__file__).parent


def _exception_classes():
    """(module, class name) for every class in the package whose bases name an error."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
            if any(b.endswith(("Error", "Exception", "Mismatch", "Unavailable", "Attribute", "Instance", "Model",
                               "Class")) for b in bases):  # fmt: skip
                module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
                found.append((module, node.name))
    return found


def test_every_public_error_class_is_a_samlabel_error():
    checked = []
    for module, name in _exception_classes():
        cls = getattr(importlib.import_module(module), name)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            assert issubclass(cls, SamlabelError), f"{module}.{name} is not a SamlabelError"
            checked.append(name)
    # the walk found the family (a walk that finds nothing would pass anything)
    assert {"AnnotationError", "OntologyError", "ImageReadError", "CheckpointError", "ModelUnavailable",
            "ExportError", "LabelImportError", "ProjectError", "BatchError"} <= set(checked)  # fmt: skip


def test_family_members_keep_the_builtin_base_callers_catch():
    from napari_samlabel.backends.base import CheckpointError, UnknownModel
    from napari_samlabel.core.annotation import AnnotationError
    from napari_samlabel.core.instances import InstanceTable
    from napari_samlabel.core.ontology import Ontology

    assert issubclass(AnnotationError, ValueError) and issubclass(CheckpointError, FileNotFoundError)
    assert issubclass(UnknownModel, KeyError)
    with pytest.raises(KeyError, match="no class named 'tree'") as e:
        Ontology()["tree"]
    assert isinstance(e.value, SamlabelError)
    with pytest.raises(KeyError, match="no instance with label id 7") as e:
        InstanceTable()[7]
    assert isinstance(e.value, SamlabelError)


def test_a_bug_in_a_dock_action_shows_its_traceback_a_user_error_a_red_line(qtbot, monkeypatch):
    from napari_samlabel._qt._common import StatusLine, guarded
    from napari_samlabel.core.annotation import Annotation
    from napari_samlabel.core.ontology import Ontology

    onto = Ontology()
    onto.add("cell")
    annotation = Annotation(np.zeros((8, 8), np.uint32), onto)
    status = StatusLine()
    # a user error (one instance is no merge): a line in the dock, nothing raised
    assert guarded(status, annotation.merge, [1]) is None
    assert status.text() == "select at least two instances to merge"

    def broken_merge(self, ids, into=None):  # a programming error inside the action
        return {}[ids[0]]

    monkeypatch.setattr(Annotation, "merge", broken_merge)
    status.ok("")
    with pytest.raises(KeyError):  # before: swallowed into the status line as "1"
        guarded(status, annotation.merge, [1, 2])
    assert status.text() == ""


def test_samlabel_says_a_bug_with_its_traceback(tmp_path, monkeypatch, capsys):
    from napari_samlabel import cli
    from napari_samlabel.io import exporting

    np.save(tmp_path / "labels.npy", np.zeros((4, 4), np.uint16))
    (tmp_path / "c.json").write_text(json.dumps({"classes": [{"name": "cell"}]}))
    args = ["export", str(tmp_path / "labels.npy"), "--ontology", str(tmp_path / "c.json"), "--format", "coco",
            "-o", str(tmp_path / "out.json")]  # fmt: skip

    def broken_export(*a, **k):  # a bug, not a refusal
        raise ValueError("a bug")

    monkeypatch.setattr(exporting, "export", broken_export)
    with pytest.raises(ValueError, match="a bug"):  # before: "samlabel export: a bug", exit 2
        cli.main(args)
    monkeypatch.undo()
    args.remove("--ontology"), args.remove(str(tmp_path / "c.json"))  # a user error: one line, exit 2
    assert cli.main(args) == 2
    assert capsys.readouterr().err.strip() == "samlabel export: --ontology is needed for a label array"


@pytest.mark.slow
def test_samlabel_v_shows_the_skipped_dicom_file(tmp_path):
    pytest.importorskip("pydicom")
    from dicom_helpers import write_dicom_series

    write_dicom_series(tmp_path / "ct", np.zeros((3, 32, 32), np.int16))
    junk = tmp_path / "ct" / "notes.dcm"
    junk.write_text("not DICOM at all")
    (tmp_path / "p.json").write_text(json.dumps({"objects": [{"id": 1, "frame": [0], "box": [4, 4, 20, 20]}]}))
    cmd = [sys.executable, "-m", "napari_samlabel.cli", "segment", str(tmp_path / "ct"), "--prompts",
           str(tmp_path / "p.json"), "-o", str(tmp_path / "o.npy")]  # fmt: skip
    quiet = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    loud = subprocess.run([*cmd, "-v"], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and loud.returncode == 0, loud.stderr
    line = f"napari_samlabel.io.dicom: DICOM: skipped {junk}"
    assert line not in quiet.stderr  # the log is for -v (the one-line report says it without it)
    assert line in loud.stderr and "not a readable DICOM file" in loud.stderr
