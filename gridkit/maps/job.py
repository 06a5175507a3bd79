"""The ``gridkit map`` job: read every layer it is given, join the per-grid stats, build and save the page.

:func:`map_job` is what the command line calls. Layers are named by file, or as
``FILE:LAYER`` for one layer of a GeoPackage (:func:`split_layer_spec`); without a layer
name, a file holding several layers is read at the layer its role usually has (the
grids of a ``grids.gpkg``, the routes of a ``routes.gpkg`` ...), see
:func:`gridkit.io.preferred_layer`. Every input layer goes through
:func:`gridkit.io.read_layer` (CSV points included: codes with a leading zero stay text); the
GeoPackages other gridkit verbs write (routes, tracks) are read as they are, so that a
route without geometry (a grid without streets) stays a row the map counts in its notes.
Tables keyed by ``grid_code`` (alerts, stats) are read by
:func:`gridkit.io.tables.read_table` when they are CSV.

Examples
--------
>>> split_layer_spec("no-such-file.gpkg:routes")
('no-such-file.gpkg:routes', None)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridkit._types import CoordSystem, PathLike
from gridkit.errors import InputDataError, InputFileError, MissingFieldError, ParameterError, format_ids
from gridkit.maps.basemaps import basemap_from
from gridkit.maps.budget import MAP_BUDGET_BYTES
from gridkit.maps.labels import Lang, check_lang

__all__ = ["MapFiles", "MapOptions", "MapSummary", "grids_with_stats", "map_job", "read_map_layers",
           "split_layer_spec"]

log = logging.getLogger(__name__)

# the order in which the summary names the layers drawn
_SUMMARY_ORDER = ("communities", "buildings", "streets", "components", "incidents", "routes", "tracks", "alerts")


@dataclass(frozen=True)
class MapFiles:
    """The files of one map: each ``FILE`` or ``FILE:LAYER``; None leaves the layer out.

    ``communities`` and ``buildings`` default to those layers of the grids file when it
    holds them (a ``grids.gpkg`` of ``gridkit partition``); ``with_buildings=False``
    leaves the buildings out altogether. ``assume_crs`` is the CRS of files that declare
    none; ``input_coords`` says in which lon/lat the points collected in the field
    (components, incidents, GPS fixes) are: they are converted to WGS84 first.
    """

    grids: str
    communities: str | None = None
    buildings: str | None = None
    with_buildings: bool = True
    streets: str | None = None
    components: str | None = None
    incidents: str | None = None
    alerts: str | None = None
    routes: str | None = None
    tracks: str | None = None
    stats: str | None = None
    assume_crs: str | None = None
    input_coords: CoordSystem = "wgs84"


@dataclass(frozen=True)
class MapOptions:
    """How the page looks: :func:`gridkit.maps.map_for_grids` options, and ``offline``."""

    color_by: str = "households"
    lang: Lang = "zh"
    basemap: str = "none"
    tianditu_key: str | None = None
    offline: bool = False
    max_points: int = 20_000
    time_field: str | None = None
    budget_bytes: int = MAP_BUDGET_BYTES


@dataclass(frozen=True)
class MapSummary:
    """What :func:`map_job` wrote: the page, its size and budget, the grids and the other layers drawn."""

    path: Path
    size_bytes: int
    grids: int
    layers: tuple[str, ...]
    offline: bool
    budget_bytes: int = MAP_BUDGET_BYTES

    @property
    def over_budget(self) -> bool:
        """True when the page is larger than the budget it states."""
        return self.size_bytes > self.budget_bytes


def split_layer_spec(spec: str) -> tuple[str, str | None]:
    """``FILE:LAYER`` as ``(FILE, LAYER)`` when FILE exists and the whole spec does not; else ``(spec, None)``."""
    if not Path(spec).exists() and ":" in spec:
        head, _, tail = spec.rpartition(":")
        if Path(head).exists() and tail:
            return head, tail
    return spec, None


def map_job(files: MapFiles, output: PathLike, *, options: MapOptions = MapOptions()) -> MapSummary:
    """Read the layers of ``files``, draw them with :func:`gridkit.maps.map_for_grids`, save to ``output``.

    The options are checked before any file is read; the page is written atomically, so
    a failure leaves no file.

    Raises
    ------
    ParameterError
        ``output`` not an ``.html`` file; a bad basemap, language or ``color_by``.
    InputFileError, InputDataError
        A file that cannot be read or data that breaks a rule, naming file, rows and field.
    """
    from gridkit.maps.offline import save_map
    from gridkit.maps.overview import map_for_grids

    out = Path(output)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ParameterError(f"the output {out} is not an .html file", field="output",
                             hint="write the map to a .html file, e.g. -o map.html")
    lang = check_lang(options.lang)
    if options.budget_bytes < 1:
        raise ParameterError(f"the page budget must be positive, got {options.budget_bytes} bytes",
                             field="budget_bytes", hint="give the size in MB, e.g. --page-budget 16")
    base = basemap_from(options.basemap, tianditu_key=options.tianditu_key, lang=lang)
    layers = read_map_layers(files, numeric=(options.color_by,))
    grids = layers.pop("grids")
    m = map_for_grids(grids, color_by=options.color_by, lang=lang, basemap=base, max_points=options.max_points,
                      time_field=options.time_field, **layers)
    path = save_map(m, out, offline=options.offline, budget_bytes=options.budget_bytes, warn=False)
    drawn = tuple(k for k in _SUMMARY_ORDER if k in layers)
    log.info("gridkit map: %d grids with %s", len(grids), ", ".join(drawn) or "no other layer")
    return MapSummary(path=path, size_bytes=path.stat().st_size, grids=len(grids), layers=drawn,
                      offline=options.offline, budget_bytes=options.budget_bytes)


def read_map_layers(files: MapFiles, *, numeric: Sequence[str] = ()) -> dict[str, Any]:
    """Every layer of ``files``, keyed as :func:`gridkit.maps.map_for_grids` takes them.

    ``grids`` carries the stats table joined on ``grid_code`` (the fields in ``numeric``
    read as numbers when every value is one); layers not given are absent. A routes file
    brings its ``bases`` layer and a tracks file its ``stops`` layer when they have one.
    """
    common: dict[str, Any] = {"assume_crs": files.assume_crs}
    # Amap/Baidu coordinates come with points collected in the field, never with gridkit's own layers
    points: dict[str, Any] = {**common, "input_coords": files.input_coords}
    grids = _read(files.grids, ("grids",), "polygon", "grids", common, required=("grid_code",))
    _check_unique_codes(grids)
    grids_path, _ = split_layer_spec(files.grids)
    in_grids = _layers_of(grids_path)
    out: dict[str, Any] = {"grids": grids}
    if files.communities:
        out["communities"] = _read(files.communities, ("communities",), "polygon", "communities", common)
    elif "communities" in in_grids:
        out["communities"] = _read(f"{grids_path}:communities", (), "polygon", "communities", common)
    if files.with_buildings:
        if files.buildings:
            out["buildings"] = _read(files.buildings, ("buildings",), "any", "buildings", common)
        elif "buildings" in in_grids:
            out["buildings"] = _read(f"{grids_path}:buildings", (), "any", "buildings", common)
    specs: tuple[tuple[str, str | None, tuple[str, ...], str, dict[str, Any], bool], ...] = (
        ("streets", files.streets, ("streets",), "line", common, False),
        ("components", files.components, ("components",), "point", points, False),
        ("incidents", files.incidents, ("incidents",), "point", points, False),
        ("routes", files.routes, ("routes",), "line", common, True),
        ("tracks", files.tracks, ("tracks", "fixes"), "any", points, True),
    )
    for key, spec, preferred, geometry, options, output in specs:
        if spec:
            out[key] = _read(spec, preferred, geometry, key, options, output=output)
    for key, spec, extra in (("bases", files.routes, "bases"), ("stops", files.tracks, "stops")):
        if spec and extra in _layers_of(split_layer_spec(spec)[0]):
            out[key] = _read(f"{split_layer_spec(spec)[0]}:{extra}", (), "any", key, common, output=True)
    if files.alerts:
        out["alerts"] = _table(files.alerts, ("alerts",), "alerts", columns=("grid_code",))
    if files.stats:
        out["grids"] = grids_with_stats(grids, _table(files.stats, ("grid_stats",), "stats"),
                                        path=split_layer_spec(files.stats)[0], numeric=numeric)
    return out


def grids_with_stats(grids: gpd.GeoDataFrame, stats: pd.DataFrame, *, path: PathLike | None = None,
                     numeric: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """The grids with the fields of a per-grid table joined on ``grid_code`` (same index and order).

    Fields the grids already have are kept from the grids. A text field named in
    ``numeric`` becomes numbers when every non-empty value is a number (a CSV table is
    read as text); otherwise it stays text, and colouring by it is refused as before.

    Raises
    ------
    MissingFieldError
        The table has no ``grid_code``.
    InputDataError
        Several rows of the table share a grid code (naming them).
    """
    if "grid_code" not in stats.columns:
        raise MissingFieldError("the stats table has no grid_code field", path=path, field="grid_code",
                                hint="give the grid_stats layer of gridkit attach or a CSV keyed by grid_code")
    extra = [c for c in stats.columns if c not in grids.columns and c != "geometry"]
    table = stats.assign(grid_code=stats["grid_code"].astype(str))[["grid_code", *extra]]
    repeated = table["grid_code"].duplicated(keep=False)
    if repeated.any():
        raise InputDataError(
            f"the stats table has {int(repeated.sum())} rows sharing a grid code "
            f"({format_ids(sorted(set(table.loc[repeated, 'grid_code'])))})",
            path=path, feature_ids=list(table.index[repeated]), field="grid_code",
            hint="give one row per grid, e.g. the grid_stats layer of gridkit attach")
    for field in numeric:
        if field in extra and not pd.api.types.is_numeric_dtype(table[field]):
            text = table[field].astype("string").str.strip()
            text = text.mask(text == "")
            numbers = pd.to_numeric(text, errors="coerce")
            if int(numbers.notna().sum()) == int(text.notna().sum()):
                table[field] = numbers.astype(float)
    merged = grids.assign(grid_code=grids["grid_code"].astype(str)).merge(table, on="grid_code", how="left")
    merged.index = grids.index
    return merged


# ----------------------------------------------------------------------------- reading


def _check_unique_codes(grids: gpd.GeoDataFrame) -> None:
    """One row per grid: a repeated code would draw two grids as one in tooltips, colours and joins."""
    from gridkit.errors import InputDataError

    codes = grids["grid_code"].astype("string").fillna("")
    repeated = codes.duplicated(keep=False).to_numpy()
    if repeated.any():
        raise InputDataError(f"grid codes repeat, e.g. {codes[repeated].iloc[0]!r}", path=grids.attrs.get("source"),
                             feature_ids=list(grids.index[repeated]), field="grid_code",
                             hint="one row per grid: dissolve the pieces of a grid into one (Multi)Polygon")


def _layers_of(path: str) -> list[str]:
    from gridkit.io import list_layers

    return list_layers(path) if Path(path).exists() else []


def _layer_for(path: str, layer: str | None, preferred: tuple[str, ...]) -> str | None:
    """The named layer, else the first of ``preferred`` the file holds (when it holds several)."""
    from gridkit.io import preferred_layer

    if layer is not None or len(_layers_of(path)) < 2:
        return layer
    return next((found for p in preferred if (found := preferred_layer(path, None, preferred=p)) is not None),
                None)


def _read(spec: str, preferred: tuple[str, ...], geometry: str, role: str, options: dict[str, Any],
          required: tuple[str, ...] = (), output: bool = False) -> gpd.GeoDataFrame:
    """Read one layer; ``output=True`` for GeoPackages written by other gridkit verbs (read as they are)."""
    from gridkit.io import file_format, read_layer

    path, layer = split_layer_spec(spec)
    layer = _layer_for(path, layer, preferred)
    if output and Path(path).exists() and file_format(path) == ".gpkg":
        import pyogrio

        try:
            return gpd.read_file(path, layer=layer, engine="pyogrio", fid_as_index=True)
        except pyogrio.errors.DataSourceError as err:
            raise InputFileError(f"cannot read the {role} layer: {err}", path=path) from None
    return read_layer(path, layer=layer, geometry=geometry, role=role,  # type: ignore[arg-type]
                      required_fields=required, **options)


def _table(spec: str, preferred: tuple[str, ...], role: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A table keyed by grid_code: a CSV as text (codes keep their leading zeros), or a layer of a file."""
    from gridkit.io.tables import read_table

    path, layer = split_layer_spec(spec)
    if Path(path).suffix.lower() == ".csv":
        table = read_table(path, columns=columns, what=f"{role} table")
        return table.mask(table == "")
    import pyogrio

    try:
        return pyogrio.read_dataframe(path, layer=_layer_for(path, layer, preferred), read_geometry=False)
    except pyogrio.errors.DataSourceError as err:
        raise InputFileError(f"cannot read the {role} table: {err}", path=path) from None
