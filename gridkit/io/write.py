"""The one atomic writer: layers, text and whole folders appear complete, or not at all.

Everything gridkit writes goes through a hidden staging folder on the same file system
as the target (``.NAME.tmp-PID-XXXX`` beside a new file or folder, ``.gridkit-tmp-PID-XXXX``
inside an existing folder) and is moved into place only once every file is complete;
the move itself is not interrupted by Ctrl-C. Whatever fails — a bug, a full disk,
Ctrl-C — the staging folder is removed and the target is left as it was. A staging
folder of an earlier run that was killed (its process is gone) is removed by the next
write to the same place, with a warning.

Problems of the output location (not writable, disk full, a file where a folder is
expected or the other way round, GDAL's "Failed to commit transaction") raise
:class:`~gridkit.errors.OutputError` naming the path and the fix.

Examples
--------
>>> import tempfile, geopandas, shapely
>>> folder = Path(tempfile.mkdtemp())
>>> grids = geopandas.GeoDataFrame({"name": ["朝阳"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
>>> write_layers(folder / "out.gpkg", {"grids": grids}).name
'out.gpkg'
>>> with atomic_dir(folder / "run") as tmp:
...     _ = write_text(tmp / "report.md", "# ok")
>>> sorted(p.name for p in (folder / "run").iterdir())
['report.md']
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import logging
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors

from gridkit._types import PathLike
from gridkit.errors import DependencyError, GridkitError, OutputError, ParameterError
from gridkit.io.shapefile import SHAPEFILE_SIDECARS

__all__ = ["SUPPORTED_WRITE", "atomic_dir", "output_errors", "public_path", "write_layers", "write_text"]

logger = logging.getLogger(__name__)

#: Extensions written by :func:`write_layers`, with the format each stands for.
SUPPORTED_WRITE: dict[str, str] = {
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
}

_INSIDE = ".gridkit-tmp-"
# staging folders of earlier gridkit versions, removed as stale too
_OLD_INSIDE = ".gridkit-export-"
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)
_GDAL_FULL = re.compile(r"no space left|disk is full|disk full|failed to commit transaction|"
                        r"database or disk is full|write error|short write", re.IGNORECASE)
_GDAL_DENIED = re.compile(r"permission denied|read-only file system|readonly database", re.IGNORECASE)
_GDAL_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
                pyogrio.errors.FeatureError, pyogrio.errors.GeometryError)
# a write that fails with less than this left on the disk failed for want of space
_NEARLY_FULL_BYTES = 1 << 20
_INSIDE_NAME = re.compile(r"\.gridkit-tmp-\d+-[0-9a-f]+")
_BESIDE_NAME = re.compile(r"\.(.+)\.tmp-\d+-[0-9a-f]+")


# ----------------------------------------------------------------------------- public


def write_layers(
    path: PathLike,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    encoding: str | None = None,
) -> Path:
    """Write layers to a file atomically: all of it appears, or nothing changes.

    Parameters
    ----------
    path
        The file to write; its extension chooses the format (see :data:`SUPPORTED_WRITE`).
        A GeoPackage holds any number of layers; the other formats take exactly one. An
        existing file is replaced.
    layers
        Layer name to GeoDataFrame, in the order to write. A GeoPackage keeps an integer
        index as the feature id (fid); another index is written as a field when named.
        Time-zone aware datetimes are written to a GeoPackage in UTC (``…Z``), as the
        GeoPackage standard stores them.
    encoding
        Shapefile only: the attribute encoding, UTF-8 by default; a ``.cpg`` file records
        it. Pass ``"GBK"`` for software that expects it.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OutputError
        The folder is not writable, the disk is full, or ``path`` is a folder.
    """
    path = Path(path)
    ext = _write_format(path)
    _check_layers(path, ext, layers, encoding)
    if path.is_dir():
        raise OutputError("the output is a folder, not a file", path=path,
                          hint=f"give a file name, e.g. {path / ('layers' + ext)}")
    with output_errors(path):
        _make_folder(path.parent)
        with _staging(path) as staging:
            target = staging / path.name
            for name, gdf in layers.items():
                _WRITERS[ext](gdf, target, name, encoding)
            with _no_interrupt():
                _move_written(staging, path, ext)
    logger.info("wrote %d layer(s) to %s: %s", len(layers), path, ", ".join(layers))
    return path


def write_text(path: PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write text to a file atomically (through a temporary file beside it).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OutputError
        The folder is not writable, the disk is full, or ``path`` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError("the output is a folder, not a file", path=path, hint="give a file name")
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    with output_errors(path):
        _make_folder(path.parent)
        try:
            with open(temp, "x", encoding=encoding, newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    logger.info("wrote %s (%d characters)", path, len(text))
    return path


@contextlib.contextmanager
def atomic_dir(outdir: PathLike) -> Iterator[Path]:
    """Write a folder's files atomically: into a staging folder, moved in on success.

    Yields a hidden staging folder: beside ``outdir`` when it does not exist yet (it is
    then renamed into place in one step), inside it when it does (its files then replace
    those of the same name, others are kept). When the block raises — Ctrl-C included —
    the staging folder is removed and ``outdir`` is left as it was. Output problems
    raised in the block (disk full, not writable) become :class:`~gridkit.errors.OutputError`.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> with atomic_dir(out) as tmp:
    ...     _ = (tmp / "report.md").write_text("# ok")
    >>> sorted(p.name for p in out.iterdir())
    ['report.md']
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError("the output folder is a file", path=outdir,
                          hint="choose another -o folder, or remove or rename the file")
    with output_errors(outdir):
        _make_folder(outdir.parent)
        with _staging(outdir, inside=outdir.is_dir()) as staging:
            yield staging
            with _no_interrupt():
                if outdir.is_dir():
                    _merge_into(staging, outdir)
                else:
                    os.replace(staging, outdir)
    logger.info("wrote folder %s", outdir)


