"""OpenStreetMap files: streets, buildings, components, derived communities, household estimates."""

from gridkit.osm.features import *
from gridkit.osm.features import __all__  # noqa: F401
