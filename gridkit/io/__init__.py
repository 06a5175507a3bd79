"""Reading and writing layers: every input format gridkit accepts, atomic outputs.

``read_layer`` (:mod:`gridkit.io.read`) reads any supported file into a validated
GeoDataFrame whose messages name the file, the features and the field; CSV points are
typed in :mod:`gridkit.io.csv`, Shapefile encodings found in :mod:`gridkit.io.shapefile`,
coordinates checked against their CRS in :mod:`gridkit.io.coords`. ``write_layers``,
``write_text`` and ``atomic_dir`` (:mod:`gridkit.io.write`, the one atomic writer) write
so that a failed or interrupted run leaves nothing half-written, and output failures
become :class:`~gridkit.errors.OutputError` (:mod:`gridkit.io.failures`); ``read_table``
(:mod:`gridkit.io.tables`) reads small CSV tables.
"""

from gridkit.io._request import SUPPORTED_READ, file_format
from gridkit.io.checks import keep_dimension
from gridkit.io.failures import output_errors
from gridkit.io.read import list_layers, preferred_layer, read_layer
from gridkit.io.shapefile import codec_from_cpg, shapefile_encoding
from gridkit.io.write import SUPPORTED_WRITE, atomic_dir, check_writable, write_layers, write_text

__all__ = [
    "SUPPORTED_READ",
    "SUPPORTED_WRITE",
    "atomic_dir",
    "check_writable",
    "codec_from_cpg",
    "file_format",
    "keep_dimension",
    "list_layers",
    "output_errors",
    "preferred_layer",
    "read_layer",
    "shapefile_encoding",
    "write_layers",
    "write_text",
]
