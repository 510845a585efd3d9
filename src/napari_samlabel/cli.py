"""``samlabel``: the command line.

``samlabel`` (or ``samlabel gui``) opens napari with the plugin's docks and a
sample, ready to label. ``samlabel segment`` and ``samlabel track`` run prompts
from a file without a viewer; ``samlabel label-all --text TEXT`` labels every
detection of a text (SAM 3); ``samlabel batch segment|track|label-all`` does the same
for many files on a dask cluster; ``samlabel models`` lists the models and weights.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from ._reader import open_files
from .core.errors import SamlabelError, message

DEMO_CLASSES = {
    "classes": [
        {"name": "nucleus", "color": "#ff8800", "kind": "thing", "hotkey": "1"},
        {"name": "mitotic", "color": "#f032e6", "kind": "thing", "hotkey": "2"},
        {"name": "debris", "color": "#42d4f4", "kind": "stuff", "hotkey": "3"},
    ]
}


def open_viewer(sample: str | None = "timelapse", files: list[str] | None = None, ontology: str | None = None):
    """A napari viewer with the samlabel docks, a sample or files, and a session started
    (with ``ontology``'s classes); with no image, the Classes tab holds those classes."""
    import napari
    from napari.settings import get_settings

    from .api import start_session
    from .core.ontology import Ontology

    onto = Ontology.load(ontology) if ontology else None  # read first: a bad file stops before a window opens
    # napari's first start on a machine opens a small window (1089 x 630 at 1920 x 1080);
    # afterwards it restores whatever the user left
    first_start = get_settings().application.window_size is None
    # built hidden and shown once complete: no blank window while the panel and session load
    viewer = napari.Viewer(title="napari-samlabel", show=False)
    if files:
        open_files(viewer, files)
    elif sample:
        viewer.open_sample("napari-samlabel", sample)
    # One slim tabbed panel: four stacked docks asked for more height than a laptop has.
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    from napari.layers import Image  # napari is heavy: only once a window is wanted

    images = [layer for layer in viewer.layers if isinstance(layer, Image)]
    if images:
        from .core.anatomy import LOAD_YOUR_OWN, anatomy_ontology, is_medical

        # a CT or MR starts with anatomy (SNOMED-coded in a DICOM SEG), not the microscopy demo's cells
        medical = onto is None and is_medical(images[0].metadata)
        if onto is None:
            onto = anatomy_ontology() if medical else Ontology.from_dict(DEMO_CLASSES)
        session = start_session(viewer, images[0], ontology=onto)
        if medical:
            session.say(f"Started with {len(onto)} anatomy classes; {LOAD_YOUR_OWN} (or samlabel gui --ontology FILE).")
        viewer.layers.selection.active = session.labels
        session.labels.mode = "paint"
    elif onto is not None:  # no image yet: the Classes tab holds them for the first Start annotating
        panel.classes.ontology.replace_all(onto)
    viewer.window.show()
    if first_start:
        panel.window().showMaximized()
    return viewer



def freeze_startup_objects() -> None:
    """Move everything start-up made (napari, Qt, numba, the sample) out of the garbage
    collector's reach: a full collection over them paused the viewer 150-250 ms at random
    moments (the end of a tracking run, a save). What is made later is collected as usual."""
    import gc

    gc.collect()
    gc.freeze()


SUBCOMMANDS = ("gui", "segment", "track", "label-all", "export", "models", "batch")
CHECKPOINT_HELP = ("the model's weights: a checkpoint file (SAM 2), or a folder saved with save_pretrained or a "
                   "Hugging Face id (sam3, edgetam)")  # fmt: skip


# -- option values, checked as argparse reads them ----------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse's errors in one line: its usage block above the error hid the line that mattered."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _whole(least: int, meaning: str):
    """An argparse type: a whole number of at least ``least`` (``meaning`` says what is wanted)."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value}: {meaning}")
        return value

    return whole


positive_int = _whole(1, "must be 1 or more")
count_int = _whole(0, "must be 0 or more")


def finite_float(text: str) -> float:
    """An argparse type: a number, not NaN or infinite (a window of those labels the whole plane)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


class WindowAction(argparse.Action):
    """``--window LO HI`` with LO below HI: an empty or reversed window made every pixel one
    grey, and the object took the whole plane."""

    def __call__(self, parser, namespace, values, option_string=None):
        lo, hi = values
        if not lo < hi:
            parser.error(f"argument {option_string}: LO {lo:g} must be below HI {hi:g}")
        setattr(namespace, self.dest, (lo, hi))


def _window_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--window", nargs=2, type=finite_float, action=WindowAction, metavar=("LO", "HI"),
                   help="intensity window, LO below HI (default: the file's own window, else min-max)")  # fmt: skip


