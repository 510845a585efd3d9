"""``samlabel batch``: many files, each a task on a dask.distributed cluster.

``samlabel batch segment IMAGE... --prompts P -o FOLDER`` (and ``batch track``, ``batch
label-all --text TEXT``) does for every image what ``samlabel segment`` / ``track`` /
``label-all`` do for one, through the same functions (:mod:`napari_samlabel.headless`), so
each output equals a one-by-one run.

- The cluster: a ``LocalCluster`` on this machine (worker processes, one task thread each,
  the cores shared out as torch threads) or any running scheduler (``--scheduler ADDRESS``:
  a lab server, a SLURM cluster through dask-jobqueue). Inputs, prompts and the output
  folder must be paths every worker sees.
- The model is loaded once per worker (:func:`worker_backend`) and reused by every file that
  worker runs; a worker runs one file at a time with it.
- Prompts: ``--prompts FILE`` is shared by every image; ``--prompts FOLDER`` holds one
  ``<name>.json`` per image (``<name>``: the image's file name without its suffix).
- Outputs: ``FOLDER/<name>.<tif|npy|nii.gz>`` and its class table ``FOLDER/<name>.instances.csv``
  (as ``samlabel segment`` writes them; label-all's also has each instance's confidence and
  source) beside ``FOLDER/manifest.csv`` (file, status,
  seconds, objects, output, error, ...), each written atomically; nothing is written
  outside the folder. A file that fails (unreadable, corrupt, bad prompts, a worker that
  died on it) is a row with its error and never stops the others.

Nothing here imports dask.distributed or torch until a batch runs.
"""

from __future__ import annotations

import csv
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .core.errors import SamlabelError

MANIFEST = "manifest.csv"
COLUMNS = ("file", "status", "seconds", "objects", "output", "error", "worker", "model_load_s", "note")
TASKS = ("segment", "track", "label-all")
IMAGE_SUFFIXES = (".nii.gz", ".nii", ".tiff", ".tif", ".npy", ".dcm", ".dicom")
FORMATS = ("auto", "tif", "npy", "nii.gz")


class BatchError(SamlabelError, ValueError):
    """A batch that cannot start (names that clash, no inputs, an output folder that is a file)."""


@dataclass(frozen=True)
class ModelOptions:
    """What a worker needs to load the model; equal options share one loaded model."""

    name: str = "seeds"
    checkpoint: str | None = None
    device: str = "auto"
    load_kwargs: tuple[tuple[str, object], ...] = ()  # more keywords for load_backend, hashable


@dataclass(frozen=True)
class Job:
    """One input file: where its prompts are, where its labels go, and the task's options."""

    image: str
    prompts: str | None
    output: str
    task: str = "segment"
    options: dict = field(default_factory=dict, hash=False, compare=False)
    given: str = ""  # the image as the user named it (the manifest's ``file``)


# -- planning (on the client) ------------------------------------------------------------
def image_name(path: str | Path) -> str:
    """The name an image's outputs and prompts are matched by: its file name without the
    image suffix (``a/b/ct.nii.gz`` -> ``ct``; a DICOM folder: the folder's name)."""
    name = Path(path).name
    low = name.lower()
    for s in IMAGE_SUFFIXES:
        if low.endswith(s) and len(name) > len(s):
            return name[: -len(s)]
    return name


def _safe(name: str) -> str:
    """A file name that stays inside the output folder whatever the input was called."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")
    return safe or "image"


def output_suffix(path: str | Path, fmt: str = "auto") -> str:
    """``auto``: NIfTI for NIfTI and DICOM inputs (their geometry is kept), else the input's own kind."""
    if fmt != "auto":
        return "." + fmt
    low = Path(path).name.lower()
    if low.endswith((".npy",)):
        return ".npy"
    if low.endswith((".tif", ".tiff")):
        return ".tif"
    return ".nii.gz"  # .nii, .nii.gz, .dcm, a DICOM folder or file without a suffix


