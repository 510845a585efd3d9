"""An import (``io.importing``) written into a session: one undo step through the one write
path (``Annotation.write_mask``), so panoptic rules and locks hold as for any edit.

Ids of the file are kept where they are free; ids that clash with instances of the session
are renumbered (said). Classes the ontology lacks are added with the file's colours. Frames
take the file's source (else ``model``) and confidence. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..core.annotation import Annotation, AnnotationError
from ..core.compose import Mode
from ..core.label_ids import MAX_ID
from ..io.importing import Imported, detect, read_labels

if TYPE_CHECKING:
    from .session import AnnotationSession


@dataclass
class ImportReport:
    path: Path
    fmt: str
    instances: list[int] = field(default_factory=list)  # the session's ids that took pixels
    classes: list[str] = field(default_factory=list)
    renumbered: dict[int, int] = field(default_factory=dict)  # file id -> session id
    unfit: list[int] = field(default_factory=list)  # file ids above what the labels and projects hold
    added_classes: list[str] = field(default_factory=list)
    kept_pixels: int = 0  # pixels of the file left to instances already there (exclude rule, locks)
    empty: list[int] = field(default_factory=list)  # file ids that got no pixel
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        n, k = len(self.instances), len(self.classes)
        text = f"imported {n} instance{'s' * (n != 1)} of {k} class{'es' * (k != 1)} from {self.path.name}"
        clashed = {a: b for a, b in self.renumbered.items() if a not in self.unfit}
        if clashed:
            pairs = ", ".join(f"{a}->{b}" for a, b in list(clashed.items())[:5])
            more = ", ..." if len(clashed) > 5 else ""
            text += f"; {len(clashed)} id{'s' * (len(clashed) != 1)} renumbered ({pairs}{more})"
        if self.unfit:
            n = len(self.unfit)
            text += f"; renumbered {n} id{'s' * (n != 1)} that did not fit (largest {max(self.unfit)})"
        if self.added_classes:
            text += f"; new class{'es' * (len(self.added_classes) != 1)} {', '.join(self.added_classes)}"
        if self.kept_pixels:
            text += f"; {self.kept_pixels} pixel(s) already labeled or locked were kept"
        if self.empty:
            text += f"; {len(self.empty)} instance(s) had no free pixel"
        for note in self.notes:
            text += f"; {note}"
        return text


def apply_import(ann: Annotation, imp: Imported, mode: Mode | str = Mode.EXCLUDE) -> ImportReport:
    """Write ``imp`` into ``ann`` as one action (one undo step). On any error nothing changes:
    pixels and records roll back and classes added for the import are removed again."""
    shape = tuple(ann.store.shape)
    if tuple(imp.labels.shape) != shape:
        raise AnnotationError(f"{imp.path}: labels of shape {imp.labels.shape}, the session's are {shape}")
    report = ImportReport(imp.path, imp.fmt, notes=list(imp.notes))
    present = [int(i) for i in np.unique(imp.labels) if i]
    unknown = [i for i in present if i not in imp.class_of]
    if unknown:
        raise AnnotationError(f"{imp.path}: id(s) {unknown[:5]} have no class")
    onto = ann.ontology
    for i in present:  # a class the file and the ontology disagree on: the ontology's kind wins
        cls = imp.classes.get(imp.class_of[i])
        if cls is not None and cls.kind and cls.name in onto and onto[cls.name].kind != cls.kind:
            report.notes.append(f"class {cls.name!r} is {cls.kind} in the file, {onto[cls.name].kind} here: kept as {onto[cls.name].kind}")
            cls.kind = None
    for name in dict.fromkeys(imp.class_of[i] for i in present):
        if name not in onto:
            cls = imp.classes.get(name)
            onto.add(name, color=cls.color if cls else None, kind=(cls.kind if cls and cls.kind else "thing"),
                     extra=cls.extra if cls else None)  # fmt: skip
            report.added_classes.append(name)
    try:
        with ann.action(f"the import of {imp.path.name}"):
            target = _records(ann, imp, present, report)
            _write(ann, imp, target, mode, report)
            if not any(t and ann.table[t].frames for t in target.values()):  # no empty undo step
                raise AnnotationError(f"{imp.path}: nothing new to import: every pixel of its {len(present)} "
                                      "instance(s) is already labeled or locked here")  # fmt: skip
            for i, p in imp.parent.items():
                t, tp = target.get(i), target.get(p)
                if t and tp and t != tp:
                    ann.table.edit(t).parent = tp
    except BaseException:
        for name in report.added_classes:
            if not ann.table.of_class(name):
                ann.remove_class(name)
        raise
    report.instances = sorted({t for t in target.values() if t and ann.table[t].frames})
    report.classes = sorted({ann.table[t].class_name for t in report.instances})
    return report


def _records(ann: Annotation, imp: Imported, present: list[int], report: ImportReport) -> dict[int, int | None]:
    """file id -> session id: the file's id where it is free (never used, or only handed to
    the brush), a new one where it clashes; a stuff class's ids all go to its one instance."""
    table, onto = ann.table, ann.ontology
    protected = ann.protected_ids()
    store_dtype = getattr(getattr(ann.store, "data", None), "dtype", np.dtype(np.uint32))
    # the largest id both the labels and a saved project hold: bigger ones get new ids
    top = min(np.iinfo(store_dtype).max, MAX_ID) if np.dtype(store_dtype).kind in "iu" else MAX_ID
    report.unfit = [i for i in present if i > top]

    def free(i: int) -> bool:
        return 0 < i <= top and (i not in table or (table.is_unused(i) and i not in protected))

    target: dict[int, int | None] = {}
    stuff_target: dict[str, int | None] = {}
    clash = []
    for i in present:
        name = imp.class_of[i]
        if onto[name].is_stuff:
            if name not in stuff_target:
                rec = table.stuff_instance(name)
                if rec is None and free(i):
                    rec = table.adopt(i, name, stuff=True, source=imp.source.get(i, "model"),
                                      confidence=imp.confidence.get(i, 1.0))  # fmt: skip
                elif rec is None:
                    rec = ann.new_instance(name)
                if rec.id in protected:
                    report.notes.append(f"{rec.name} is locked: its imported pixels were left out")
                stuff_target[name] = None if rec.id in protected else rec.id
            target[i] = stuff_target[name]
        elif free(i):
            table.adopt(i, name, source=imp.source.get(i, "model"), confidence=imp.confidence.get(i, 1.0))
            target[i] = i
        else:
            clash.append(i)
    for i in clash:  # after the kept ids, so new ids never land on one of them
        rec = table.allocate(imp.class_of[i], source=imp.source.get(i, "model"), confidence=imp.confidence.get(i, 1.0))
        target[i] = rec.id
        report.renumbered[i] = rec.id
    return target


