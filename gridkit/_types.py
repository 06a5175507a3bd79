"""Type aliases shared across gridkit's public API."""

from __future__ import annotations

import os
from typing import Literal

__all__ = ["CoordSystem", "PathLike"]

#: A file or folder path, as text or a path object.
PathLike = str | os.PathLike[str]

#: Coordinate systems of lon/lat data: WGS84 (or CGCS2000), Amap/Tencent's GCJ-02, Baidu's BD-09.
CoordSystem = Literal["wgs84", "gcj02", "bd09"]
