"""How fast ``gridkit.export.layers`` writes each format, against a plain geopandas/pyogrio write.

Run on demand (not part of the test suite)::

    python benchmarks/bench_export.py [--households 100000] [--seed 0] [--repeat 3]

Builds a synthetic county (:func:`gridkit.synth.synth_county`), then writes its buildings
(polygons with Chinese names and text codes) and its components (points) in every
format, twice each: with :func:`gridkit.export.export_layer` (field table, type
conversion, checks, atomic staging, sidecars) and with the plain call a user would make
without gridkit (``GeoDataFrame.to_file`` through pyogrio, ``to_parquet``, or pandas
``to_csv`` of WKT). The plain Shapefile write lets GDAL cut field names itself; the plain
GeoJSON write uses the same RFC 7946 options. The table gives the best of ``--repeat``
runs and the ratio gridkit / plain: the price of the guarantees.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

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


def best_of(repeat: int, job: Callable[[int], None]) -> float:
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        job(i)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print("command: python benchmarks/bench_export.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print()
    county = synth_county(seed=args.seed, households=args.households, incidents=False, tracks=False)
    layers = {"buildings": county["buildings"], "components": county["components"]}
    print("| layer | features | format | gridkit s | plain s | gridkit / plain |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, gdf in layers.items():
            for fmt, options in WAYS:
                ext = FORMATS[fmt][0]
                label = fmt + (f" {options['encoding']}" if "encoding" in options else "")

                def ours(i: int, gdf=gdf, fmt=fmt, options=options, ext=ext) -> None:
                    export_layer(gdf, folder / f"g{i}{ext}", format=fmt, **options)

                def theirs(i: int, gdf=gdf, fmt=fmt, options=options, ext=ext) -> None:
                    plain_write(gdf, folder / f"p{i}{ext}", fmt, options)

                t_ours, t_plain = best_of(args.repeat, ours), best_of(args.repeat, theirs)
                ratio = t_ours / t_plain
                cells = [name, f"{len(gdf):,}", label, f"{t_ours:.2f}", f"{t_plain:.2f}", f"{ratio:.2f}"]
                print("| " + " | ".join(cells) + " |", flush=True)
    print()
    print(f"python {platform.python_version()}, GDAL {pyogrio.__gdal_version_string__}, "
          f"geopandas {gpd.__version__}, {platform.machine()}, seed {args.seed}, best of {args.repeat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
