"""`gridkit map`: one interactive HTML map of the grids and the layers built on them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gridkit.errors import InputFileError, ParameterError

_HELP = """\
One interactive map (folium/Leaflet) of GRIDS (the grids.gpkg of `gridkit partition`) with a
layer control: communities and buildings (taken from grids.gpkg when it holds them), streets,
grids coloured by households or --color-by FIELD with a legend, components clustered by
category, incidents as a heat layer with a weekly time slider, alerts, patrol routes and
tracks. Chinese labels by default (--lang en). --offline embeds Leaflet and every plugin in
the page so that it opens with no network at all (an intranet). A file with several layers
is read at its usual layer (components, incidents, routes, tracks ...); name another as
FILE:LAYER."""

_BASEMAP_HELP = ("none (default: no tiles, streets and buildings are the context), osm, tianditu (needs "
                 "--tianditu-key), amap (overlays converted to GCJ-02 to line up), or a tile URL template such "
                 "as http://127.0.0.1:8080/{z}/{x}/{y}.png")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("map", help="an interactive map of grids and their layers (offline with --offline)",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grids", help="grids.gpkg of gridkit partition (layer grids), or any grid polygons with grid_code")
    p.add_argument("--communities", help="community outlines (default: the communities layer of GRIDS)")
    p.add_argument("--buildings", help="building footprints (default: the buildings layer of GRIDS)")
    p.add_argument("--no-buildings", action="store_true", help="leave the buildings out")
    p.add_argument("--streets", help="street lines, drawn as context")
    p.add_argument("--components", help="component points (category or component_id), e.g. gridkit attach output")
    p.add_argument("--incidents", help="incident points (CSV lon/lat, reported_at), e.g. incidents.csv")
    p.add_argument("--alerts", help="alerts.csv of gridkit heatmap (grid_code, ...)")
    p.add_argument("--routes", help="routes.gpkg of gridkit patrol plan (routes; bases when present)")
    p.add_argument("--tracks", help="tracks.gpkg of gridkit patrol check (tracks; stops when present) or GPS "
                                    "fixes (CSV worker_id,time,lon,lat)")
    p.add_argument("--stats", help="a per-grid table with grid_code (CSV, or the grid_stats layer of gridkit "
                                   "attach output) whose fields --color-by can use")
    p.add_argument("--color-by", default="households", metavar="FIELD",
                   help="numeric grid field that colours the grids (default households)")
    p.add_argument("--lang", choices=["zh", "en"], default="zh", help="label language (default zh)")
    p.add_argument("--basemap", default="none", metavar="none|osm|tianditu|amap|URL", help=_BASEMAP_HELP)
    p.add_argument("--tianditu-key", metavar="KEY", help="Tianditu API key (tk) for --basemap tianditu")
    p.add_argument("--offline", action="store_true",
                   help="embed Leaflet and plugin assets: the page needs no network (about 1.5 MB more)")
    p.add_argument("--max-points", type=int, default=50_000, metavar="N",
                   help="most component markers drawn; evenly sampled beyond, and the map says so (50000)")
    p.add_argument("--assume-crs", help="CRS for inputs that declare none (e.g. EPSG:4490)")
    p.add_argument("--input-coords", choices=["wgs84", "gcj02", "bd09"], default="wgs84",
                   help="components, incidents or GPS fixes in Amap (gcj02) or Baidu (bd09) lon/lat: converted to "
                        "WGS84 first")
    p.add_argument("--time-field", metavar="FIELD",
                   help="time field of incidents and GPS fixes (default: reported_at, time, timestamp, date ...)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.html", help="the HTML file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit.maps import basemap_from, map_for_grids, save_map

    out = Path(args.output)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ParameterError(f"the output {out} is not an .html file", field="output", hint="use -o map.html")
    if args.basemap.strip().lower() == "tianditu" and not args.tianditu_key:
        raise ParameterError("--basemap tianditu needs --tianditu-key KEY",
                             hint="get a key (tk) at https://console.tianditu.gov.cn")
    base = basemap_from(args.basemap, tianditu_key=args.tianditu_key, lang=args.lang)
    common: dict[str, Any] = {"assume_crs": args.assume_crs}
    # Amap/Baidu coordinates come with points collected in the field, never with gridkit's own layers
    points: dict[str, Any] = {**common, "input_coords": args.input_coords}
    grids_path = args.grids
    grids = _read(grids_path, ("grids",), "polygon", "grids", common, required=("grid_code",))
    layers = _layers_of(grids_path)
    communities = _read(args.communities, ("communities",), "polygon", "communities", common) if args.communities \
        else _read(grids_path, ("communities",), "polygon", "communities", common) if "communities" in layers else None
    buildings = None
    if not args.no_buildings:
        if args.buildings:
            buildings = _read(args.buildings, ("buildings",), "any", "buildings", common)
        elif "buildings" in layers:
            buildings = _read(grids_path, ("buildings",), "any", "buildings", common)
    kwargs: dict[str, Any] = {
        "communities": communities,
        "buildings": buildings,
        "streets": _read(args.streets, ("streets",), "line", "streets", common),
        "components": _read(args.components, ("components",), "point", "components", points),
        "incidents": _read(args.incidents, ("incidents",), "point", "incidents", points),
        "routes": _read(args.routes, ("routes",), "line", "routes", common, output=True),
        "tracks": _read(args.tracks, ("tracks", "fixes"), "any", "tracks", points, output=True),
        "alerts": _table(args.alerts, ("alerts",), "alerts"),
    }
    if args.routes and "bases" in _layers_of(args.routes):
        kwargs["bases"] = _read(args.routes + ":bases", (), "any", "bases", common, output=True)
    if args.tracks and "stops" in _layers_of(args.tracks):
        kwargs["stops"] = _read(args.tracks + ":stops", (), "any", "stops", common, output=True)
    if args.stats:
        grids = _with_stats(grids, _table(args.stats, ("grid_stats",), "stats"), args.stats)
    m = map_for_grids(grids, color_by=args.color_by, lang=args.lang, basemap=base, max_points=args.max_points,
                      time_field=args.time_field, **kwargs)
    path = save_map(m, out, offline=args.offline)
    size = path.stat().st_size / 2**20
    drawn = [k for k, v in kwargs.items() if v is not None]
    print(f"wrote {path} ({size:.1f} MB{', offline' if args.offline else ''}): {len(grids)} grids"
          + (f", {', '.join(drawn)}" if drawn else ""))
    return 0


def _split(spec: str) -> tuple[str, str | None]:
    """``FILE:LAYER`` -> (FILE, LAYER) when FILE exists and the whole does not."""
    if not Path(spec).exists() and ":" in spec:
        head, _, tail = spec.rpartition(":")
        if Path(head).exists() and tail:
            return head, tail
    return spec, None


def _layers_of(spec: str) -> list[str]:
    from gridkit.io import list_layers

    path, _ = _split(spec)
    return list_layers(path) if Path(path).exists() else []


def _read(spec: str | None, preferred: tuple[str, ...], geometry: str, role: str, common: dict[str, Any],
          required: tuple[str, ...] = (), output: bool = False):
    """Read a layer; ``output=True`` for GeoPackages written by other gridkit verbs.

    Those are read as they are: a route or track without geometry (a grid without streets)
    stays a row, which the map cannot draw and says so, instead of refusing the file.
    """
    if not spec:
        return None
    from gridkit.io import file_format, read_layer

    path, layer = _split(spec)
    if layer is None:
        names = _layers_of(path)
        layer = next((n for n in preferred if n in names), None) if len(names) > 1 else None
    if output and Path(path).exists() and file_format(path) == ".gpkg":
        import geopandas as gpd
        import pyogrio

        try:
            return gpd.read_file(path, layer=layer, engine="pyogrio", fid_as_index=True)
        except pyogrio.errors.DataSourceError as err:
            raise InputFileError(f"cannot read the {role} layer: {err}", path=path) from None
    return read_layer(path, layer=layer, geometry=geometry, role=role, required_fields=required,  # type: ignore[arg-type]
                      **common)


def _table(spec: str | None, preferred: tuple[str, ...], role: str):
    """A table keyed by grid_code: CSV read as text (codes keep leading zeros), or a layer of a file."""
    if not spec:
        return None
    import pandas as pd

    path, layer = _split(spec)
    if Path(path).suffix.lower() == ".csv":
        if not Path(path).exists():
            raise InputFileError(f"the {role} file does not exist", path=path, hint="check the path")
        try:
            # utf-8-sig: Excel-friendly CSVs start with a byte-order mark
            table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise InputFileError(f"cannot be read as CSV: {err}", path=path,
                                 hint="write it as UTF-8 CSV with a header row") from None
        for col in table.columns:
            if col != "grid_code":
                numbers = pd.to_numeric(table[col], errors="coerce")
                if numbers.notna().sum() == table[col].notna().sum():
                    table[col] = numbers
        return table
    import pyogrio

    names = _layers_of(path)
    if layer is None and len(names) > 1:
        layer = next((n for n in preferred if n in names), None)
    try:
        return pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
    except pyogrio.errors.DataSourceError as err:
        raise InputFileError(f"cannot read the {role} table: {err}", path=path) from None


def _with_stats(grids, stats, path: str):
    from gridkit.errors import InputDataError, MissingFieldError, format_ids

    if "grid_code" not in stats.columns:
        raise MissingFieldError("the stats table has no grid_code field", path=path, field="grid_code",
                                hint="give the grid_stats layer of gridkit attach or a CSV keyed by grid_code")
    extra = [c for c in stats.columns if c not in grids.columns and c != "geometry"]
    stats = stats.assign(grid_code=stats["grid_code"].astype(str))[["grid_code", *extra]]
    repeated = stats["grid_code"].duplicated(keep=False)
    if repeated.any():
        raise InputDataError(
            f"the stats table has {int(repeated.sum())} rows sharing a grid code "
            f"({format_ids(sorted(set(stats.loc[repeated, 'grid_code'])))})",
            path=path, feature_ids=list(stats.index[repeated]), field="grid_code",
            hint="give one row per grid, e.g. the grid_stats layer of gridkit attach")
    merged = grids.assign(grid_code=grids["grid_code"].astype(str)).merge(stats, on="grid_code", how="left")
    merged.index = grids.index
    return merged
