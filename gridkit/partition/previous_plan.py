"""A previous plan as the partition takes it: its grids, locks and code history, checked and split by community.

>>> import geopandas as gpd, shapely
>>> grids = gpd.GeoDataFrame({"grid_code": ["520102001001001", "520102001001002"], "locked": [0, 1]},
...                          geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=4545)
>>> plan = previous_plan(grids, locked=["520102001001001"])
>>> plan.grids["locked"].tolist()
[True, True]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit._types import PathLike
from gridkit.errors import GeometryTypeError, InputDataError, MissingFieldError, ParameterError
from gridkit.partition.previous import PreviousGrids

__all__ = ["CODE_COLUMNS", "PreviousPlan", "previous_for_communities", "previous_plan", "read_previous"]

#: the columns of the ``codes`` table: every grid code ever used, active or retired
CODE_COLUMNS = ["code", "community_code", "status", "since", "retired"]

_TRUE = {"1", "true", "t", "yes", "y", "是", "锁定"}
_FALSE = {"0", "false", "f", "no", "n", "否", ""}


@dataclass
class PreviousPlan:
    """A previous plan: its grids and, when it has one, its codes table.

    Attributes
    ----------
    grids
        ``grid_code`` (text), ``locked`` (bool), ``households`` (-1 where not known)
        and polygons, in the CRS they came in; the index holds the feature ids.
    codes
        :data:`CODE_COLUMNS` (``status`` active or retired; ``since`` the date a code
        was first used, ``retired`` the date it was retired), or None.
    source
        The file the plan was read from (named in errors).
    """

    grids: gpd.GeoDataFrame
    codes: pd.DataFrame | None = None
    source: str | None = None

    def history(self) -> pd.DataFrame:
        """Every code the plan knows, with ``community_code``, ``status``, ``since``, ``retired``.

        The codes table when there is one (grids missing from it are added as active);
        otherwise the grids' codes, active, with an unknown date (``""``).
        """
        rows = pd.DataFrame({"code": self.grids["grid_code"].to_numpy(dtype=object)})
        rows["community_code"] = rows["code"].str[:12]
        rows["status"] = "active"
        rows["since"] = ""
        rows["retired"] = ""
        if self.codes is None:
            return rows
        known = self.codes[CODE_COLUMNS]
        extra = rows[~rows["code"].isin(known["code"])]
        out = pd.concat([known, extra], ignore_index=True)
        # a code the table calls retired but the grids still use is active
        live = out["code"].isin(rows["code"])
        out.loc[live, "status"] = "active"
        out.loc[live, "retired"] = ""
        return out


def _path(source: str | None) -> dict[str, Any]:
    return {"path": source} if source else {}


def _flags(values: pd.Series, source: str | None) -> np.ndarray:
    """Truthy text or numbers as booleans; anything else is refused, naming the features."""
    if values.dtype == bool:
        return values.to_numpy()
    text = values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip().lower())
    text = text.str.replace(r"\.0$", "", regex=True)
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        raise InputDataError(f"{int(bad.sum())} grids have a locked value that is neither yes nor no, "
                             f"e.g. {values[bad].iat[0]!r}", feature_ids=list(values.index[bad]), field="locked",
                             hint="write 1 or 0 (true/false, 是/否) in the locked field", **_path(source))
    return text.isin(_TRUE).to_numpy()


def previous_plan(grids: gpd.GeoDataFrame, *, codes: pd.DataFrame | None = None, locked: Iterable[str] = (),
                  code_field: str = "grid_code", source: str | None = None) -> PreviousPlan:
    """Check a previous grid layer and its locks; the problems of all grids are raised together.

    Parameters
    ----------
    grids
        The previous grids: polygons with a 15-digit ``code_field``; a ``locked`` field
        (1/0, true/false, 是/否) and ``households`` are used when present.
    codes
        The previous plan's codes table (:data:`CODE_COLUMNS`), when it has one.
    locked
        Codes to keep exactly besides those the ``locked`` field marks.
    code_field
        The field holding the grid codes.
    source
        The file, named in errors.

    Raises
    ------
    MissingFieldError
        No ``code_field``.
    InputDataError
        Codes that are not 15 digits or appear twice, locked values that are not yes or no.
    GeometryTypeError
        Grids that are not polygons.
    ParameterError
        A code in ``locked`` that is not a previous grid.
    """
    if not isinstance(grids, gpd.GeoDataFrame) or grids.crs is None:
        raise ParameterError("the previous grids must be a GeoDataFrame with a CRS", **_path(source),
                             hint="read them with gridkit.partition.read_previous or set a CRS")
    if code_field not in grids:
        raise MissingFieldError(f"the previous grids have no {code_field!r} field", field=code_field, **_path(source),
                                hint="give the previous grids' codes in a grid_code field (15 digits)")
    code = grids[code_field].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    code = code.str.replace(r"\.0$", "", regex=True).str.strip()
    bad = ~code.str.fullmatch(r"\d{15}")
    if bad.any():
        raise InputDataError(f"{int(bad.sum())} previous grids have a code that is not 15 digits, "
                             f"e.g. {code[bad].iat[0]!r}", feature_ids=list(grids.index[bad]), field=code_field,
                             hint="grid codes are the community's 12-digit code plus a 3-digit serial, as text",
                             **_path(source))
    twice = code.duplicated(keep=False)
    if twice.any():
        raise InputDataError(f"{code[twice].nunique()} previous grid codes appear more than once, "
                             f"e.g. {code[twice].iat[0]}", feature_ids=list(grids.index[twice]), field=code_field,
                             hint="give every previous grid its own code", **_path(source))
    geoms = grids.geometry.to_numpy()
    not_poly = ~np.isin(shapely.get_type_id(geoms), (3, 6)) | shapely.is_empty(geoms)
    if not_poly.any():
        raise GeometryTypeError(f"{int(not_poly.sum())} previous grids are not polygons",
                                feature_ids=list(grids.index[not_poly]), field="geometry", **_path(source),
                                hint="the previous grids must be polygons (the grids layer of grids.gpkg)")
    flags = _flags(grids["locked"], source) if "locked" in grids else np.zeros(len(grids), dtype=bool)
    asked = [str(c).strip() for c in locked]
    unknown = sorted(set(asked) - set(code))
    if unknown:
        raise ParameterError(f"--lock names {len(unknown)} codes that are not previous grids: {', '.join(unknown[:5])}",
                             field="grid_code", hint="lock codes of the previous grids file", **_path(source))
    flags = flags | code.isin(asked).to_numpy()
    households = np.full(len(grids), -1, dtype=np.int64)
    if "households" in grids:
        hh = pd.to_numeric(grids["households"], errors="coerce")
        ok = hh.notna() & (hh >= 0)
        households[ok.to_numpy()] = hh[ok].round().astype(np.int64).to_numpy()
    out = gpd.GeoDataFrame({"grid_code": code.to_numpy(dtype=object), "locked": flags, "households": households},
                           geometry=shapely.make_valid(geoms), crs=grids.crs, index=grids.index)
    table = None
    if codes is not None and len(codes):
        missing = [c for c in ("code", "status") if c not in codes]
        if missing:
            raise MissingFieldError(f"the previous codes table lacks {', '.join(missing)}", field=missing[0],
                                    **_path(source), hint="the codes layer of a grids.gpkg written by gridkit")
        table = pd.DataFrame({"code": codes["code"].astype(str).str.strip()})
        table["community_code"] = table["code"].str[:12]
        table["status"] = codes["status"].astype(str).str.strip().str.lower().to_numpy()
        for col in ("since", "retired"):
            table[col] = codes[col].fillna("").astype(str).to_numpy() if col in codes else ""
    return PreviousPlan(grids=out, codes=table, source=source)


def read_previous(path: PathLike, *, locked: Sequence[str] = (), code_field: str = "grid_code",
                  assume_crs: str | None = None) -> PreviousPlan:
    """Read a previous plan: the ``grids`` layer (or the only layer) and, in a GeoPackage, its ``codes`` layer."""
    from gridkit.io import list_layers, preferred_layer, read_layer

    path = Path(path)
    layer = preferred_layer(path, None)
    grids = read_layer(path, layer=layer, geometry="polygon", role="previous grids", required_fields=[code_field],
                       assume_crs=assume_crs, text_fields=[code_field])
    codes = None
    if path.suffix.lower() == ".gpkg" and "codes" in list_layers(path):
        import pyogrio

        codes = pyogrio.read_dataframe(path, layer="codes", read_geometry=False)
    return previous_plan(grids, codes=codes, locked=locked, code_field=code_field, source=str(path))


def previous_for_communities(plan: PreviousPlan, community_codes: Sequence[str], crs: Any
                             ) -> list[PreviousGrids | None]:
    """The previous grids of each community (by the first 12 digits of their codes), in ``crs``."""
    g = plan.grids.to_crs(crs)
    prefix = g["grid_code"].str[:12].to_numpy()
    geoms = g.geometry.to_numpy()
    out: list[PreviousGrids | None] = []
    for code in community_codes:
        rows = np.flatnonzero(prefix == code)
        if len(rows) == 0:
            out.append(None)
            continue
        out.append(PreviousGrids(geometries=geoms[rows], codes=g["grid_code"].to_numpy()[rows].astype(str),
                                 locked=g["locked"].to_numpy()[rows].astype(bool),
                                 households=g["households"].to_numpy()[rows].astype(np.int64)))
    return out
