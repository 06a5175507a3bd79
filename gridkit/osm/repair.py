"""Repairing clipped extracts: the ways and relations one reader needs, made usable.

Extracts cut out of a larger map are *clipped*: some ways reference nodes that are not
in the file, which osmnx refuses ("Some edges missing nodes"). :func:`select` picks the
elements a reader wants and repairs them, counting what it did:

- a street (a line) keeps its longest run of consecutive nodes present in the file,
  so no straight shortcut is drawn across the missing part (``trimmed_ways``);
- an area (a building, a multipolygon member) keeps the nodes present and is closed
  again (``trimmed_ways``);
- a way left with fewer than 2 nodes (3 distinct nodes for an area) is dropped
  (``dropped_ways``); a multipolygon relation loses the member ways that are not in
  the file (``trimmed_relations``) and is dropped when no outline can be built from
  the rest (``dropped_relations``).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd

from gridkit.osm.files import tags_of

__all__ = ["REPAIR_COUNTS", "Selection", "count_unbuilt", "log_repairs", "select"]

log = logging.getLogger(__name__)

TagFilter = Callable[[dict[str, str]], bool]

#: The repair counts every reader reports in ``attrs``.
REPAIR_COUNTS = ("trimmed_ways", "dropped_ways", "trimmed_relations", "dropped_relations")
_MULTIPOLYGON_TYPES = ("multipolygon", "boundary")  # the relation types osmnx builds


@dataclass
class Selection:
    """The elements one reader needs, repaired, and what the repair did."""

    coords: dict[int, tuple[float, float]]
    nodes: list[ET.Element] = field(default_factory=list)
    ways: list[ET.Element] = field(default_factory=list)
    relations: list[ET.Element] = field(default_factory=list)
    wanted: set[tuple[str, int]] = field(default_factory=set)
    repairs: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        """The repair counts, each key of :data:`REPAIR_COUNTS` (0 when nothing was done)."""
        return {key: int(self.repairs[key]) for key in REPAIR_COUNTS}

    def write(self, dest: Path, *, extra_nodes: Sequence[ET.Element] = ()) -> Path:
        """Write the selection (and ``extra_nodes``) as OSM XML osmnx can read."""
        root = ET.Element("osm", version="0.6", generator="gridkit")
        needed = {int(nd.get("ref", 0)) for way in self.ways for nd in way.iter("nd")}
        root.extend(ET.Element("node", id=str(i), lat=repr(self.coords[i][1]), lon=repr(self.coords[i][0]))
                    for i in sorted(needed - {int(n.get("id", 0)) for n in self.nodes}))
        root.extend(self.nodes)
        root.extend(extra_nodes)
        root.extend(self.ways)
        root.extend(self.relations)
        ET.ElementTree(root).write(dest, encoding="utf-8", xml_declaration=True)
        return dest


def select(
    root: ET.Element,
    *,
    way_filter: TagFilter,
    relation_filter: TagFilter | None = None,
    node_filter: TagFilter | None = None,
    mode: Literal["line", "area"],
) -> Selection:
    """The wanted nodes, ways and multipolygon relations, with clipped ways repaired.

    ``mode`` says how a way with missing nodes is repaired: as a line (longest run of
    present nodes) or as an area (present nodes, closed again). The ways of the wanted
    relations are selected (and repaired as ``mode`` says) whatever their own tags.
    """
    coords = {int(n.get("id", 0)): (float(n.get("lon", "nan")), float(n.get("lat", "nan"))) for n in root.iter("node")}
    selection = Selection(coords)
    if node_filter is not None:
        for node in root.iter("node"):
            if node_filter(tags_of(node)):
                selection.nodes.append(node)
                selection.wanted.add(("node", int(node.get("id", 0))))
    relations = [r for r in root.iter("relation") if relation_filter is not None
                 and tags_of(r).get("type") in _MULTIPOLYGON_TYPES and relation_filter(tags_of(r))]
    members = {int(m.get("ref", 0)) for r in relations for m in r.iter("member") if m.get("type") == "way"}
    for way in root.iter("way"):
        way_id = int(way.get("id", 0))
        is_wanted = way_filter(tags_of(way))
        if (is_wanted or way_id in members) and _repair_way(way, coords, mode, selection.repairs):
            selection.ways.append(way)
            if is_wanted:
                selection.wanted.add(("way", way_id))
    kept = {int(w.get("id", 0)) for w in selection.ways}
    for relation in relations:
        if _repair_relation(relation, kept, selection.repairs):
            selection.relations.append(relation)
            selection.wanted.add(("relation", int(relation.get("id", 0))))
    return selection


def count_unbuilt(selection: Selection, features: gpd.GeoDataFrame) -> None:
    """Count wanted ways/relations osmnx could not turn into a geometry as dropped."""
    built = set(zip(features["element"], features["osmid"]))
    for element, osmid in sorted(selection.wanted - built):
        if element != "node":
            selection.repairs[f"dropped_{element}s"] += 1
            log.debug("%s %d has no usable geometry after repair", element, osmid)


def log_repairs(path: Path, what: str, selection: Selection) -> None:
    """One warning line saying what the repair of a clipped extract did, when it did anything."""
    counts = {k: v for k, v in selection.counts().items() if v}
    if counts:
        log.warning("%s: clipped extract, %s: %s", path, what, ", ".join(f"{k.replace('_', ' ')} {v}"
                                                                         for k, v in counts.items()))


def _repair_way(way: ET.Element, coords: Mapping[int, object], mode: str, repairs: Counter[str]) -> bool:
    """Drop the way's references to absent nodes; False when too little is left."""
    refs = [int(nd.get("ref", 0)) for nd in way.iter("nd")]
    present = [ref in coords for ref in refs]
    if all(present) and len(refs) >= 2:
        return True
    closed = len(refs) >= 4 and refs[0] == refs[-1]
    kept = _area_refs(refs, present, closed) if mode == "area" else _longest_run(refs, present, closed)
    if kept is None:
        repairs["dropped_ways"] += 1
        return False
    repairs["trimmed_ways"] += 1
    for nd in list(way.iter("nd")):
        way.remove(nd)
    for pos, ref in enumerate(kept):
        way.insert(pos, ET.Element("nd", ref=str(ref)))
    return True


