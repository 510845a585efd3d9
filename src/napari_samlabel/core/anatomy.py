"""The classes a CT or MR volume starts with: a short anatomy list, each class with the SNOMED CT
code the DICOM SEG export gives its segments (:func:`..io.dicom_seg.segment_property` finds it
by the class name in DICOM's CID 7192 anatomical structures, 7191 tissues and 7194 abnormal
structures, which is why the names are those terms). Classes > Load
(or ``samlabel gui --ontology FILE``) replaces the list with one's own.
"""

from __future__ import annotations

from .ontology import Ontology

MEDICAL_FORMATS = ("dicom", "nifti")  # the "format" our readers put in an image's metadata

# name, colour, SNOMED CT code, segmented property category (as pydicom's codes.SCT names it);
# tests/io/test_medical_start.py checks each code is the one the export finds for the name
ANATOMY = (
    ("liver", "#dc7850", "10200004", "AnatomicalStructure"),
    ("spleen", "#9d6cc6", "78961009", "AnatomicalStructure"),
    ("kidney", "#b9b42e", "64033007", "AnatomicalStructure"),
    ("lung", "#4db8e8", "39607008", "AnatomicalStructure"),
    ("heart", "#e03c3c", "80891009", "AnatomicalStructure"),
    ("brain", "#f0c8a0", "12738006", "AnatomicalStructure"),
    ("bone tissue", "#f1f1dc", "3138006", "Tissue"),  # CID 7191's name: "bone" is no DICOM term
    ("lesion", "#3cb44b", "52988006", "MorphologicallyAbnormalStructure"),
)

LOAD_YOUR_OWN = "Classes > Load replaces them with your own"


def anatomy_ontology() -> Ontology:
    """The anatomy list as an ontology, hotkeys 1-8 in order."""
    return Ontology.from_dict({"classes": [{"name": n, "color": c, "kind": "thing", "hotkey": str(i)}
                                           for i, (n, c, _, _) in enumerate(ANATOMY, 1)]})  # fmt: skip


def is_medical(metadata: dict | None) -> bool:
    """An image our DICOM or NIfTI reader opened (a CT or MR volume, not a microscopy stack)."""
    return isinstance(metadata, dict) and metadata.get("format") in MEDICAL_FORMATS
