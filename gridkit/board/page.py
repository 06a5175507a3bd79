"""The notice board as one self-contained HTML page, A3 landscape, and the index of boards.

Nothing on the page comes from outside it: the map is inline SVG, the QR code is inline
SVG (segno), photos are ``data:`` URIs and fonts are the system's (Noto Sans CJK SC first).
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

import segno

from gridkit.board.facts import BoardFacts, Contact, Worker

__all__ = ["LABELS", "MAP_PANEL_MM", "PAGE_MM", "board_page", "index_page", "qr_svg"]

#: A3 landscape, millimetres.
PAGE_MM = (420.0, 297.0)
#: The map panel's inner size on the page, millimetres (the scene is built for it).
MAP_PANEL_MM = (241.0, 211.0)
FONT_STACK = ('"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", '
              '"PingFang SC", "WenQuanYi Micro Hei", sans-serif')

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "网格公示牌", "code": "网格编码", "households": "户数", "population": "人口",
        "area": "面积", "buildings": "楼栋", "hh_unit": "户", "pop_unit": "人", "bld_unit": "栋",
        "estimated": "估算", "worker": "网格员", "name": "姓名", "phone": "电话", "photo": "照片",
        "hotlines": "服务热线", "national": "紧急求助", "duties": "网格员职责", "issued": "发布日期",
        "scan": "扫码查看电子版", "map": "网格范围图", "legend_grid": "本网格", "legend_neighbour": "相邻网格",
        "legend_building": "本网格建筑", "legend_other": "其他建筑", "legend_street": "道路",
        "legend_base": "巡查起点", "legend_route": "巡查路线", "no_contacts": "（请填写社区服务电话）",
        "pop_note": "人口按户数 × {pph} 人/户估算", "pop_field": "人口取自网格数据",
        "issuer": "{community}", "kind_city": "城市社区网格", "kind_rural": "农村网格",
        "dedicated": "专属网格", "index_title": "网格公示牌目录", "boards": "块公示牌",
        "supervise": "欢迎群众监督",
    },
    "en": {
        "title": "Grid Notice Board", "code": "Grid code", "households": "Households", "population": "Population",
        "area": "Area", "buildings": "Buildings", "hh_unit": "", "pop_unit": "", "bld_unit": "",
        "estimated": "est.", "worker": "Grid worker", "name": "Name", "phone": "Phone", "photo": "Photo",
        "hotlines": "Service hotlines", "national": "Emergency", "duties": "Duties of the grid worker",
        "issued": "Issued", "scan": "Scan for the online version", "map": "Map of the grid",
        "legend_grid": "This grid", "legend_neighbour": "Neighbouring grids", "legend_building": "Buildings in the grid",
        "legend_other": "Other buildings", "legend_street": "Streets", "legend_base": "Patrol base", "legend_route": "Patrol route",
        "no_contacts": "(community service number)", "pop_note": "population estimated as households x {pph}",
        "pop_field": "population from the grid data", "issuer": "{community}", "kind_city": "urban grid",
        "kind_rural": "rural grid", "dedicated": "dedicated grid", "index_title": "Grid notice boards",
        "boards": "boards", "supervise": "Your feedback is welcome",
    },
}

_CSS = """
@page { size: A3 landscape; margin: 0; }
* { box-sizing: border-box; margin: 0; padding: 0; }
html, body { font-family: FONTS; color: #222; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media screen { body { background: #8a8a8a; padding: 12px; } .board { margin: 0 auto; box-shadow: 0 2px 14px #0006; } }
.board { width: 420mm; height: 297mm; overflow: hidden; background: #fff; position: relative;
  display: grid; grid-template-rows: 38mm 1fr 9mm; padding: 0 11mm 6mm 11mm; row-gap: 5mm; }
.board::before { content: ""; position: absolute; left: 0; right: 0; top: 0; height: 38mm;
  background: linear-gradient(90deg, #b71c1c, #d32f2f 55%, #c62828); }
header { position: relative; display: flex; align-items: center; gap: 8mm; color: #fff; }
header .titles { flex: 1; min-width: 0; }
header .kicker { display: inline-block; font-size: 15pt; letter-spacing: 0.35em; font-weight: 700;
  border: 0.6mm solid #ffffffcc; padding: 0.6mm 3mm 0.6mm 4mm; border-radius: 1.2mm; }
header h1 { font-size: 36pt; font-weight: 900; line-height: 1.35; margin-top: 0.5mm; letter-spacing: 0.04em;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
header .code { text-align: right; font-size: 12pt; line-height: 1.5; }
header .code b { display: block; font-size: 22pt; letter-spacing: 0.06em; font-variant-numeric: tabular-nums; }
header .qr { background: #fff; padding: 1.5mm; border-radius: 1.5mm; width: 31mm; height: 31mm; }
header .qr svg { width: 100%; height: 100%; display: block; }
main { display: grid; grid-template-columns: 1fr 146mm; column-gap: 7mm; min-height: 0; }
figure.mapbox { display: grid; grid-template-rows: 1fr 8mm; border: 0.5mm solid #9e9e9e; min-height: 0; }
figure.mapbox svg.map { width: 100%; height: 100%; display: block; }
figcaption { display: flex; align-items: center; gap: 5mm; padding: 0 3mm; font-size: 10.5pt; color: #444;
  border-top: 0.3mm solid #bdbdbd; background: #fafafa; }
figcaption i { display: inline-block; width: 6mm; height: 3.6mm; vertical-align: -0.5mm; margin-right: 1.3mm;
  border-radius: 0.4mm; }
figcaption .title { font-weight: 700; color: #222; margin-right: auto; }
aside { display: flex; flex-direction: column; gap: 4mm; min-height: 0; }
.stats { display: grid; grid-template-columns: 1fr 1fr; gap: 2.5mm; }
.stat { background: #fbf3f2; border-left: 1.6mm solid #c62828; padding: 1.6mm 3mm 1.6mm 3.5mm; }
.stat .k { font-size: 12pt; color: #6d4c4a; }
.stat .v { font-size: 26pt; font-weight: 800; line-height: 1.15; font-variant-numeric: tabular-nums; }
.stat .v small { font-size: 12pt; font-weight: 600; margin-left: 1mm; }
.stat .n { font-size: 9.5pt; color: #8d6e6c; }
h2 { font-size: 15.5pt; font-weight: 800; color: #b71c1c; border-bottom: 0.5mm solid #e0b4b1;
  padding-bottom: 0.8mm; margin-bottom: 2mm; letter-spacing: 0.08em; }
.crew { display: flex; flex-direction: column; gap: 2.5mm; }
.person { display: flex; gap: 5mm; align-items: center; }
.photo { flex: none; width: 28mm; height: 37mm; border: 0.5mm solid #9e9e9e; background: #f5f5f5;
  display: flex; align-items: center; justify-content: center; color: #9e9e9e; font-size: 13pt;
  letter-spacing: 0.3em; overflow: hidden; }
.photo img { width: 100%; height: 100%; object-fit: cover; display: block; }
.people { display: grid; grid-template-columns: 1fr; gap: 3mm; }
.crew-2 .people { grid-template-columns: 1fr 1fr; } .crew-3 .people { grid-template-columns: 1fr 1fr 1fr; }
.crew-2 .person, .crew-3 .person { gap: 2.5mm; align-items: flex-start; }
.crew-2 .photo, .crew-3 .photo { width: 17mm; height: 23mm; font-size: 9pt; letter-spacing: 0.1em; }
.person .who { font-size: 12pt; color: #555; line-height: 1.6; }
.person .who b { display: block; font-size: 26pt; color: #111; font-weight: 800; line-height: 1.25; letter-spacing: 0.08em; }
.person .who .tel { font-size: 20pt; color: #b71c1c; font-weight: 700; font-variant-numeric: tabular-nums; }
.crew-2 .who b, .crew-3 .who b { font-size: 16pt; letter-spacing: 0.02em; }
.crew-2 .who .tel { font-size: 13pt; } .crew-3 .who .tel { font-size: 10pt; }
.who .tel { white-space: nowrap; } html:lang(en) header .kicker { letter-spacing: 0.06em; }
.crew-3 .who .tel .k { display: none; }
.blank { display: inline-block; width: 45mm; border-bottom: 0.4mm solid #777; }
table.hot { width: 100%; border-collapse: collapse; font-size: 13.5pt; }
table.hot td { padding: 0.9mm 0; border-bottom: 0.25mm dotted #c8c8c8; }
table.hot td.p { text-align: right; font-weight: 700; font-size: 16pt; font-variant-numeric: tabular-nums; }
.national { margin-top: 2mm; font-size: 11.5pt; color: #444; display: flex; flex-wrap: wrap; gap: 1mm 4mm; }
.national b { color: #b71c1c; font-size: 13.5pt; }
ol.duties { list-style: none; counter-reset: d; font-size: 12pt; line-height: 1.45; }
ol.duties li { counter-increment: d; position: relative; padding-left: 7mm; margin-bottom: 1.4mm; }
ol.duties li::before { content: counter(d); position: absolute; left: 0; top: 0.9mm; width: 5mm; height: 5mm;
  border-radius: 50%; background: #c62828; color: #fff; font-size: 9pt; text-align: center; line-height: 5mm; font-weight: 700; }
.duties-box { flex: 1; min-height: 0; overflow: hidden; }
aside.dense { gap: 3mm; } aside.dense ol.duties { font-size: 11.5pt; line-height: 1.4; }
aside.dense table.hot td { padding: 0.5mm 0; } aside.dense table.hot td.p { font-size: 14pt; }
aside.dense .stat .v, aside.denser .stat .v { font-size: 22pt; }
aside.denser { gap: 2.5mm; } aside.denser ol.duties { font-size: 9.5pt; line-height: 1.3; }
aside.denser table.hot { font-size: 11.5pt; } aside.denser table.hot td { padding: 0.3mm 0; }
aside.denser table.hot td.p { font-size: 12.5pt; } aside.denser h2 { font-size: 13pt; margin-bottom: 1mm; }
footer { display: flex; align-items: center; gap: 6mm; font-size: 10.5pt; color: #555; border-top: 0.6mm solid #c62828; }
footer .grow { flex: 1; }
"""


def board_page(facts: BoardFacts, map_svg: str, *, legend_base: bool = False, legend_route: bool = False) -> str:
    """The HTML of one notice board from its facts and its map (an inline ``<svg>``)."""
    t = LABELS[facts.lang]
    e = escape
    kind = t["dedicated"] if facts.dedicated_name else (t["kind_rural"] if _rural(facts.grid_code) else t["kind_city"])
    return "".join([
        f'<!DOCTYPE html><html lang="{"zh-CN" if facts.lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f'<meta name="grid-code" content="{e(facts.grid_code)}">',
        f"<title>{e(t['title'])} · {e(facts.name)}</title>",
        f"<style>{_CSS.replace('FONTS', FONT_STACK)}</style></head><body>",
        '<div class="board">',
        '<header><div class="titles">',
        f'<span class="kicker">{e(t["title"])}</span>',
        f'<h1 class="grid-name">{e(facts.name)}</h1></div>',
        f'<div class="code">{e(t["code"])}<b class="grid-code">{e(facts.grid_code)}</b>{e(kind)} · {e(t["scan"])}</div>',
        f'<div class="qr" title="{e(facts.url)}">{qr_svg(facts.url)}</div>',
        "</header><main>",
        '<figure class="mapbox">', map_svg, _legend(t, legend_base, legend_route), "</figure>",
        f'<aside class="{_density(facts)}">', _stats(facts, t), _crew(facts.workers, t), _hotlines(facts.contacts, facts.national, t),
        _duties(facts.duties, t), "</aside></main>",
        _footer(facts, t),
        "</div></body></html>",
    ])


def _density(f: BoardFacts) -> str:
    """How tightly the side column is set: more hotlines and workers leave less room for the duties."""
    load = min(len(f.contacts), 6) + (len(f.workers) > 3)
    load += max(sum(len(d) for d in f.duties) - 300, 0) // 45
    return "" if load <= 1 else ("dense" if load <= 4 else "denser")


def _rural(code: str) -> bool:
    return len(code) >= 12 and code[9:12].isdigit() and 200 <= int(code[9:12]) < 400


def _legend(t: dict[str, str], base: bool, route: bool) -> str:
    items = [("#fff4de; border: 0.7mm solid #c62828", t["legend_grid"]), ("#dedbd4", t["legend_neighbour"]),
             ("#c9a882", t["legend_building"]), ("#cdc9c1", t["legend_other"]),
             ("#fff; border: 0.5mm solid #b3aea4", t["legend_street"])]
    if route:
        items.append((("repeating-linear-gradient(90deg, #1565c0 0 1.6mm, transparent 1.6mm 2.6mm); height: 0.7mm; "
                      "vertical-align: 0.8mm"), t["legend_route"]))
    if base:
        items.append(("#1565c0; border-radius: 50%; width: 3.6mm", t["legend_base"]))
    spans = "".join(f'<span><i style="background: {style}"></i>{escape(text)}</span>' for style, text in items)
    return f'<figcaption><span class="title">{escape(t["map"])}</span>{spans}</figcaption>'


def _number(value: int) -> str:
    return f"{value:,}"


def area_text(m2: float, lang: str) -> tuple[str, str, str]:
    """The area as (value, unit, note): km² from 0.1 km² up, m² below."""
    if m2 >= 100_000:
        return f"{m2 / 1e6:.2f}", "km²", f"{m2:,.0f} m²"
    return f"{m2:,.0f}", "m²", f"{m2 / 1e6:.3f} km²"


def _stats(f: BoardFacts, t: dict[str, str]) -> str:
    area, unit, note = area_text(f.area_m2, f.lang)
    pph = f"{f.persons_per_household:g}"
    pop_note = t["pop_note"].format(pph=pph) if f.population_estimated else t["pop_field"]
    approx = f.lang == "zh" and f.population_estimated and f.population > 0
    pop_value = ("约" if approx else "") + _number(f.population)
    tiles = [
        ("households", t["households"], _number(f.households), t["hh_unit"], ""),
        ("population", t["population"], pop_value, t["pop_unit"], pop_note),
        ("area", t["area"], area, unit, note),
        ("buildings", t["buildings"], "—" if f.buildings is None else _number(f.buildings), t["bld_unit"], ""),
    ]
    out = ['<section class="stats">']
    for key, label, value, unit_text, sub in tiles:
        out.append(f'<div class="stat stat-{key}"><div class="k">{escape(label)}</div>'
                   f'<div class="v" data-value="{escape(value)}">{escape(value)}<small>{escape(unit_text)}</small></div>'
                   f'<div class="n">{escape(sub) or "&nbsp;"}</div></div>')
    out.append("</section>")
    return "".join(out)


def _photo(worker: Worker | None, t: dict[str, str]) -> str:
    if worker is None or worker.photo is None:
        return f'<div class="photo">{escape(t["photo"])}</div>'
    mime = "image/png" if worker.photo.suffix.lower() == ".png" else "image/jpeg"
    data = base64.b64encode(Path(worker.photo).read_bytes()).decode("ascii")
    return f'<div class="photo"><img alt="{escape(worker.name)}" src="data:{mime};base64,{data}"></div>'


def _crew(workers: tuple[Worker, ...], t: dict[str, str]) -> str:
    n = min(max(len(workers), 1), 3)
    out = [f'<section class="crew crew-{n}"><h2>{escape(t["worker"])}</h2><div class="people">']
    if not workers:
        out.append(f'<div class="person">{_photo(None, t)}<div class="who">{escape(t["name"])}：<span class="blank">'
                   f'</span><br>{escape(t["phone"])}：<span class="blank"></span></div></div>')
    for w in workers[:3]:
        out.append(f'<div class="person">{_photo(w, t)}<div class="who"><b class="worker-name">{escape(w.name)}</b>'
                   f'<span class="tel"><span class="k">{escape(t["phone"])} </span>{escape(w.phone)}</span></div></div>')
    out.append("</div>")
    if len(workers) > 3:
        rest = "、".join(f"{w.name} {w.phone}" for w in workers[3:])
        out.append(f'<div class="who">{escape(rest)}</div>')
    out.append("</section>")
    return "".join(out)


def _hotlines(contacts: tuple[Contact, ...], national: tuple[Contact, ...], t: dict[str, str]) -> str:
    out = [f'<section class="hotlines"><h2>{escape(t["hotlines"])}</h2><table class="hot">']
    if not contacts:
        out.append(f'<tr><td>{escape(t["no_contacts"])}</td><td class="p"><span class="blank"></span></td></tr>')
    for c in contacts[:6]:
        out.append(f"<tr><td>{escape(c.name)}</td><td class=\"p\">{escape(c.phone)}</td></tr>")
    out.append("</table>")
    if national:
        items = "".join(f"<span>{escape(c.name)} <b>{escape(c.phone)}</b></span>" for c in national)
        out.append(f'<div class="national">{items}</div>')
    out.append("</section>")
    return "".join(out)


def _duties(duties: tuple[str, ...], t: dict[str, str]) -> str:
    items = "".join(f"<li>{escape(d)}</li>" for d in duties)
    return f'<section class="duties-box"><h2>{escape(t["duties"])}</h2><ol class="duties">{items}</ol></section>'


def _footer(f: BoardFacts, t: dict[str, str]) -> str:
    issued = (f"{f.issued.year}年{f.issued.month}月{f.issued.day}日" if f.lang == "zh" else f.issued.isoformat())
    return (f'<footer><span>{escape(f.community_name)}</span><span>{escape(t["code"])} {escape(f.grid_code)}</span>'
            f'<span class="grow"></span><span>{escape(t["supervise"])}</span>'
            f'<span class="issued">{escape(t["issued"])}{"：" if f.lang == "zh" else ": "}{escape(issued)}</span></footer>')


def qr_svg(url: str) -> str:
    """A QR code for ``url`` as an inline ``<svg>`` (no XML namespace, no external reference).

    >>> qr_svg("520199001001011.html").startswith("<svg")
    True
    """
    code = segno.make(url, error="m", micro=False)
    return code.svg_inline(scale=1, border=2, dark="#111", svgclass="qr-code", lineclass=None, omitsize=True)


def index_page(rows: list[dict[str, str]], *, lang: str = "zh") -> str:
    """A page listing every board written: ``rows`` of grid_code, name, households, worker,
    and the file names per format (``html``, ``pdf``, ``png``)."""
    t = LABELS[lang]
    head = {"zh": ["网格编码", "网格名称", "户数", "网格员", "文件"],
            "en": ["Grid code", "Grid", "Households", "Worker", "Files"]}[lang]
    body = []
    for r in rows:
        links = " ".join(f'<a href="{escape(r[k])}">{k.upper()}</a>' for k in ("html", "pdf", "png") if r.get(k))
        body.append(f"<tr><td>{escape(r['grid_code'])}</td><td>{escape(r['name'])}</td>"
                    f"<td class=\"n\">{escape(r['households'])}</td><td>{escape(r['worker'])}</td><td>{links}</td></tr>")
    css = (f"body {{ font-family: {FONT_STACK}; margin: 2em; color: #222; }} h1 {{ color: #b71c1c; }} "
           "table { border-collapse: collapse; } td, th { padding: 4px 12px; border-bottom: 1px solid #ddd; "
           "text-align: left; } td.n { text-align: right; } a { margin-right: 8px; }")
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{escape(t['index_title'])}</title><style>{css}</style></head><body>"
            f"<h1>{escape(t['index_title'])}</h1><p>{len(rows)} {escape(t['boards'])}</p><table><tr>"
            + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(body) + "</table></body></html>")
