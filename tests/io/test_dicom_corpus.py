"""Every file of pydicom's test data through our DICOM reader, one file at a time, judged by
ITK's GDCM reader (issue 10).

The corpus is what ``pydicom.data.get_testdata_files()`` finds installed: pydicom's own test
files and the pydicom-data package's (get_testdata_files would also try to download
pydicom-data's online list; offline that fails, online it would add copies, so the installed
files are listed here the way it lists them, without the download). Each file either

  agrees       opens, and ITK gives the same values (after rescale) and the same voxel grid in
               patient space (spacing, origin, direction; a single slice's depth is not compared:
               ITK gives 1 mm or Spacing Between Slices, we give its Slice Thickness)
  explained    opens, and differs from ITK as KNOWN says; the difference itself is checked
  itk-cannot   opens where ITK cannot (16/32-bit RGB, single-frame RT Dose): values checked
               against pydicom's decoding instead
  refused      raises ImageReadError, one line starting with the file's path; where ITK reads
               the file, the reason is listed in REFUSED below

Anything else (a bare exception, an unexplained disagreement) fails. pydicom is the reference
for pixel decoding, ITK for geometry. The counts are asserted exactly so that a regression shows.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")

from napari_samlabel.io import ImageReadError  # noqa: E402
from napari_samlabel.io.dicom import read_dicom  # noqa: E402
from napari_samlabel.io.geometry import Geometry  # noqa: E402

pytestmark = pytest.mark.slow  # 244 files through our reader and ITK: about 40 s


def corpus() -> dict[str, Path]:
    """name -> path: "pydicom/<path under test_files>" and "pydicom-data/<file>"."""
    from pydicom.data import data_manager as dm

    base = Path(dm.DATA_ROOT) / "test_files"
    out = {f"pydicom/{p.relative_to(base)}": p for p in base.glob("**/*") if p.is_file() and p.suffix != ".py"}
    for lib, source in dm.external_data_sources().items():
        for p in map(Path, source.get_paths("**/*", dm.DataTypes.DATASET)):
            out[f"{lib}/{p.name}"] = p
    return dict(sorted(out.items()))


# -- what ITK gives ---------------------------------------------------------------------------
@dataclass
class ItkImage:
    array: np.ndarray  # (z, y, x) or (z, y, x, c)
    spacing: np.ndarray  # x, y, z
    origin: np.ndarray
    direction: np.ndarray  # columns: i, j, k

    def affine(self) -> np.ndarray:
        a = np.eye(4)
        a[:3, :3] = self.direction @ np.diag(self.spacing)
        a[:3, 3] = self.origin
        return a


def itk_read(itk, path: Path) -> ItkImage | str:
    try:
        image = itk.imread(str(path), imageio=itk.GDCMImageIO.New())
        return ItkImage(
            itk.array_from_image(image),  # a copy: array_view_from_image dangles once the image goes
            np.array(image.GetSpacing(), float),
            np.array(image.GetOrigin(), float),
            np.array(itk.array_from_matrix(image.GetDirection()), float),
        )
    except Exception as e:  # ITK cannot read it: say why (first line)
        return (str(e).strip().splitlines() or [type(e).__name__])[0][:100]


def disagreements(volume, meta, ref: ItkImage, values=lambda v: v, depth: float | None = None) -> list[str]:
    """How our volume differs from ITK's, in patient space: our voxel grid mapped onto ITK's
    must be ITK's up to flipped axes (an enhanced CT's frames stored top-down), and the values
    (through ``values``) equal. ``depth``: ITK's slice spacing when it is known to differ."""
    v = np.asarray(volume)
    if meta.get("rgb") and v.ndim == 3:
        v = v[None]
    if v.shape != ref.array.shape:
        return [f"shape {v.shape} vs ITK {ref.array.shape}"]
    ours = Geometry.from_meta(meta["geometry"]).affine_lps()
    theirs = ref.affine()
    if v.shape[0] == 1:
        ours[:3, 2] = theirs[:3, 2]  # a single slice: its depth is not geometry
    elif depth is not None:
        ours[:3, 2] *= depth / np.linalg.norm(ours[:3, 2])
    t = np.linalg.inv(theirs) @ ours  # our index -> ITK's index
    flips = np.round(t[:3, :3])
    if not (np.allclose(t[:3, :3], flips, atol=1e-3) and np.allclose(np.abs(flips), np.eye(3))
            and np.allclose(t[:3, 3], np.round(t[:3, 3]), atol=1e-2)):  # fmt: skip
        g = Geometry.from_meta(meta["geometry"])
        return [f"grid: ours spacing {np.round(g.spacing[::-1], 4).tolist()} origin {np.round(g.origin, 3).tolist()} "
                f"direction {np.round(g.direction, 3).tolist()}; ITK {np.round(ref.spacing, 4).tolist()} "
                f"{np.round(ref.origin, 3).tolist()} {np.round(ref.direction, 3).tolist()}"]  # fmt: skip
    for axis in range(3):  # ITK's axis i is our array axis 2 - i
        if flips[axis, axis] < 0:
            v = np.flip(v, axis=2 - axis)
    got, want = np.asarray(values(v), np.float64), ref.array.astype(np.float64)
    if not np.allclose(got, want, rtol=1e-5, atol=1e-4):
        d = np.abs(got - want)
        return [f"values: {int((d > 1e-4).sum())} of {d.size} differ, by up to {d.max():.4g}"]
    return []


