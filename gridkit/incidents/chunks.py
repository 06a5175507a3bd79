"""Components and incidents read in chunks of rows, each checked as :func:`gridkit.io.read_layer` checks a layer.

The streaming and the Dask attach (:mod:`gridkit.incidents.stream`,
:mod:`gridkit.incidents.distributed`) never hold the whole file: :func:`chunk_specs`
lists the pieces of a file (row groups of a GeoParquet file or of every file of a
partitioned GeoParquet folder; feature ranges of a GeoPackage, Shapefile or GeoJSON),
:func:`read_chunk` reads one of them (on any worker), and :func:`iter_chunks` yields them
all, CSV included (read with ``pandas.read_csv(chunksize=...)``).

Each chunk is indexed as the whole file would be (the GeoParquet index as stored, else
the row number of the file; the GeoPackage fid), its CRS set (``assume_crs``; EPSG:4326
for CSV), Amap/Baidu coordinates converted, and geometries checked: present, points.
CSV columns are typed as :func:`gridkit.io.read_layer` types them, decided over the
whole file (a first pass reads the file as text to profile each column), so a column is
text, integer or float in every chunk alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gridkit._types import CoordSystem, PathLike
from gridkit.errors import (
    EmptyLayerError,
    GeometryTypeError,
    InputDataError,
    InputFileError,
    MissingFieldError,
)
from gridkit.incidents.attach import TEXT_FIELDS
from gridkit.io.csv import (
    LAT_NAMES,
    LON_NAMES,
    WKT_NAMES,
    find_column,
    geometries_from_wkt,
    points_from_columns,
)

__all__ = ["ChunkSpec", "PointFormat", "chunk_specs", "geometries_from_wkb", "iter_chunks", "read_chunk", "total_rows"]

log = logging.getLogger(__name__)

# the column names gridkit.io.read_layer looks for in a CSV, in its order
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_OGR = (".gpkg", ".shp", ".geojson", ".json")


@dataclass(frozen=True)
class PointFormat:
    """How to read the points: the options of :func:`gridkit.incidents.attach.read_points` that apply to chunks."""

    layer: str | None = None
    input_coords: CoordSystem = "wgs84"
    assume_crs: Any = None
    role: str = "points"
    text_fields: tuple[str, ...] = TEXT_FIELDS
    csv_types: tuple[tuple[str, str], ...] = ()
    """CSV only: (column, ``text``/``int``/``float``) decided over the whole file (:func:`csv_types`)."""
    encoding: str | None = None


@dataclass(frozen=True)
class ChunkSpec:
    """One piece of a points file: a run of row groups of a Parquet file, or of features of an OGR layer."""

    path: str
    start: int
    """First row group (Parquet) or feature (OGR) of the piece."""
    stop: int
    offset: int
    """Row number (in the whole input) of the piece's first row: the index when the file stores none."""
    rows: int


def total_rows(path: PathLike, *, layer: str | None = None) -> int | None:
    """Rows of a Parquet file or folder or an OGR layer, from its metadata; None for CSV."""
    specs = chunk_specs(path, rows=2**62, layer=layer)
    return None if specs is None else sum(s.rows for s in specs)


