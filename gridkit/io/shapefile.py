"""Shapefile attributes: which encoding the ``.dbf`` text is in (``.cpg``, else detected).

A Shapefile from a Chinese office is often GBK without a ``.cpg``; :func:`shapefile_encoding`
reads the ``.cpg`` when gridkit understands it, and otherwise decodes a sample of the
field names and text fields of the ``.dbf`` as UTF-8, then GBK, then GB18030.
"""

from __future__ import annotations

import codecs
import logging
import re
from pathlib import Path

import numpy as np

from gridkit._types import PathLike

__all__ = ["SHAPEFILE_SIDECARS", "codec_from_cpg", "shapefile_encoding", "sidecar"]

logger = logging.getLogger(__name__)

#: The files of one Shapefile (a new one replaces every one of them).
SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qpj")
_DBF_SAMPLE_BYTES = 32 * 2**20


def shapefile_encoding(path: PathLike) -> tuple[str | None, str]:
    """The encoding of a Shapefile's attributes, and where it was learnt.

    The ``.cpg`` file beside the ``.shp`` decides when gridkit understands it. Otherwise
    the text fields of the ``.dbf`` are decoded as UTF-8, then as GBK and GB18030; the
    first that decodes wins.

    Returns
    -------
    tuple
        The encoding (a Python codec name, or None to leave it to GDAL) and its source:
        ``".cpg"``, ``"detected"`` or ``"default"``.
    """
    path = Path(path)
    cpg = sidecar(path, ".cpg")
    if cpg is not None:
        declared = cpg.read_bytes().decode("ascii", errors="replace").strip()
        codec = codec_from_cpg(declared)
        if codec is not None:
            return codec, ".cpg"
        logger.warning("%s: the .cpg names an unknown encoding %r; detecting it instead", cpg, declared)
    dbf = sidecar(path, ".dbf")
    sample = _dbf_text_bytes(dbf) if dbf is not None else b""
    for codec in ("UTF-8", "GBK", "GB18030"):
        if _decodes(sample, codec):
            return codec, "detected"
    return None, "default"


def codec_from_cpg(text: str) -> str | None:
    """The Python codec a ``.cpg`` file names, or None when gridkit does not know it.

    Examples
    --------
    >>> codec_from_cpg("ANSI 936"), codec_from_cpg("65001"), codec_from_cpg("88591"), codec_from_cpg("GBK")
    ('cp936', 'UTF-8', 'ISO-8859-1', 'GBK')
    """
    text = text.strip()
    match = re.fullmatch(r"(?:ANSI\s*|CP|WINDOWS-?)?(\d+)", text, flags=re.IGNORECASE)
    if match:
        number = match.group(1)
        if number == "65001":
            return "UTF-8"
        iso = number.startswith("8859") and len(number) > 4
        text = f"ISO-8859-{number[4:]}" if iso else f"cp{number}"
    try:
        codecs.lookup(text)
    except LookupError:
        return None
    return text


def sidecar(path: Path, ext: str) -> Path | None:
    for candidate in (path.with_suffix(ext), path.with_suffix(ext.upper())):
        if candidate.is_file():
            return candidate
    return None


def _dbf_text_bytes(dbf: Path) -> bytes:
    """The bytes of the field names and character fields of a .dbf (a sample of large files)."""
    with dbf.open("rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return b""
        header_len = int.from_bytes(head[8:10], "little")
        record_len = int.from_bytes(head[10:12], "little")
        descriptors = f.read(max(header_len - 32, 0))
        count = max(_DBF_SAMPLE_BYTES // max(record_len, 1), 1) * record_len
        records = np.fromfile(f, dtype=np.uint8, count=count)
    fields = _dbf_fields(descriptors)
    names = b" ".join(name for name, _, _ in fields)
    widths = np.array([width for _, _, width in fields], dtype=np.int64)
    is_text = np.array([kind == b"C" for _, kind, _ in fields], dtype=bool)
    n_records = len(records) // record_len if record_len else 0
    if n_records == 0 or not is_text.any() or widths.sum() + 1 != record_len:
        return names
    starts = 1 + np.concatenate([[0], np.cumsum(widths)[:-1]])
    spans = zip(starts[is_text], widths[is_text], strict=True)
    columns = np.concatenate([np.arange(start, start + width) for start, width in spans])
    table = records[: n_records * record_len].reshape(n_records, record_len)
    return names + b" " + table[:, columns].tobytes()


def _dbf_fields(descriptors: bytes) -> list[tuple[bytes, bytes, int]]:
    """(name, type, width) of each field descriptor of a .dbf header."""
    fields = []
    for start in range(0, len(descriptors) - 31, 32):
        item = descriptors[start:start + 32]
        if item[0] == 0x0D:
            break
        fields.append((item[:11].split(b"\0", 1)[0], item[11:12], item[16]))
    return fields


def _decodes(data: bytes, codec: str) -> bool:
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True
