"""The report for people: a terminal table (`render_text`) and one self-contained HTML page
(`render_html`: no script, no network; charts as inline SVG)."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

from ..money import dollars
from .report import Report


def _pct(text: str) -> str:
    return f"{Decimal(text) * 100:.1f}%"


def _many(count: int, noun: str) -> str:
    """`1 record`, `2 records`: a count and its noun, plural unless the count is 1."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def text_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """The rows under their headers as aligned text lines (first column left, the rest right),
    indented two spaces: the terminal tables of `simulate` and `report`."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return ["  " + line(headers), "  " + "  ".join("-" * w for w in widths)] + ["  " + line(r) for r in rows]


def render_text(report: Report) -> str:
    """A readable summary: the totals, then a table per section."""
    d = report.as_dict()
    out = [f"{d['policy']} on {d['traffic']} ({d['engine']} engine): {_many(d['records'], 'record')}, "
           f"{d['valid']:,} valid, {d['rejected']:,} rejected, {d['unserved']:,} unserved"]
    if d["down"]:
        out.append("down: " + ", ".join(f"{x['model']} ({x['error']})" for x in d["down"]))
    cost = d["cost"]
    line = f"cost {dollars(cost['total'])} ({dollars(cost['per_1000_requests'])} per 1,000 requests)"
    if "baseline" in cost:
        line += f"; baseline {cost['baseline_model']} {dollars(cost['baseline'])}, saving {_pct(cost['saving'])}"
    out += [line, ""]
    if d["errors"]:
        out.append("request errors")
        out += text_table(["code", "records", "first at", "signal"],
                      [[c, f"{e['count']:,}", str(e["first"]["location"]), e["first"]["signal"] or "-"]
                       for c, e in d["errors"].items()])
        out.append("")
    out.append("rules")
    out += text_table(["rule", "hits", "share"], [[r, f"{v['hits']:,}", _pct(v["share"])] for r, v in d["rules"].items()])
    out += ["", "models"]
    out += text_table(["model", "calls", "answered", "tokens in", "tokens out", "cost"],
                  [[m, f"{v['calls']:,}", f"{v['answered']:,}", f"{v['tokens_in']:,}", f"{v['tokens_out']:,}",
                    dollars(v["cost"])] for m, v in d["models"].items()])
    esc = d["escalations"]
    out += ["", f"escalations: {_many(esc['requests'], 'request')} climbed ({_pct(esc['rate'])} of those sent to a model)"]
    if esc["edges"]:
        out += text_table(["cascade", "edge", "climbs"], [[e["cascade"], f"{e['from']} -> {e['to']}", f"{e['count']:,}"]
                                                      for e in esc["edges"]])
    if d["fallbacks"]:
        out += ["", "fallbacks"]
        out += text_table(["model", "error", "served by", "calls"],
                      [[f["model"], f["error"], f["fallback"] or "(unserved)", f"{f['count']:,}"] for f in d["fallbacks"]])
    lat = d["latency"]
    if lat["mean"] is not None:
        out += ["", f"latency: mean {lat['mean']}s, p50 {lat['p50']}s, p95 {lat['p95']}s, max {lat['max']}s"]
    tok = d["tokens"]
    out.append(f"tokens: {tok['in']:,} in, {tok['out']:,} out")
    if "by" in d:
        out += ["", f"by {d['by']['signal']}"]
        rows = []
        for value, g in d["by"]["groups"].items():
            row = [value, f"{g['requests']:,}", _pct(g["escalations"]["rate"]),
                   f"{sum(f['count'] for f in g['fallbacks']):,}", dollars(g["cost"]["total"])]
            if "baseline" in g["cost"]:
                row.append(dollars(g["cost"]["baseline"]))
            rows.append(row)
        headers = ["value", "requests", "escalation", "fallbacks", "cost"] + (["baseline"] if "baseline" in cost else [])
        out += text_table(headers, rows)
    for note in d["notes"]:
        out.append(f"note: {note}")
    return "\n".join(out) + "\n"


