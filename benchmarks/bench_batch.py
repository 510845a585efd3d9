"""``samlabel batch`` on a 2-worker LocalCluster against the same files run one by one.

    python benchmarks/bench_batch.py [--model seeds|sam2|both] [--files 8] [--workers 2] [--rounds 1]

For each model, the same N small movies (3 frames of 256 x 256, two objects prompted on
the first frame) are segmented four ways, all through the command line's code:

- ``batch``: ``samlabel batch segment`` in its own process (LocalCluster, worker processes:
  cluster start, each worker loading the model once, and Python's start all counted);
- ``processes``: one ``samlabel segment`` process per file, one after the other (a shell loop);
- ``in_process``: ``samlabel segment`` called N times in one Python process (``cli.main``;
  each call loads the model, as each command does);
- ``model_once``: the batch's own per-file function in a loop in one process, the model
  loaded once, no dask: the floor of any one-by-one run.

Ratios are (one-by-one wall time) / (batch wall time) (medians over ``--rounds``), above 1 when the batch is faster, and
every output is compared with the batch's (array-equal). ``seeds`` is the weight-free
backend (light work: the figures show dask's overhead); ``sam2`` is SAM 2.1 tiny built from
the sam2 package config at its full 1024 px with random weights saved as a checkpoint (speed
does not depend on the weights; no download).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
CLI = [sys.executable, "-m", "napari_samlabel"]
WAYS = ("batch", "processes", "in_process", "model_once")


def make_files(folder: Path, n: int) -> list[Path]:
    from scipy import ndimage as ndi

    from napari_samlabel.synthetic import fluorescence_timelapse

    (folder / "prompts").mkdir(parents=True)
    files = []
    for k in range(n):
        image, truth = fluorescence_timelapse(n_frames=3, size=256, n_cells=5, seed=k)
        objects = []
        for i in (1, 2):
            d = ndi.distance_transform_edt(truth[0] == i)
            objects.append({"id": i, "frame": [0], "points": [[int(v) for v in np.unravel_index(d.argmax(), d.shape)]]})
        path = folder / f"movie{k}.npy"
        np.save(path, image)
        (folder / "prompts" / f"movie{k}.json").write_text(json.dumps({"objects": objects}))
        files.append(path)
    return files


def random_tiny_checkpoint(folder: Path) -> Path:
    import torch

    from napari_samlabel.backends.sam2 import build_model

    torch.manual_seed(0)
    path = folder / "sam2.1_tiny_random.pt"
    torch.save({"model": build_model(CONFIG, None, "cpu").state_dict()}, path)
    return path


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_model(label: str, model_args: list[str], n: int, workers: int, root: Path, rounds: int = 1,
              only: tuple[str, ...] = WAYS) -> dict:
    from napari_samlabel.batch import ModelOptions, forget_models, plan, run_sequential
    from napari_samlabel.cli import main

    folder = root / label
    files = make_files(folder, n)
    prompts = folder / "prompts"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")]))
    out = {}

    def batch():
        cmd = [*CLI, "batch", "segment", *map(str, files), "--prompts", str(prompts), "-o", str(folder / "batch"),
               "--workers", str(workers), *model_args]  # fmt: skip
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(r.stdout + r.stderr)
        out["batch_log"] = r.stdout.strip().splitlines()

    def processes():
        for f in files:
            cmd = [*CLI, "segment", str(f), "--prompts", str(prompts / f"{f.stem}.json"), "-o",
                   str(folder / "processes" / f.name), *model_args]  # fmt: skip
            subprocess.run(cmd, env=env, check=True, capture_output=True)

    def in_process():
        for f in files:
            with contextlib.redirect_stdout(io.StringIO()):  # "wrote ...": one line per file
                    rc = main(["segment", str(f), "--prompts", str(prompts / f"{f.stem}.json"), "-o",
                           str(folder / "in_process" / f.name), *model_args])  # fmt: skip
            assert rc == 0

    def model_once():
        forget_models()  # this run loads the model (and starts with an empty embedding cache), as each batch does
        opts = dict(zip(model_args[::2], model_args[1::2]))
        model = ModelOptions(opts.get("--model", "seeds"), opts.get("--checkpoint"), "auto")
        res = run_sequential(plan(files, prompts, folder / "model_once", "segment"), model, folder / "model_once",
                             report=lambda s: None)  # fmt: skip
        if res.failed:
            raise SystemExit(f"model_once: {res.failed}")

    runs: dict[str, list[float]] = {}
    ways = tuple((k, fn) for k, fn in (("batch", batch), ("processes", processes), ("in_process", in_process),
                                       ("model_once", model_once)) if k in only)  # fmt: skip
    for r in range(rounds):  # interleaved, so a busy neighbour slows every way alike
        for name, fn in ways if r % 2 == 0 else ways[::-1]:
            shutil.rmtree(folder / name, ignore_errors=True)  # each run writes every output afresh
            runs.setdefault(name, []).append(round(timed(fn), 2))
            print(f"  {label:<6} round {r + 1} {name:<11} {runs[name][-1]:7.2f} s  (load {os.getloadavg()[0]:.1f})", flush=True)
    seconds = {k: round(float(np.median(v)), 2) for k, v in runs.items()}
    others = [k for k in seconds if k != "batch"]
    equal = {k: sum(np.array_equal(np.load(folder / "batch" / f.name), np.load(folder / k / f.name)) for f in files)
             for k in others}  # fmt: skip
    return {
        "seconds": seconds,
        "runs": runs,
        "ratio_vs_batch": {k: round(seconds[k] / seconds["batch"], 2) for k in others},
        "outputs_equal_to_batch": {k: f"{v}/{n}" for k, v in equal.items()},
        "batch_summary": out["batch_log"][-1],
    }


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="both", choices=["seeds", "sam2", "both"])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="repeat each way, interleaved; medians reported")
    ap.add_argument("--ways", default=",".join(WAYS), help="which runs besides the batch (comma-separated)")
    args = ap.parse_args()
    only = ("batch", *[w for w in args.ways.split(",") if w in WAYS and w != "batch"])
    res = {"files": args.files, "workers": args.workers, "cores": os.cpu_count(), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.model in ("seeds", "both"):
            res["seeds"] = run_model("seeds", ["--model", "seeds"], args.files, args.workers, root, args.rounds, only)
        if args.model in ("sam2", "both"):
            ckpt = random_tiny_checkpoint(root)
            res["sam2.1-tiny"] = run_model("sam2", ["--model", "sam2.1-tiny", "--checkpoint", str(ckpt)],
                                           args.files, args.workers, root, args.rounds, only)  # fmt: skip
    res["load_after"] = os.getloadavg()[0]
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
