"""README figures for Grow from seeds: before (the code at --old-rev) and after, per case.

    python benchmarks/figures_seeds.py [--out docs/figures] [--old-rev 13f8203]

Each PNG shows the windowed image with the truth outlined in green and the result in
magenta (a second tracked object in orange); prompts in yellow (clicks: + positive,
x negative; the box). The cases are those of tests/seeds_cases.py; the Dice / IoU printed
on each panel is measured, not typed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

GREEN, MAGENTA, ORANGE, YELLOW = (40, 220, 70), (255, 40, 255), (255, 150, 0), (255, 230, 0)
SCALE = 3


def outline(rgb: np.ndarray, mask: np.ndarray, colour) -> None:
    from skimage.segmentation import find_boundaries

    rgb[find_boundaries(mask, mode="inner")] = colour


def panel(rgb, truths, results, title, prompts=None, crop=None):
    """One panel (a PIL image): ``truths`` and ``results`` lists of masks, outlined."""
    from PIL import Image, ImageDraw

    img = np.ascontiguousarray(rgb[..., :3]).copy()
    sl = crop or (slice(None), slice(None))
    img = img[sl].copy()
    big = np.kron(img, np.ones((SCALE, SCALE, 1), np.uint8))
    for m in truths:
        outline(big, np.kron(m[sl], np.ones((SCALE, SCALE), bool)), GREEN)
    for m, colour in zip(results, (MAGENTA, ORANGE)):
        outline(big, np.kron(m[sl], np.ones((SCALE, SCALE), bool)), colour)
    im = Image.fromarray(big)
    draw = ImageDraw.Draw(im)
    r0, c0 = (sl[0].start or 0), (sl[1].start or 0)
    if prompts is not None:
        for (r, c), lab in zip(prompts.points, prompts.labels):
            y, x = (r - r0 + 0.5) * SCALE, (c - c0 + 0.5) * SCALE
            if lab:
                draw.line([(x - 6, y), (x + 6, y)], fill=YELLOW, width=2)
                draw.line([(x, y - 6), (x, y + 6)], fill=YELLOW, width=2)
            else:
                draw.line([(x - 5, y - 5), (x + 5, y + 5)], fill=YELLOW, width=2)
                draw.line([(x - 5, y + 5), (x + 5, y - 5)], fill=YELLOW, width=2)
        if prompts.box is not None:
            b0, b1, b2, b3 = prompts.box
            draw.rectangle([(b1 - c0) * SCALE, (b0 - r0) * SCALE, (b3 - c0 + 1) * SCALE, (b2 - r0 + 1) * SCALE], outline=YELLOW)
    draw.rectangle([0, 0, im.width, 16], fill=(0, 0, 0))
    draw.text((4, 2), title, fill=(255, 255, 255))
    return im


def grid(rows):
    from PIL import Image

    w = max(sum(p.width for p in row) + 4 * (len(row) - 1) for row in rows)
    h = sum(max(p.height for p in row) for row in rows) + 4 * (len(rows) - 1)
    out = Image.new("RGB", (w, h), (255, 255, 255))
    y = 0
    for row in rows:
        x = 0
        for p in row:
            out.paste(p, (x, y))
            x += p.width + 4
        y += max(p.height for p in row) + 4
    return out


def around(mask, pad, shape):
    rows, cols = np.nonzero(mask)
    return (slice(max(rows.min() - pad, 0), min(rows.max() + pad + 1, shape[0])),
            slice(max(cols.min() - pad, 0), min(cols.max() + pad + 1, shape[1])))  # fmt: skip


def main() -> None:
    from bench_seeds import load_old
    from scipy import ndimage as ndi
    from seeds_cases import crossing_cells, ct_lesion_plane, dice, iou, leaving_cell

    from napari_samlabel.backends.seeds import SeedGrowSegmenter, SeedTracker
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane
    from napari_samlabel.core.prompts import PromptSet

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "figures"))
    ap.add_argument("--old-rev", default="13f8203")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    Old, OldTracker = load_old(a.old_rev)

    # 1-2. the CT lesion: one click; box + clicks
    rgb, lesion, organ = ct_lesion_plane(0)
    d = ndi.distance_transform_edt(lesion)
    c = np.unravel_index(np.argmax(d), d.shape)
    rows, cols = np.nonzero(lesion)
    box = [rows.min() - 2, cols.min() - 2, rows.max() + 2, cols.max() + 2]
    near = organ & ~ndi.binary_dilation(lesion, iterations=2)
    corner = (box[0] + 1, box[1] + 1) if near[box[0] + 1, box[1] + 1] else (box[2] - 1, box[3] - 1)
    view = around(organ, 4, lesion.shape)
    for name, prompts in (("ct_lesion_one_click", PromptSet([c], [1])),
                          ("ct_lesion_box_and_clicks", PromptSet([c, corner, (c[0], c[1] + 25)], [1, 0, 0], box))):  # fmt: skip
        panels = []
        for who, seg in (("before", Old()), ("after", SeedGrowSegmenter())):
            seg.set_image(rgb)
            m = seg.predict(prompts).masks[0]
            panels.append(panel(rgb, [lesion], [m], f"{who}: Dice {dice(m, lesion):.2f}", prompts, view))
        grid([panels]).save(out / f"{name}.png")

    # 3. crossing cells
    image, truth = crossing_cells()
    frames = FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))
    show = [0, 6, 8, 10, 15]
    rows_ = []
    for who, tracker in (("before", OldTracker(Old())), ("after", SeedTracker())):
        steps = {s.frame: s for s in tracker.track(frames, 0, {1: truth[0] == 1, 2: truth[0] == 2}, n_frames=None)}
        row = []
        for f in show:
            res = [truth[f] == i for i in (1, 2)] if f == 0 else [
                steps[f].objects[i].mask if i in steps[f].objects else np.zeros(truth[f].shape, bool) for i in (1, 2)]
            worst = min(iou(r, truth[f] == i) for r, i in zip(res, (1, 2)))
            row.append(panel(frames[f], [truth[f] == 1, truth[f] == 2], res, f"{who} t={f} IoU>={worst:.2f}"))
        rows_.append(row)
    grid(rows_).save(out / "crossing_cells.png")

    # 4. a cell leaving the field, glow and specks at the border after it
    image, truth, gone = leaving_cell()
    frames = FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))
    show = [gone - 2, gone, gone + 2, gone + 3, gone + 4]
    rows_ = []
    for who, tracker in (("before", OldTracker(Old())), ("after", SeedTracker())):
        steps = {s.frame: s for s in tracker.track(frames, 0, {1: truth[0] == 1}, n_frames=None, stop_after=3)}
        row = []
        for f in show:
            st = steps.get(f)
            m = st.objects[1].mask if st is not None and 1 in st.objects else np.zeros(truth[f].shape, bool)
            row.append(panel(frames[f], [truth[f] == 1], [m], f"{who} t={f}: {int(m.sum())} px"))
        rows_.append(row)
    grid(rows_).save(out / "leaving_cell.png")
    for p in sorted(out.glob("*.png")):
        print(p)


if __name__ == "__main__":
    main()