def chunk_specs(
    path: PathLike, *, rows: int, layer: str | None = None, at_most: bool = False,
) -> list[ChunkSpec] | None:
    """The pieces of ``path`` of about ``rows`` rows each (whole row groups), in file order; None for CSV.

    A folder is a partitioned GeoParquet dataset: its ``*.parquet`` files in name order.
    Row groups are gathered until a piece has ``rows`` rows or more; with ``at_most``,
    while it stays within ``rows`` (a larger row group is a piece of its own), for a
    memory budget that counts every row.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError("the file does not exist", path=p, hint="check the path")
    if p.is_dir() or p.suffix.lower() == ".parquet":
        return _parquet_specs(p, rows, at_most=at_most)
    if p.suffix.lower() in _OGR:
        import pyogrio

        n = int(pyogrio.read_info(p, layer=layer)["features"])
        return [ChunkSpec(str(p), s, min(s + rows, n), s, min(rows, n - s)) for s in range(0, max(n, 1), rows)]
    return None


def _parquet_specs(p: Path, rows: int, *, at_most: bool = False) -> list[ChunkSpec]:
    import pyarrow.parquet as pq

    files = sorted(p.glob("*.parquet")) if p.is_dir() else [p]
    if not files:
        raise EmptyLayerError("the folder holds no .parquet files", path=p,
                              hint="give a GeoParquet file or a folder of them (a partitioned dataset)")
    specs: list[ChunkSpec] = []
    offset = 0
    for f in files:
        meta = pq.ParquetFile(f).metadata
        start, n = 0, 0
        for g in range(meta.num_row_groups):
            size = meta.row_group(g).num_rows
            if at_most and n and n + size > rows:  # the piece so far, then this row group starts the next
                specs.append(ChunkSpec(str(f), start, g, offset, n))
                offset += n
                start, n = g, 0
            n += size
            if n >= rows or g == meta.num_row_groups - 1:
                specs.append(ChunkSpec(str(f), start, g + 1, offset, n))
                offset += n
                start, n = g + 1, 0
    return specs


def read_chunk(spec: ChunkSpec, fmt: PointFormat, *, columns: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Read one piece listed by :func:`chunk_specs`, indexed and checked as the whole file would be."""
    path = Path(spec.path)
    if path.suffix.lower() == ".parquet":
        gdf = _parquet_piece(spec, columns)
    else:
        import pyogrio

        from gridkit.io import shapefile_encoding

        encoding = fmt.encoding
        if path.suffix.lower() == ".shp" and encoding is None:
            encoding = shapefile_encoding(path)[0]
        gdf = pyogrio.read_dataframe(path, layer=fmt.layer, skip_features=spec.start,
                                     max_features=spec.stop - spec.start, fid_as_index=path.suffix.lower() == ".gpkg",
                                     columns=None if columns is None else list(columns), encoding=encoding)
        if path.suffix.lower() != ".gpkg":
            gdf.index = pd.RangeIndex(spec.offset, spec.offset + len(gdf))
    return _checked(gdf, fmt, spec.path)


def _parquet_piece(spec: ChunkSpec, columns: Sequence[str] | None) -> gpd.GeoDataFrame:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(spec.path)
    name, wanted = _parquet_columns(pf, spec.path, columns)
    table = pf.read_row_groups(list(range(spec.start, spec.stop)), columns=wanted)
    return _frame_from_arrow(table, pf, name, spec.offset)


def _parquet_columns(pf: Any, path: str, columns: Sequence[str] | None) -> tuple[str, list[str] | None]:
    """The geometry column of a GeoParquet file and the columns to read for ``columns`` (None: all)."""
    meta = pf.schema_arrow.metadata or {}
    if b"geo" not in meta:
        raise InputFileError("cannot be read as GeoParquet: the file has no 'geo' metadata", path=path,
                             hint="write it with geopandas' to_parquet; a plain Parquet table has no geometry")
    name = json.loads(meta[b"geo"])["primary_column"]
    if columns is None:
        return name, None
    index_cols = [c for c in json.loads(meta.get(b"pandas", b"{}")).get("index_columns", []) if isinstance(c, str)]
    present = set(pf.schema_arrow.names)
    return name, [c for c in dict.fromkeys([*columns, name, *index_cols]) if c in present]


def _frame_from_arrow(table: Any, pf: Any, name: str, offset: int) -> gpd.GeoDataFrame:
    """A GeoDataFrame from rows of a GeoParquet file; a file without a stored index gets its row numbers."""
    import pyarrow as pa

    table = table.replace_schema_metadata(pf.schema_arrow.metadata)
    column = json.loads(pf.schema_arrow.metadata[b"geo"])["columns"][name]
    crs = column.get("crs", "OGC:CRS84")
    where = table.schema.get_field_index(name)
    geoms = geometries_from_wkb(table.column(where))
    # the geometry column left out of the conversion (its bytes would become Python objects)
    frame = table.set_column(where, name, pa.nulls(len(table))).to_pandas()
    if isinstance(frame.index, pd.RangeIndex):
        frame.index = pd.RangeIndex(offset, offset + len(frame))
    gdf = gpd.GeoDataFrame(frame.drop(columns=[name]), geometry=gpd.GeoSeries(geoms, index=frame.index),
                           crs=None if crs is None else CRS.from_user_input(crs))
    return gdf.rename_geometry(name) if name != "geometry" else gdf