def pydicom_values(path: Path) -> np.ndarray:
    """pydicom's decoding: palette applied, rescale applied to grey."""
    from pydicom.pixels import apply_color_lut

    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        return apply_color_lut(arr, ds)
    if int(ds.get("SamplesPerPixel", 1)) > 1:
        return arr
    return arr * float(ds.get("RescaleSlope", 1) or 1) + float(ds.get("RescaleIntercept", 0) or 0)


# -- where ITK and we part, and why ----------------------------------------------------------------
def monochrome1(volume, meta, ref, path):
    """ITK (GDCM) turns MONOCHROME1 into MONOCHROME2 by inverting the stored values; we keep
    pydicom's values and show them with an inverted grey colormap (``invert`` in the meta)."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    top = 2 ** int(ds.BitsStored) - 1
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    shown = [] if meta.get("invert") else ["not marked to be shown inverted"]
    return shown + disagreements(volume, meta, ref, lambda v: slope * top + 2 * intercept - v)


def palette16(volume, meta, ref, path):
    """16-bit palette colour tables: ITK narrows every entry to 8 bits; we keep pydicom's
    16-bit colours (napari shows them over their full range)."""
    if not (meta.get("rgb") and np.asarray(volume).dtype == np.uint16):
        return ["not 16-bit RGB"]
    return disagreements(volume, meta, ref, lambda v: v >> 8)


def one_bit(volume, meta, ref, path):
    """1-bit pixels (a DICOM SEG): ITK scales them to 0/255; pydicom gives 0/1, and so do we."""
    return disagreements(volume, meta, ref, lambda v: v * 255)


def big_endian_dose(volume, meta, ref, path):
    """ITK reads this big-endian 32-bit dose grid wrong; ours equals pydicom's values and our
    reading of its little-endian twin rtdose.dcm (geometry agrees with ITK)."""
    (twin, _), = read_dicom(Path(path).with_name("rtdose.dcm"))
    if not (np.array_equal(np.asarray(volume), np.asarray(twin)) and np.allclose(volume, pydicom_values(path))):
        return ["values differ from the little-endian twin's or from pydicom's"]
    return disagreements(volume, meta, ref, lambda v: ref.array)  # the grid only


def no_frame_positions(volume, meta, ref, path):
    """An enhanced MR whose frames carry no position: ITK puts them 1 mm apart, we take the
    header's Spacing Between Slices (1.2 mm)."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    if not np.isclose(meta["spacing"][0], float(ds.SpacingBetweenSlices)) or np.isclose(meta["spacing"][0], ref.spacing[2]):
        return [f"slice spacing {meta['spacing'][0]}, header {ds.SpacingBetweenSlices}, ITK {ref.spacing[2]}"]
    return disagreements(volume, meta, ref, depth=ref.spacing[2])


KNOWN = {
    **{f"pydicom-data/RG{n}_{c}.dcm": monochrome1 for n in (1, 3) for c in ("J2KI", "J2KR", "UNCI", "UNCR")},
    **{f"pydicom/dicomdirtests/77654033/{f}": monochrome1 for f in ("CR1/6154", "CR2/6247", "CR3/6278")},
    **{f"pydicom-data/OBXXXX1A{s}.dcm": palette16 for s in ("", "_2frame", "_expb", "_expb_2frame", "_rle", "_rle_2frame")},
    "pydicom/examples_palette.dcm": palette16,
    "pydicom-data/OT-PAL-8-face.dcm": palette16,
    "pydicom-data/liver.dcm": one_bit,
    "pydicom-data/liver_expb.dcm": one_bit,
    "pydicom/rtdose_expb.dcm": big_endian_dose,
    **{f"pydicom-data/emri_small{s}.dcm": no_frame_positions
       for s in ("", "_RLE", "_big_endian", "_jpeg_2k_lossless", "_jpeg_ls_lossless")},  # fmt: skip
}

