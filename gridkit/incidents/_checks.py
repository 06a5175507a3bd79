"""Checks the incident modules share: layers with a CRS, the grids' codes, ids that must not repeat.

Codes are text everywhere in gridkit: :func:`as_text` turns a column into stripped
strings (``""`` for missing, no spreadsheet ``.0``) so ``"0101"`` and 18-digit ids keep
every digit.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit.errors import EmptyLayerError, InputDataError, MissingCRSError, MissingFieldError, ParameterError

__all__ = ["OUTSIDE", "as_text", "check_layer", "check_unique_ids", "grid_code_arrays"]

log = logging.getLogger(__name__)

#: The grid and community code given to points outside every grid.
OUTSIDE = ""


def as_text(values: pd.Series) -> np.ndarray:
    """A column as stripped text (``""`` for missing; no spreadsheet ``.0``).

    Examples
    --------
    >>> as_text(pd.Series([" 0101", None, 520199001001.0])).tolist()
    ['0101', '', '520199001001']
    """
    text = values.astype("string").str.strip()
    dotted = text.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
    if dotted.any():  # the regex only where it can match: it is slow over a million rows
        text[dotted] = text[dotted].str.replace(r"(?<=\d)\.0*$", "", regex=True)
    return text.fillna("").to_numpy(dtype=object)


def check_layer(gdf: gpd.GeoDataFrame, what: str) -> None:
    """A GeoDataFrame with a CRS, else a :class:`ParameterError` / :class:`MissingCRSError`."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ParameterError(f"{what} must be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise MissingCRSError(
            f"the {what} have no CRS", path=gdf.attrs.get("source"),
            hint="set one with .set_crs(...) (or --assume-crs on the command line)",
        )


def grid_code_arrays(
    grids: gpd.GeoDataFrame, grid_field: str, community_field: str
) -> tuple[np.ndarray, np.ndarray]:
    """Grid codes and community codes as text arrays, checked: present, non-empty, unique.

    Without a ``community_field`` in ``grids`` the community codes are empty.
    """
    source = grids.attrs.get("source")
    if len(grids) == 0:
        raise EmptyLayerError("the grids layer has no features", path=source,
                              hint="give the grids layer of 'gridkit partition' (grids.gpkg)")
    if grid_field not in grids.columns:
        fields = ", ".join(str(c) for c in grids.columns if c != grids.geometry.name)
        raise MissingFieldError(
            f"the grids have no field {grid_field!r}; their fields are: {fields or '(none)'}",
            path=source, field=grid_field,
            hint="give the grids layer of 'gridkit partition' (grids.gpkg), or name the code field "
                 "(--grid-field / grid_field=)",
        )
    codes = as_text(grids[grid_field])
    empty = codes == ""
    if empty.any():
        raise InputDataError(
            "grids without a grid code", path=source, feature_ids=list(grids.index[empty]), field=grid_field,
            hint="give every grid its code",
        )
    dup = pd.Series(codes).duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputDataError(
            f"grid codes repeat, e.g. {codes[dup][0]!r}", path=source, feature_ids=list(grids.index[dup]),
            field=grid_field, hint="one row per grid: dissolve the pieces of a grid into one (Multi)Polygon",
        )
    if community_field in grids.columns:
        communities = as_text(grids[community_field])
    else:
        log.info("the grids have no %r field: community codes left empty", community_field)
        communities = np.full(len(codes), OUTSIDE, dtype=object)
    return codes, communities


def check_unique_ids(points: pd.DataFrame, field: str, *, what: str = "points") -> None:
    """Refuse a layer whose ``field`` repeats a value: the same case or component counted twice.

    Rows without an id are not compared. Does nothing when there is no such field.

    Raises
    ------
    InputDataError
        Naming every row of a repeated id (file, field, feature ids) and an example id.

    Examples
    --------
    >>> check_unique_ids(pd.DataFrame({"incident_id": ["a", "b", "a"]}), "incident_id", what="incidents")
    Traceback (most recent call last):
    ...
    gridkit.errors.InputDataError: 1 incident_id appears more than once among the incidents, e.g. 'a' (twice) (field 'incident_id'; features 0, 2). Fix: keep one row per case or component: remove the repeated rows (exports of overlapping periods repeat cases), or give each its own id
    """
    if field not in points.columns:
        return
    ids = pd.Series(as_text(points[field]), index=points.index)
    dup = ids.duplicated(keep=False) & (ids != "")
    if not dup.any():
        return
    counts = ids[dup].value_counts(sort=False)
    first = str(ids[dup].iloc[0])
    times = {2: "twice"}.get(int(counts[first]), f"{int(counts[first])} times")
    n = len(counts)
    raise InputDataError(
        f"{n} {field}{'s' if n > 1 else ''} appear{'' if n > 1 else 's'} more than once among the {what}, "
        f"e.g. {first!r} ({times})",
        path=points.attrs.get("source"), feature_ids=list(points.index[dup]), field=field,
        hint="keep one row per case or component: remove the repeated rows (exports of overlapping "
             "periods repeat cases), or give each its own id",
    )
