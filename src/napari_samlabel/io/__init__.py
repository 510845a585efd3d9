"""Reading images and writing label arrays: pure functions (array + geometry)."""

from .images import ImageReadError, read_image, write_labels

__all__ = ["ImageReadError", "read_image", "write_labels"]
