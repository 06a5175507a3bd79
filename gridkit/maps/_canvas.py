"""Context layers drawn on a canvas from packed coordinates: light pages whatever the data.

:class:`CanvasLayer` draws many polygons, lines or points (buildings, streets, components)
without one DOM or SVG object per feature. In the page each feature is a few lists of
integers (:func:`pack_geometries`): coordinates quantised to :data:`QUANTUM` degree (about
0.1 m) and delta-encoded, each vertex given as the step from the one before it (the first
vertex of a feature in full; a ring's closing vertex left out). The browser decodes them
once into typed arrays and, on every move, draws only the features whose bounding box is
in view, in one path per layer.

A point layer can aggregate: below ``cluster_below`` zoom it draws, per square of about
40 screen pixels, one circle sized by how many points fall in it, with the count written
in it, instead of the points (nothing is left out, the counts add up to the layer).

Examples
--------
>>> import shapely
>>> packed = pack_geometries(np.array([shapely.box(106.6, 26.4, 106.6001, 26.4002)]))
>>> packed["f"]
[[[106600100, 26400000, 0, 200, -100, 0, 0, -200]]]
>>> bool(shapely.equals_exact(unpack_geometries(packed, "polygon")[0], shapely.box(106.6, 26.4, 106.6001, 26.4002),
...                          tolerance=1e-9))
True
"""

from __future__ import annotations

import json
from typing import Any, Literal

import folium
import numpy as np
import shapely
from folium.template import Template
from numpy.typing import NDArray

from gridkit.maps._packed import RawText

__all__ = ["QUANTUM", "CanvasLayer", "pack_geometries", "unpack_geometries"]

#: Degrees per unit of the packed coordinates (1e-6 degree: about 0.1 m).
QUANTUM = 1e-6

Kind = Literal["polygon", "line", "point"]
_KIND_OF_TYPE = {0: "point", 4: "point", 1: "line", 2: "line", 5: "line", 3: "polygon", 6: "polygon"}


def pack_geometries(geoms: NDArray[np.object_], *, quantum: float = QUANTUM) -> dict[str, Any]:
    """Features as quantised, delta-encoded integer rings: ``{"q": quantum, "f": [feature, ...]}``.

    Each feature is a list of rings (polygon rings without their closing vertex, line parts,
    or one list for all the points of a feature), each a flat ``[dx, dy, dx, dy, ...]`` of
    steps in units of ``quantum`` degree from the vertex before, the first vertex of the
    feature counted from 0. The layer's kind is that of its first geometry
    (:func:`kind_of`); in a polygon layer a point becomes a polygon of about 1 m across, in
    a line layer a polygon its outline, so that nothing is left undrawn. Missing and empty
    geometries are left out (count them before).
    """
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) == 0:
        return {"q": quantum, "f": []}
    kind = kind_of(geoms)
    types = shapely.get_type_id(geoms)
    if kind == "polygon":
        other = ~np.isin(types, (3, 6))
        geoms[other] = shapely.buffer(geoms[other], 5 * quantum, quad_segs=2)
    if kind == "line":
        polygonal = np.isin(types, (3, 6))
        geoms[polygonal] = shapely.boundary(geoms[polygonal])
        points = np.isin(types, (0, 4))
        geoms[points] = shapely.boundary(shapely.buffer(geoms[points], 5 * quantum, quad_segs=2))
    if kind == "point":
        other = ~np.isin(types, (0, 4))
        geoms[other] = shapely.point_on_surface(geoms[other])
    parts, owner = shapely.get_parts(geoms, return_index=True)
    if kind == "polygon":
        rings, part_of = shapely.get_rings(parts, return_index=True)
        ring_feature = owner[part_of]
    else:
        rings, ring_feature = parts, owner
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    if kind == "polygon":  # the closing vertex repeats the first: left out
        last = np.cumsum(np.bincount(ring_of, minlength=len(rings))) - 1
        keep = np.ones(len(coords), dtype=bool)
        keep[last] = False
        coords, ring_of = coords[keep], ring_of[keep]
    q = np.round(coords / quantum).astype(np.int64)
    feature_of = ring_feature[ring_of]
    steps = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    first = np.r_[True, feature_of[1:] != feature_of[:-1]]
    steps[first] = q[first]
    flat = steps.ravel().tolist()
    groups = feature_of if kind == "point" else ring_of  # the points of a feature are one list
    cuts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])
    features: list[list[list[int]]] = [[] for _ in range(len(geoms))]
    for start, end in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        features[int(feature_of[start])].append(flat[2 * start: 2 * end])
    return {"q": quantum, "f": features}