def plan(
    images: Sequence[str | Path],
    prompts: str | Path | None,
    out_dir: str | Path,
    task: str = "segment",
    fmt: str = "auto",
    options: dict | None = None,
) -> list[Job]:
    """One :class:`Job` per image, refused up front when two images would share a name."""
    if task not in TASKS:
        raise BatchError(f"unknown task {task!r}; one of {', '.join(TASKS)}")
    if fmt not in FORMATS:
        raise BatchError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if not images:
        raise BatchError("no input images")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BatchError(f"{out}: the output must be a folder")
    names: dict[str, str] = {}
    for img in images:
        key = _safe(image_name(img))
        if key.lower() in names:
            raise BatchError(
                f"{names[key.lower()]} and {img} have the same name {key!r}: outputs and prompts are "
                "matched by name, so rename one or run them separately"
            )
        names[key.lower()] = str(img)
    # absolute paths: a worker of a remote cluster does not share this process's working folder
    out = out.absolute()
    prompt_dir = Path(prompts).absolute() if prompts is not None and Path(prompts).is_dir() else None
    jobs = []
    for img in images:
        src = Path(img).absolute()
        target = out / (_safe(image_name(img)) + output_suffix(img, fmt))
        if target.resolve() == src.resolve():
            raise BatchError(f"{img}: its labels would overwrite it; choose another output folder")
        p = prompt_dir / f"{image_name(img)}.json" if prompt_dir else (Path(prompts).absolute() if prompts else None)
        jobs.append(Job(str(src), None if p is None else str(p), str(target), task, dict(options or {}), str(img)))
    return jobs


# -- the model, once per worker ---------------------------------------------------------------
_models: dict[tuple, tuple[object, threading.Lock]] = {}
_models_lock = threading.Lock()
_unclaimed: dict[tuple, float] = {}  # load seconds of a model loaded by :func:`model_refusal`, for the first file


def _worker_id() -> str:
    """The dask worker this runs on ('local' outside a cluster)."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):  # not in a worker
        return "local"


def worker_backend(model: ModelOptions, claim: bool = True) -> tuple[object, threading.Lock, float | None]:
    """(backend, its lock, seconds the load took or None if it was loaded already).

    Keyed by worker and model options, so each worker loads a model once and keeps it for
    every file it runs (workers sharing a process, ``--in-process``, still load their own).
    The lock makes a worker with several threads run one file at a time on its model: a
    backend holds one image at a time (``set_image`` then ``predict``)."""
    from .backends.registry import load_backend

    key = (_worker_id(), model)
    with _models_lock:
        if key not in _models:
            _models[key] = (None, threading.Lock())
    backend, lock = _models[key]
    if backend is not None:
        return backend, lock, (_unclaimed.pop(key, None) if claim else None)
    with lock:  # one load per key even if two of the worker's threads start together
        backend = _models[key][0]
        if backend is not None:
            return backend, lock, (_unclaimed.pop(key, None) if claim else None)
        t0 = time.perf_counter()
        backend = load_backend(model.name, model.checkpoint, model.device, **dict(model.load_kwargs))
        _models[key] = (backend, lock)
        took = time.perf_counter() - t0
        if not claim:  # the first file this worker runs reports the load
            _unclaimed[key] = took
            return backend, lock, None
        return backend, lock, took


def forget_models() -> None:
    """Drop the models this process keeps (tests; a long-lived in-process cluster)."""
    with _models_lock:
        _models.clear()
        _unclaimed.clear()


def model_refusal(model: ModelOptions, task: str, text: str | None = None) -> str:
    """'' when the model can do ``task``, else the one-line reason (SAM 3's concept model and a
    prompts file; a text for a model that reads none). Run on a worker before the batch's
    first output: the model it loads stays for that worker's files. A model that does not
    load is '' here: each file's row says why."""
    from .headless import ModelMismatch, check_clicks, concept_finder

    try:
        backend, _, _ = worker_backend(model, claim=False)
    except Exception:
        return ""
    try:
        if task == "label-all":
            concept_finder(backend, text)
        else:
            check_clicks(backend)
    except ModelMismatch as e:
        return str(e)
    return ""


