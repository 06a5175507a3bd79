"""Output failures named as what they are: :class:`~gridkit.errors.OutputError` with the path and a fix.

:func:`output_errors` wraps every write of :mod:`gridkit.io.write`: a full disk, a folder
that is not writable, a read-only file system, a file where a folder is expected (or the
other way round) and GDAL's "Failed to commit transaction" become an ``OutputError``
naming the output as the user gave it (:func:`public_path`: never the staging folder);
every other exception passes unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyogrio.errors

from gridkit._types import PathLike
from gridkit.errors import GridkitError, OutputError

__all__ = ["output_errors", "public_path"]

_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)
_GDAL_FULL = re.compile(r"no space left|disk is full|disk full|failed to commit transaction|"
                        r"database or disk is full|write error|short write", re.IGNORECASE)
_GDAL_DENIED = re.compile(r"permission denied|read-only file system|readonly database", re.IGNORECASE)
_GDAL_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
                pyogrio.errors.FeatureError, pyogrio.errors.GeometryError)
# a write that fails with less than this left on the disk failed for want of space
_NEARLY_FULL_BYTES = 1 << 20
INSIDE_NAME = re.compile(r"\.gridkit-tmp-\d+-[0-9a-f]+")
BESIDE_NAME = re.compile(r"\.(.+)\.tmp-\d+-[0-9a-f]+")


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
        if INSIDE_NAME.fullmatch(part):
            continue
        beside = BESIDE_NAME.fullmatch(part)
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
    """Whether an error's file is the output, inside it, one of its folders, or in one of them (staging)."""
    try:
        a, b = named.resolve(), path.resolve()
    except OSError:
        return True
    return a == b or b in a.parents or a.parent in (b, *b.parents)