def unpack_geometries(packed: dict[str, Any], kind: Kind) -> NDArray[np.object_]:
    """The geometries of :func:`pack_geometries` back (vertices on the quantum grid)."""
    per_degree = round(1 / float(packed["q"]))
    out = []
    for feature in packed["f"]:
        x = y = 0
        rings = []
        for ring in feature:
            steps = np.asarray(ring, dtype=np.int64).reshape(-1, 2)
            absolute = np.cumsum(steps, axis=0) + [x, y]
            x, y = (int(v) for v in absolute[-1])
            rings.append(absolute / per_degree)
        if kind == "point":
            out.append(shapely.multipoints(np.concatenate(rings)) if sum(map(len, rings)) > 1
                       else shapely.points(rings[0][0]))
        elif kind == "line":
            lines = [shapely.linestrings(r) for r in rings]
            out.append(lines[0] if len(lines) == 1 else shapely.multilinestrings(lines))
        else:
            out.append(_polygons_from_rings(rings))
    return np.array(out, dtype=object)


def _polygons_from_rings(rings: list[NDArray[np.float64]]) -> Any:
    """Rings to (multi)polygons: a ring inside the polygon before it is a hole of it."""
    polygons: list[tuple[Any, list[Any]]] = []
    for ring in rings:
        closed = shapely.linearrings(ring)
        shell = shapely.polygons(closed)
        if polygons and shapely.contains_properly(polygons[-1][0], shell):
            polygons[-1][1].append(closed)
        else:
            polygons.append((shell, []))
    made = [shapely.polygons(shapely.get_exterior_ring(shell), holes=holes or None) for shell, holes in polygons]
    return made[0] if len(made) == 1 else shapely.multipolygons(made)


def kind_of(geoms: NDArray[np.object_]) -> Kind:
    """``"polygon"``, ``"line"`` or ``"point"``: what the layer's drawn geometries are (the first type found)."""
    types = shapely.get_type_id(np.asarray(geoms, dtype=object))
    found = [_KIND_OF_TYPE[int(t)] for t in types if int(t) in _KIND_OF_TYPE]
    return found[0] if found else "polygon"  # type: ignore[return-value]


class CanvasLayer(folium.map.Layer):
    """Many polygons, lines or points drawn on one canvas from packed coordinates.

    Parameters
    ----------
    geoms
        Shapely geometries in lon/lat, all of one kind (polygons, lines or points).
    name
        The layer's name in the layer control.
    style
        ``color``, ``weight``, ``opacity``, ``fill`` (bool), ``fillColor``,
        ``fillOpacity`` and ``radius`` (points, pixels).
    pane
        The map pane to draw in.
    cluster_below
        Points only: below this zoom, one circle with the count per square of about 40
        screen pixels instead of the points.
    show
        On the map when the page opens.

    In the page the layer is an ``L.GridkitCanvas``; ``layer.drawn`` is how many
    features (or clusters) its last redraw drew, ``layer.total`` how many features it holds,
    ``layer.points`` how many vertices (points, for a point layer) and ``layer.counted`` how
    many points the last clustered redraw counted in view.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this.library }}
        var {{ this.get_name() }} = new L.GridkitCanvas(JSON.parse({{ this.packed_json }}), {{ this.style|tojson }});
        {% endmacro %}
    """)

    def __init__(self, geoms: NDArray[np.object_], *, name: str, style: dict[str, Any], pane: str = "overlayPane",
                 cluster_below: int | None = None, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GridkitCanvas"
        geoms = np.asarray(geoms, dtype=object)
        self.geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        self.kind: Kind = kind_of(self.geoms)
        self.packed = pack_geometries(self.geoms)
        # a JSON text in a string: browsers parse JSON faster than the same array literal in a script
        self.packed_json = json.dumps(json.dumps(self.packed, separators=(",", ":")))
        self.style = {"kind": self.kind, "pane": pane, "clusterBelow": cluster_below, **style}
        self.library = CANVAS_JS

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # folium's layers render to the figure
        # folium reads a layer's rendered script back as a template: with megabytes of coordinates in it
        # that costs seconds, so the script is rendered round a mark and the data put in afterwards
        packed, self.packed_json = self.packed_json, _MARK
        try:
            super().render(**kwargs)
        finally:
            self.packed_json = packed
        script = self.get_root().script  # type: ignore[attr-defined]
        name = self.get_name()
        text = script._children[name].render(**kwargs)
        script.add_child(RawText(text.replace(_MARK, packed, 1)), name=name)

    @property
    def data(self) -> dict[str, Any]:
        """The features the layer draws, as a GeoJSON FeatureCollection (no properties)."""
        return {"type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": json.loads(text)}
                             for text in shapely.to_geojson(self.geoms)]}


