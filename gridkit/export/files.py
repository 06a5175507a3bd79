"""Files of an export: the staging folder, the sidecar files, and those of an earlier export.

:func:`staged` gives a folder to write into whose files move beside the targets only
when every write succeeded; :func:`write_target` writes one output file (a Shapefile
split by geometry type into several) with its sidecars: ``<name>_fields.csv`` (the
field mapping), ``<name>_coords.txt`` (GCJ-02/BD-09 coordinates) and a CSV's ``.prj``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from gridkit.errors import ParameterError
from gridkit.export import prepare as prep
from gridkit.export.writers import WRITERS
from gridkit.io import atomic_dir, write_text

_WGS84 = CRS.from_epsg(4326)
_COORD_NAMES = {"gcj02": "GCJ-02 (Amap, Tencent)", "bd09": "BD-09 (Baidu)"}


@contextmanager
def staged(targets: Mapping[Path, list[str]]) -> Iterator[Path]:
    """A staging folder whose files move beside the targets only when every write succeeded."""
    folders = {t.parent for t in targets}
    if len(folders) != 1:
        raise ParameterError("all files of one export go into one folder")  # pragma: no cover
    (folder,) = folders
    with atomic_dir(folder) as staging:  # a new folder appears whole, an existing one gets every file or none
        yield staging


#: Sidecar files of an earlier export that a new one of the same name removes when it does not write them.
_STALE = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qpj", ".csvt",
          "_fields.csv", "_coords.txt")


def write_target(
    staging: Path, target: Path, layers: dict[str, prep.Prepared], *, fmt: str, encoding: str, excel: bool,
    split_geometry: bool, coords: str,
) -> list[Path]:
    """Write one output file and its sidecars into ``staging``; return their final paths."""
    writer = WRITERS[fmt]
    parts: list[tuple[Path, dict[str, gpd.GeoDataFrame]]] = []
    if fmt == "shp":
        (name, p), = layers.items()
        for suffix, frame in prep.shapefile_parts(p, split=split_geometry):
            parts.append((target.with_name(target.stem + suffix + target.suffix), {name: frame}))
    else:
        parts.append((target, {n: p.frame for n, p in layers.items()}))
    written: list[Path] = []
    for file, frames in parts:
        written += writer(frames, staging / file.name, encoding=encoding, excel=excel)
        written += _sidecars(staging / file.name, layers, fmt, coords)
        _remove_stale(file, {w.name for w in written})
    return [target.parent / w.name for w in written]


def _sidecars(file: Path, layers: dict[str, prep.Prepared], fmt: str, coords: str) -> list[Path]:
    out = []
    if fmt in ("shp", "csv", "kml") or any(p.fields == "zh" for p in layers.values()):
        mapping = pd.concat([p.mapping for p in layers.values()], ignore_index=True)
        out.append(write_text(with_suffix(file, "_fields.csv"), "\ufeff" + mapping.to_csv(index=False)))
    frame = next(iter(layers.values())).frame
    if fmt == "csv" and not frame.crs.equals(_WGS84):
        out.append(write_text(file.with_suffix(".prj"), frame.crs.to_wkt("WKT1_ESRI") or frame.crs.to_wkt()))
    if coords != "wgs84":
        out.append(write_text(with_suffix(file, "_coords.txt"), _coords_note(file.name, coords)))
    return out


def _remove_stale(file: Path, written: set[str]) -> None:
    """Sidecars of an earlier export of the same name that this export does not replace."""
    for suffix in _STALE:
        stale = with_suffix(file, suffix) if suffix.startswith("_") else file.with_suffix(suffix)
        if stale.name not in written and stale.is_file():
            stale.unlink()


def with_suffix(file: Path, suffix: str) -> Path:
    return file.with_name(file.stem + suffix)


def sidecar(path: Path, suffix: str) -> Path | None:
    candidate = with_suffix(path, suffix) if suffix.startswith("_") else path.with_suffix(suffix)
    return candidate if candidate.is_file() else None


def _coords_note(name: str, coords: str) -> str:
    system = _COORD_NAMES[coords]
    return (
        f"{name}\n\n"
        f"本文件的坐标是 {system} 坐标，但文件中标注为 WGS84 经纬度（EPSG:4326），"
        "因为该坐标系没有 EPSG 编码。\n"
        "只用于在对应的网络地图上叠加显示；不要当作 WGS84/CGCS2000 坐标用于测量、计算或与其他数据叠加。\n\n"
        f"The coordinates in this file are {system}, labelled as WGS84 longitude/latitude (EPSG:4326) "
        "because that system has no EPSG code. Use them only on the matching web basemap; do not treat "
        "them as WGS84/CGCS2000 for measuring or overlaying other data.\n"
    )
