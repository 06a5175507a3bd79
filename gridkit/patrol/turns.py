"""Route lines and turn-by-turn directions from walks over the street network.

A turn-by-turn *step* is a run of consecutive edges on the same street (same name,
or the same unnamed street line); an edge shorter than 1 m (a cut where a grid
boundary crosses a street, a connector) joins the step it follows. Its heading is the compass bearing (0 = north,
90 = east) of its first metre; its turn compares that with the heading at the end of
the step before: ``straight`` within 30 degrees, ``left``/``right`` up to 150 degrees,
``u-turn`` beyond (a dead end walked back). The first step says ``start``.

Examples
--------
>>> turn_between(0.0, 90.0), turn_between(90.0, 0.0), turn_between(10.0, 350.0), turn_between(0.0, 180.0)
('right', 'left', 'straight', 'u-turn')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely

from gridkit.patrol.network import StreetNetwork
from gridkit.patrol.postman import Walk

__all__ = ["TURN_COLUMNS", "EdgeCoords", "turn_between", "turns_for_walk"]

TURN_COLUMNS = ("grid_code", "shift", "step", "street", "length_m", "cumulative_m", "heading", "turn")
_STRAIGHT_DEG = 30.0
_UTURN_DEG = 150.0
# edges shorter than this (cuts at grid boundaries, connectors) never start a step
_TINY_M = 1.0


def turn_between(heading_in: float, heading_out: float) -> str:
    """``straight``, ``left``, ``right`` or ``u-turn`` from one compass heading to the next."""
    delta = (heading_out - heading_in + 540.0) % 360.0 - 180.0
    if abs(delta) < _STRAIGHT_DEG:
        return "straight"
    if abs(delta) > _UTURN_DEG:
        return "u-turn"
    return "right" if delta > 0 else "left"


class EdgeCoords:
    """The coordinates of every network edge, for assembling route lines fast."""

    def __init__(self, net: StreetNetwork) -> None:
        self.coords, index = shapely.get_coordinates(net.geometry, return_index=True)
        self.start = np.searchsorted(index, np.arange(len(net.geometry)))
        self.stop = np.r_[self.start[1:], len(self.coords)]

    def line(self, walk: Walk) -> shapely.LineString | None:
        """The walk as one LineString (None for an empty walk)."""
        if not walk.edges:
            return None
        pieces = []
        for e, fwd in zip(walk.edges, walk.forward):
            c = self.coords[self.start[e]:self.stop[e]]
            pieces.append(c if fwd else c[::-1])
        xy = np.concatenate(pieces)
        keep = np.r_[True, np.any(np.diff(xy, axis=0) != 0, axis=1)]
        xy = xy[keep]
        if len(xy) < 2:
            xy = np.vstack([xy, xy])
        return shapely.LineString(xy)

    def heading(self, e: int, fwd: bool, *, at_end: bool = False) -> float:
        c = self.coords[self.start[e]:self.stop[e]]
        if not fwd:
            c = c[::-1]
        p, q = (c[-2], c[-1]) if at_end else (c[0], c[1])
        return float(np.degrees(np.arctan2(q[0] - p[0], q[1] - p[1])) % 360.0)


def turns_for_walk(net: StreetNetwork, coords: EdgeCoords, walk: Walk, names: Sequence[str] | np.ndarray,
                   *, grid_code: str, shift: int) -> pd.DataFrame:
    """Turn-by-turn steps of one walk (columns :data:`TURN_COLUMNS`).

    ``names`` gives the street name of each network edge.
    """
    rows = []
    cumulative = 0.0
    prev_end: float | None = None
    current: dict | None = None
    last_key = None
    for e, fwd in zip(walk.edges, walk.forward):
        key = (names[e], int(net.source[e]) if not names[e] else -2)
        length = float(net.length[e])
        if current is not None and (key == last_key or length < _TINY_M):
            current["length_m"] += length
            cumulative += length
            current["cumulative_m"] = cumulative
            if length >= _TINY_M:
                prev_end = coords.heading(e, fwd, at_end=True)
            continue
        else:
            if current is not None:
                rows.append(current)
            heading = coords.heading(e, fwd)
            current = {
                "grid_code": grid_code, "shift": shift, "step": len(rows) + 1,
                "street": names[e] or "(unnamed)", "length_m": length, "cumulative_m": 0.0,
                "heading": round(heading), "turn": "start" if prev_end is None else turn_between(prev_end, heading),
            }
            last_key = key
        cumulative += length
        current["cumulative_m"] = cumulative
        prev_end = coords.heading(e, fwd, at_end=True)
    if current is not None:
        rows.append(current)
    frame = pd.DataFrame(rows, columns=list(TURN_COLUMNS))
    frame["length_m"] = frame["length_m"].astype(float).round(1)
    frame["cumulative_m"] = frame["cumulative_m"].astype(float).round(1)
    return frame
