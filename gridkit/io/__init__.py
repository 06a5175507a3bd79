"""Reading and writing layers: every input format gridkit accepts, atomic outputs.

``read_layer`` reads any supported file into a validated GeoDataFrame whose messages
name the file, the features and the field; ``write_layers``, ``write_text`` and
``atomic_dir`` write so that a failed run leaves nothing half-written.
"""

from gridkit.io.read import (
    SUPPORTED_READ,
    SUPPORTED_WRITE,
    atomic_dir,
    codec_from_cpg,
    file_format,
    keep_dimension,
    list_layers,
    preferred_layer,
    read_layer,
    shapefile_encoding,
    write_layers,
    write_text,
)

__all__ = [
    "SUPPORTED_READ",
    "SUPPORTED_WRITE",
    "atomic_dir",
    "codec_from_cpg",
    "file_format",
    "keep_dimension",
    "list_layers",
    "preferred_layer",
    "read_layer",
    "shapefile_encoding",
    "write_layers",
    "write_text",
]
