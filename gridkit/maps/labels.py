"""The words on a gridkit map, in Chinese (the default) and English.

Examples
--------
>>> label("grids", "zh"), label("grids", "en")
('网格', 'grids')
>>> field_alias("households", "en")
'households'
"""

from __future__ import annotations

from typing import Literal

from gridkit.errors import ParameterError

__all__ = ["LANGS", "Lang", "field_alias", "label"]

Lang = Literal["zh", "en"]
LANGS: tuple[str, ...] = ("zh", "en")

_LABELS: dict[str, tuple[str, str]] = {
    # layers
    "communities": ("社区/村", "communities"),
    "grids": ("网格", "grids"),
    "buildings": ("建筑", "buildings"),
    "streets": ("街巷", "streets"),
    "components": ("部件", "components"),
    "incidents": ("事件热力", "incident heat"),
    "incidents_by_week": ("事件热力（按周）", "incident heat by week"),
    "alerts": ("预警网格", "alerts"),
    "routes": ("巡查路线", "patrol routes"),
    "bases": ("巡查起点", "patrol bases"),
    "tracks": ("巡查轨迹", "patrol tracks"),
    "stops": ("停留点", "stops"),
    "basemap": ("底图", "basemap"),
    "other": ("其他", "other"),
    # notes shown on the map
    "notes": ("说明", "notes"),
    "gcj02_note": ("叠加图层已转换为 GCJ-02 坐标以对齐高德底图",
                   "overlays converted to GCJ-02 to line up with the Amap basemap"),
    "shown_of": ("显示 {shown:,} / {total:,}（均匀抽样）", "{shown:,} of {total:,} shown (evenly sampled)"),
    "incident_bins": ("{n:,} 起事件，按周汇总到约 {cell} 米格元，{weeks} 周",
                      "{n:,} incidents, summed per week on cells of about {cell} m, {weeks} weeks"),
    "components_canvas": ("{n:,} 个部件全部画出（无提示框），{zoom} 级以下按屏幕方格计数",
                          "all {n:,} components drawn (no tooltips), counted per square of the screen below zoom {zoom}"),
    "incident_cells_grown": ("事件格元由 {wanted} 米放大到 {cell} 米，页面最多 {cells:,} 个格元周，保持轻量",
                             "incident cells enlarged from {wanted} m to {cell} m: "
                             + "at most {cells:,} cell-weeks keep the page light"),
    "incident_weeks_cut": ("仅显示最近 {weeks} 周（共 {total} 周）", "latest {weeks} of {total} weeks shown"),
    "incident_untimed": ("{n:,} 起事件无有效时间，未进入时间轴", "{n:,} incidents without a valid time left out of the slider"),
    "incident_static": ("{n:,} 起事件（无时间字段，静态热力图）", "{n:,} incidents (no time field: a static heat layer)"),
    "fixes_untimed": ("{n:,} 个定位点无有效时间，未画入轨迹", "{n:,} GPS fixes without a valid time left out of the tracks"),
    "fixes_single": ("{n:,} 个工作日只有一个定位点，未成线", "{n:,} worker-days with a single fix drawn as no line"),
    "fixes_lines": ("{n:,} 个定位点连成 {lines:,} 条轨迹（每人每天一条）",
                    "{n:,} GPS fixes joined into {lines:,} tracks (one per worker and day)"),
    "alerts_unknown": ("{n} 条预警的网格编码不在网格图层中：{codes}", "{n} alerts name grid codes not in the grids: {codes}"),
    "alerts_missing_codes": ("{n} 条预警无网格编码", "{n} alerts without a grid code"),
    "undrawn": ("{layer}：{n:,} 个要素无几何，未绘制", "{layer}: {n:,} features without geometry not drawn"),
    "dedicated": ("专属网格", "dedicated grid"),
    "outside_bounds": ("户数超出范围", "households out of bounds"),
    # the sign-off page of a partition
    "serials": ("网格序号", "grid serials"),
    "from_zoom": ("{layer}（{zoom} 级起显示）", "{layer} (from zoom {zoom})"),
    "community_mean": ("社区平均", "community mean"),
    "mean_of": ("{mean:,.0f} 户（{n} 个常规网格）", "{mean:,.0f} households ({n} regular grids)"),
    "deviation": ("偏离平均", "from the mean"),
    "dedicated_no_mean": ("专属网格，不计入平均", "dedicated grid, not in the mean"),
    "outside_tolerance": ("户数偏离社区平均 {dev}，超出容差 ±{tol}",
                          "households {dev} from the community mean, outside the tolerance ±{tol}"),
    "legend_title": ("网格户数（相对社区平均）", "grid households (vs the community mean)"),
    "legend_rule": ("违反规则（原因见提示）", "breaks a rule (reason in the tooltip)"),
    "legend_tolerance": ("超出容差 ±{tol}", "outside the tolerance ±{tol}"),
    "legend_no_data": ("无户数", "no households"),
    "legend_community": ("社区/村界", "community boundary"),
    "legend_serial": ("数字：网格序号（编码后三位）", "numbers: grid serial (last 3 digits of the code)"),
    "legend_buildings": ("建筑自 {zoom} 级起显示", "buildings from zoom {zoom}"),
    "issue_of_community": ("{community}：{rule}，{reason}", "{community}: {rule}, {reason}"),
    "issues_unknown": ("{n} 条问题记录的网格编码不在网格图层中：{codes}",
                       "{n} issues name grid codes not in the grids: {codes}"),
    "context_near": ("{layer}：显示网格附近的 {shown:,} / {total:,}", "{layer}: {shown:,} of {total:,} near the grids drawn"),
    "rule_households_within_bounds": ("户数超出范围", "households out of bounds"),
    "rule_one_piece": ("网格不连片", "grid not in one piece"),
    "rule_inside_one_community": ("超出所属社区", "outside its community"),
    "rule_tiles_community": ("网格未铺满社区", "grids do not tile the community"),
    "rule_building_not_split": ("建筑被网格边界分割", "buildings split by a grid boundary"),
    "rule_households_conserved": ("户数未全部计入", "households not all counted"),
}