def _track_args(p: argparse.ArgumentParser) -> None:
    """The tracking options `track` and `batch track` share."""
    p.add_argument("--axis", type=int, help="axis to track along (default: the first non-plane axis)")
    p.add_argument("--direction", default="forward", choices=["forward", "backward", "both"])
    p.add_argument("--frames", type=count_int, default=30, help="frames to cover, counting the start (0: to the end)")
    p.add_argument("--stop-after", type=count_int, default=0,
                   help="stop an object after K frames without it (0: never)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="samlabel", description="Model-assisted labeling in napari: `samlabel [FILE ...]` opens the viewer "
        "(see `samlabel gui --help`); the other commands run without one.")
    sub = parser.add_subparsers(dest="command")
    gui = sub.add_parser("gui", help="open napari with the samlabel docks (the default)")
    gui.add_argument("files", nargs="*", help="images to open instead of the sample")
    gui.add_argument("--sample", default="timelapse", choices=["timelapse", "volume", "none"],
                     help="the image to open when no FILE is given (default: a synthetic time-lapse)")
    gui.add_argument("--ontology", help="classes JSON file to start with")
    gui.add_argument("--quit-when-ready", action="store_true", help="open the window, print how long it took "
                     "until it answered, and close (a start-up check for scripts)")

    seg = sub.add_parser("segment", help="segment objects from a prompts file, headless")
    trk = sub.add_parser("track", help="segment objects on their start frame, then track them, headless")
    for p in (seg, trk):
        _add_io_args(p)
    _track_args(trk)
    lab = sub.add_parser("label-all", help="label every detection of a text on every plane (SAM 3), headless")
    lab.add_argument("image", help=".tif, .npy, .nii/.nii.gz, or a DICOM file or folder")
    _label_all_args(lab)
    _model_args(lab, "sam3")
    lab.add_argument("--plane-axes", nargs=2, type=int, default=(-2, -1), metavar=("ROWS", "COLS"))
    _window_arg(lab)
    lab.add_argument("-o", "--output", required=True, help="label array: .tif, .npy or .nii.gz")

    exp = sub.add_parser("export", help="export a label array with its ontology to other tools' formats")
    exp.add_argument("labels", help="label array (.tif, .npy, .nii/.nii.gz) or a samlabel project folder")
    exp.add_argument("--ontology", help="classes JSON (not needed for a project folder)")
    exp.add_argument("--instances", help="instance CSV (id, class, confidence, source) to name classes per id "
                     "(default: LABELS' <name>.instances.csv, which `samlabel segment` writes beside them)")
    exp.add_argument("--reference", help="source image (DICOM folder for dicom-seg, image for NIfTI geometry): the "
                     "labels are compared with its grid and reoriented exactly, resampled (said) or refused")
    exp.add_argument("--creator", help="DICOM SEG ContentCreatorName, e.g. 'Doe^Jane' (default: $SAMLABEL_CREATOR, "
                     "else the login name)")
    exp.add_argument("--format", required=True, choices=["nifti", "dicom-seg", "coco", "coco-panoptic", "ctc", "csv",
                     "semantic", "cvat-mask"], help="semantic: class-index mask, -o .tif/.png/.nii.gz (class table "
                     "beside it); cvat-mask: CVAT's Segmentation mask 1.1 folder, or -o NAME.zip")
    exp.add_argument("--frame-axis", type=count_int, default=None, help="frame/slice axis (default 0 for 3D and up)")
    exp.add_argument("--per", default="class", choices=["class", "instance"], help="DICOM SEG segments")
    exp.add_argument("--polygons", action="store_true", help="COCO polygons instead of RLE")
    exp.add_argument("-o", "--output", required=True)

    sub.add_parser("models", help="list models, where their weights are looked for, and whether present")
    _add_batch_parser(sub)
    return parser


