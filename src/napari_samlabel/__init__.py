"""napari-samlabel: model-assisted labeling for napari.

Importing this package must stay cheap: no torch, sam2 or Qt here.
"""

import logging

__version__ = "0.1.0"

# a library logs; the application shows it (`samlabel -v`): no stray "skipped ..." lines otherwise
logging.getLogger(__name__).addHandler(logging.NullHandler())