#: A 2D point in little-endian WKB: byte order 1, type 1, x and y as float64.
_POINT_WKB_SIZE = 21


def geometries_from_wkb(column: Any) -> np.ndarray:
    """Shapely geometries from a column of WKB (a pyarrow binary array or chunked array).

    Where every value is a 2D point in little-endian WKB (21 bytes: what geopandas and
    GDAL write for points) with finite coordinates, the coordinates are read straight
    from the bytes and the points built at once; the geometries are those
    ``shapely.from_wkb`` gives, point for point. Any other column goes to ``shapely.from_wkb``.
    """
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    if n and arr.null_count == 0 and (pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)):
        width = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
        offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + n + 1]
        if bool((np.diff(offsets) == _POINT_WKB_SIZE).all()):
            data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(n, _POINT_WKB_SIZE)
            kind = data[:, 1:5].copy().view("<u4").ravel()
            if bool((data[:, 0] == 1).all()) and bool((kind == 1).all()):
                xy = data[:, 5:].copy().view("<f8")
                if bool(np.isfinite(xy).all()):
                    return shapely.points(xy)
    values = arr.to_numpy(zero_copy_only=False) if hasattr(arr, "to_numpy") else np.asarray(arr)
    return shapely.from_wkb(values)


def _parquet_batches(path: Path, fmt: PointFormat, rows: int, columns: Sequence[str] | None
                     ) -> Iterator[gpd.GeoDataFrame]:
    """Batches of ``rows`` rows of a GeoParquet file or folder, whatever its row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    offset = 0
    for spec_path in dict.fromkeys(s.path for s in _parquet_specs(path, 2**62)):
        pf = pq.ParquetFile(spec_path)
        name, wanted = _parquet_columns(pf, spec_path, columns)
        for batch in pf.iter_batches(batch_size=rows, columns=wanted):
            gdf = _frame_from_arrow(pa.Table.from_batches([batch]), pf, name, offset)
            offset += len(gdf)
            yield _checked(gdf, fmt, spec_path)


def iter_chunks(
    path: PathLike, fmt: PointFormat, *, rows: int, columns: Sequence[str] | None = None,
) -> Generator[gpd.GeoDataFrame, None, None]:
    """Every piece of ``path`` in file order, ``rows`` rows each (the last fewer), whatever the row groups."""
    p = Path(path)
    if p.is_dir() or p.suffix.lower() == ".parquet":
        yield from _parquet_batches(p, fmt, rows, columns)
        return
    specs = chunk_specs(path, rows=rows, layer=fmt.layer)
    if specs is not None:
        for spec in specs:
            yield read_chunk(spec, fmt, columns=columns)
        return
    yield from _csv_chunks(Path(path), fmt, rows=rows, columns=columns)


# --------------------------------------------------------------------------- CSV


def csv_format(path: PathLike, fmt: PointFormat, *, rows: int) -> PointFormat:
    """``fmt`` with the CSV's encoding and column types, profiled in one pass over the file as text."""
    p = Path(path)
    encoding = _csv_encoding(p)
    profile: dict[str, list[Any]] = {}
    with pd.read_csv(p, chunksize=rows, dtype=str, skipinitialspace=True, encoding=encoding) as reader:
        for frame in reader:  # one chunk at a time
            for name in frame.columns:
                _profile(profile.setdefault(name, [0, True, True, False, 0]), frame[name])
    keep = {f.lower() for f in fmt.text_fields}
    types = []
    for name, (n, number, integer, code, total) in profile.items():
        if str(name).strip().lower() in keep or n == 0 or not number or (integer and code):
            types.append((name, "text"))
        elif integer and n == total:
            types.append((name, "int"))
        else:
            types.append((name, "float"))
    return PointFormat(layer=fmt.layer, input_coords=fmt.input_coords, assume_crs=fmt.assume_crs, role=fmt.role,
                       text_fields=fmt.text_fields, csv_types=tuple(types), encoding=encoding)


def _profile(stat: list[Any], column: pd.Series) -> None:
    """Add one chunk of a column to its profile: [filled, all numbers, all integers, any code-like, rows]."""
    text = column.astype("string").str.strip()
    filled = text.notna() & (text != "")
    values = text[filled]
    stat[0] += int(filled.sum())
    stat[4] += len(text)
    if stat[1] and len(values):
        stat[1] = bool(values.str.fullmatch(_NUMBER).all())
    if stat[1] and stat[2] and len(values):
        stat[2] = bool(values.str.fullmatch(r"[+-]?\d+").all())
    if stat[1] and stat[2] and len(values):
        stat[3] = stat[3] or bool((values.str.match(r"[+-]?0\d") | (values.str.len() >= 12)).any())


