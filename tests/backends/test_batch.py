"""`samlabel batch`: many files as tasks on a dask LocalCluster, a corrupt one among them."""

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_samlabel import batch
from napari_samlabel.backends import registry
from napari_samlabel.batch import read_manifest
from napari_samlabel.cli import main
from napari_samlabel.synthetic import fluorescence_timelapse

pytest.importorskip("distributed")


def centre(mask):
    d = ndi.distance_transform_edt(mask)
    return [int(v) for v in np.unravel_index(np.argmax(d), d.shape)]


def make_movie(seed, n_frames=3, size=64):
    image, truth = fluorescence_timelapse(n_frames=n_frames, size=size, n_cells=3, seed=seed)
    return image, truth


def prompts_for(truth, frame=0, ids=(1, 2)):
    return {"objects": [{"id": 10 + i, "class": "nucleus", "frame": [frame], "points": [centre(truth[frame] == i)]}
                        for i in ids if (truth[frame] == i).any()]}  # fmt: skip


@pytest.fixture
def counting_seeds(monkeypatch):
    """The seeds backend under another name, recording which worker loaded it each time."""
    from distributed import get_worker

    from napari_samlabel.backends.seeds import SeedGrowSegmenter

    loads = []

    def factory(checkpoint=None, device="auto"):
        loads.append(get_worker().address)
        return SeedGrowSegmenter()

    monkeypatch.setitem(registry._FACTORIES, "counting-seeds", factory)
    monkeypatch.setitem(registry.MODELS, "counting-seeds", registry.ModelSpec("counting-seeds"))
    yield loads
    batch.forget_models()


