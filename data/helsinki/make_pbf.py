"""Write ``helsinki.osm.pbf``: the bundled Helsinki extract as OSM PBF, element for element.

``helsinki.osm.bz2`` is OpenStreetMap data (© OpenStreetMap contributors, ODbL 1.0).
This script copies every node, way and relation of it, with tags, ids and versions,
into PBF with pyosmium (the ``osmium`` package, a gridkit dependency), so the tests can
check that gridkit reads the PBF and the XML of one extract alike::

    python data/helsinki/make_pbf.py

It prints the element counts of both files, which must agree.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import osmium

HERE = Path(__file__).resolve().parent


def convert(source: Path, out: Path) -> None:
    """Copy every object of ``source`` into ``out`` (format from the suffix), replacing it whole."""
    tmp = out.with_name("partial-" + out.name)  # keeps the suffix osmium reads the format from
    tmp.unlink(missing_ok=True)
    try:
        with osmium.SimpleWriter(str(tmp)) as writer:
            for obj in osmium.FileProcessor(str(source)):
                writer.add(obj)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def count(path: Path) -> Counter[str]:
    """Nodes, ways and relations in ``path``."""
    figures: Counter[str] = Counter()
    for obj in osmium.FileProcessor(str(path)):
        figures[obj.type_str()] += 1
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=HERE / "helsinki.osm.bz2")
    parser.add_argument("--out", type=Path, default=HERE / "helsinki.osm.pbf")
    args = parser.parse_args()
    convert(args.source, args.out)
    before, after = count(args.source), count(args.out)
    for kind, name in (("n", "nodes"), ("w", "ways"), ("r", "relations")):
        print(f"{name}: {before[kind]:,} in {args.source.name}, {after[kind]:,} in {args.out.name}")
    if before != after:
        raise SystemExit("the PBF does not hold the same elements")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
