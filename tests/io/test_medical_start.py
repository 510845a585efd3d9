"""The anatomy list a CT or MR starts with (issue 23, item 7): each class's SNOMED CT code is the
one the DICOM SEG export writes for it (found by its name in DICOM's context groups), and what
our DICOM and NIfTI readers open counts as medical, a microscopy stack does not."""

import pytest

pytest.importorskip("pydicom")

from napari_samlabel.core.anatomy import ANATOMY, anatomy_ontology, is_medical
from napari_samlabel.io.dicom_seg import segment_property


@pytest.mark.parametrize("name,code,category", [(n, code, cat) for n, _, code, cat in ANATOMY])
def test_each_anatomy_class_is_exported_with_its_listed_snomed_code(name, code, category):
    from pydicom.sr.codedict import codes

    cat, kind = segment_property(name)
    assert (kind.value, kind.scheme_designator) == (code, "SCT")  # never the Tissue/Tissue fallback
    assert cat == getattr(codes.SCT, category)


def test_anatomy_ontology_has_the_list_with_hotkeys():
    onto = anatomy_ontology()
    assert onto.names == [n for n, *_ in ANATOMY] and "liver" in onto and "nucleus" not in onto
    assert [onto[n].hotkey for n in onto.names] == [str(i) for i in range(1, len(ANATOMY) + 1)]


def test_medical_is_what_the_dicom_and_nifti_readers_open():
    from nibabel.testing import data_path
    from pydicom.data import get_testdata_file

    from napari_samlabel.io.dicom import read_dicom_series
    from napari_samlabel.io.images import read_image

    assert is_medical(read_dicom_series(get_testdata_file("CT_small.dcm"))[1])
    assert is_medical(read_image(f"{data_path}/anatomical.nii")[1])
    assert not is_medical({"source": "movie.tif"}) and not is_medical(None)
