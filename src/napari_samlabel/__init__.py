"""napari-samlabel: model-assisted labeling for napari.

Importing this package must stay cheap: no torch, sam2 or Qt here.
"""

__version__ = "0.1.0"
