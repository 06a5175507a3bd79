"""The hostile-input matrix of issue 17: every case, for every verb it applies to, with the
behaviour docs/errors.md documents for it ("hostile inputs").

A case is the base (``hostile_base.py``: a clip of data/sample_county and its grids) with one
thing broken; ``build`` writes the broken file under ``WORK/in`` and returns the command line.
``tests/test_hostile_inputs.py`` runs the cases whose scope is ``input``;
``benchmarks/hostile_matrix.py`` runs them all and prints the matrix.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hostile_base import OSM, PRIMARY, Base, output_of, verb_argv


@dataclass(frozen=True)
class Run:
    """One command line of a case and how to judge what it leaves."""

    argv: list[str]
    subject: str                                         # the file or path the message must name
    check: Callable[[Path], str | None] | None = None    # exit 0: what is wrong with OUT, or None
    wrap: Callable[[list[str]], list[str]] | None = None  # runs the command under setpriv/unshare
    listing: Path | None = None                          # what was left, listed by ``wrap``
    sigint_when_open: Path | None = None                 # send SIGINT once the process opens this
    sigint_after: float | None = None                    # ... or after this many seconds


@dataclass(frozen=True)
class Expect:
    """The documented behaviour: exit code and what the output must say (regexes, any case)."""

    exit: int
    says: tuple[str, ...] = ()
    fix: bool = True                                     # exit 2/3/4: the message ends with "Fix: …"


@dataclass(frozen=True)
class Case:
    family: str
    verb: str
    build: Callable[[Base, Path], Run]
    expect: Expect
    scope: str = "input"                                 # input | output | interrupt
    doc: str = ""
    skip: Callable[[], str | None] = field(default=lambda: None)

    @property
    def id(self) -> str:
        return f"{self.family}[{self.verb}]"


# ----------------------------------------------------------------------------- writing

def _save(gdf: gpd.GeoDataFrame, path: Path, layer: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".geojson":  # RFC 7946: no "crs" member, the coordinates are WGS84 by definition
        data = json.loads(gdf.to_json())
        data.pop("crs", None)
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    elif path.suffix == ".shp":
        with warnings.catch_warnings():  # field names cut to 10 characters, as any Shapefile has them
            warnings.simplefilter("ignore")
            gdf.to_file(path, engine="pyogrio")
    else:
        gdf.to_file(path, layer=layer or path.stem, engine="pyogrio")
    return path


def _csv(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def _primary_frame(base: Base, verb: str) -> tuple[gpd.GeoDataFrame, str]:
    name = Path(verb_argv(verb, base, Path("."), {})[_arg_index(verb)]).name
    frames = {"communities.gpkg": base.communities, "components.gpkg": base.components,
              "grids.gpkg": base.grids, "streets.gpkg": base.streets}
    return frames[name], Path(name).stem


def _arg_index(verb: str) -> int:
    return {"partition": 1, "attach": 2, "heatmap": 1, "patrol plan": 4, "map": 1, "board": 1,
            "export": 1, "inspect": 1}[verb]


def _case(family: str, verb: str, key: str, name: str, make: Callable[[Base, Path], object], expect: Expect,
          *, options: tuple[str, ...] = (), check: Callable[[Base, Path], str | None] | None = None,
          doc: str = "") -> Case:
    """A case whose input ``key`` of ``verb`` is the file ``name`` written by ``make``."""
    def build(base: Base, work: Path) -> Run:
        path = work / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        make(base, path)
        judge = None if check is None else (lambda out: check(base, out))
        subject = "" if expect.exit == 2 else name   # a usage error is about the options, not a file
        return Run(verb_argv(verb, base, work / "out", {key: path}, options=options), subject=subject, check=judge)
    return Case(family, verb, build, expect, doc=doc)


ERR = Expect(3)
CODE_VERBS = ("attach", "heatmap", "patrol plan", "patrol check", "map", "board")


# ----------------------------------------------------------------------------- generic families

def _generic_cases() -> list[Case]:
    cases = []
    for verb, key in PRIMARY.items():
        ext = {"patrol check": ".csv", "communities": ".osm.bz2"}.get(verb, ".gpkg")
        cases.append(_case("missing file", verb, key, f"missing{ext}", lambda b, p: None,
                           Expect(3, ("not exist|no such|missing|not found",)),
                           doc="exit 3: the file does not exist, named; fix: check the path"))
        cases.append(_case("zero-byte file", verb, key, f"empty{ext}", lambda b, p: p.write_bytes(b""),
                           ERR, doc="exit 3: the file is empty (0 bytes), named"))
        cases.append(_case("truncated file", verb, key, f"truncated{ext}", _truncator(verb), ERR,
                           doc="exit 3: the file cannot be read (or its last row is incomplete), named"))
        cases.append(_case("wrong format", verb, key, f"wrong{ext}", _wrong_format(ext), ERR,
                           doc="exit 3: the file is not what its extension says, named"))
        if verb not in ("patrol check", "communities"):
            cases.append(_case("no CRS", verb, key, "nocrs.shp", _no_crs(verb), Expect(3, ("crs",)),
                               doc="exit 3: a layer without a CRS (a Shapefile without .prj); fix: --assume-crs"))
    return cases


def _truncator(verb: str) -> Callable[[Base, Path], object]:
    def make(base: Base, path: Path) -> None:
        if verb == "patrol check":
            text = base.path("tracks.csv").read_text(encoding="utf-8")
            cut = text.index("\n", len(text) // 2) + 18          # mid-row: worker id and half a time
            path.write_text(text[:cut], encoding="utf-8")
            return
        source = OSM if verb == "communities" else Path(verb_argv(verb, base, Path("."), {})[_arg_index(verb)])
        data = source.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return make


def _wrong_format(ext: str) -> Callable[[Base, Path], object]:
    def make(base: Base, path: Path) -> None:
        if ext == ".gpkg":
            path.write_text("worker_id,time,lon,lat\nW1,2024-06-26T08:30:00,106.6,26.4\n", encoding="utf-8")
        else:  # a GeoPackage's bytes under a .csv or .osm.bz2 name
            path.write_bytes(base.path("communities.gpkg").read_bytes())
    return make


def _no_crs(verb: str) -> Callable[[Base, Path], object]:
    def make(base: Base, path: Path) -> None:
        gdf, _ = _primary_frame(base, verb)
        _save(gdf, path)
        path.with_suffix(".prj").unlink()
    return make


# ----------------------------------------------------------------------------- geometry families

def _bowtie(g: shapely.Geometry) -> shapely.Polygon:
    x0, y0, x1, y1 = g.bounds
    return shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


def _self_touching(g: shapely.Geometry) -> shapely.Polygon:
    x0, y0, x1, y1 = g.bounds
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    return shapely.Polygon([(x0, y0), (x1, y0), (xm, ym), (x1, y1), (x0, y1), (xm, ym)])


def _buildings_with(change: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]) -> Callable[[Base, Path], object]:
    return lambda b, p: _save(change(b.buildings.copy()), p, "buildings")


def _set_geom(gdf: gpd.GeoDataFrame, rows: list[int], fn: Callable[[shapely.Geometry], object]) -> gpd.GeoDataFrame:
    geoms = gdf.geometry.to_numpy().copy()
    for r in rows:
        geoms[r] = fn(geoms[r])
    return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))


def _as_lines(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gdf.set_geometry(gdf.geometry.boundary)


def _metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gdf.to_crs(4545)


def _geometry_cases() -> list[Case]:
    repaired = Expect(0, (r"repaired",))
    cases = [
        _case("bow-tie building", "partition", "buildings", "bowtie.gpkg",
              _buildings_with(lambda g: _set_geom(g, [3, 8], _bowtie)), repaired,
              doc="exit 0: repaired (make_valid), the count said on the command line and in the report"),
        _case("self-touching building", "partition", "buildings", "selftouch.gpkg",
              _buildings_with(lambda g: _set_geom(g, [5], _self_touching)), repaired,
              doc="exit 0: repaired, the count said"),
        _case("bow-tie community", "inspect", "file", "bowtie.gpkg",
              lambda b, p: _save(_set_geom(b.communities.copy(), [1], _bowtie), p, "communities"),
              Expect(0, (r"repaired\s+1",)), doc="exit 0: `repaired 1 invalid geometries`"),
        _case("bow-tie community", "export", "file", "bowtie.gpkg",
              lambda b, p: _save(_set_geom(b.communities.copy(), [1], _bowtie), p, "communities"),
              Expect(0, (r"repaired",)), doc="exit 0: written repaired, the count said"),
        _case("collapsing building", "partition", "buildings", "collapse.gpkg",
              _buildings_with(lambda g: _set_geom(g, [4], lambda s: shapely.Polygon(
                  [s.centroid.coords[0], (s.centroid.x + 1e-4, s.centroid.y), (s.centroid.x + 2e-4, s.centroid.y)]))),
              Expect(3, ("feature",)), doc="exit 3: a geometry with no area left after repair, its feature named"),
        _case("empty geometry", "partition", "buildings", "nogeom.gpkg",
              _buildings_with(lambda g: _set_geom(g, [4], lambda s: None)), Expect(3, ("geometry",)),
              doc="exit 3: features without geometry named"),
        _case("points as communities", "partition", "boundaries", "points.gpkg",
              lambda b, p: _save(b.communities.set_geometry(b.communities.representative_point()), p),
              Expect(3, ("point",)), doc="exit 3: the layer needs polygons; found Point, named"),
        _case("components as polygons", "attach", "points", "polygons.gpkg",
              lambda b, p: _save(_metric(b.components).set_geometry(_metric(b.components).buffer(1.0)), p,
                                 "components"),
              Expect(3, ("polygon", "geometry")), doc="exit 3: components need points; fix: Point on Surface"),
    ]
    for verb in ("partition", "patrol plan"):
        cases.append(_case("streets as polygons", verb, "streets", "streetpolys.gpkg",
                           lambda b, p: _save(_metric(b.streets).set_geometry(_metric(b.streets).buffer(4.0)), p,
                                              "streets"),
                           Expect(3, ("polygon",)), doc="exit 3: streets need lines; found Polygon"))
        cases.append(_case("points as streets", verb, "streets", "streetpoints.gpkg",
                           lambda b, p: _save(b.streets.set_geometry(b.streets.representative_point()), p, "streets"),
                           Expect(3, ("point",)), doc="exit 3: streets need lines; found Point"))
    for verb in CODE_VERBS:
        cases.append(_case("lines as grids", verb, "grids", "gridlines.gpkg",
                           lambda b, p: _save(_as_lines(b.grids), p, "grids"),
                           Expect(3, ("line",)), doc="exit 3: grids need polygons; found lines"))
    return cases


# ----------------------------------------------------------------------------- communities and codes

def _communities_with(change: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]) -> Callable[[Base, Path], object]:
    return lambda b, p: _save(change(b.communities.copy()), p, "communities")


def _overlap(c: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    first = c.geometry.iat[0]
    bite = first.representative_point().buffer(0.003).intersection(first)
    return _set_geom(c, [1], lambda g: g.union(bite))


def _duplicate(c: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    twin = c.iloc[[0]].copy()
    twin["geometry"] = twin.translate(0.2, 0.0)
    return pd.concat([c, twin], ignore_index=True)


def _code(value: str) -> Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]:
    def change(c: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        c.loc[0, "code"] = value
        return c
    return change


def _dedicated(kind: str) -> Callable[[Base, Path], object]:
    def make(base: Base, path: Path) -> None:
        comm = _metric(base.communities)
        inner = comm.geometry.iat[0].representative_point()
        if kind == "outside":
            geoms = [inner.buffer(60).buffer(0).envelope, shapely.Point(comm.total_bounds[2] + 5000,
                                                                         inner.y).buffer(60)]
        else:
            geoms = [inner.buffer(60), shapely.Point(inner.x + 40, inner.y).buffer(60)]
        d = gpd.GeoDataFrame({"name": ["学校", "医院"], "kind": ["school", "hospital"]}, geometry=geoms, crs=4545)
        _save(d.to_crs(base.communities.crs), path, "dedicated")
    return make


def _community_cases() -> list[Case]:
    c = "partition"
    return [
        _case("overlapping communities", c, "boundaries", "overlap.gpkg", _communities_with(_overlap),
              Expect(3, ("520199001001", "520199201201", "ha")),
              doc="exit 3: both codes of each pair named with the overlap in ha and m²"),
        _case("duplicate communities", c, "boundaries", "twice.gpkg", _communities_with(_duplicate),
              Expect(3, ("520199001001",)), doc="exit 3: the code given twice, its features named"),
        _case("code of 11 digits", c, "boundaries", "code11.gpkg", _communities_with(_code("52019900100")),
              Expect(3, ("code",)), doc="exit 3: not a 12-digit division code; feature and field named"),
        _case("code of no province", c, "boundaries", "code10.gpkg", _communities_with(_code("100199001001")),
              Expect(3, ("code",)), doc="exit 3: unknown province, feature and field named"),
        _case("no code field", c, "boundaries", "nocode.gpkg",
              _communities_with(lambda g: g.rename(columns={"code": "dm"})), Expect(3, ("code",)),
              doc="exit 3: the code field is missing; fix: --code-field"),
        _case("dedicated outside every community", c, "dedicated", "dedicated_out.gpkg", _dedicated("outside"),
              Expect(3, ("outside",)), doc="exit 3: the compound cannot be a grid, its feature named"),
        _case("overlapping dedicated", c, "dedicated", "dedicated_overlap.gpkg", _dedicated("overlap"),
              Expect(3, ("overlap",)), doc="exit 3: both features and the area named"),
    ]


def _grid_cases() -> list[Case]:
    def repeat(b: Base, p: Path) -> None:
        g = b.grids.copy()
        g.loc[1, "grid_code"] = g.loc[0, "grid_code"]
        _save(g, p, "grids")
    cases = []
    for verb in CODE_VERBS:
        cases.append(_case("repeated grid codes", verb, "grids", "gridtwice.gpkg", repeat,
                           Expect(3, ("grid_code",)), doc="exit 3: the grid code twice, its rows named"))
        cases.append(_case("grids without grid_code", verb, "grids", "nogridcode.gpkg",
                           lambda b, p: _save(b.grids.rename(columns={"grid_code": "wgbm"}), p, "grids"),
                           Expect(3, ("grid_code|grid-field",)), doc="exit 3: the field named; fix: --grid-field"))
    return cases


# ----------------------------------------------------------------------------- households and buildings

def _households(value: object) -> Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]:
    def change(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        col = g["households"].astype(object if isinstance(value, str) or value is None else float)
        col.iloc[[3, 7]] = value
        g["households"] = col
        return g
    return change


def _outside(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    far = g.iloc[:3].copy()
    far["geometry"] = far.translate(0.3, 0.0)
    far["households"] = 12
    return pd.concat([g, far], ignore_index=True)


def _straddle(base: Base, path: Path) -> None:
    g = base.buildings.copy()
    comm = _metric(base.communities).geometry.iat[0]
    edge = shapely.get_point(comm.geoms[0].exterior if hasattr(comm, "geoms") else comm.exterior, 0)
    box = gpd.GeoSeries([edge.buffer(25, cap_style="square")], crs=4545).to_crs(g.crs).iat[0]
    extra = gpd.GeoDataFrame({"building_id": ["STRADDLE"], "households": [30], "levels": [6], "use": ["residential"]},
                             geometry=[box], crs=g.crs)
    _save(pd.concat([g, extra], ignore_index=True), path, "buildings")


def _report_has(word: str) -> Callable[[Base, Path], str | None]:
    def check(base: Base, out: Path) -> str | None:
        text = (output_of("partition", out) / "report.json").read_text(encoding="utf-8")
        return None if word in text else f"report.json has no {word!r}"
    return check


def _household_cases() -> list[Case]:
    cases = []
    for label, value in (("inf", np.inf), ("-inf", -np.inf), ("1e19", 1e19), ("1e12", 1e12), ("negative", -5.0),
                         ("non-integral", 2.5), ("text", "many"), ("empty", None)):
        cases.append(_case(f"households {label}", "partition", "buildings", "households.gpkg",
                           _buildings_with(_households(value)), Expect(3, ("households", "feature")),
                           doc="exit 3: features and field named" + (
                               "; beyond any real building, fix: --max-households-per-building"
                               if label in ("1e19", "1e12") else "")))
    cases += [
        _case("no households field", "partition", "buildings", "nohouseholds.gpkg",
              _buildings_with(lambda g: g.drop(columns="households")), Expect(3, ("households",)),
              doc="exit 3: fix: --households-field or --estimate-households"),
        _case("buildings outside every community", "partition", "buildings", "outside.gpkg",
              _buildings_with(_outside), Expect(0, (r"[1-9][\d,]* outside every community",)),
              check=_report_has("households_conserved"),
              doc="exit 0: partitioned; households outside counted on stdout, a households_conserved row"),
        _case("building straddling a community boundary", "partition", "buildings", "straddle.gpkg", _straddle,
              Expect(0), check=_report_has("building_not_split"),
              doc="exit 0: partitioned; a building_not_split row naming the features"),
        _case("--min > --max", "partition", "boundaries", "communities.gpkg",
              lambda b, p: shutil.copy(b.path("communities.gpkg"), p), Expect(2, ("--min|--max",), fix=False),
              options=("--min", "400", "--max", "300", "--target", "350"),
              doc="exit 2: usage error naming the options, before anything is read"),
    ]
    return cases


# ----------------------------------------------------------------------------- encodings

def _gbk_shapefile(base: Base, path: Path) -> None:
    base.communities.to_file(path, engine="pyogrio", encoding="gbk")
    path.with_suffix(".cpg").unlink(missing_ok=True)


def _names_kept(where: str) -> Callable[[Base, Path], str | None]:
    def check(base: Base, out: Path) -> str | None:
        wanted = set(base.communities["name"])
        if where == "partition":
            layer = gpd.read_file(output_of("partition", out) / "grids.gpkg", layer="communities")
        else:
            layer = gpd.read_file(output_of("export", out))
        got = {str(v) for col in layer.columns if col != layer.geometry.name for v in layer[col]}
        return None if wanted <= got else f"community names changed: {sorted(wanted - got)} not in the output"
    return check


def _encoding_cases() -> list[Case]:
    doc = "exit 0: the encoding is found from the .dbf (GBK), names read right; the encoding said by inspect"
    return [
        _case("GBK Shapefile without .cpg", "partition", "boundaries", "gbk.shp", _gbk_shapefile, Expect(0),
              check=_names_kept("partition"), doc=doc),
        _case("GBK Shapefile without .cpg", "export", "file", "gbk.shp", _gbk_shapefile, Expect(0),
              check=_names_kept("export"), doc=doc),
        _case("GBK Shapefile without .cpg", "inspect", "file", "gbk.shp", _gbk_shapefile,
              Expect(0, (r"encoding\s+gbk",)), doc=doc),
    ]


# ----------------------------------------------------------------------------- incidents and tracks

def _table(which: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Base, Path], object]:
    return lambda b, p: _csv(change((b.incidents if which == "incidents" else b.tracks).copy()), p)


def _cell(column: str, value: str, rows: tuple[int, ...] = (5, 9)) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[list(rows), column] = value
        return df
    return change


def _future(df: pd.DataFrame) -> pd.DataFrame:
    """Rows 5 and 9 seven years ahead: every time of the case (a wrong clock), 2030-2031."""
    for col in ("reported_at", "registered_at", "closed_at", "due_at"):
        df.loc[[5, 9], col] = df.loc[[5, 9], col].str.replace(r"^202([34])", lambda m: f"203{int(m[1]) - 3}",
                                                             regex=True)
    return df


def _incident_key(verb: str) -> tuple[str, tuple[str, ...]]:
    return {"attach": ("points", ()), "heatmap": ("incidents", ()), "map": ("incidents", ())}[verb]


def _incident_cases() -> list[Case]:
    cases = []
    for verb in ("attach", "heatmap", "map"):
        key, _ = _incident_key(verb)
        cases += [
            _case("incident time not a time", verb, key, "badtime.csv", _table("incidents", _cell("reported_at",
                  "yesterday")),
                  Expect(0, ("reported_at", "not a time")) if verb == "map" else Expect(3, ("reported_at",)),
                  doc=("exit 0: the map draws the other incidents; a warning and the page's notes name the rows "
                       "and the field" if verb == "map" else "exit 3: rows and field named")),
            _case("incident lon not a number", verb, key, "badlon.csv", _table("incidents", _cell("lon", "abc")),
                  Expect(3, ("lon",)), doc="exit 3: rows and lon named"),
            _case("incident lon 200", verb, key, "lon200.csv", _table("incidents", _cell("lon", "200.5")),
                  Expect(3, ("lon",)), doc="exit 3: rows and lon/lat named (outside ±180/±90)"),
        ]
    for verb in ("attach", "heatmap"):
        key, _ = _incident_key(verb)
        cases.append(_case("duplicate incident ids", verb, key, "dupids.csv",
                           _table("incidents", lambda d: pd.concat([d, d.iloc[[2, 3]]], ignore_index=True)),
                           Expect(3, ("incident_id", "more than once|twice|repeated|duplicate")),
                           doc="exit 3: the repeated ids and every row named"))
    cases += [
        _case("incident times in the future", "attach", "points", "future.csv", _table("incidents", _future), Expect(0, ("after this run",)),
              doc="exit 0: kept; a warning line, future_time true, a line in OUT_evaluation.md"),
        _case("incident times in the future", "heatmap", "incidents", "future.csv", _table("incidents", _future), Expect(0, ("future|after",)),
              doc="exit 0: kept; said on stdout and in report.md"),
        _case("unknown category codes", "attach", "points", "unknowncat.csv",
              _table("incidents", _cell("category", "9999")), Expect(0, ("9999|unknown|未知",)),
              doc="exit 0: kept as unknown, counted per code"),
    ]
    return cases


def _unsorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sample(frac=1.0, random_state=np.random.default_rng(7))


def _same_coverage(base: Base, out: Path) -> str | None:
    ref = pd.read_csv(base.reference("patrol check") / "coverage.csv")
    got = pd.read_csv(output_of("patrol check", out) / "coverage.csv")
    try:
        pd.testing.assert_frame_equal(ref, got, check_exact=False, rtol=1e-6)
    except AssertionError as err:
        return f"coverage.csv differs from the sorted tracks': {str(err)[:200]}"
    return None


def _track_cases() -> list[Case]:
    v, k = "patrol check", "tracks"
    return [
        _case("track time not a time", v, k, "badtime.csv", _table("tracks", _cell("time", "soon")),
              Expect(3, ("time",)), doc="exit 3: rows and field named"),
        _case("track lon not a number", v, k, "badlon.csv", _table("tracks", _cell("lon", "abc")),
              Expect(3, ("lon",)), doc="exit 3: rows and lon named"),
        _case("track lon 200", v, k, "lon200.csv", _table("tracks", _cell("lon", "200.5")),
              Expect(3, ("lon",)), doc="exit 3: rows and lon/lat named"),
        _case("track without worker id", v, k, "noworker.csv", _table("tracks", _cell("worker_id", "")),
              Expect(3, ("worker",)), doc="exit 3: rows and worker_id named"),
        _case("unsorted GPS fixes", v, k, "unsorted.csv", _table("tracks", _unsorted), Expect(0),
              check=_same_coverage, doc="exit 0: sorted by worker and time; coverage as for the sorted file"),
        _case("duplicate GPS fixes", v, k, "dupfixes.csv",
              _table("tracks", lambda d: pd.concat([d, d.iloc[100:130]], ignore_index=True)),
              Expect(0, ("dropped|duplicate",)), doc="exit 0: dropped with file, row and reason; counted"),
        _case("track times in the future", v, k, "future.csv",
              _table("tracks", _cell("time", "2034-06-26T08:30:00", rows=(40,))), Expect(0, ("timed after this check",)),
              doc="exit 0: measured as given; how many fixes and which workers said"),
    ]


# ----------------------------------------------------------------------------- boards

def _stale_boards(base: Base, work: Path) -> Run:
    out = work / "out"
    boards = output_of("board", out)
    shutil.copytree(base.reference("board"), boards)
    first = min(boards.glob("52*.html"))
    gone = "520199001001999"
    text = first.read_text(encoding="utf-8").replace(first.stem, gone)
    (boards / f"{gone}.html").write_text(text, encoding="utf-8")
    (boards / "notes.txt").write_text("kept: not a board", encoding="utf-8")

    def check(out: Path) -> str | None:
        if (boards / f"{gone}.html").exists():
            return f"the stale board {gone}.html is still there"
        if not (boards / "notes.txt").exists() or not first.exists():
            return "a file gridkit did not write, or a current board, was removed"
        return None
    return Run(verb_argv("board", base, out, {}), subject=boards.name, check=check)


# ----------------------------------------------------------------------------- coordinates (CRS plausibility)

def _relabelled(fmt: str, what: str) -> Callable[[Base, Path], object]:
    """Communities or components whose coordinates are not what their CRS says."""
    def make(base: Base, path: Path) -> None:
        gdf = base.components.iloc[:300] if what == "components" else base.communities
        if fmt == "metres":
            bad = gdf.to_crs(4545).set_crs(4490, allow_override=True)
        elif fmt == "swapped":
            bad = gdf.set_geometry(shapely.transform(gdf.geometry.to_numpy(), lambda xy: xy[:, ::-1]))
        else:  # projected coordinates in a GeoJSON (GeoJSON is WGS84 lon/lat by definition)
            bad = gdf.to_crs(4545)
        _save(bad, path, what)
    return make


def _coordinate_cases() -> list[Case]:
    cases = []
    for verb, key, what in (("partition", "boundaries", "communities"), ("export", "file", "communities"),
                            ("inspect", "file", "communities"), ("attach", "points", "components")):
        for fmt, ext, label in (("metres", ".gpkg", "metres in EPSG:4490 (GPKG)"),
                                ("metres", ".shp", "metres in EPSG:4490 (SHP)"),
                                ("swapped", ".gpkg", "lat/lon swapped"),
                                ("projected", ".geojson", "projected GeoJSON")):
            cases.append(_case(label, verb, key, f"{fmt}{ext}", _relabelled(fmt, what),
                               Expect(3, ("longitude|latitude|lon|lat|degree",)),
                               doc="exit 3 before any geometry work: the coordinates cannot be what the CRS "
                                   "says; fix: --assume-crs / set the right CRS"))
    return cases


def _gcj02_check(base: Base, out: Path) -> str | None:
    got = gpd.read_file(output_of("partition", out) / "grids.gpkg", layer="communities").to_crs(4545)
    want = _metric(base.communities)
    shift = shapely.hausdorff_distance(got.union_all(), want.union_all())
    return None if shift < 1.0 else f"the CGCS2000 boundaries moved by {shift:.0f} m"


def _input_coords_cases() -> list[Case]:
    return [_case("--input-coords gcj02, boundaries in CGCS2000", "partition", "boundaries", "communities.gpkg",
                  lambda b, p: shutil.copy(b.path("communities.gpkg"), p), Expect(0),
                  options=("--input-coords", "gcj02"), check=_gcj02_check,
                  doc="exit 0: only inputs without a CRS (or named) are converted; CGCS2000 boundaries stay")]


# ----------------------------------------------------------------------------- all

def input_cases() -> list[Case]:
    """Every case about the input data (the ones ``tests/test_hostile_inputs.py`` runs)."""
    return [*_generic_cases(), *_geometry_cases(), *_community_cases(), *_grid_cases(), *_household_cases(),
            *_encoding_cases(), *_incident_cases(), *_track_cases(),
            Case("stale boards", "board", _stale_boards, Expect(0, ("removed",)),
                 doc="exit 0: boards of grids no longer in GRIDS removed and listed; other files kept"),
            *_coordinate_cases(), *_input_coords_cases()]


def says(text: str, pattern: str) -> bool:
    return re.search(pattern, text, flags=re.IGNORECASE) is not None
