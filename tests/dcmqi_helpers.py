"""dcmqi, the third-party judge of our DICOM SEGs."""

import json
import subprocess


def dcmqi_decode(seg, folder):
    """segimage2itkimage: {segment label: (SimpleITK image, value in it)}, its meta.json, and
    what it printed (its warnings)."""
    import SimpleITK as sitk

    folder.mkdir()
    run = subprocess.run(["segimage2itkimage", "--inputDICOM", str(seg), "--outputDirectory", str(folder)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    meta = json.loads((folder / "meta.json").read_text())
    decoded = {}
    for n, group in enumerate(meta["segmentAttributes"], start=1):
        img = sitk.ReadImage(str(folder / f"{n}.nrrd"))
        for attr in group:
            decoded[attr["SegmentLabel"]] = (img, attr["labelID"])
    return decoded, meta, run.stdout + run.stderr