NO_DECODER = "no installed handler decodes it"  # JPEG Lossless needs pylibjpeg or gdcm, not installed
REFUSED = {  # files ITK reads and we refuse: what our message says
    "pydicom-data/JPEG-LL.dcm": NO_DECODER,
    "pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm": NO_DECODER,
    "pydicom-data/bad_sequence.dcm": NO_DECODER,
    "pydicom/SC_rgb_jpeg_gdcm.dcm": NO_DECODER,
    # Pillow, the installed JPEG decoder, reads no 12-bit JPEG and fails on this JPEG 2000 stream
    "pydicom/JPEG-lossy.dcm": "did not decode",
    "pydicom/JPGExtended.dcm": "did not decode",
    "pydicom/GDCMJ2K_TextGBR.dcm": "did not decode",
    "pydicom/badVR.dcm": "Number of Frames '1A' is not a whole number",  # ITK reads 1 frame of 15
    # no Number of Frames, three per-frame positions: which one is the frame's? (ITK takes the first)
    "pydicom/liver_1frame.dcm": "per-frame functional groups describe 3 frames",
    "pydicom/liver_expb_1frame.dcm": "per-frame functional groups describe 3 frames",
}


# -- the run ---------------------------------------------------------------------------------------
@dataclass
class Outcome:
    kind: str  # agrees | explained | itk-cannot | refused | BARE | UNEXPLAINED
    detail: str = ""
    itk_reads: bool = False
    problems: list = field(default_factory=list)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    itk = pytest.importorskip("itk")  # slow to import: once, here
    out: dict[str, Outcome] = {}
    for name, path in corpus().items():
        ref = itk_read(itk, path)
        itk_reads = isinstance(ref, ItkImage)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's warnings on odd files
            try:
                volumes = read_dicom(path)
            except ImageReadError as e:
                out[name] = Outcome("refused", str(e), itk_reads)
                continue
            except Exception as e:
                out[name] = Outcome("BARE", f"{type(e).__name__}: {e}", itk_reads)
                continue
            if len(volumes) != 1:
                out[name] = Outcome("UNEXPLAINED", f"{len(volumes)} volumes from one file", itk_reads)
                continue
            (volume, meta), = volumes
            if not itk_reads:
                want = pydicom_values(path)
                same = np.asarray(volume).size == want.size and np.allclose(
                    np.asarray(volume, np.float64).reshape(want.shape), want, rtol=1e-5, atol=1e-4)  # fmt: skip
                out[name] = Outcome("itk-cannot" if same else "UNEXPLAINED", ref if same else "values differ from pydicom's")
                continue
            if name in KNOWN:
                problems = KNOWN[name](volume, meta, ref, path)
                out[name] = Outcome("explained" if not problems else "UNEXPLAINED", KNOWN[name].__name__, True, problems)
            else:
                problems = disagreements(volume, meta, ref)
                out[name] = Outcome("agrees" if not problems else "UNEXPLAINED", "", True, problems)
    return out


def test_no_file_raises_a_bare_error_and_every_refusal_names_its_file(outcomes):
    bare = {n: o.detail for n, o in outcomes.items() if o.kind == "BARE"}
    assert not bare
    paths = corpus()
    for name, o in outcomes.items():
        if o.kind == "refused":
            assert o.detail.startswith(f"{paths[name]}: ") and "\n" not in o.detail, o.detail


def test_what_opens_agrees_with_itk_or_differs_as_explained(outcomes):
    wrong = {n: (o.detail, o.problems) for n, o in outcomes.items() if o.kind == "UNEXPLAINED"}
    assert not wrong
    assert {n for n, o in outcomes.items() if o.kind == "explained"} == set(KNOWN)  # none went stale


def test_what_itk_reads_and_we_refuse_is_listed_with_its_reason(outcomes):
    refused = {n: o.detail for n, o in outcomes.items() if o.kind == "refused" and o.itk_reads}
    assert set(refused) == set(REFUSED)
    for name, said in refused.items():
        assert REFUSED[name] in said, said


def test_summary(outcomes):
    """The counts of each outcome, as a table; exact, so that a regression shows."""
    counts = Counter((o.kind, o.itk_reads) for o in outcomes.values())
    rows = [
        ("opened, agrees with ITK", counts["agrees", True]),
        ("opened, differs from ITK as explained", counts["explained", True]),
        ("opened, ITK cannot read it", counts["itk-cannot", False]),
        ("refused with a message, ITK reads it", counts["refused", True]),
        ("refused with a message, ITK cannot read it either", counts["refused", False]),
    ]
    print(f"\n{'outcome':<52}{'files':>6}")
    for label, n in rows:
        print(f"{label:<52}{n:>6}")
    print(f"{'total (pydicom ' + pydicom.__version__ + ' + pydicom-data)':<52}{len(outcomes):>6}")
    for name, o in outcomes.items():
        if o.kind == "explained" or (o.kind == "refused" and o.itk_reads):
            print(f"  {o.kind:<10} {name}: {o.detail.split(': ', 1)[-1][:110]}")
    assert len(outcomes) == 244, "pydicom's test data changed: recount"
    assert [n for _, n in rows] == [104, 27, 17, 10, 86]