def _add_io_args(p: argparse.ArgumentParser) -> None:
    """The image, prompts and model options `segment` and `track` share."""
    p.add_argument("image", help=".tif, .npy, .nii/.nii.gz, or a DICOM file or folder")
    p.add_argument("--prompts", required=True, help="PROMPTS.json (see napari_samlabel.headless)")
    _model_args(p, "seeds")
    p.add_argument("--plane-axes", nargs=2, type=int, default=(-2, -1), metavar=("ROWS", "COLS"))
    _window_arg(p)
    p.add_argument("--mode", default="exclude", choices=["exclude", "overwrite", "inside"])
    p.add_argument("-o", "--output", required=True, help="label array: .tif, .npy or .nii.gz")


def _model_args(p: argparse.ArgumentParser, default: str) -> None:
    """--model, --checkpoint, --device and --fast, as every command that runs a model takes them."""
    p.add_argument("--model", default=default, help=f"a name from `samlabel models` (default: {default})")
    p.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--fast", action="store_true", help="fast mode: bf16 autocast where the CPU (AMX, AVX-512 BF16) "
                   "or GPU supports it (2.5x with AMX, 1.4x without, measured; refused on AVX2), embeddings within "
                   "~1%% of fp32")  # fmt: skip


def _label_all_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text", help="what to find, e.g. 'cell nucleus' (SAM 3); without it a grid model (edgetam, "
                   "SAM 2, seeds) labels every object it finds as --class")  # fmt: skip
    p.add_argument("--class", dest="class_name", metavar="NAME", help="the class of every detection (default: the text)")
    p.add_argument("--threshold", type=finite_float, help="the least detection score kept (default: the model's, "
                   "0.5 for SAM 3)")  # fmt: skip


VERBOSE = False  # `samlabel -v ...`: tracebacks after the one-line message, and the log


class UsageError(SamlabelError, ValueError):
    """Options that do not go together (what is missing is named)."""


def _said(command: str, e: BaseException) -> None:
    """A user error: one line on stderr (what and where), the traceback only with -v."""
    print(f"samlabel {command}: {message(e)}", file=sys.stderr)
    details = getattr(e, "details", None)
    if details and details != str(e):
        print(details, file=sys.stderr)  # what to do: which file goes where
    if VERBOSE:
        import traceback

        traceback.print_exception(e)


def _quit_when_ready(started: float) -> None:
    """Once the event loop has handled what start-up queued (the window shown and drawn),
    say how long since ``main`` began and quit."""
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    def ready() -> None:
        print(f"samlabel: the window answered {time.perf_counter() - started:.2f} s after the command started",
              flush=True)
        QApplication.instance().quit()

    QTimer.singleShot(0, ready)


def main(argv: list[str] | None = None) -> int:
    global VERBOSE
    started = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    VERBOSE = any(a in ("-v", "--verbose") for a in argv)
    argv = [a for a in argv if a not in ("-v", "--verbose")]
    if VERBOSE:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["gui", *argv]  # plain `samlabel [FILES]` opens the viewer
    args = build_parser().parse_args(argv)
    if args.command == "gui":
        import napari

        open_viewer(None if args.sample == "none" else args.sample, args.files, args.ontology)
        freeze_startup_objects()
        if args.quit_when_ready:
            _quit_when_ready(started)
        napari.run()
    elif args.command == "models":
        return _models()
    elif args.command in ("segment", "track"):
        return _segment(args)
    elif args.command == "label-all":
        return _label_all(args)
    elif args.command == "export":
        return _export(args)
    elif args.command == "batch":
        return _batch(args)
    return 0


