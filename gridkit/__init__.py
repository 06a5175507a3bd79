"""gridkit: household-balanced grids (网格) for Chinese communities and villages.

The library divides communities into grids that keep the rules of grid management
(households per grid within bounds, no grid across a boundary, exact tiling, one piece
per grid, no building split) and serves the daily work built on them.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
