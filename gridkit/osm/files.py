"""Reading an OSM file (XML, bzip2/gzip XML or PBF) into one in-memory ``<osm>`` tree.

Every reader of :mod:`gridkit.osm` starts here, so the repairs of clipped extracts
(:mod:`gridkit.osm.repair`) and their counts are the same whatever the file format:
a PBF file is turned into the same elements its XML export would give (``node`` with
``id``, ``lat``, ``lon``; ``way`` with ``nd`` references; ``relation`` with ``member``
entries; ``tag`` children), with coordinates written to the 7 decimals OSM stores.

PBF files are read with pyosmium (the ``osmium`` package, bindings of libosmium), imported
only when a PBF file is read.
"""

from __future__ import annotations

import bz2
import gzip
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import BinaryIO

from gridkit.errors import DependencyError, InputDataError, InputFileError

__all__ = ["OSM_SUFFIXES", "is_pbf", "read_osm", "tags_of"]

#: File name endings an OSM file may have.
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf")

Tags = dict[str, str]

_XML_HINT = "give an OSM file (.osm, .osm.bz2, .osm.gz or .osm.pbf)"


def is_pbf(path: Path) -> bool:
    """True for a file named ``*.pbf`` (read as OSM PBF)."""
    return path.name.lower().endswith(".pbf")


def read_osm(path: Path) -> ET.Element:
    """Parse an OSM file (XML plain, bz2 or gz; or PBF) into its ``<osm>`` root element.

    Raises
    ------
    InputFileError
        The file does not exist or cannot be read.
    InputDataError
        The file is not OSM XML / PBF, or its compressed data is damaged.
    DependencyError
        A PBF file and no pyosmium installed.
    """
    if not path.exists():
        raise InputFileError("file not found", path=path, hint="check the path")
    if is_pbf(path):
        return _read_pbf(path)
    try:
        with _open_binary(path) as stream:
            root = ET.parse(stream).getroot()
    except ET.ParseError as err:
        raise InputDataError(f"not readable as OSM XML ({err})", path=path, hint=_XML_HINT) from err
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise InputDataError(f"the compressed data is damaged ({err})", path=path,
                             hint="download or export the file again") from err
    except OSError as err:
        if isinstance(err, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise InputFileError(f"cannot read the file ({err.strerror})", path=path) from err
        raise InputDataError(f"not readable as OSM XML ({err})", path=path, hint=_XML_HINT) from err
    if root.tag != "osm":
        raise InputDataError(f"not OSM XML: the root element is <{root.tag}>, not <osm>", path=path,
                             hint=_XML_HINT)
    return root


def tags_of(element: ET.Element) -> Tags:
    """The ``k``/``v`` tags of a node, way or relation."""
    return {tag.get("k", ""): tag.get("v", "") for tag in element.iter("tag")}


def _open_binary(path: Path) -> BinaryIO | bz2.BZ2File | gzip.GzipFile:
    suffix = path.suffix.lower()
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def _read_pbf(path: Path) -> ET.Element:
    """The elements of a PBF file as the OSM XML tree its XML export would give."""
    try:
        import osmium
    except ImportError:
        raise DependencyError("reading OSM PBF files needs the osmium package (pyosmium)",
                              path=path, hint="pip install osmium, or convert the file to .osm.bz2") from None
    if path.is_dir():
        raise InputFileError("cannot read the file (it is a folder)", path=path)
    root = ET.Element("osm", version="0.6", generator="gridkit (from PBF)")
    try:
        for obj in osmium.FileProcessor(str(path)):
            if isinstance(obj, osmium.osm.Node):
                element = ET.SubElement(root, "node", id=str(obj.id), lat=_degrees(obj.location.y),
                                        lon=_degrees(obj.location.x))
            elif isinstance(obj, osmium.osm.Way):
                element = ET.SubElement(root, "way", id=str(obj.id))
                for node in obj.nodes:
                    ET.SubElement(element, "nd", ref=str(node.ref))
            elif isinstance(obj, osmium.osm.Relation):
                element = ET.SubElement(root, "relation", id=str(obj.id))
                for member in obj.members:
                    ET.SubElement(element, "member", type=_MEMBER_TYPES[member.type], ref=str(member.ref),
                                  role=member.role)
            else:  # changesets (and areas, which FileProcessor builds only when asked) carry no map elements
                continue
            for tag in obj.tags:
                ET.SubElement(element, "tag", k=tag.k, v=tag.v)
    except RuntimeError as err:
        if "Open failed" in str(err) and not path.is_file():
            raise InputFileError(f"cannot read the file ({err})", path=path) from None
        raise InputDataError(f"not readable as OSM PBF ({err})", path=path,
                             hint="download or export the extract again (.osm.pbf), or give it as OSM XML") from None
    return root


_MEMBER_TYPES = {"n": "node", "w": "way", "r": "relation"}


def _degrees(fixed: int) -> str:
    """A coordinate stored as an integer of 1e-7 degrees, as the decimal text OSM XML holds.

    >>> _degrees(249370245), _degrees(-1)
    ('24.9370245', '-0.0000001')
    """
    sign = "-" if fixed < 0 else ""
    whole, frac = divmod(abs(int(fixed)), 10_000_000)
    return f"{sign}{whole}.{frac:07d}"