CHAR_WIDTH = 8.0
"""An upper bound on one character's width at the charts' 13px system-ui font (a digit is ~7.2px)."""
ROW, BAR_LENGTH, GAP = 26, 440, 10


def _text_width(text: str) -> float:
    return CHAR_WIDTH * len(text)


def _bars(title: str, items: list[tuple[str, float, float | None]], unit: str) -> str:
    """A horizontal bar chart: one row per item, and a grey row under it, labelled `baseline`,
    when the item has one. The labels have a column as wide as the longest, each value is
    written after its bar, and the picture is as wide and as tall as what it holds, so no
    label is cut off and no empty band is left under the last bar."""
    rows: list[tuple[str, float, str]] = []
    for label, value, base in items:
        rows.append((label, value, "#3b7dd8"))
        if base is not None:
            rows.append(("baseline", base, "#bbb"))
    top = max([value for _, value, _ in rows] + [1e-12])
    label_column = GAP + max([_text_width(label) for label, _, _ in rows] + [0.0])
    value_column = GAP + max([_text_width(unit.format(value)) for _, value, _ in rows] + [0.0])
    width = round(max(label_column + BAR_LENGTH + value_column, _text_width(title)) + 1)
    height = 30 + ROW * len(rows)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{html.escape(title)}"><text x="0" y="16" font-weight="bold">{html.escape(title)}</text>']
    y = 30
    for label, value, colour in rows:
        length = BAR_LENGTH * value / top
        parts.append(f'<text x="0" y="{y + 14}">{html.escape(label)}</text>'
                     f'<rect x="{label_column:.1f}" y="{y}" width="{length:.1f}" height="18" fill="{colour}"/>'
                     f'<text x="{label_column + length + 5:.1f}" y="{y + 14}">{html.escape(unit.format(value))}</text>')
        y += ROW
    parts.append("</svg>")
    return "".join(parts)


def _html_table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: Report) -> str:
    """One self-contained page: the summary, the tables, and two inline SVG charts (cost per
    model against the baseline, escalation rate per group)."""
    d = report.as_dict()
    cost = d["cost"]
    baseline = float(cost["baseline"]) if "baseline" in cost else None
    bars: list[tuple[str, float, float | None]] = [(m, float(v["cost"]), None) for m, v in d["models"].items()]
    bars.append(("total", float(cost["total"]), baseline))
    charts = [_bars("cost per model (USD)", bars, "${:,.2f}")]
    if "by" in d:
        groups: list[tuple[str, float, float | None]] = [
            (v, float(g["escalations"]["rate"]) * 100, None) for v, g in d["by"]["groups"].items()]
        charts.append(_bars(f"escalation rate by {d['by']['signal']} (%)", groups, "{:.1f}%"))
    sections = [
        f"<h1>{html.escape(d['policy'])} on {html.escape(d['traffic'])}</h1>",
        f"<pre>{html.escape(render_text(report))}</pre>",
        *charts,
        "<h2>Rules</h2>" + _html_table(["rule", "hits", "share"], [[r, f"{v['hits']:,}", _pct(v["share"])]
                                                                   for r, v in d["rules"].items()]),
        "<h2>Models</h2>" + _html_table(["model", "calls", "answered", "tokens in", "tokens out", "cost"],
                                        [[m, f"{v['calls']:,}", f"{v['answered']:,}", f"{v['tokens_in']:,}",
                                          f"{v['tokens_out']:,}", dollars(v["cost"])] for m, v in d["models"].items()]),
    ]
    if d["fallbacks"]:
        sections.append("<h2>Fallbacks</h2>" + _html_table(["model", "error", "served by", "calls"],
                        [[f["model"], f["error"], f["fallback"] or "(unserved)", f"{f['count']:,}"]
                         for f in d["fallbacks"]]))
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
             "svg{display:block;margin:1em 0;font-size:13px}")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>simulate {html.escape(d['policy'])}</title>"
            f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n")
