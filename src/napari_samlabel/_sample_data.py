"""Sample data: generated on the fly, no download."""

from __future__ import annotations


def timelapse_sample() -> list[tuple]:
    from .synthetic import fluorescence_timelapse

    image, _ = fluorescence_timelapse()
    lo, hi = float(image.min()), float(image.max())
    return [(image, {"name": "nuclei (synthetic time-lapse)", "contrast_limits": (lo, hi), "colormap": "gray"}, "image")]


def volume_sample() -> list[tuple]:
    from .synthetic import blobs_volume

    image, _ = blobs_volume()
    return [(image, {"name": "blobs (synthetic volume)", "scale": (2.0, 1.0, 1.0)}, "image")]