#: where a layer's packed coordinates go in its script while folium renders it
_MARK = json.dumps("@@GRIDKIT_PACKED_COORDINATES@@")


# The layer class, defined once per page (every CanvasLayer's script starts with it).
CANVAS_JS = """
if (!L.GridkitCanvas) {
L.GridkitCanvas = L.Layer.extend({
    options: {pane: "overlayPane", kind: "polygon", color: "#737373", weight: 1, opacity: 1, fill: true,
              fillColor: "#969696", fillOpacity: 0.6, radius: 2, clusterBelow: null},
    initialize: function(packed, options) {
        L.setOptions(this, options);
        var q = packed.q, f = packed.f, n = 0, rings = 0, i, j, k;
        for (i = 0; i < f.length; i++) { rings += f[i].length; for (j = 0; j < f[i].length; j++) { n += f[i][j].length / 2; } }
        var xy = new Float64Array(2 * n), ringStart = new Uint32Array(rings + 1),
            featStart = new Uint32Array(f.length + 1), box = new Float64Array(4 * f.length);
        var v = 0, r = 0, d = Math.PI / 180;
        for (i = 0; i < f.length; i++) {
            featStart[i] = r;
            var x = 0, y = 0, x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
            for (j = 0; j < f[i].length; j++) {
                ringStart[r++] = v;
                var ring = f[i][j];
                for (k = 0; k < ring.length; k += 2) {
                    x += ring[k]; y += ring[k + 1];
                    var lat = Math.max(Math.min(y * q, 85.0511287798), -85.0511287798) * d;
                    var wx = x * q / 360 + 0.5, wy = 0.5 - Math.log(Math.tan(Math.PI / 4 + lat / 2)) / (2 * Math.PI);
                    xy[2 * v] = wx; xy[2 * v + 1] = wy; v++;
                    if (wx < x0) { x0 = wx; } if (wx > x1) { x1 = wx; }
                    if (wy < y0) { y0 = wy; } if (wy > y1) { y1 = wy; }
                }
            }
            box[4 * i] = x0; box[4 * i + 1] = y0; box[4 * i + 2] = x1; box[4 * i + 3] = y1;
        }
        featStart[f.length] = r; ringStart[rings] = v;
        this._xy = xy; this._ringStart = ringStart; this._featStart = featStart; this._box = box;
        this.total = f.length; this.points = v; this.drawn = 0; this.counted = 0;
    },
    onAdd: function(map) {
        this._canvas = L.DomUtil.create("canvas", "leaflet-zoom-hide gridkit-canvas");
        this._canvas.style.position = "absolute";
        this._canvas.style.pointerEvents = "none";
        this.getPane().appendChild(this._canvas);
        map.on("moveend zoomend resize viewreset", this._redraw, this);
        this._redraw();
    },
    onRemove: function(map) {
        map.off("moveend zoomend resize viewreset", this._redraw, this);
        L.DomUtil.remove(this._canvas);
        this._canvas = null; this.drawn = 0;
    },
    _redraw: function() {
        var map = this._map, c = this._canvas;
        if (!map || !c) { return; }
        var size = map.getSize(), ratio = window.devicePixelRatio || 1;
        var topLeft = map.containerPointToLayerPoint([0, 0]);
        L.DomUtil.setPosition(c, topLeft);
        c.width = Math.round(size.x * ratio); c.height = Math.round(size.y * ratio);
        c.style.width = size.x + "px"; c.style.height = size.y + "px";
        var ctx = c.getContext("2d");
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
        var zoom = map.getZoom(), s = map.options.crs.scale(zoom), o = topLeft.add(map.getPixelOrigin());
        var pad = 8 / s, vx0 = o.x / s - pad, vy0 = o.y / s - pad, vx1 = (o.x + size.x) / s + pad,
            vy1 = (o.y + size.y) / s + pad;
        var opt = this.options, box = this._box, xy = this._xy, rs = this._ringStart, fs = this._featStart;
        var i, j, k, drawn = 0;
        if (opt.kind === "point" && opt.clusterBelow !== null && zoom < opt.clusterBelow) {
            this.drawn = this._clusters(ctx, s, o, vx0, vy0, vx1, vy1);
            return;
        }
        // one small path per feature (a square of about 250 m once merged): software rasterisers fill
        // and stroke many small paths far faster than one path spanning the whole view
        var fill = opt.kind !== "line" && opt.fill, stroke = opt.weight > 0 && (opt.kind !== "point" || !opt.fill);
        ctx.fillStyle = opt.fillColor; ctx.strokeStyle = opt.color; ctx.lineWidth = opt.weight; ctx.lineJoin = "round";
        for (i = 0; i < this.total; i++) {
            if (box[4 * i + 2] < vx0 || box[4 * i] > vx1 || box[4 * i + 3] < vy0 || box[4 * i + 1] > vy1) { continue; }
            drawn++;
            ctx.beginPath();
            for (j = fs[i]; j < fs[i + 1]; j++) {
                for (k = rs[j]; k < rs[j + 1]; k++) {
                    var px = xy[2 * k] * s - o.x, py = xy[2 * k + 1] * s - o.y;
                    if (opt.kind === "point") { ctx.moveTo(px + opt.radius, py); ctx.arc(px, py, opt.radius, 0, 2 * Math.PI); }
                    else if (k === rs[j]) { ctx.moveTo(px, py); } else { ctx.lineTo(px, py); }
                }
                if (opt.kind === "polygon") { ctx.closePath(); }
            }
            if (fill) { ctx.globalAlpha = opt.fillOpacity; ctx.fill("evenodd"); }
            if (stroke) { ctx.globalAlpha = opt.opacity; ctx.stroke(); }
        }
        this.drawn = drawn;
    },
    _clusters: function(ctx, s, o, vx0, vy0, vx1, vy1) {
        var cell = 40, counts = {}, sums = {}, xy = this._xy, n = xy.length / 2, i, key, counted = 0;
        for (i = 0; i < n; i++) {
            var wx = xy[2 * i], wy = xy[2 * i + 1];
            if (wx < vx0 || wx > vx1 || wy < vy0 || wy > vy1) { continue; }
            var px = wx * s - o.x, py = wy * s - o.y;
            key = (Math.floor(px / cell) + 8) * 4096 + Math.floor(py / cell) + 8;  // a view is < 4,000 squares a side
            if (counts[key] === undefined) { counts[key] = 0; sums[key] = [0, 0]; }
            counts[key]++; sums[key][0] += px; sums[key][1] += py; counted++;
        }
        this.counted = counted;
        var keys = Object.keys(counts), opt = this.options;
        ctx.font = "bold 10px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
        keys.forEach(function(k) {
            var m = counts[k], cx = sums[k][0] / m, cy = sums[k][1] / m, r = Math.min(6 + 3 * Math.log(m), 19);
            ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI);
            ctx.globalAlpha = 0.8; ctx.fillStyle = opt.fillColor; ctx.fill();
            ctx.globalAlpha = 1; ctx.lineWidth = 1.5; ctx.strokeStyle = "#ffffff"; ctx.stroke();
            if (m > 1) { ctx.fillStyle = "#ffffff"; ctx.fillText(String(m), cx, cy); }
        });
        return keys.length;
    }
});
}
"""
