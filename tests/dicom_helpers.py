"""Writing DICOM series for tests, as a scanner export would (shuffled file names)."""

import numpy as np


def ct_slice(series: str, study: str, frame_of_reference: str, description: str = ""):
    """A CT image dataset with its file meta and the UIDs of its series, study and frame of
    reference: the caller adds the pixels and the geometry."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID = series, study, frame_of_reference
    ds.Modality, ds.SeriesDescription, ds.SeriesNumber = "CT", description, 1
    return ds


def write_dicom_series(folder, volume, spacing=(2.5, 0.7, 0.7), origin=(-50.0, -60.0, 100.0), positions=None,
                       description="", series=None, window=None):
    """A CT-like series written with pydicom, files named in shuffled order.

    ``positions``: slice positions along z (default: evenly spaced); ``volume`` is stored
    + 1024 with RescaleIntercept -1024."""
    from pydicom.uid import generate_uid

    folder.mkdir(exist_ok=True)
    series = series or generate_uid()
    study, frame_of_reference = generate_uid(), generate_uid()
    order = np.random.default_rng(0).permutation(len(volume))
    for k, z in enumerate(order):
        ds = ct_slice(series, study, frame_of_reference, description)
        ds.PatientID, ds.PatientName, ds.StudyDate, ds.StudyTime = "anon", "anon", "20260101", "120000"
        ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID, ds.Manufacturer = "1", "x", "1", "test"
        ds.PatientBirthDate, ds.PatientSex = "", "O"
        ds.Rows, ds.Columns = volume[z].shape
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = spacing[0]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        zpos = origin[2] + spacing[0] * int(z) if positions is None else positions[z]
        ds.ImagePositionPatient = [origin[0], origin[1], zpos]
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = window
        ds.InstanceNumber = int(len(volume) - z)  # deliberately not the slice order
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = (np.asarray(volume[z]) + 1024).astype(np.uint16).tobytes()
        ds.save_as(folder / f"{description or 'img'}_{k:03d}.dcm", enforce_file_format=True)


def sitk_series(folder):
    """The series in ``folder`` as SimpleITK reads it (the judge of geometry and voxels)."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()