# -- one file (on a worker) ---------------------------------------------------------------------
def _message(e: BaseException) -> str:
    from .backends.base import CheckpointError
    from .headless import PromptFileError
    from .io import ImageReadError

    if isinstance(e, KeyError):
        return str(e.args[0]) if e.args else "KeyError"
    text = " ".join(str(e).split())
    if isinstance(e, (ImageReadError, PromptFileError, CheckpointError)):
        details = getattr(e, "details", None)
        return text if not details or details == str(e) else f"{text} ({' '.join(details.split())})"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def count_objects(labels: np.ndarray) -> int:
    """As ``samlabel segment`` counts them: the distinct non-zero ids."""
    return len(np.unique(labels)) - (1 if labels.min() == 0 else 0)


def run_job(job: Job, backend):
    """What ``samlabel segment`` / ``track`` / ``label-all`` do for one file: (labels, the
    image's meta, the class each id's prompts named; label-all: its instance table)."""
    from .headless import label_all, load_prompts, model_window, object_classes, segment_objects, track_objects
    from .io import read_image

    data, meta = read_image(job.image)
    o = job.options
    if job.task == "label-all":
        labels, ann = label_all(data, backend, o.get("text"), o.get("class_name"), tuple(o.get("plane_axes", (-2, -1))),
                                model_window(meta, o.get("window")), o.get("threshold"))  # fmt: skip
        return labels, meta, ann.table
    if job.prompts is None:
        raise BatchError("no prompts file given")
    if not Path(job.prompts).exists():
        raise BatchError(f"no prompts file {job.prompts} for this image")
    objects = load_prompts(job.prompts)
    window = model_window(meta, o.get("window"))
    plane_axes = tuple(o.get("plane_axes", (-2, -1)))
    mode = o.get("mode", "exclude")
    if job.task == "track":
        labels = track_objects(
            np.asarray(data), objects, backend, o.get("axis"), o.get("direction", "forward"),
            o.get("frames", 30) or None, o.get("stop_after", 0) or None, plane_axes, window, mode,
        )  # fmt: skip
    else:
        labels = segment_objects(np.asarray(data), objects, backend, plane_axes, window, mode)
    return labels, meta, object_classes(objects, np.unique(labels).tolist())


