"""Interactive latency and embedding time, as ratios to SAM2ImagePredictor on the same plane.

    python benchmarks/bench_interactive.py [--size 1024] [--repeats 15] [--config tiny]

Model: SAM 2.1 built from the package config with random weights (speed does not
depend on the weights). "Ours" is the plugin's whole path: read the plane from
the layer, window it to uint8 RGB, look up the cached embedding, predict, and
write the preview layer (ViewerModel: everything but GPU drawing). Both sides
refine each click with the previous prediction's low-res logits, as the preview
does; napari's own work on the Points layer at a click is not counted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

CONFIGS = {"tiny": "configs/sam2.1/sam2.1_hiera_t.yaml", "small": "configs/sam2.1/sam2.1_hiera_s.yaml"}


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512, help="plane size in pixels")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--embed-repeats", type=int, default=5)
    ap.add_argument("--config", default="tiny", choices=list(CONFIGS))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from napari.components import ViewerModel
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    from napari_samlabel._napari.prompting import PromptController
    from napari_samlabel.api import start_session
    from napari_samlabel.backends.sam2 import Sam2Segmenter, build_model
    from napari_samlabel.core import Ontology
    from napari_samlabel.core.planes import window_to_uint8
    from napari_samlabel.synthetic import fluorescence_timelapse

    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    model = build_model(CONFIGS[args.config], None, args.device)
    image, _ = fluorescence_timelapse(n_frames=3, size=args.size, n_cells=12)
    rgb = window_to_uint8(image[1], (float(image.min()), float(image.max())))
    click = np.array([[args.size // 2, args.size // 3]])

    raw = SAM2ImagePredictor(model)

    def raw_embed():
        with torch.inference_mode():
            raw.set_image(rgb)

    clicks = [click[0], np.array([args.size // 3, args.size // 2])]  # alternate: the mask changes each time
    turn = {"raw": 0, "ours": 0}

    refine = {"logits": None}

    def raw_predict():  # as our preview does: a click refined by the previous low-res logits
        c = clicks[turn["raw"] % 2]
        turn["raw"] += 1
        with torch.inference_mode():
            masks, scores, logits = raw.predict(
                point_coords=c[None, ::-1].astype(float), point_labels=np.array([1]),
                mask_input=refine["logits"], multimask_output=True,
            )  # fmt: skip
        refine["logits"] = logits[np.argmax(scores)][None]

    ours = Sam2Segmenter(model, "bench")

    def our_embed():
        ours.cache.clear()
        ours._key = None
        ours.set_image(rgb)

    viewer = ViewerModel()
    layer = viewer.add_image(image, contrast_limits=(float(image.min()), float(image.max())))
    onto = Ontology()
    onto.add("nucleus")
    session = start_session(viewer, layer, ontology=onto)
    pc = PromptController(session, ours)
    viewer.dims.set_current_step(0, 1)
    pc.add_point([1, *click[0]])
    pc.update_preview()  # embedding cached from here on

    def click_next():  # napari's own work for a click (the Points layer), not timed
        c = clicks[turn["ours"] % 2]
        turn["ours"] += 1
        pc.points.data = np.array([[1, *c]], float)

    def our_preview():  # prompt -> mask in the preview layer: everything the plugin does
        pc.apply(pc.run(pc.request()))

    raw_embed()  # warm-up both paths
    raw_predict()
    embeds = {"raw": [], "ours": []}
    for _ in range(args.embed_repeats):  # interleaved too
        embeds["raw"].append(timed(raw_embed, 1))
        embeds["ours"].append(timed(our_embed, 1))
    raw_embed()  # leave the raw predictor on the plane for the decoder timings
    interleaved = {"raw": [], "ours": []}
    for _ in range(args.repeats):  # interleaved, so a slow spell of the machine hits both
        interleaved["raw"].append(timed(raw_predict, 1))
        click_next()
        interleaved["ours"].append(timed(our_preview, 1))
    res = {
        "device": args.device,
        "config": args.config,
        "plane": [args.size, args.size],
        "threads": torch.get_num_threads(),
        "raw_set_image_s": statistics.median(embeds["raw"]),
        "ours_set_image_s": statistics.median(embeds["ours"]),
        "raw_predict_ms": 1000 * statistics.median(interleaved["raw"]),
        "ours_preview_ms": 1000 * statistics.median(interleaved["ours"]),
        "ours_cached_set_image_ms": 1000 * timed(lambda: (setattr(ours, "_key", None), ours.set_image(rgb)), args.repeats),
    }
    res["embedding_ratio"] = res["ours_set_image_s"] / res["raw_set_image_s"]
    res["preview_ratio"] = res["ours_preview_ms"] / res["raw_predict_ms"]
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
