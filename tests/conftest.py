"""Test-suite settings: nothing the suite writes lands in the checkout."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gridkit" / "hypothesis"

# Hypothesis keeps the failing examples it found between runs; keep them beside the ruff and
# mypy caches (pyproject.toml), not in a .hypothesis/ folder of the checkout.
settings.register_profile("gridkit", database=DirectoryBasedExampleDatabase(str(_CACHE)))
settings.load_profile("gridkit")
