"""Check any grid plan against the rules of grid management (``gridkit check``).

- :mod:`~gridkit.check.options` — :class:`CheckOptions`, every option checked;
- :mod:`~gridkit.check.checker` — :func:`check_grids`: the plan read as it is, every rule
  of :data:`gridkit.partition.rules.RULES` and :data:`~gridkit.partition.rules.SOFT_RULES`
  checked, the findings with their place, severity and figures (:class:`CheckResult`);
- :mod:`~gridkit.check.report` — the report as data, Markdown and JSON;
- :mod:`~gridkit.check.job` — :func:`check_files`: files in, ``report.md``, ``report.json``
  and ``problems.gpkg`` out.
"""

from __future__ import annotations

from gridkit.check.checker import PROBLEM_COLUMNS, SEVERITIES, CheckResult, check_grids
from gridkit.check.job import CheckFiles, CheckRun, check_files
from gridkit.check.options import CheckOptions

__all__ = ["PROBLEM_COLUMNS", "SEVERITIES", "CheckFiles", "CheckOptions", "CheckResult", "CheckRun", "check_files",
           "check_grids"]