_FIELDS: dict[str, tuple[str, str]] = {
    "grid_code": ("网格编码", "grid code"),
    "grid_name": ("网格名称", "grid name"),
    "community_code": ("社区编码", "community code"),
    "community_name": ("社区", "community"),
    "dedicated_name": ("专属单位", "dedicated unit"),
    "households": ("户数", "households"),
    "population": ("人口", "population"),
    "buildings": ("建筑数", "buildings"),
    "area_m2": ("面积（平方米）", "area (m²)"),
    "compactness": ("紧凑度", "compactness"),
    "worker": ("网格员", "worker"),
    "worker_name": ("网格员", "worker"),
    "worker_id": ("网格员编号", "worker id"),
    "phone": ("电话", "phone"),
    "name": ("名称", "name"),
    "code": ("编码", "code"),
    "category": ("类别", "category"),
    "category_name": ("类别", "category"),
    "component_id": ("部件编码", "component id"),
    "length_m": ("长度（米）", "length (m)"),
    "deadhead_m": ("重复行走（米）", "deadhead (m)"),
    "est_minutes": ("预计用时（分钟）", "estimated minutes"),
    "coverage_share": ("覆盖率", "coverage"),
    "date": ("日期", "date"),
    "day": ("日期", "day"),
    "distance_m": ("距离（米）", "distance (m)"),
    "duration_s": ("停留（秒）", "dwell (s)"),
    "minutes": ("分钟", "minutes"),
    "start": ("开始", "start"),
    "end": ("结束", "end"),
    "count": ("数量", "count"),
    "observed": ("观测数", "observed"),
    "expected": ("预期数", "expected"),
    "baseline": ("基线", "baseline"),
    "baseline_mean": ("基线均值", "baseline mean"),
    "category_zh": ("类别", "category"),
    "category_en": ("类别", "category"),
    "p_value": ("p 值", "p-value"),
    "ratio": ("倍数", "ratio"),
    "top_category": ("主要类别", "main category"),
    "window_start": ("窗口开始", "window start"),
    "window_end": ("窗口结束", "window end"),
    "level": ("级别", "level"),
    "reason": ("原因", "reason"),
    "message": ("说明", "message"),
}


def check_lang(lang: str) -> Lang:
    """Return ``lang`` when it is ``"zh"`` or ``"en"``; raise :class:`ParameterError` otherwise."""
    if lang not in LANGS:
        raise ParameterError(f"unknown language {lang!r}", field="lang", hint='use "zh" or "en"')
    return lang  # type: ignore[return-value]


def label(key: str, lang: Lang = "zh", **values: object) -> str:
    """The text for ``key`` in ``lang``, formatted with ``values``."""
    text = _LABELS[key][LANGS.index(check_lang(lang))]
    return text.format(**values) if values else text


def has_label(key: str) -> bool:
    """True when ``key`` has words in :data:`_LABELS`."""
    return key in _LABELS


def field_alias(field: str, lang: Lang = "zh") -> str:
    """A readable name for an attribute field; unknown fields keep their own name."""
    pair = _FIELDS.get(field)
    return pair[LANGS.index(check_lang(lang))] if pair else field