def write_inputs(tmp_path):
    """Four good images (tif, npy, NIfTI) with prompts, a corrupt tif, one with bad prompts,
    one without a prompts file."""
    import nibabel as nib
    import tifffile

    src, prompts = tmp_path / "in", tmp_path / "prompts"
    src.mkdir()
    prompts.mkdir()
    good = []
    for k in range(4):
        image, truth = make_movie(k)
        if k == 2:
            name = "vol.nii.gz"  # NIfTI: written back as NIfTI with its affine
            nib.save(nib.Nifti1Image(np.transpose(image, (2, 1, 0)), np.diag([0.5, 0.5, 2.0, 1.0])), src / name)
            truth = truth[:, ::-1, ::-1]  # the reader turns this RAS file to LPS: rows and columns flip
        elif k == 3:
            name = f"cells{k}.npy"
            np.save(src / name, image)
        else:
            name = f"cells{k}.tif"
            tifffile.imwrite(src / name, image)
        (prompts / f"{batch.image_name(name)}.json").write_text(json.dumps(prompts_for(truth)))
        good.append(name)
    tifffile.imwrite(src / "corrupt.tif", make_movie(9)[0])
    data = (src / "corrupt.tif").read_bytes()
    (src / "corrupt.tif").write_bytes(data[: len(data) // 3])  # a copy cut short
    (prompts / "corrupt.json").write_text(json.dumps(prompts_for(make_movie(9)[1])))
    np.save(src / "badprompts.npy", make_movie(5)[0])
    (prompts / "badprompts.json").write_text(json.dumps({"objects": [{"id": 1, "frame": [], "points": [[5, 5]]}]}))
    np.save(src / "noprompts.npy", make_movie(6)[0])
    return src, prompts, good


@pytest.mark.slow  # over a second: the quick tier stays under two minutes
def test_batch_on_a_local_cluster_with_broken_files(tmp_path, capsys, counting_seeds):
    src, prompts, good = write_inputs(tmp_path)
    names = [*good[:2], "corrupt.tif", *good[2:], "badprompts.npy", "noprompts.npy"]
    out = tmp_path / "out"
    rc = main(["batch", "segment", *[str(src / n) for n in names], "--prompts", str(prompts), "-o", str(out),
               "--model", "counting-seeds", "--workers", "2", "--in-process"])  # fmt: skip
    said = capsys.readouterr().out
    assert rc == 1  # some files failed
    rows = {r["file"]: r for r in read_manifest(out)}
    assert list(rows) == [str(src / n) for n in names]  # the inputs' order, whatever finished first
    bad = {n: rows[str(src / n)] for n in ("corrupt.tif", "badprompts.npy", "noprompts.npy")}
    assert all(r["status"] == "failed" for r in bad.values())
    assert "corrupt.tif: cannot be read" in bad["corrupt.tif"]["error"]
    assert "'frame' needs 1 index(es)" in bad["badprompts.npy"]["error"]
    assert "no prompts file" in bad["noprompts.npy"]["error"] and "noprompts.json" in bad["noprompts.npy"]["error"]
    # one progress line per file as it finished, with its status and seconds
    lines = [ln for ln in said.splitlines() if ln.startswith("[")]
    assert len(lines) == len(names) and all(" s  " in ln for ln in lines)
    assert sum("failed" in ln for ln in lines) == 3 and "4 ok, 3 failed" in said

    # every good file was done, and equals `samlabel segment` run on it alone
    for n in good:
        row = rows[str(src / n)]
        assert row["status"] == "ok" and float(row["seconds"]) >= 0 and int(row["objects"]) >= 1
        one = tmp_path / "one" / row["output"]
        assert main(["segment", str(src / n), "--prompts", str(prompts / f"{batch.image_name(n)}.json"),
                     "-o", str(one)]) == 0  # fmt: skip
        assert (out / row["output"]).read_bytes() == one.read_bytes(), n
        classes = f"{batch.image_name(row['output'])}.instances.csv"  # each id's class, beside its labels
        assert (out / classes).read_text() == (one.parent / classes).read_text(), n
        assert "nucleus" in (out / classes).read_text()
    assert rows[str(src / "vol.nii.gz")]["output"] == "vol.nii.gz"
    # nothing but the outputs, their class tables and the manifest in the folder (no half-written files)
    outputs = [rows[str(src / n)]["output"] for n in good]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        outputs + [f"{batch.image_name(o)}.instances.csv" for o in outputs] + ["manifest.csv"])  # fmt: skip

    # each worker loaded the model once, and both ran files
    workers = {r["worker"] for r in rows.values() if r["worker"]}
    assert len(workers) == 2 and sorted(counting_seeds) == sorted(workers)


def test_batch_track_on_a_running_scheduler_with_one_shared_prompts_file(tmp_path, capsys):
    from distributed import LocalCluster

    images = []
    for k in range(3):
        image, truth = make_movie(k, n_frames=5)
        np.save(tmp_path / f"m{k}.npy", image)
        images.append(tmp_path / f"m{k}.npy")
    shared = tmp_path / "p.json"
    shared.write_text(json.dumps(prompts_for(make_movie(0, n_frames=5)[1], frame=1, ids=(1,))))  # same prompts for all
    out = tmp_path / "out"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        (tmp_path / "list.txt").write_text("\n".join(map(str, images[1:])))  # @LIST: names from a file
        rc = main(["batch", "track", str(images[0]), f"@{tmp_path / 'list.txt'}", "--prompts", str(shared),
                   "--direction", "both", "--frames", "3",
                   "-o", str(out), "--scheduler", cluster.scheduler_address])  # fmt: skip
        assert rc == 0, capsys.readouterr()
        assert len(cluster.scheduler_info["workers"]) == 2  # the cluster stays up: it is not ours to close
    for img in images:
        one = tmp_path / "one" / img.name
        assert main(["track", str(img), "--prompts", str(shared), "--direction", "both", "--frames", "3", "-o", str(one)]) == 0
        got, ref = np.load(out / img.name), np.load(one)
        np.testing.assert_array_equal(got, ref)
    got = np.load(out / "m0.npy")  # the movie the prompts were made on
    assert {0, 1, 2} <= {f for f in range(5) if (got[f] == 11).any()}  # tracked both ways from frame 1
    batch.forget_models()


def test_batch_refuses_before_starting(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        np.save(tmp_path / d / "x.npy", np.zeros((4, 4)))
    (tmp_path / "p.json").write_text('{"objects": []}')
    args = ["--prompts", str(tmp_path / "p.json"), "--in-process"]
    rc = main(["batch", "segment", str(tmp_path / "a" / "x.npy"), str(tmp_path / "b" / "x.npy"), "-o", str(tmp_path / "o"), *args])
    assert rc == 2 and "have the same name 'x'" in capsys.readouterr().err
    rc = main(["batch", "segment", str(tmp_path / "a" / "x.npy"), "-o", str(tmp_path / "a"), *args])
    assert rc == 2 and "would overwrite it" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.npy"]
    rc = main(["batch", "segment", str(tmp_path / "a" / "x.npy"), "-o", str(tmp_path / "o"), "--model", "nope", *args])
    assert rc == 2 and "unknown model 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_batch_module_and_cli_import_no_dask_distributed_or_torch():
    code = (
        "import sys, napari_samlabel, napari_samlabel.cli, napari_samlabel.batch; "
        "napari_samlabel.cli.build_parser().parse_args(['batch', 'segment', 'x.tif', '--prompts', 'p', '-o', 'o']); "
        "heavy = [m for m in ('distributed', 'torch', 'sam2') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_batch_in_worker_processes(tmp_path, capsys):
    """The default: worker processes (the task and its arguments travel pickled)."""
    for k in range(3):
        np.save(tmp_path / f"c{k}.npy", make_movie(k)[0])
    (tmp_path / "c1.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "p.json").write_text(json.dumps(prompts_for(make_movie(0)[1])))
    out = tmp_path / "out"
    rc = main(["batch", "segment", *[str(tmp_path / f"c{k}.npy") for k in range(3)], "--prompts", str(tmp_path / "p.json"),
               "-o", str(out), "--workers", "2"])  # fmt: skip
    assert rc == 1, capsys.readouterr()
    rows = read_manifest(out)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"] and "c1.npy" in rows[1]["error"]
    assert all(r["worker"].startswith("tcp://") for r in rows)
    for k in (0, 2):
        assert main(["segment", str(tmp_path / f"c{k}.npy"), "--prompts", str(tmp_path / "p.json"), "-o", str(tmp_path / "one.npy")]) == 0
        np.testing.assert_array_equal(np.load(out / f"c{k}.npy"), np.load(tmp_path / "one.npy"))


def test_dask_and_distributed_are_a_matching_pair():
    """distributed pins dask exactly, dask does not pin distributed: a bare "distributed"
    requirement let pip pair the newest dask with distributed 2021.4.1, which cannot import
    (``collections_to_dsk``), and `samlabel batch` failed on every fresh install."""
    import dask
    import distributed

    assert dask.__version__ == distributed.__version__
    from distributed import LocalCluster  # noqa: F401  (what `samlabel batch` starts)


@pytest.mark.slow
def test_the_installed_command_runs_batch_segment_on_a_local_cluster(tmp_path):
    """As a user types it after a fresh install: the `samlabel` script, two small files, the
    default LocalCluster; each output equals `samlabel segment` on that file alone."""
    from pathlib import Path

    exe = Path(sys.executable).with_name("samlabel")
    if not exe.exists():
        pytest.skip("the samlabel script is not installed beside this Python")
    for k in range(2):
        image, truth = make_movie(k, n_frames=2, size=48)
        np.save(tmp_path / f"c{k}.npy", image)
        (tmp_path / f"c{k}.json").write_text(json.dumps(prompts_for(truth)))
    out = tmp_path / "out"
    run = subprocess.run([str(exe), "batch", "segment", str(tmp_path / "c0.npy"), str(tmp_path / "c1.npy"),
                          "--prompts", str(tmp_path), "-o", str(out), "--workers", "2"],
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 ok, 0 failed" in run.stdout
    rows = read_manifest(out)
    assert [r["status"] for r in rows] == ["ok", "ok"] and all(r["worker"].startswith("tcp://") for r in rows)
    for k in range(2):
        one = tmp_path / f"one{k}.npy"
        assert main(["segment", str(tmp_path / f"c{k}.npy"), "--prompts", str(tmp_path / f"c{k}.json"), "-o", str(one)]) == 0
        labels = np.load(out / f"c{k}.npy")
        np.testing.assert_array_equal(labels, np.load(one))
        assert len(np.unique(labels[0])) >= 3  # two objects and the background
