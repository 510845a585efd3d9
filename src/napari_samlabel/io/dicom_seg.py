"""DICOM Segmentation objects (highdicom) over the source series."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.instances import InstanceTable
from ..core.ontology import Ontology


def write_dicom_seg(
    path,
    labels: np.ndarray,
    source_files: Sequence[str],
    table: InstanceTable,
    ontology: Ontology,
    per: str = "class",
) -> Path:
    """A DICOM Segmentation (highdicom) over the source series, one segment per class or instance.

    ``labels`` is (z, y, x) in the order of ``source_files`` (the reader's slice order).
    """
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    sources = [pydicom.dcmread(f) for f in source_files]
    if len(sources) != labels.shape[0]:
        raise ValueError(f"labels have {labels.shape[0]} slices, the source series {len(sources)}")
    groups: list[tuple[str, list[int], str]] = []  # (label, ids, class)
    if per == "class":
        for c in ontology:
            ids = [r.id for r in table.of_class(c.name)]
            if ids:
                groups.append((c.name, ids, c.name))
    else:
        for r in sorted(table.present(), key=lambda r: r.id):
            groups.append((r.name, [r.id], r.class_name))
    groups = [g for g in groups if np.isin(labels, g[1]).any()]
    if not groups:
        raise ValueError("nothing labeled: a DICOM SEG needs at least one segment")
    masks = np.stack([np.isin(labels, ids) for _, ids, _ in groups], axis=-1).astype(np.uint8)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=k + 1,
            segment_label=name[:64],
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=hd.AlgorithmIdentificationSequence(
                name="napari-samlabel", version="0.1", family=codes.DCM.ArtificialIntelligence
            ),
        )
        for k, (name, _, _) in enumerate(groups)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=900,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="napari-samlabel",
        manufacturer_model_name="napari-samlabel",
        software_versions="0.1",
        device_serial_number="0",
        omit_empty_frames=False,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    seg.save_as(tmp)
    tmp.replace(path)
    return path