def _export(args) -> int:
    from .core.ontology import Ontology
    from .io import read_image
    from .io.exporting import align_to_reference, export
    from .io.project import load_project

    said = ""
    try:
        path = Path(args.labels)
        if path.is_dir():
            labels, onto, table, meta = load_project(path)
            frame_axis = meta.get("frame_axis")
            said = "\n".join(meta.get("notes", []))  # what opening found (a damaged chunk file): said
            source = own = meta.get("source_image", {})  # the grid the labels were made on
        else:
            from .core.label_ids import checked_ids

            labels, own = read_image(path)
            labels = checked_ids(np.asarray(labels), str(path))  # a float or negative array is no labels
            if args.ontology is None:
                raise UsageError("--ontology is needed for a label array")
            onto = Ontology.load(args.ontology)
            frame_axis = args.frame_axis if args.frame_axis is not None else (0 if labels.ndim >= 3 else None)
            if frame_axis is not None and frame_axis >= labels.ndim:
                raise UsageError(f"{path}: --frame-axis {frame_axis} is outside the {labels.ndim}D labels "
                                 f"(axes 0-{labels.ndim - 1})")  # fmt: skip
            table, source = None, own
        if args.reference:
            # principle 14: the labels' own grid is compared with the reference's, never assumed
            ref, source = read_image(args.reference)
            labels, table, frame_axis, match = align_to_reference(labels, own, source, ref.shape, table, frame_axis)
            said = "\n".join(x for x in (said, match.message) if x)
        if table is None:  # after any reorientation, so the frames the table records are the slices written
            table, notes = _classes_of(labels, path, onto, frame_axis, args.instances)
            said = "\n".join(x for x in (said, *notes) if x)
        kwargs = {"creator": args.creator} if args.format == "dicom-seg" and args.creator else {}
        out = export(args.format, args.output, labels, onto, table, frame_axis, source, args.per, args.polygons, **kwargs)
    except (SamlabelError, OSError) as e:  # anything else is a bug: its traceback shows
        _said("export", e)
        return 2
    if said:
        print(said)
    print(f"wrote {out}")
    return 0


def _classes_of(labels, path: Path, onto, frame_axis, instances: str | None):
    """(table, notes): the class of each id of a label array, from ``--instances``, else from
    the class table `samlabel segment` wrote beside it (``<name>.instances.csv``). A class is
    never guessed: ids without one are refused, unless the ontology has a single class
    (then that one, and the notes say so)."""
    from .core.annotation import Annotation
    from .core.instances import InstanceTable
    from .io.importing import read_class_table
    from .io.instances_csv import sidecar_path

    beside = sidecar_path(path)
    given = Path(instances) if instances else beside if beside.exists() else None
    table, notes, added = InstanceTable(), [], []
    for i, row in (read_class_table(given) if given else {}).items():
        cls = row["class"]
        if cls not in onto:
            onto.add(cls, hotkey=None)
            added.append(cls)
        table.adopt(i, cls, stuff=onto[cls].is_stuff, source=row.get("source") or "manual",
                    confidence=row.get("confidence", 1.0))  # fmt: skip
    if added:
        notes.append(f"{given}: class(es) {', '.join(map(repr, added))} are not in the ontology: added")
    n, only = len(onto), (onto.names[0] if len(onto) == 1 else None)
    # ids with no record are adopted as the ontology's first class: kept only when it is the only one
    new = Annotation(labels, onto, frame_axis, table).sync_frames()
    if new:
        ids = sorted({r.id for r in new})
        shown = ", ".join(map(str, ids[:8])) + (" ..." if len(ids) > 8 else "")
        where = f"no row in {given}" if given else f"no --instances and no {beside.name} beside it"
        if only is None:
            raise UsageError(f"{path}: no class for id(s) {shown} ({where}) and the ontology has {n} "
                             "classes; pass --instances FILE (a CSV with columns id,class)")  # fmt: skip
        notes.append(f"{path}: id(s) {shown} have no class ({where}): the ontology's only class {only!r} is used")
    return table, notes


def _models() -> int:
    from .backends.registry import cache_dir, describe_models

    print(f"checkpoints are looked for in {cache_dir() / 'checkpoints'} (set SAMLABEL_CACHE to move it)")
    for m in describe_models():
        mark = "present" if m["present"] else "missing"
        src = f"  [download: {m['hf_id']}]" if m.get("hf_id") else ""
        print(f"{m['name']:<18} {mark:<8} {m['weights']}{src}\n{'':<27}{m['description']}")
    return 0