@contextlib.contextmanager
def output_errors(path: PathLike) -> Iterator[None]:
    """Turn the operating system's and GDAL's output failures in the block into :class:`OutputError`.

    A full disk, a folder that is not writable, a read-only file system, a file where a
    folder is expected (or the other way round) and GDAL's "Failed to commit transaction"
    become an :class:`~gridkit.errors.OutputError` naming ``path`` (the final path, not
    the staging folder's) and the fix. A GDAL or raster write error while the disk of
    ``path`` has (almost) no space left is a full disk too, whatever GDAL called it.
    Every other exception passes unchanged.
    """
    path = Path(path)
    try:
        yield
    except GridkitError:
        raise
    except Exception as err:
        converted = _output_error(err, path)
        if converted is None:
            raise
        raise converted from err


def _output_error(err: Exception, path: Path) -> OutputError | None:
    if isinstance(err, OSError) and err.errno is not None:
        return _from_os_error(err, path)
    if not isinstance(err, (OSError, *_GDAL_ERRORS)) and not type(err).__module__.startswith("rasterio"):
        return None
    text = str(err)
    if _GDAL_FULL.search(text):
        return _full(path, _first_line(text))
    if _nearly_full(path):
        return _full(path, f"less than {_NEARLY_FULL_BYTES >> 20} MB left")
    if _GDAL_DENIED.search(text):
        return _denied(path, _first_line(text))
    return None


def _from_os_error(err: OSError, path: Path) -> OutputError | None:
    code = err.errno
    if code in _FULL:
        return _full(path, err.strerror or str(err))
    if code in _DENIED:
        named = Path(err.filename) if err.filename else None
        if named is not None and not _related(named, path):
            return None  # an input that cannot be read, not the output
        return _denied(path, err.strerror or str(err))
    if code == errno.ENOTDIR:
        return OutputError("cannot write: a part of the path is a file, not a folder", path=public_path(path),
                           hint="remove or rename that file, or choose another -o")
    if code == errno.EISDIR:
        return OutputError("cannot write: the path is a folder where a file is expected", path=public_path(path),
                           hint="give a file name, or remove the folder")
    return None


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(_folder_of(path)).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def public_path(path: Path) -> Path:
    """``path`` as the user will see it: staging folders (``.out.tmp-PID-XXXX``) named as their target.

    >>> public_path(Path("run/.part.tmp-77-0a1b2c3d/grids.gpkg")), public_path(Path("run/.gridkit-tmp-77-0a1b/a.gpkg"))
    (PosixPath('run/part/grids.gpkg'), PosixPath('run/a.gpkg'))
    """
    parts = []
    for part in path.parts:
        if _INSIDE_NAME.fullmatch(part):
            continue
        beside = _BESIDE_NAME.fullmatch(part)
        parts.append(beside.group(1) if beside else part)
    return Path(*parts) if parts else path


def _full(path: Path, reason: str) -> OutputError:
    shown = public_path(path)
    return OutputError(
        f"cannot write: the disk is full ({reason}); nothing was written", path=shown,
        hint=f"free space on the disk holding {_folder_of(shown)}, or write elsewhere with -o",
    )


