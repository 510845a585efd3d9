"""The real SAM 2 code path with random weights, shrunk to 256 px (DESIGN.md, Known facts):
speed and plumbing do not depend on the weights, and no checkpoint can be downloaded here."""

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SMALL = [
    "++model.image_size=256",
    "++model.memory_attention.layer.self_attention.feat_sizes=[16,16]",
    "++model.memory_attention.layer.cross_attention.feat_sizes=[16,16]",
]


def small_model(checkpoint=None):
    """SAM 2.1 tiny at 256 px, seeded random weights (or ``checkpoint``'s), on the CPU."""
    import torch

    from napari_samlabel.backends.sam2 import build_model

    torch.manual_seed(0)
    return build_model(CONFIG, checkpoint, "cpu", SMALL)
