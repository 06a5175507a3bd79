"""`gridkit communities`: community polygons derived from an OSM file's arterial streets."""

from __future__ import annotations

import argparse
import sys

from gridkit.errors import ParameterError
from gridkit.osm.tags import ARTERIAL_HIGHWAYS

_DEFAULT_MIN_AREA_M2 = 100_000.0
_DEFAULT_EXTEND_M = 100.0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``communities`` verb to the command's sub-parsers."""
    p = sub.add_parser(
        "communities",
        help="derive community polygons from the arterial streets of an OSM file",
        description=(
            "Cut the area of an OSM file (the convex hull of its nodes) along its arterial "
            "streets into community polygons, for places without a boundary file. Faces smaller "
            "than --min-area join the neighbour they share the longest edge with. The "
            "communities tile the area with no gap or overlap. Codes are synthetic, "
            "12 digits 990000TTTVVV (no real province is numbered 99); kind is 'city'."
        ),
    )
    p.add_argument("--osm", required=True, metavar="FILE", help="OSM file (.osm, .osm.bz2, .osm.gz or .osm.pbf)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="file to write, layer 'communities' (GeoPackage .gpkg; or .geojson, .shp, .parquet)")
    p.add_argument("--highways", default=",".join(ARTERIAL_HIGHWAYS), metavar="LIST",
                   help="comma-separated highway=* classes that separate communities (default: %(default)s)")
    p.add_argument("--min-area", type=float, default=_DEFAULT_MIN_AREA_M2, metavar="M2",
                   help="smallest community in square metres (default: %(default).0f)")
    p.add_argument("--extend", type=float, default=_DEFAULT_EXTEND_M, metavar="M",
                   help="prolong dead-end streets up to this many metres to close their block "
                        "(default: %(default).0f)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Derive the communities and write them; print one summary line."""
    highways = tuple(h.strip() for h in args.highways.split(",") if h.strip())
    if not highways:
        raise ParameterError("--highways lists no street class", hint="e.g. --highways primary,secondary,tertiary")
    if args.extend < 0:
        raise ParameterError("--extend must be >= 0", hint=f"got {args.extend}")
    from gridkit.osm.job import communities_job

    communities, out = communities_job(args.osm, args.output, highways=highways, min_area_m2=args.min_area,
                                       extend_m=args.extend)
    km2 = communities["area_m2"].sum() / 1e6
    print(f"wrote {len(communities)} communities ({km2:.2f} km²) to {out}")
    small = communities.attrs.get("small_communities") or []
    if small:
        print(f"{len(small)} community(ies) under --min-area with no neighbour to join: {', '.join(small)}",
              file=sys.stderr)
    return 0
