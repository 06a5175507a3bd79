"""Layers made fit for a format before :mod:`gridkit.export.layers` writes them, and read back after.

:func:`prepare` renames fields (the documented table, 10 bytes for a Shapefile), turns
types a format cannot hold into ones it can (date/time to ISO text; 64-bit integers
to 32-bit for KML when they fit), checks text against the encoding and the 254-byte
Shapefile limit, and builds the field mapping written beside the file. Durations are
text everywhere but GeoParquet (GDAL has no duration type).
:func:`shapefile_parts` splits a layer into one file per geometry type.
:func:`restore` undoes the renaming and the type changes from the mapping.
"""

from __future__ import annotations

import codecs
import io as _stdio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS

from gridkit.errors import GeometryTypeError, InputDataError, InputFileError, format_ids
from gridkit.export.field_names import SHP_TEXT_BYTES, cut_to_bytes, names_in_file
from gridkit.export.writers import WKT_COLUMN

MAPPING_COLUMNS = ["layer", "field", "name_in_file", "type", "name_zh"]
#: Fields the LIBKML driver reads from every placemark; a layer's own are renamed around them.
KML_BUILTIN = ("id", "Name", "description", "timestamp", "begin", "end", "altitudeMode", "tessellate",
               "extrude", "visibility", "drawOrder", "icon")
#: Fields a KML placemark's label is taken from, the first one filled in.
KML_LABEL_FIELDS = ("grid_code", "name", "name_zh", "component_id", "incident_id", "building_id",
                    "community_name", "worker_name", "worker_id", "code")
_TEXT_AS_ISO = ("shp", "kml", "csv")
_INT32 = np.iinfo(np.int32)
_FAMILIES = {"points": (0, 4), "lines": (1, 2, 5), "polygons": (3, 6)}


@dataclass
class Prepared:
    """A layer ready to write, with its field mapping and what it could not keep."""

    layer: str
    frame: gpd.GeoDataFrame
    mapping: pd.DataFrame
    fields: str
    renamed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def prepare(
    gdf: gpd.GeoDataFrame, *, fmt: str, encoding: str, fields: str, table: pd.DataFrame, layer: str
) -> Prepared:
    """The layer with the names and types ``fmt`` takes; see the module text."""
    geometry = gdf.geometry
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    texts = [str(c) for c in columns]
    twice = sorted({t for t in texts if texts.count(t) > 1})
    if twice:
        raise InputDataError(f"layer {layer!r} has the field names {', '.join(twice)} twice",
                             path=gdf.attrs.get("source"), hint="rename the fields so every name is unique")
    reserved = ["geometry", *([WKT_COLUMN] if fmt == "csv" else []), *(KML_BUILTIN if fmt == "kml" else ())]
    names = names_in_file(texts, fmt=fmt, fields=fields, encoding=encoding, table=table, reserved=reserved)
    out = Prepared(layer=layer, frame=gdf, mapping=pd.DataFrame(columns=MAPPING_COLUMNS), fields=fields)
    data: dict[str, pd.Series] = {}
    for column, text in zip(columns, texts, strict=True):
        data[names[text]] = _convert(gdf[column], text, fmt, encoding, out, gdf.attrs.get("source"))
    frame = pd.DataFrame(data, index=gdf.index)
    if fmt == "kml":
        frame.insert(0, "Name", _kml_labels(gdf, columns, texts))
    geoms = gpd.GeoSeries(geometry.to_numpy(), index=gdf.index, crs=geometry.crs, name="geometry")
    result = gpd.GeoDataFrame(frame, geometry=geoms, crs=geometry.crs)
    if fmt not in ("gpkg", "parquet"):
        result = result.reset_index(drop=True)
    out.frame = result
    out.renamed = {t: n for t, n in names.items() if t != n}
    out.mapping = pd.DataFrame({
        "layer": layer, "field": texts, "name_in_file": [names[t] for t in texts],
        "type": [str(gdf[c].dtype) for c in columns],
        "name_zh": [str(table.loc[t, "name_zh"]) if t in table.index else "" for t in texts],
    }, columns=MAPPING_COLUMNS)
    return out


