"""Fixed facts of the synthetic county: its CRSs, codes, dates and output file names.

Plain Python only, so the command line can describe ``gridkit synth`` without importing
the generator.
"""

from __future__ import annotations

__all__ = [
    "CENTRE_LONLAT",
    "COUNTY_CODE",
    "COUNTY_NAME",
    "FILES",
    "HALF_WIDTH",
    "HOUSEHOLDS_PER_COMMUNITY",
    "OUTPUT_CRS",
    "WORK_CRS",
]

WORK_CRS = "EPSG:4545"
"""CGCS2000 / 3-degree Gauss-Krüger CM 108E: the metric CRS the county is built in."""
OUTPUT_CRS = "EPSG:4490"
"""CGCS2000 geographic: the CRS of every returned layer and written file."""
COUNTY_CODE = "520199"
"""A fictional county code in the format of Guiyang's (5201xx); 520199 is not assigned."""
COUNTY_NAME = "黔峰县"
HOUSEHOLDS_PER_COMMUNITY = 4250
CENTRE_LONLAT = (106.62, 26.47)

FILES = {
    "communities": "communities.gpkg",
    "streets": "streets.gpkg",
    "buildings": "buildings.gpkg",
    "dedicated": "dedicated.gpkg",
    "components": "components.gpkg",
    "incidents": "incidents.csv",
    "tracks": "tracks.csv",
    "workers": "workers.csv",
}
"""File name of each layer in a written county (GeoPackage layers are named like the key)."""

HALF_WIDTH = {"primary": 15.0, "secondary": 12.0, "tertiary": 9.0, "residential": 6.0, "service": 4.0, "track": 3.0}
"""Half the width of each street class in metres: buildings stay beyond it plus a margin."""

FILE_DATE = "2024-07-01T00:00:00Z"  # gpkg_contents.last_change, fixed so files are reproducible
YEAR_START = "2023-07-01T00:00:00"  # the first instant of the incidents' year (local time)
NOW = "2024-07-01T00:00:00"  # the end of the year: workflow status is as of this instant
TRACK_DAYS = ("2024-06-26", "2024-06-27", "2024-06-28")
MAX_INCIDENTS = 200_000
INCIDENTS_PER_HOUSEHOLD = 0.42
