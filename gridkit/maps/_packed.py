"""folium GeoJSON layers written with packed coordinates: the same layer in the page, half the bytes.

:class:`PackedGeoJson` is a :class:`folium.GeoJson` (same options, tooltips, styles and
``data`` in Python) whose features are written into the page with their coordinates as
integers of :data:`GRID_QUANTUM` degree (1e-7, about 1 cm: the precision the map keeps
anyway), each vertex as the step from the one before (:func:`pack_features`). The page
decodes them back into the GeoJSON that ``L.geoJson`` gets, before the layer is built.

Examples
--------
>>> data = {"type": "FeatureCollection", "features": [{"type": "Feature", "id": "0", "properties": {"a": 1},
...         "geometry": {"type": "LineString", "coordinates": [[106.6, 26.4], [106.6000005, 26.4000001]]}}]}
>>> pack_features(data)["f"][0]["g"]
{'t': 'LineString', 'c': [1066000000, 264000000, 5, 1]}
"""

from __future__ import annotations

import json
from typing import Any

import folium
import numpy as np
from branca.element import Element

__all__ = ["GRID_QUANTUM", "PackedGeoJson", "pack_features"]

#: Degrees per unit of the packed coordinates of GeoJSON layers (1e-7: about 1 cm).
GRID_QUANTUM = 1e-7

_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}

# decodes {"q": quantum, "f": [{"g": {"t": type, "c": nested flat steps}, "p": properties, "i": id}]}
DECODE_JS = """
L.gridkitGeoJson = L.gridkitGeoJson || function(packed) {
    var depth = {Point: 0, MultiPoint: 1, LineString: 1, MultiLineString: 2, Polygon: 2, MultiPolygon: 3};
    var per = Math.round(1 / packed.q);
    return {type: "FeatureCollection", features: packed.f.map(function(f) {
        var x = 0, y = 0;
        function flat(steps) {
            var out = [];
            for (var i = 0; i < steps.length; i += 2) { x += steps[i]; y += steps[i + 1]; out.push([x / per, y / per]); }
            return out;
        }
        function nest(c, d) { return d === 1 ? flat(c) : c.map(function(p) { return nest(p, d - 1); }); }
        var geometry = null;
        if (f.g) {
            var d = depth[f.g.t];
            geometry = {type: f.g.t, coordinates: d === 0 ? flat(f.g.c)[0] : nest(f.g.c, d)};
        }
        var feature = {type: "Feature", properties: f.p, geometry: geometry};
        if (f.i !== undefined) { feature.id = f.i; }
        return feature;
    })};
};
"""


def _steps(coords: Any, state: list[int], quantum: float) -> list[int]:
    q = np.round(np.asarray(coords, dtype=float).reshape(-1, 2) / quantum).astype(np.int64)
    steps = np.diff(q, axis=0, prepend=np.array([state], dtype=np.int64))
    state[0], state[1] = int(q[-1, 0]), int(q[-1, 1])
    return steps.ravel().tolist()


def _nest(coords: Any, depth: int, state: list[int], quantum: float) -> Any:
    if depth <= 1:
        return _steps(coords if depth == 1 else [coords], state, quantum)
    return [_nest(part, depth - 1, state, quantum) for part in coords]


def pack_features(data: dict[str, Any], *, quantum: float = GRID_QUANTUM) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with its coordinates as delta-encoded integers of ``quantum`` degree.

    Each feature keeps its properties (``p``) and id (``i``); its geometry (``g``) has the
    type (``t``) and the coordinates (``c``) nested as in GeoJSON down to flat lists of
    steps ``[dx, dy, ...]``, the first counted from 0 and each next from the vertex
    before, through the whole feature.
    """
    features = []
    for feature in data.get("features", []):
        out: dict[str, Any] = {"p": feature.get("properties") or {}}
        if "id" in feature:
            out["i"] = feature["id"]
        geometry = feature.get("geometry")
        if geometry:
            kind = geometry["type"]
            out["g"] = {"t": kind, "c": _nest(geometry["coordinates"], _DEPTH[kind], [0, 0], quantum)}
        features.append(out)
    return {"q": quantum, "f": features}


class PackedGeoJson(folium.GeoJson):
    """A :class:`folium.GeoJson` whose features are written into the page packed (:func:`pack_features`).

    Takes a GeoJSON FeatureCollection (a dict) and every :class:`folium.GeoJson` option.
    """

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # folium's layers render to the figure
        # folium renders the layer's script and reads it back as a template: without the data in it
        # (a link instead), that is cheap; the script is replaced below anyway
        if not self.embed:  # pragma: no cover - data from a link: left as folium writes it
            super().render(**kwargs)
            return
        self.embed = False
        try:
            super().render(**kwargs)
        finally:
            self.embed = True
        # the layer's script again (its style maps are set now), its data call replaced by the packed one:
        # rendered with no features, as the packed data replaces that call
        data, self.data = self.data, {"type": "FeatureCollection", "features": []}
        try:
            text = self._template.module.__dict__["script"](self, kwargs)
        finally:
            self.data = data
        call = f"{self.get_name()}_add("
        second = text.find(call)  # the call (the definition reads "NAME_add (data)")
        if second < 0:  # pragma: no cover - folium's template changed: left as folium wrote it
            return
        end = text.find("\n", second)
        end = len(text) if end < 0 else end
        # a JSON text in a string: browsers parse JSON faster than the same literal in a script
        packed = json.dumps(json.dumps(pack_features(self.data), ensure_ascii=False, separators=(",", ":")),
                            ensure_ascii=False).replace("</", "<\\/")
        script = f"{text[:second]}{DECODE_JS}{call}L.gridkitGeoJson(JSON.parse({packed})));{text[end:]}"
        self.get_root().script.add_child(RawText(script), name=self.get_name())  # type: ignore[attr-defined]


class RawText(Element):
    """Text written into the page as it is (not read as a template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text
