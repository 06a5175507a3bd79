"""`gridkit map`: one interactive HTML map of the grids and the layers built on them."""

from __future__ import annotations

import argparse
import sys

from gridkit_cli._options import add_input_coords

_HELP = """\
One interactive map (folium/Leaflet) of GRIDS (the grids.gpkg of `gridkit partition`) with a
layer control: communities and buildings (taken from grids.gpkg when it holds them), streets,
grids coloured by households or --color-by FIELD with a legend, components clustered by
category, incidents as a heat layer with a weekly time slider, alerts, patrol routes and
tracks. The page stays light whatever the data: buildings (all of them, from street zoom),
streets and many components are drawn on a canvas from packed coordinates, incidents summed
on cells; it states its size and budget (--page-budget). Chinese labels by default (--lang en). --offline embeds Leaflet and every plugin in
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
    p.add_argument("--max-points", type=int, default=20_000, metavar="N",
                   help="most components drawn as clustered markers (20000); beyond, every component is a "
                        "canvas point, counted per square of the screen below street zoom")
    p.add_argument("--page-budget", type=float, default=16.0, metavar="MB",
                   help="the size the page is meant to stay under, stated in it; a warning past it (16 MiB)")
    p.add_argument("--assume-crs", help="CRS for inputs that declare none (e.g. EPSG:4490)")
    add_input_coords(p, roles="incidents, components, tracks")
    p.add_argument("--time-field", metavar="FIELD",
                   help="time field of incidents and GPS fixes (default: reported_at, time, timestamp, date ...)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.html", help="the HTML file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit.maps.job import MapFiles, MapOptions, map_job

    files = MapFiles(grids=args.grids, communities=args.communities, buildings=args.buildings,
                     with_buildings=not args.no_buildings, streets=args.streets, components=args.components,
                     incidents=args.incidents, alerts=args.alerts, routes=args.routes, tracks=args.tracks,
                     stats=args.stats, assume_crs=args.assume_crs, input_coords=args.input_coords)
    options = MapOptions(color_by=args.color_by, lang=args.lang, basemap=args.basemap,
                         tianditu_key=args.tianditu_key, offline=args.offline, max_points=args.max_points,
                         time_field=args.time_field, budget_bytes=round(args.page_budget * 2**20))
    summary = map_job(files, args.output, options=options)
    print(f"wrote {summary.path} ({summary.size_bytes / 2**20:.1f} MB{', offline' if summary.offline else ''}): "
          f"{summary.grids} grids" + (f", {', '.join(summary.layers)}" if summary.layers else ""))
    if summary.over_budget:
        print(f"warning: {summary.path} is {summary.size_bytes / 2**20:.1f} MB, over its budget of "
              f"{summary.budget_bytes / 2**20:.1f} MB: it may open slowly (fewer layers, or --no-buildings, "
              "make it lighter)", file=sys.stderr)
    return 0
