"""How fast ``gridkit.export.layers`` writes each format, against a plain geopandas/pyogrio write.

Run on demand (not part of the test suite)::

    python benchmarks/bench_export.py [--households 100000] [--seed 0] [--repeat 3]

Builds a synthetic county (:func:`gridkit.synth.synth_county`), then writes its buildings
(polygons with Chinese names and text codes) and its components (points) in every
format, twice each: with :func:`gridkit.export.export_layer` (field table, type
conversion, checks, atomic staging, sidecars) and with the plain call a user would make
without gridkit (``GeoDataFrame.to_file`` through pyogrio, ``to_parquet``, or pandas
``to_csv`` of WKT). The plain Shapefile write lets GDAL cut field names itself; the plain
GeoJSON write uses the same RFC 7946 options. The two writes alternate ``--repeat``
times; the table gives the median and spread (fastest–slowest) of each and the median
ratio gridkit / plain: the price of the guarantees.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from _measure import Samples, Session, add_repeat

from gridkit.export.layers import FORMATS, export_layer
from gridkit.synth.county import synth_county

WAYS = [("gpkg", {}), ("shp", {"encoding": "utf-8"}), ("shp", {"encoding": "gbk"}), ("geojson", {}),
        ("parquet", {}), ("kml", {}), ("csv", {})]


def plain_write(gdf: gpd.GeoDataFrame, path: Path, fmt: str, options: dict) -> None:
    """What a user writes without gridkit."""
    if fmt == "parquet":
        gdf.to_parquet(path)
    elif fmt == "csv":
        table = gdf.drop(columns="geometry")
        table["wkt"] = shapely.to_wkt(gdf.geometry.to_numpy(), rounding_precision=-1)
        table.to_csv(path, index=False)
    elif fmt == "geojson":
        pyogrio.write_dataframe(gdf.to_crs(4326), path, driver="GeoJSON",
                                layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "7"})
    elif fmt == "kml":
        pyogrio.write_dataframe(gdf.to_crs(4326), path, driver="LIBKML")
    elif fmt == "shp":
        with warnings.catch_warnings():  # GDAL's own notes on the names it cuts
            warnings.simplefilter("ignore")
            pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile",
                                    encoding="GBK" if options.get("encoding") == "gbk" else "UTF-8")
    else:
        pyogrio.write_dataframe(gdf, path, driver="GPKG")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    add_repeat(parser)
    args = parser.parse_args(argv)
    session = Session(argv)
    county = synth_county(seed=args.seed, households=args.households, incidents=False, tracks=False)
    layers = {"buildings": county["buildings"], "components": county["components"]}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, gdf in layers.items():
            for fmt, options in WAYS:
                ext = FORMATS[fmt][0]
                label = fmt + (f" {options['encoding']}" if "encoding" in options else "")
                print(f"{name} {label}", file=sys.stderr, flush=True)
                s = Samples()
                for i in range(args.repeat):  # alternating, so a change of load hits both
                    start = time.perf_counter()
                    export_layer(gdf, folder / f"g{i}{ext}", format=fmt, **options)
                    s.add("ours", time.perf_counter() - start)
                    start = time.perf_counter()
                    plain_write(gdf, folder / f"p{i}{ext}", fmt, options)
                    s.add("plain", time.perf_counter() - start)
                rows.append([name, f"{len(gdf):,}", label, s.cell("ours", ".2f"), s.cell("plain", ".2f"),
                             s.ratio("ours", "plain", ".2f")])
    print(session.header(args.repeat))
    print("| layer | features | format | gridkit s | plain s | gridkit / plain |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print()
    print(f"GDAL {pyogrio.__gdal_version_string__}, geopandas {gpd.__version__}, seed {args.seed}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