def _segment(args) -> int:
    from .backends.registry import load_backend
    from .headless import load_prompts, model_window, object_classes, segment_objects, track_objects
    from .io import read_image, write_labels
    from .io.instances_csv import sidecar_path, write_class_table

    try:
        _check_output(args.output)  # before the model runs: a long run must not end in 'cannot write'
        data, meta = read_image(args.image)
        if meta.get("report"):  # DICOM: series skipped (and why), values taken with a caveat
            print(f"samlabel {args.command}: {meta['report']}", file=sys.stderr)
        objects = load_prompts(args.prompts)
        backend = load_backend(args.model, args.checkpoint, args.device)
        if getattr(args, "fast", False):
            from .backends.registry import apply_fast

            print(f"samlabel {args.command}: {apply_fast(backend, True)[1]}", file=sys.stderr)
        window = model_window(meta, args.window)
        if args.command == "track":
            labels = track_objects(
                np.asarray(data), objects, backend, args.axis, args.direction, args.frames or None,
                args.stop_after or None, args.plane_axes, window, args.mode,
            )  # fmt: skip
        else:
            labels = segment_objects(np.asarray(data), objects, backend, args.plane_axes, window, args.mode)
        try:
            out = write_labels(args.output, labels, meta)
            ids = [i for i in np.unique(labels).tolist() if i]
            classes = object_classes(objects, ids)  # each object's class travels beside its labels
            table = write_class_table(sidecar_path(out), classes)
        except OSError as e:
            raise _unwritable(args.output, e) from e
    except SamlabelError as e:
        _said(args.command, e)
        return 2
    unnamed = f" ({len(ids) - len(classes)} with no class in the prompts)" if len(classes) < len(ids) else ""
    print(f"wrote {out}: {len(ids)} object(s), shape {labels.shape}; their classes: {table}{unnamed}")
    return 0


def _label_all(args) -> int:
    """`samlabel label-all`: :func:`.headless.label_all` on one file, its labels and their
    instance table (class, confidence, source) written as `samlabel batch label-all` does."""
    from .backends.registry import apply_fast, load_backend
    from .batch import write_classes
    from .headless import label_all, model_window
    from .io import read_image, write_labels

    try:
        if not (args.text or args.class_name):
            raise UsageError("give --text TEXT (what to find) or, for a grid model, --class NAME")
        _check_output(args.output)  # before the model runs
        data, meta = read_image(args.image)
        if meta.get("report"):
            print(f"samlabel label-all: {meta['report']}", file=sys.stderr)
        backend = load_backend(args.model, args.checkpoint, args.device)
        if args.fast:
            print(f"samlabel label-all: {apply_fast(backend, True)[1]}", file=sys.stderr)
        labels, ann = label_all(data, backend, args.text, args.class_name, args.plane_axes,
                                model_window(meta, args.window), args.threshold)  # fmt: skip
        try:
            out = write_labels(args.output, labels, meta)
            table = write_classes(out, labels, ann.table, meta)
        except OSError as e:
            raise _unwritable(args.output, e) from e
    except SamlabelError as e:
        _said("label-all", e)
        return 2
    n = len([i for i in np.unique(labels).tolist() if i])
    print(f"wrote {out}: {n} {ann.ontology.names[0]!r} object(s), shape {labels.shape}; their classes and "
          f"scores: {table}")  # fmt: skip
    return 0


def _unwritable(path, e: OSError) -> UsageError:
    """A one-line error naming the output the user gave (and the part of it that failed)."""
    part = f": {e.filename}" if e.filename and str(e.filename) != str(path) else ""
    return UsageError(f"{path}: cannot be written ({e.strerror or type(e).__name__}{part})")


def _check_output(path: str) -> None:
    """Refuse an output that cannot be made before any work: its nearest existing folder must
    be a folder this user may write in."""
    folder = next(p for p in Path(path).absolute().parents if p.exists())  # the rest is made
    if not folder.is_dir():
        raise UsageError(f"{path}: cannot be written ({folder} is a file, not a folder)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: cannot be written (no permission to write in {folder})")