def _convert(
    column: pd.Series, name: str, fmt: str, encoding: str, out: Prepared, source: str | None
) -> pd.Series:
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        column = column.astype(object).where(column.notna(), None)
    durations = pd.api.types.is_timedelta64_dtype(dtype) and fmt != "parquet"  # GDAL has no duration type
    if durations or (fmt in _TEXT_AS_ISO and pd.api.types.is_datetime64_any_dtype(dtype)):
        return _iso_text(column)
    if fmt == "kml" and isinstance(dtype, np.dtype) and dtype.kind in "iu" and dtype.itemsize > 4:
        values = column.to_numpy()
        if len(values) == 0 or (values.min() >= _INT32.min and values.max() <= _INT32.max):
            return column.astype(np.int32)
    if fmt in ("shp", "csv") and _is_text(column):
        return _fit_text(column, name, fmt, encoding, out, source)
    return column


def _is_text(column: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(column.dtype) or pd.api.types.is_object_dtype(column.dtype)


def _iso_text(column: pd.Series) -> pd.Series:
    """Date/time values as ISO 8601 text (``2024-06-26T08:30:00``); missing stays missing."""
    present = column.notna().to_numpy()
    text = np.full(len(column), None, dtype=object)
    if present.any():
        if pd.api.types.is_timedelta64_dtype(column.dtype):
            text[present] = column[present].astype(str).to_numpy()
        elif getattr(column.dtype, "tz", None) is not None:
            text[present] = [v.isoformat() for v in column[present]]
        else:
            values = column.to_numpy()[present]
            whole = (values.astype("datetime64[ns]").astype(np.int64) % 10**9 == 0).all()
            text[present] = np.datetime_as_string(values, unit="s" if whole else "auto")
    return pd.Series(text, index=column.index, name=column.name, dtype=object)


def _fit_text(
    column: pd.Series, name: str, fmt: str, encoding: str, out: Prepared, source: str | None
) -> pd.Series:
    """Check text against the encoding; cut Shapefile text to 254 bytes, with a warning."""
    if fmt != "shp" and encoding == "utf-8":
        return column  # UTF-8 holds any text, and CSV has no length limit
    if isinstance(column.dtype, pd.StringDtype):
        is_str = column.notna().to_numpy()
    else:  # object columns: only the text values are checked, the others pass as they are
        is_str = column.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    if not is_str.any():
        return column
    text = pd.Series(column.to_numpy()[is_str], dtype=object)
    positions = np.flatnonzero(is_str)
    if encoding == "gbk":
        round_trip = text.str.encode("gbk", errors="replace").str.decode("gbk")
        bad = (round_trip != text).to_numpy()
        if bad.any():
            chars = sorted({ch for value in text[bad] for ch in value if not _in_gbk(ch)})
            raise InputDataError(
                f"text in layer {out.layer!r} has characters GBK cannot write: {''.join(chars[:20])}",
                path=source, field=name, feature_ids=column.index[positions[bad]].tolist(),
                hint="write UTF-8 instead (--encoding utf-8), or replace these characters",
            )
    if fmt != "shp":
        return column
    # a character takes at most 4 bytes (2 in GBK): only longer texts can pass the limit
    could = (text.str.len() > SHP_TEXT_BYTES // (2 if encoding == "gbk" else 4)).to_numpy()
    nbytes = np.zeros(len(text), dtype=np.int64)
    nbytes[could] = [len(v.encode(encoding)) for v in text[could]]
    long = nbytes > SHP_TEXT_BYTES
    if not long.any():
        return column
    values = column.to_numpy(dtype=object).copy()
    values[positions[long]] = [cut_to_bytes(v, encoding, SHP_TEXT_BYTES) for v in text[long]]
    ids = column.index[positions[long]].tolist()
    out.warnings.append(
        f"layer {out.layer!r}, field {name!r}: {len(ids)} text value(s) longer than {SHP_TEXT_BYTES} bytes "
        f"in {encoding.upper()} were cut to fit a Shapefile (features {format_ids(ids)}, longest "
        f"{int(nbytes.max())} bytes); write GeoPackage to keep them whole"
    )
    return pd.Series(values, index=column.index, name=column.name, dtype=object)


def _in_gbk(ch: str) -> bool:
    try:
        ch.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _kml_labels(gdf: gpd.GeoDataFrame, columns: list, texts: list[str]) -> pd.Series:
    """Each placemark's label: the first filled-in field of :data:`KML_LABEL_FIELDS`, else the row."""
    label = pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    by_text = dict(zip(texts, columns, strict=True))
    for candidate in KML_LABEL_FIELDS:
        if candidate in by_text:
            values = gdf[by_text[candidate]]
            fill = label.isna() & values.notna() & (values.astype(str).str.strip() != "")
            label[fill] = values[fill].astype(str)
    empty = label.isna()
    label[empty] = [str(i) for i in gdf.index[empty.to_numpy()]]
    return label


def shapefile_parts(p: Prepared, *, split: bool) -> list[tuple[str, gpd.GeoDataFrame]]:
    """The Shapefiles to write for a layer: ``(name suffix, frame)``, one per geometry type.

    A Shapefile holds one type: points (single points are made one-point MultiPoints
    when the layer mixes both), lines or polygons.

    Raises
    ------
    GeometryTypeError
        Geometry collections, or several types without ``split``.
    """
    frame = p.frame
    values = frame.geometry.to_numpy()
    type_ids = shapely.get_type_id(values)
    collections = type_ids == 7
    if collections.any():
        raise GeometryTypeError(
            f"layer {p.layer!r} has geometry collections, which a Shapefile cannot hold",
            feature_ids=frame.index[collections].tolist(), field="geometry",
            hint="explode them into parts first, or write GeoPackage (--format gpkg)",
        )
    masks = {name: np.isin(type_ids, ids) for name, ids in _FAMILIES.items()}
    present = [name for name, mask in masks.items() if mask.any()] or ["polygons"]
    if len(present) > 1 and not split:
        counts = ", ".join(f"{int(masks[n].sum())} {n}" for n in present)
        minority = min(present, key=lambda n: masks[n].sum())
        raise GeometryTypeError(
            f"layer {p.layer!r} mixes geometry types ({counts}); a Shapefile holds one type",
            feature_ids=frame.index[masks[minority]].tolist(), field="geometry",
            hint="pass --split-geometry (split_geometry=True) to write one Shapefile per type, "
                 "or write GeoPackage (--format gpkg)",
        )
    missing = type_ids < 0
    parts = []
    for i, name in enumerate(present):
        mask = masks[name] | (missing if i == 0 else False)
        part = frame[mask]
        if name == "points":
            part = _one_point_type(part, p)
        parts.append((f"_{name}" if len(present) > 1 else "", part))
    if len(present) > 1:
        counts = ", ".join(f"{int(masks[n].sum())} {n}" for n in present)
        p.warnings.append(f"layer {p.layer!r} mixes geometry types: written as {counts} "
                          f"in {len(present)} Shapefiles")
    if len(present) > 1 and missing.any():
        p.warnings.append(f"layer {p.layer!r}: {int(missing.sum())} feature(s) without geometry went with "
                          f"the {present[0]} (features {format_ids(frame.index[missing].tolist())})")
    return parts


def _one_point_type(part: gpd.GeoDataFrame, p: Prepared) -> gpd.GeoDataFrame:
    values = part.geometry.to_numpy()
    single = shapely.get_type_id(values) == 0
    if not single.any() or single.all() or not (shapely.get_type_id(values) == 4).any():
        return part
    values = values.copy()
    values[single] = shapely.multipoints(values[single], indices=np.arange(int(single.sum())))
    p.warnings.append(f"layer {p.layer!r} mixes points and multipoints: {int(single.sum())} points written "
                      "as one-point MultiPoints (a Shapefile holds one type)")
    return part.set_geometry(gpd.GeoSeries(values, index=part.index, crs=part.crs))


# ----------------------------------------------------------------------------- reading back


def read_mapping(path: Path | None, layer: str | None) -> pd.DataFrame | None:
    """The field mapping written beside an exported file (the rows of ``layer``), or None."""
    if path is None:
        return None
    mapping = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if list(mapping.columns) != MAPPING_COLUMNS:
        raise InputFileError("not a gridkit field mapping", path=path,
                             hint=f"its columns must be {', '.join(MAPPING_COLUMNS)}")
    layers = list(dict.fromkeys(mapping["layer"]))
    if layer is None:
        if len(layers) > 1:
            raise InputDataError(f"the file holds {len(layers)} layers: {', '.join(layers)}", path=path,
                                 hint="choose one with layer=")
        return mapping
    return mapping[mapping["layer"] == layer] if layer in layers else None


def read_kml(path: Path, layer: str | None, mapping: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """A KML layer written by gridkit, without the LIBKML driver's own fields, in 2D."""
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer if layer is not None else _only_layer(path))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as err:
        raise InputFileError(f"cannot be read as KML: {err}", path=path) from None
    keep = set(mapping["name_in_file"]) if mapping is not None else set()
    gdf = gdf.drop(columns=[c for c in KML_BUILTIN if c in gdf.columns and c not in keep])
    return gdf.set_geometry(gpd.GeoSeries(shapely.force_2d(gdf.geometry.to_numpy()), crs=gdf.crs))


def _only_layer(path: Path) -> str:
    names = [str(n) for n, _ in pyogrio.list_layers(path)]
    if len(names) != 1:
        raise InputDataError(f"the file holds {len(names)} layers: {', '.join(names)}", path=path,
                             hint="choose one with layer=")
    return names[0]


def read_csv(path: Path, mapping: pd.DataFrame, prj: Path | None) -> gpd.GeoDataFrame:
    """A CSV written by gridkit: every column as text (codes keep their zeros), WKT geometry."""
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8):].decode("utf-8")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("gbk")
    table = pd.read_csv(_stdio.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    crs = CRS.from_wkt(prj.read_text(encoding="utf-8")) if prj is not None else CRS.from_epsg(4326)
    geoms = shapely.from_wkt(table.pop(WKT_COLUMN).to_numpy(dtype=object))
    own = set(mapping["name_in_file"])
    extra = [c for c in ("lon", "lat", "x", "y") if c in table.columns and c not in own]
    return gpd.GeoDataFrame(table.drop(columns=extra), geometry=geoms, crs=crs)


def restore(gdf: gpd.GeoDataFrame, mapping: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """Rename fields back and give them their types again, from the mapping."""
    if mapping is None:
        return gdf
    present = mapping[mapping["name_in_file"].isin(gdf.columns)]
    out = gdf.rename(columns=dict(zip(present["name_in_file"], present["field"], strict=True)))
    for name, dtype in zip(present["field"], present["type"], strict=True):
        out[name] = _as_type(out[name], dtype)
    order = [f for f in mapping["field"] if f in out.columns]
    rest = [c for c in out.columns if c not in order and c != out.geometry.name]
    return out[order + rest + [out.geometry.name]]


def _as_type(column: pd.Series, dtype: str) -> pd.Series:
    try:
        if dtype.startswith(("int", "uint", "Int", "UInt")):
            numbers = pd.to_numeric(column)
            return numbers.astype(_dtype(dtype)) if numbers.notna().all() or dtype[0] in "IU" else numbers
        if dtype.startswith("float"):
            return pd.to_numeric(column).astype(_dtype(dtype))
        if dtype in ("bool", "boolean"):
            if column.dtype == bool:
                return column
            values = column.map(_truth)
            return values.astype(_dtype(dtype)) if values.notna().all() or dtype == "boolean" else values
        if dtype.startswith("datetime64"):
            return pd.to_datetime(column, format="ISO8601").astype(_dtype(dtype))
        if dtype.startswith("timedelta64"):
            return pd.to_timedelta(column).astype(_dtype(dtype))
    except (ValueError, TypeError):
        return column
    return column


def _dtype(name: str) -> Any:
    return pd.api.types.pandas_dtype(name)


def _truth(value: object) -> bool | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return str(value).strip().lower() in ("true", "1", "t", "yes")
