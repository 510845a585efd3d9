"""py-ctcmetrics judges a CTC export with divisions: ``ctc_validate`` accepts it, and
``ctc_evaluate`` against a ground truth folder written independently (TRA + SEG) scores
every metric 1.0, the division metrics included."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from lineage_movie import DIVISIONS, roots_tracked_whole, truth, write_gt
from napari_samlabel.core import Annotation, Ontology

pytest.importorskip("ctc_metrics")
pytestmark = pytest.mark.slow  # py-ctcmetrics takes a few seconds per sequence

SCORES = ("DET", "SEG", "TRA", "LNK", "CT", "TF", "CCA", "CHOTA", "HOTA", "MOTA", "IDF1",
          "OP_CTB", "OP_CSB", "Precision", "Recall", "MT")  # fmt: skip


def divided_by_hand():
    """Each founder tracked as one instance, then divided where the cells divide, as a
    user does in the Track dock: three divisions, one of them of a daughter."""
    gt = truth()
    onto = Ontology()
    onto.add("cell")
    ann = Annotation(roots_tracked_whole(gt).astype(np.uint32), onto, frame_axis=0)
    ann.sync_frames()
    a, b = ann.divide(1, 2)
    again = a if (gt[6][ann.store.data[6] == a.id] == 2).any() else b  # the daughter that divides again
    ann.divide(again.id, 6)
    ann.divide(6, 4)
    return ann, gt


def linked_by_hand():
    """Each cell its own instance (drawn or tracked one by one), then linked to its mother."""
    gt = truth()
    onto = Ontology()
    onto.add("cell")
    ann = Annotation(gt.astype(np.uint32), onto, frame_axis=0)
    ann.sync_frames()
    for mother, daughters in ((1, [2, 3]), (2, [4, 5]), (6, [7, 8])):
        ann.link(mother, daughters)
    return ann, gt


def evaluate(res, gt):
    from ctc_metrics.scripts.evaluate import evaluate_sequence

    return evaluate_sequence(str(res), str(gt), threads=1)


@pytest.mark.parametrize("made", [divided_by_hand, linked_by_hand], ids=["divided", "linked"])
def test_an_export_with_divisions_scores_1_on_every_metric(tmp_path, made):
    from napari_samlabel.io.exporting import export

    ann, labels = made()
    gt = write_gt(tmp_path / "01_GT", labels)
    res = export("ctc", tmp_path / "01_RES", ann.store.data, ann.ontology, ann.table, 0)

    cli = shutil.which("ctc_validate")  # the CLI, else the function it runs
    cmd = [cli] if cli else [sys.executable, "-c", "from ctc_metrics.scripts.validate import main; main()"]
    valid = subprocess.run([*cmd, "--res", str(res), "-n", "1"], capture_output=True, text=True)
    assert valid.returncode == 0 and "Valid: 1.0" in valid.stdout, valid.stdout + valid.stderr

    got = evaluate(res, gt)
    assert got["Valid"] == 1 and got["gt_divisions"] == DIVISIONS
    bad = {k: got[k] for k in SCORES if got[k] != 1.0}
    for i in range(4):  # branching correctness BC(i) and BIO(i), OP_CLB(i): divisions found within i frames
        bad.update({k: got[k] for k in (f"BC({i})", f"BIO({i})", f"OP_CLB({i})") if got[k] != 1.0})
        assert (got[f"tp_div({i})"], got[f"fp_div({i})"], got[f"fn_div({i})"]) == (DIVISIONS, 0, 0)
    assert not bad, bad
    assert got["AOGM"] == 0 and got["FAF"] == 0


def test_without_parents_the_judge_finds_no_division(tmp_path):
    """The control: the same masks with parent 0 (what the export wrote before lineage)."""
    from napari_samlabel.io.ctc import write_ctc

    ann, labels = divided_by_hand()
    gt = write_gt(tmp_path / "GT", labels)
    got = evaluate(write_ctc(tmp_path / "RES", ann.store.data, 0), gt)
    assert got["BC(0)"] == 0 and got["fn_div(0)"] == DIVISIONS and got["TRA"] < 1 and got["SEG"] == 1.0