def _denied(path: Path, reason: str) -> OutputError:
    shown = public_path(path)
    return OutputError(
        f"cannot write: {_folder_of(shown)} is not writable ({reason}); nothing was written", path=shown,
        hint="choose an -o folder you can write to, or ask for write permission on it",
    )


def _folder_of(path: Path) -> Path:
    """The nearest existing folder of ``path`` (the one that has to be writable)."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return path.parent


def _related(named: Path, path: Path) -> bool:
    """Whether an error's file is the output, beside it, inside it, or one of its folders."""
    try:
        a, b = named.resolve(), path.resolve()
    except OSError:
        return True
    return a == b or a.parent == b.parent or b in a.parents or a in b.parents


# ----------------------------------------------------------------------------- staging


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError("the output folder is a file", path=folder,
                          hint="choose another -o folder, or remove or rename the file")
    folder.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _staging(path: Path, *, inside: bool = False) -> Iterator[Path]:
    """A hidden staging folder for ``path``, removed afterwards whatever happens."""
    folder, prefix = (path, _INSIDE) if inside else (path.parent, f".{path.name}.tmp-")
    _remove_stale(folder, (prefix, _OLD_INSIDE) if inside else (prefix,))
    staging = folder / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _remove_stale(folder: Path, prefixes: tuple[str, ...]) -> list[Path]:
    """Remove staging folders an earlier, killed run left in ``folder`` (their process is gone)."""
    try:
        entries = [e for e in folder.iterdir() if e.name.startswith(prefixes) and e.is_dir()]
    except OSError:
        return []
    stale = [e for e in entries if not _owner_alive(e.name)]
    for entry in stale:
        shutil.rmtree(entry, ignore_errors=True)
    if stale:
        logger.warning("removed %d temporary folder(s) an earlier interrupted run left in %s: %s",
                       len(stale), folder, ", ".join(e.name for e in stale))
    return stale


