"""Bundled sample data.

The samples live in the repository's ``data/`` folder; an installed (non-editable)
gridkit finds its copy under ``<prefix>/share/gridkit/data``.

Examples
--------
>>> get_path("sample_county").name
'sample_county'
"""

from __future__ import annotations

import sys
from pathlib import Path

from gridkit.errors import ParameterError

__all__ = ["available", "data_root", "get_path"]

_NAMES = ("sample_county", "helsinki")


def data_root(name: str = "sample_county") -> Path:
    """The folder holding the bundled sample ``name``, in a checkout or an installation."""
    candidates = [
        Path(__file__).resolve().parent.parent / "data",
        Path(sys.prefix) / "share" / "gridkit" / "data",
    ]
    for folder in candidates:
        if (folder / name).is_dir():
            return folder
    raise ParameterError(
        "the bundled sample data is not installed",
        hint=f"reinstall gridkit from its source tree (looked in {', '.join(map(str, candidates))})",
    )


def available() -> tuple[str, ...]:
    """Names of the bundled samples."""
    return _NAMES


def get_path(name: str, filename: str | None = None) -> Path:
    """Path of a bundled sample folder, or of one file in it.

    Parameters
    ----------
    name
        One of :func:`available`.
    filename
        A file inside the sample folder.
    """
    if name not in _NAMES:
        raise ParameterError(f"no bundled sample named {name!r}", hint=f"use one of {', '.join(_NAMES)}")
    path = data_root(name) / name
    if filename is not None:
        path = path / filename
        if not path.exists():
            have = sorted(p.name for p in path.parent.iterdir())
            raise ParameterError(f"sample {name!r} has no file {filename!r}", hint=f"it has {', '.join(have)}")
    return path
