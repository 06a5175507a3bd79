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
import logging
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

import geopandas as gpd

from gridkit._types import PathLike
from gridkit.errors import OutputError
from gridkit.io._formats import SUPPORTED_WRITE, WRITERS, check_layers, write_format
from gridkit.io.failures import output_errors
from gridkit.io.shapefile import SHAPEFILE_SIDECARS

__all__ = ["SUPPORTED_WRITE", "atomic_dir", "check_writable", "write_layers", "write_text"]

logger = logging.getLogger(__name__)
_INSIDE = ".gridkit-tmp-"
# staging folders in a folder: ours, an earlier gridkit's (export's, files' written beside), any file's beside
_ANY_STAGING = re.compile(r"\.(gridkit-tmp-|gridkit-export-|.+\.tmp-)")


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
    ext = write_format(path)
    check_layers(path, ext, layers, encoding)
    if path.is_dir():
        raise OutputError("the output is a folder, not a file", path=path,
                          hint=f"give a file name, e.g. {path / ('layers' + ext)}")
    with output_errors(path):
        _make_folder(path.parent)
        with _staging(path) as staging:
            target = staging / path.name
            for name, gdf in layers.items():
                WRITERS[ext](gdf, target, name, encoding)
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


def check_writable(path: PathLike, *, folder: bool = False) -> None:
    """Raise :class:`~gridkit.errors.OutputError` now when ``path`` could not be written later.

    For commands that work long before they write: the nearest existing folder of
    ``path`` (where the staging folder will be made) must accept a new entry, which is
    tried by making and removing one; with ``folder``, ``path`` must not be a file. A full
    disk is found only when the outputs are written.
    """
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise OutputError("the output folder is a file", path=path,
                          hint="choose another -o folder, or remove or rename the file")
    with output_errors(path):
        nearest = next((p for p in (path, *path.parents) if p.is_dir()), Path.cwd())
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise OutputError("the output folder is a file", path=blocking,
                              hint="choose another -o folder, or remove or rename the file")
        probe = nearest / f"{_INSIDE}{os.getpid()}-{secrets.token_hex(4)}"
        probe.mkdir()
        probe.rmdir()


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
    _remove_stale(folder, _ANY_STAGING if inside else re.compile(re.escape(prefix)))
    staging = folder / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _remove_stale(folder: Path, names: re.Pattern[str]) -> list[Path]:
    """Remove the staging folders matching ``names`` an earlier, killed run left in ``folder``.

    A staging folder is stale when the process named in it is gone, or it names none
    (an earlier gridkit's); those of runs still going are kept.
    """
    try:
        entries = [e for e in folder.iterdir() if names.match(e.name) and e.is_dir()]
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