def _longest_run(refs: list[int], present: list[bool], closed: bool) -> list[int] | None:
    """The longest stretch of consecutive present nodes (a ring is read round the loop).

    >>> _longest_run([1, 2, 99, 4, 5, 6], [True, True, False, True, True, True], False)
    [4, 5, 6]
    """
    if closed and not all(present):
        first_gap = present.index(False)
        refs = refs[first_gap + 1:-1] + refs[:first_gap + 1]
        present = present[first_gap + 1:-1] + present[:first_gap + 1]
    best: list[int] = []
    run: list[int] = []
    for ref, ok in zip(refs, present):
        run = [*run, ref] if ok else []
        if len(run) > len(best):
            best = run
    return best if len(best) >= 2 else None


def _area_refs(refs: list[int], present: list[bool], closed: bool) -> list[int] | None:
    """The present nodes in order, closed again for a ring; None when degenerate."""
    kept = [ref for ref, ok in zip(refs, present) if ok]
    kept = [ref for i, ref in enumerate(kept) if i == 0 or ref != kept[i - 1]]
    if not closed:
        return kept if len(kept) >= 2 else None
    if kept and kept[0] != kept[-1]:
        kept.append(kept[0])
    return kept if len(set(kept)) >= 3 else None


def _repair_relation(relation: ET.Element, kept_ways: set[int], repairs: Counter[str]) -> bool:
    """Remove members that are not (or no longer) in the file; False when no outline is left."""
    lost = [m for m in relation.iter("member") if m.get("type") == "way" and int(m.get("ref", 0)) not in kept_ways]
    for member in lost:
        relation.remove(member)
    if not any(m.get("type") == "way" and m.get("role", "outer") in ("outer", "") for m in relation.iter("member")):
        repairs["dropped_relations"] += 1
        return False
    repairs["trimmed_relations"] += bool(lost)
    return True