def _owner_alive(name: str) -> bool:
    """Whether the process named in a staging folder's name (``…tmp-PID-XXXX``) still runs."""
    found = re.search(r"tmp-(\d+)-[0-9a-f]+$", name)
    if found is None:
        return False  # an earlier gridkit's name: no process id, never in use by this run
    pid = int(found.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _no_interrupt() -> Iterator[None]:
    """Hold Ctrl-C back while files are moved into place; raise it once they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    if caught:
        raise KeyboardInterrupt


def _move_written(staging: Path, path: Path, ext: str) -> None:
    """Move the files written in ``staging`` to ``path`` (a Shapefile's sidecars too)."""
    written = [p for p in staging.iterdir() if p.is_file()]
    for file in written:
        with open(file, "rb") as f:
            os.fsync(f.fileno())
    if ext == ".shp":
        names = {p.name for p in written}
        for sidecar in SHAPEFILE_SIDECARS:
            for stale in (path.with_suffix(sidecar), path.with_suffix(sidecar.upper())):
                if stale.name not in names and stale.is_file():
                    stale.unlink()
    main = staging / path.name
    for file in written:
        if file != main:
            os.replace(file, path.parent / file.name)
    os.replace(main, path)


def _merge_into(source: Path, target: Path) -> None:
    """Move everything in ``source`` into ``target``, replacing entries of the same name.

    A file never replaces a folder nor a folder a file: that is refused before anything moves.
    """
    clash = _first_clash(source, target)
    if clash is not None:
        entry, dest = clash
        kind, other = ("file", "folder") if entry.is_file() else ("folder", "file")
        raise OutputError(
            f"cannot write the {kind} {dest.name!r}: a {other} of that name is in the way; nothing was written",
            path=dest, hint=f"remove or rename the {other}, or choose another -o",
        )
    _move_into(source, target)


def _first_clash(source: Path, target: Path) -> tuple[Path, Path] | None:
    for entry in source.iterdir():
        dest = target / entry.name
        if not dest.exists():
            continue
        if entry.is_dir() != dest.is_dir():
            return entry, dest
        if entry.is_dir():
            found = _first_clash(entry, dest)
            if found is not None:
                return found
    return None


def _move_into(source: Path, target: Path) -> None:
    for entry in source.iterdir():
        dest = target / entry.name
        if entry.is_file():
            with open(entry, "rb") as f:
                os.fsync(f.fileno())
        if entry.is_dir() and dest.is_dir():
            _move_into(entry, dest)
            continue
        os.replace(entry, dest)


# ----------------------------------------------------------------------------- formats


def _write_format(path: Path) -> str:
    name = path.name.lower()
    for ext in sorted(SUPPORTED_WRITE, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    raise ParameterError(
        f"cannot write {path.suffix or 'files without an extension'!r}", path=path,
        hint=f"use one of {', '.join(SUPPORTED_WRITE)}",
    )


def _check_layers(path: Path, ext: str, layers: Mapping[str, gpd.GeoDataFrame], encoding: str | None) -> None:
    if not layers:
        raise ParameterError("no layers to write", path=path)
    if ext != ".gpkg" and len(layers) != 1:
        raise ParameterError(
            f"a {SUPPORTED_WRITE[ext]} file holds one layer, got {len(layers)}: {', '.join(layers)}",
            path=path, hint="write a .gpkg, or one file per layer",
        )
    if encoding is not None and ext != ".shp":
        raise ParameterError(f"{SUPPORTED_WRITE[ext]} text is always UTF-8", path=path,
                             hint="leave out encoding")
    for name, gdf in layers.items():
        if not isinstance(gdf, gpd.GeoDataFrame):
            raise ParameterError(f"layer {name!r} is a {type(gdf).__name__}, not a GeoDataFrame", path=path)
        if gdf.crs is None:
            raise ParameterError(f"layer {name!r} has no CRS", path=path,
                                 hint="set one with .set_crs() first")


def _frame_for_ogr(gdf: gpd.GeoDataFrame, *, keep_fid: bool) -> gpd.GeoDataFrame:
    """The frame to hand to pyogrio: an integer index as fid (GeoPackage), a named index as a field."""
    index = gdf.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None
    if default:
        return gdf
    integer = pd.api.types.is_integer_dtype(index) and index.is_unique
    as_fid = keep_fid and integer and index.name in (None, "fid")
    if as_fid and "fid" not in gdf.columns:
        return gdf.reset_index(names="fid")
    if index.name is not None and index.name not in gdf.columns:
        return gdf.reset_index()
    return gdf.reset_index(drop=True)


def _utc_datetimes(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Time-zone aware datetime columns (and columns of aware Timestamps) in UTC, as GeoPackage stores them."""
    changed = {}
    for name in gdf.columns:
        if name == gdf.geometry.name:
            continue
        column = gdf[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            if str(column.dtype.tz) != "UTC":
                changed[name] = column.dt.tz_convert("UTC")
        elif column.dtype == object:
            filled = column.dropna()
            if len(filled) and all(isinstance(v, pd.Timestamp) and v.tzinfo is not None for v in filled):
                changed[name] = pd.to_datetime(column, utc=True)
    return gdf.assign(**changed) if changed else gdf


def _write_gpkg(gdf: gpd.GeoDataFrame, target: Path, name: str, encoding: str | None) -> None:
    # DATETIME as the GeoPackage standard writes it (UTC, …T08:30:00.000Z): GDAL reads it without a warning
    frame = _utc_datetimes(_frame_for_ogr(gdf, keep_fid=True))
    pyogrio.write_dataframe(frame, target, layer=name, driver="GPKG",
                            layer_options={"DATETIME_PRECISION": "MILLISECOND"})


def _write_shapefile(gdf: gpd.GeoDataFrame, target: Path, name: str, encoding: str | None) -> None:
    frame = _frame_for_ogr(gdf, keep_fid=False)
    pyogrio.write_dataframe(frame, target, driver="ESRI Shapefile", encoding=encoding or "UTF-8")


def _write_geojson(gdf: gpd.GeoDataFrame, target: Path, name: str, encoding: str | None) -> None:
    pyogrio.write_dataframe(_frame_for_ogr(gdf, keep_fid=False), target, layer=name, driver="GeoJSON")


def _write_parquet(gdf: gpd.GeoDataFrame, target: Path, name: str, encoding: str | None) -> None:
    try:
        importlib.import_module("pyarrow")
    except ImportError:
        raise DependencyError("writing GeoParquet needs the pyarrow package",
                              hint="pip install pyarrow") from None
    gdf.to_parquet(target)


_WRITERS: dict[str, Callable[[gpd.GeoDataFrame, Path, str, str | None], None]] = {
    ".gpkg": _write_gpkg,
    ".shp": _write_shapefile,
    ".geojson": _write_geojson,
    ".json": _write_geojson,
    ".parquet": _write_parquet,
    ".geoparquet": _write_parquet,
}
