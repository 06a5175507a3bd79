"""Components (部件) and incidents (事件) in their grids: attach, categories, counts, case indicators.

- :mod:`~gridkit.incidents.attach`: points into grids (edge tie-break, outside distances), reading points;
- :mod:`~gridkit.incidents.categories`: the category tables and each point's category names;
- :mod:`~gridkit.incidents.stats`: counts per grid (by major category, per km², per household, per km of street);
- :mod:`~gridkit.incidents.cases`: each case's state at an evaluation time, the indicators per grid or worker;
- :mod:`~gridkit.incidents.evaluation`: the ranked evaluation (考核) tables and report;
- :mod:`~gridkit.incidents.workcal`: working time for deadlines (weekdays, periods, holidays);
- :mod:`~gridkit.incidents.job`: the ``gridkit attach`` verb (read, compute, write);
- larger than memory: :mod:`~gridkit.incidents.chunks` (reading in chunks), :mod:`~gridkit.incidents.stream`
  (one chunk, the job in one process within a budget), :mod:`~gridkit.incidents.reduce` (the figures added
  up), :mod:`~gridkit.incidents.spill` (exact medians and id checks from disk),
  :mod:`~gridkit.incidents.distributed` (the chunks on Dask).
"""

from gridkit.incidents.attach import attach_points, read_points
from gridkit.incidents.cases import case_indicators, cases_from_incidents, due_times, time_limits
from gridkit.incidents.categories import categories_for_points, component_categories, event_categories
from gridkit.incidents.evaluation import evaluation_table
from gridkit.incidents.job import AttachOptions, AttachResult, attach_job
from gridkit.incidents.stats import grid_stats
from gridkit.incidents.workcal import WorkingCalendar, calendar_from_csv

__all__ = [
    "AttachOptions",
    "AttachResult",
    "WorkingCalendar",
    "attach_job",
    "attach_points",
    "calendar_from_csv",
    "case_indicators",
    "cases_from_incidents",
    "categories_for_points",
    "component_categories",
    "due_times",
    "evaluation_table",
    "event_categories",
    "grid_stats",
    "read_points",
    "time_limits",
]