def write_atomic(path: str | Path, labels: np.ndarray, meta: dict) -> Path:
    """``write_labels`` through a hidden temporary file in the same folder, then a rename:
    a worker killed while writing never leaves half an output under the real name."""
    from .io import write_labels

    path = Path(path)
    suffix = ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix
    tmp = path.with_name(f".{path.name[: -len(suffix)]}.part{os.getpid()}-{threading.get_ident()}{suffix}")
    try:
        write_labels(tmp, labels, meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def process_file(job: Job, model: ModelOptions) -> dict:
    """One file, start to end, on whichever worker runs it; never raises: the row says what
    happened. ``seconds`` is the file's own time; loading the model is ``model_load_s``."""
    row = {"file": job.given or job.image, "status": "failed", "seconds": 0.0, "objects": "", "output": "", "error": "",
           "worker": _worker_id(), "model_load_s": "", "note": ""}  # fmt: skip
    t0 = time.perf_counter()
    load, fast = 0.0, ""
    try:
        backend, lock, took = worker_backend(model)
        if took is not None:
            row["model_load_s"] = round(took, 3)
            load = time.perf_counter() - t0  # 0 for a load made earlier, before the model check
            fast = getattr(backend, "fast_message", "") if dict(model.load_kwargs).get("fast") else ""
        with lock:
            labels, meta, classes = run_job(job, backend)
        out = write_atomic(job.output, labels, meta)
        write_classes(out, labels, classes, meta)  # as `samlabel segment`: the classes beside the labels
        said = [str(meta.get("report") or ""), fast]  # DICOM's caveats; what fast mode did on this worker
        row.update(status="ok", objects=count_objects(labels), output=out.name,
                   note=" ".join("; ".join(x for x in said if x).split()))  # fmt: skip
    except Exception as e:  # any file's failure is its row, never the batch's end
        row["error"] = _message(e)
    row["seconds"] = round(time.perf_counter() - t0 - load, 3)
    return row


def write_classes(out: Path, labels: np.ndarray, classes, meta: dict) -> Path:
    """The class table beside a label file: ``id,class`` from a prompts file (a dict), or the
    whole instance table (class, confidence, source, ...) that label-all made."""
    from .io.instances_csv import sidecar_path, write_class_table, write_instances_csv

    if isinstance(classes, dict):
        return write_class_table(sidecar_path(out), classes)
    spacing = meta.get("spacing")
    spacing = spacing if spacing is not None and len(spacing) == labels.ndim else None
    return write_instances_csv(sidecar_path(out), labels, classes, spacing)


# -- the manifest -------------------------------------------------------------------------------
def write_manifest(out_dir: str | Path, rows: Sequence[dict]) -> Path:
    """``manifest.csv`` in the output folder, replaced in one step (a reader never sees half)."""
    out = Path(out_dir) / MANIFEST
    tmp = out.with_name(f".{MANIFEST}.part{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out)
    return out


def read_manifest(out_dir: str | Path) -> list[dict]:
    with open(Path(out_dir) / MANIFEST, newline="") as f:
        return list(csv.DictReader(f))


def progress_line(i: int, n: int, row: dict) -> str:
    width = len(str(n))
    head = f"[{i:>{width}}/{n}] {row['status']:<9}{float(row['seconds']):7.2f} s  {row['file']}"
    if row["status"] == "ok":
        load = f"  (model loaded in {row['model_load_s']:.1f} s)" if row.get("model_load_s") != "" else ""
        return f"{head} -> {row['output']}: {row['objects']} object(s){load}"
    return f"{head}: {row['error']}"


# -- running ------------------------------------------------------------------------------------
def default_workers(n_files: int) -> int:
    """One worker per core, no more than the files, and about 2 GB of memory each (a SAM 2
    model and a stack): on a 2-core laptop, 2 workers."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        import psutil

        by_memory = max(1, int(psutil.virtual_memory().total // (2 << 30)))
    except ImportError:
        by_memory = cores
    return max(1, min(n_files, cores, by_memory))


def local_cluster(n_workers: int, processes: bool = True):
    """A LocalCluster with one task thread per worker; worker processes get the cores shared
    out as torch/BLAS threads (dask's default gives each 1, leaving cores idle with few workers)."""
    import logging

    import dask
    from distributed import LocalCluster

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    kwargs: dict = {}
    if processes:
        k = str(max(1, cores // n_workers))
        kwargs["env"] = {"OMP_NUM_THREADS": k, "MKL_NUM_THREADS": k, "OPENBLAS_NUM_THREADS": k}
    # a file that kills its worker (a crash in a reader) is tried once more, not three times
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                            dashboard_address=None, silence_logs=logging.ERROR, **kwargs)  # fmt: skip


def _failed(job: Job, error: str, status: str = "failed") -> dict:
    return {"file": job.given or job.image, "status": status, "seconds": 0.0, "objects": "", "output": "", "error": error,
            "worker": "", "model_load_s": "", "note": ""}  # fmt: skip


def _lost(e: BaseException) -> str:
    if type(e).__name__ == "KilledWorker":  # dask's long text names the task key, not the file
        return ("its worker died while running it, twice (a crash in a reader or the model, or out of "
                "memory): see the workers' logs")  # fmt: skip
    return f"the worker running it stopped ({type(e).__name__}: {e})"


@dataclass
class BatchResult:
    rows: list[dict]
    seconds: float
    workers: int
    manifest: Path

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] != "ok"]

    def loads_per_worker(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            if r.get("worker"):
                out.setdefault(r["worker"], 0)
                out[r["worker"]] += r.get("model_load_s") not in ("", None)
        return out


def run_batch(
    jobs: Sequence[Job],
    model: ModelOptions,
    out_dir: str | Path,
    scheduler: str | None = None,
    n_workers: int | None = None,
    processes: bool = True,
    report: Callable[[str], None] = print,
    manifest_every: float = 1.0,
) -> BatchResult:
    """Every job as a task on a cluster, rows reported as files finish, the manifest kept
    up to date (at most every ``manifest_every`` seconds, and at the end)."""
    try:
        from distributed import Client, as_completed
    except ImportError as e:
        raise BatchError("samlabel batch needs dask.distributed: pip install 'napari-samlabel[batch]'") from e

    if n_workers is not None and n_workers < 1:  # a LocalCluster of no workers waits forever
        raise BatchError(f"{n_workers} workers: at least 1 is needed")
    out = Path(out_dir)
    made_folder = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = [_failed(j, "", "pending") for j in jobs]
    t0 = time.perf_counter()
    cluster = None
    try:
        if scheduler:
            if scheduler.endswith(".json"):  # a scheduler file (dask-jobqueue, `dask scheduler --scheduler-file`)
                client = Client(scheduler_file=scheduler, timeout="20s")
            else:
                client = Client(scheduler, timeout="20s")
            where = f"scheduler {scheduler}"
        else:
            n_workers = n_workers or default_workers(len(jobs))
            cluster = local_cluster(n_workers, processes)
            client = Client(cluster)
            where = f"a LocalCluster ({'processes' if processes else 'threads in this process'})"
    except Exception as e:  # nothing ran: say so, and leave the manifest saying every file is pending
        if cluster is not None:
            cluster.close()
        write_manifest(out, rows)
        what = f"cannot reach the scheduler {scheduler}" if scheduler else "cannot start a LocalCluster"
        raise BatchError(f"{what} ({type(e).__name__}: {e})") from e
    try:
        n_seen = len(client.scheduler_info().get("workers", {})) if scheduler else n_workers
        more = " (so far: files wait for workers to join)" if scheduler else ""
        report(f"samlabel batch: {len(jobs)} file(s) on {n_seen} worker(s){more}, {where}")
        # can the model do the task? asked of one worker while the files start: a model that
        # cannot (SAM 3's concept model and clicks) is said in one line before any output
        probe = client.submit(model_refusal, model, jobs[0].task, jobs[0].options.get("text"), pure=False,
                              key=f"samlabel-model-check-{os.urandom(4).hex()}") if jobs else None  # fmt: skip
        futures = {}
        for i, job in enumerate(jobs):
            key = f"samlabel-{_safe(image_name(job.image))}-{i}-{os.urandom(4).hex()}"
            futures[client.submit(process_file, job, model, key=key, pure=False)] = i
        try:
            refusal = probe.result() if probe is not None else ""
        except Exception:  # the worker died loading it: each file's row says so
            refusal = ""
        if refusal:
            client.cancel(list(futures))
            if made_folder and not any(out.iterdir()):
                out.rmdir()
            raise BatchError(refusal)
        write_manifest(out, rows)
        done, last_write = 0, time.perf_counter()
        try:
            for fut in as_completed(list(futures)):
                i = futures.pop(fut)  # released once read: a worker lost later does not run the file again
                try:
                    rows[i] = fut.result()
                except Exception as e:  # the worker died on it (KilledWorker), or was lost
                    rows[i] = _failed(jobs[i], _lost(e))
                done += 1
                report(progress_line(done, len(jobs), rows[i]))
                if time.perf_counter() - last_write >= manifest_every:
                    write_manifest(out, rows)
                    last_write = time.perf_counter()
        except KeyboardInterrupt:
            for r in rows:
                if r["status"] == "pending":
                    r.update(status="cancelled", error="interrupted before it finished")
            write_manifest(out, rows)
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    manifest = write_manifest(out, rows)
    return BatchResult(rows, time.perf_counter() - t0, n_seen, manifest)


def run_sequential(
    jobs: Sequence[Job], model: ModelOptions, out_dir: str | Path, report: Callable[[str], None] = print
) -> BatchResult:
    """The same jobs one after the other in this process (no dask): the batch's reference."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows = []
    for i, job in enumerate(jobs):
        rows.append(process_file(job, model))
        report(progress_line(i + 1, len(jobs), rows[-1]))
    manifest = write_manifest(out, rows)
    return BatchResult(rows, time.perf_counter() - t0, 1, manifest)


def summary(result: BatchResult) -> str:
    n, bad = len(result.rows), len(result.failed)
    loads = result.loads_per_worker()
    once = ", the model loaded once per worker" if loads and all(v <= 1 for v in loads.values()) else ""
    return (f"{n} file(s): {n - bad} ok, {bad} failed, in {result.seconds:.1f} s on "
            f"{result.workers} worker(s){once}; manifest: {result.manifest}")  # fmt: skip