def _write(ann: Annotation, imp: Imported, target: dict[int, int | None], mode, report: ImportReport) -> None:
    """Each instance on each frame through write_mask, cropped to its bounding box."""
    from scipy import ndimage as ndi

    fa = ann.frame_axis
    frames = [None] if fa is None else range(ann.n_frames)
    got = set()
    for f in frames:
        plane = imp.labels if f is None else np.take(imp.labels, f, axis=fa)
        ids, inverse = np.unique(plane, return_inverse=True)
        if not ids[-1]:
            continue
        compact = inverse.reshape(plane.shape) + 1
        compact[plane == 0] = 0
        boxes = ndi.find_objects(compact)
        frame = 0 if f is None else f
        for k, i in enumerate(ids.tolist()):
            t = target.get(int(i)) if i else None
            if t is None or boxes[k] is None:
                continue
            box = boxes[k]
            local = compact[box] == k + 1
            region = box if f is None else box[:fa] + (f,) + box[fa:]
            ann.write_mask(local, t, region, mode, source=imp.source_on(i, frame), confidence=imp.score_on(i, frame))
            after = ann.store.read(region)
            kept = int((local & (after != t)).sum())
            report.kept_pixels += kept
            if kept < local.sum():
                got.add(int(i))
    report.empty = sorted(i for i in target if i not in got)


def import_into_session(
    session: AnnotationSession,
    paths: str | Path | Sequence[str | Path],
    class_name: str | None = None,
    mode: Mode | str = Mode.EXCLUDE,
) -> ImportReport:
    """Read ``paths`` (see :func:`io.importing.detect`) and write them into ``session``; the
    status line says what came in. A CTC result or a label image without a class table takes
    ``class_name``, else the session's current class when it is a thing class."""
    if class_name is None:
        current = session.current_class
        if current in session.ontology and not session.ontology[current].is_stuff:
            class_name = current
    detected = detect(paths)
    imp = read_labels(paths, session.labels.data.shape, session.frame_axis, class_name,
                      session.labels.metadata.get("source_image", {}), _detected=detected)  # fmt: skip
    report = apply_import(session.annotation, imp, mode)
    current = session.current_class
    if current in session.ontology:
        session.select_class(current)  # the brush's fresh id may now be an imported instance
    session.say(report.summary()[:1].upper() + report.summary()[1:] + ".")
    return report