# -- samlabel batch -----------------------------------------------------------------------
# A command of its own rather than `segment` with many inputs: its -o is a folder with a
# manifest (segment's is one label file), it has cluster options, and only it imports dask.
def _add_batch_parser(sub) -> None:
    bat = sub.add_parser(
        "batch", help="segment, track or label-all many files, each a task on a dask cluster (a LocalCluster by "
        "default)", description="Run `samlabel segment`, `track` or `label-all` on many files, each as a task on "
        "dask.distributed. "
        "Outputs and manifest.csv go to the -o folder; exit status 1 if any file failed.",
    )  # fmt: skip
    tasks = bat.add_subparsers(dest="task", required=True)
    for task in ("segment", "track", "label-all"):
        p = tasks.add_parser(task, fromfile_prefix_chars="@", help=f"`samlabel {task}` on each file")
        p.add_argument("images", nargs="+", help="images (.tif, .npy, .nii/.nii.gz, DICOM files or folders); "
                       "@LIST reads arguments from a file, one per line")  # fmt: skip
        if task == "label-all":
            _label_all_args(p)
        else:
            p.add_argument("--prompts", required=True, help="one PROMPTS.json for every image, or a folder holding "
                           "<name>.json per image (<name>: the image's file name without its suffix)")  # fmt: skip
        p.add_argument("-o", "--output", required=True, help="output folder: <name>.tif|.npy|.nii.gz per image, "
                       "and manifest.csv")  # fmt: skip
        p.add_argument("--format", default="auto", choices=["auto", "tif", "npy", "nii.gz"],
                       help="label files (auto: .nii.gz for NIfTI and DICOM, keeping geometry; else the input's kind)")  # fmt: skip
        default = "sam3" if task == "label-all" else "seeds"
        p.add_argument("--model", default=default, help=f"a name from `samlabel models` (default: {default})")
        p.add_argument("--checkpoint", help=CHECKPOINT_HELP + " (a path every worker sees)")
        p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
        p.add_argument("--fast", action="store_true", help="fast mode, as for `samlabel segment --fast` (each "
                       "worker uses bf16 where its CPU or GPU supports it)")  # fmt: skip
        p.add_argument("--plane-axes", nargs=2, type=int, default=(-2, -1), metavar=("ROWS", "COLS"))
        _window_arg(p)
        if task != "label-all":
            p.add_argument("--mode", default="exclude", choices=["exclude", "overwrite", "inside"])
        if task == "track":
            _track_args(p)
        p.add_argument("--scheduler", metavar="ADDRESS", help="a running dask scheduler (tcp://host:8786, or a "
                       "scheduler file .json); default: a LocalCluster on this machine")  # fmt: skip
        p.add_argument("--workers", type=positive_int, help="LocalCluster workers (default: one per core, at most one per "
                       "file, about 2 GB of memory each)")  # fmt: skip
        p.add_argument("--in-process", action="store_true", help="LocalCluster workers as threads in this "
                       "process (quick to start; for small runs)")  # fmt: skip


def _batch(args) -> int:
    from .backends.base import CheckpointError
    from .backends.registry import get_spec, model_status, resolve_checkpoint
    from .batch import ModelOptions, plan, run_batch, summary

    options = {"plane_axes": list(args.plane_axes), "window": args.window}
    if args.task == "label-all":
        options.update(text=args.text, class_name=args.class_name, threshold=args.threshold)
    else:
        options["mode"] = args.mode
    if args.task == "track":
        options.update(axis=args.axis, direction=args.direction, frames=args.frames, stop_after=args.stop_after)
    checkpoint = args.checkpoint
    if checkpoint and Path(checkpoint).expanduser().exists():  # a file or model folder: workers need its whole path
        checkpoint = str(Path(checkpoint).expanduser().absolute())
    try:
        if args.task == "label-all" and not (args.text or args.class_name):
            raise UsageError("give --text TEXT (what to find) or, for a grid model, --class NAME")
        jobs = plan(args.images, getattr(args, "prompts", None), args.output, args.task, args.format, options)
        spec = get_spec(args.model)
        if not args.scheduler:  # workers here see what this process sees: check the model once, up front
            ready, line, details = model_status(args.model, checkpoint)
            if not ready:
                raise CheckpointError(line, details)
            if spec.needs_weights:  # a download happens once, here, not in every worker at once
                checkpoint = str(resolve_checkpoint(args.model, checkpoint))
        model = ModelOptions(args.model, checkpoint, args.device, (("fast", True),) if args.fast else ())
        result = run_batch(jobs, model, args.output, args.scheduler, args.workers, not args.in_process,
                           report=lambda line: print(line, flush=True))  # fmt: skip
    except (SamlabelError, OSError) as e:
        _said("batch", e)
        return 2
    print(summary(result))
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