def _csv_encoding(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(3)
    if head == b"\xef\xbb\xbf":
        return "utf-8-sig"
    try:
        with open(path, encoding="utf-8") as f:
            while f.read(2**24):
                pass
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _csv_chunks(path: Path, fmt: PointFormat, *, rows: int, columns: Sequence[str] | None) -> Iterator[gpd.GeoDataFrame]:
    if not fmt.csv_types:
        fmt = csv_format(path, fmt, rows=rows)
    types = dict(fmt.csv_types)
    if not types:
        raise EmptyLayerError("the CSV file is empty", path=path, hint="export the data again")
    crs = CRS.from_user_input(fmt.assume_crs) if fmt.assume_crs is not None else CRS.from_epsg(4326)
    lon, lat = find_column(types, LON_NAMES), find_column(types, LAT_NAMES)
    wkt = find_column(types, WKT_NAMES)
    if wkt is None and (lon is None or lat is None):
        missing = "longitude" if lon is None else "latitude"
        raise MissingFieldError(f"no {missing} column found; the columns are: {', '.join(map(str, types))}",
                                path=path, hint="name the coordinate columns lon/lat, or give a WKT column "
                                                "named " + "/".join(WKT_NAMES))
    usecols = None
    if columns is not None:
        usecols = list(dict.fromkeys([c for c in columns if c in types] + [c for c in (lon, lat, wkt) if c]))
    offset = 0
    with pd.read_csv(path, chunksize=rows, dtype=str, skipinitialspace=True, encoding=fmt.encoding,
                     usecols=usecols) as reader:  # closed when the caller stops early too
        for frame in reader:
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            offset += len(frame)
            typed = _typed(frame, types)
            what = f"the {fmt.role} layer"
            if wkt is not None:
                gdf = geometries_from_wkt(typed, wkt, crs, path=path, what=what)
            else:
                assert lon is not None and lat is not None
                gdf = points_from_columns(typed, lon, lat, crs, path=path, what=what)
            yield _checked(gdf, fmt, str(path))


def _typed(frame: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    out: dict[Any, Any] = {}
    for name in frame.columns:
        kind = types.get(name, "text")
        if kind == "text":
            out[name] = frame[name]
            continue
        text = frame[name].astype("string").str.strip()
        filled = text.notna() & (text != "")
        out[name] = (text.astype("int64").to_numpy() if kind == "int"
                     else text.where(filled).astype("float64").to_numpy())
    return pd.DataFrame(out, index=frame.index)


def _checked(gdf: gpd.GeoDataFrame, fmt: PointFormat, path: str) -> gpd.GeoDataFrame:
    """A chunk with its CRS, geometries checked present and points, Amap/Baidu coordinates converted."""
    what = f"the {fmt.role} layer"
    if gdf.crs is None:
        if fmt.assume_crs is None:
            from gridkit.errors import MissingCRSError

            raise MissingCRSError(f"{what} has no coordinate reference system", path=path,
                                  hint="pass --assume-crs with the CRS the coordinates are in (e.g. --assume-crs "
                                       "EPSG:4490)")
        gdf = gdf.set_crs(fmt.assume_crs)
    values = gdf.geometry.to_numpy()
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    if missing.any():
        raise InputDataError(f"{what} has features without a geometry (null or empty)", path=path,
                             feature_ids=gdf.index[missing].tolist(), field="geometry",
                             hint="draw or delete these features; gridkit does not drop them for you")
    wrong = ~np.isin(shapely.get_type_id(values), (0, 4))
    if wrong.any():
        raise GeometryTypeError(f"{what} needs point geometries; found {int(wrong.sum())} others", path=path,
                                feature_ids=gdf.index[wrong].tolist(), field="geometry",
                                hint="use a point layer, or convert or delete these features")
    if fmt.input_coords != "wgs84":
        from gridkit.crs import convert_coords

        gdf = convert_coords(gdf, source=fmt.input_coords, target="wgs84")
    gdf.attrs["source"] = path
    return gdf
