"""Layers to files other software reads: GeoPackage, Shapefile (GBK), GeoJSON, GeoParquet, KML, CSV."""

from gridkit.export.layers import *
from gridkit.export.layers import __all__  # noqa: F401
