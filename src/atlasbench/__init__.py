"""atlasbench: benchmark scATAC-seq platforms by the sequence-to-function models trained on their data."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
