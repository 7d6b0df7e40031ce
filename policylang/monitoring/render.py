"""The report for people: terminal tables (`render_text`) and one self-contained HTML page
(`render_html`: no script, no network, charts as inline SVG). Every string that comes from a
log (rule, model, group and policy names, locations) is escaped in the HTML."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from ..money import dollars
from ..simulation.render import text_table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _money(text: str | None) -> str:
    return "-" if text is None else dollars(text)


def _value(value: Any) -> str:
    """A group's value as the JSON report writes it (null for records without one)."""
    return "null" if value is None else str(value)


def _path(path: list[str]) -> str:
    return " -> ".join(path) if path else "(no model)"


def sections(d: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report's tables: (title, headers, rows of text), shared by both renderings."""
    s = d["summary"]
    out: list[tuple[str, list[str], list[list[str]]]] = []
    success = "successes" in s
    out.append(("Rules", ["rule", "requests", "answered", "rejected", "incomplete", "cost", "per 1,000"]
                + (["per success"] if success else []),
                [[str(r["rule"]), f"{r['requests']:,}", f"{r['answered']:,}", f"{r['rejected']:,}",
                  f"{r['incomplete']:,}", _money(r["cost"]), _money(r["cost_per_1000_requests"])]
                 + ([_money(r["cost_per_success"])] if success else []) for r in d["rules"]]))
    out.append(("Models", ["model", "calls", "answered", "errors", "cost"],
                [[m["model"], f"{m['calls']:,}", f"{m['answered']:,}",
                  ", ".join(f"{e} {n:,}" for e, n in m["errors"].items()) or "-", _money(m["cost"])]
                 for m in d["models"]]))
    out.append(("Escalation edges", ["from", "to", "requests"],
                [[e["from"], e["to"], f"{e['count']:,}"] for e in d["escalation"]["edges"]]))
    out.append(("Fallbacks", ["model", "error", "count"], [[f["model"], f["error"], f"{f['count']:,}"] for f in d["fallbacks"]]))
    out.append(("Errors", ["model", "error", "count", "rate"],
                [[e["model"], e["error"], f"{e['count']:,}", _pct(e["rate"])] for e in d["errors"]]))
    names = sorted({n for p in d["paths"] for n in p["outcomes"]})
    out.append(("Quality by route path", ["path", "requests", "cost"] + names,
                [[_path(p["path"]), f"{p['requests']:,}", _money(p["cost"])]
                 + [_outcome(p["outcomes"].get(n)) for n in names] for p in d["paths"]]))
    for key, title in (("groups", f"By {d.get('by')}"), ("buckets", "Over time")):
        if key in d:
            out.append((title, ["group" if key == "groups" else "from", "requests", "escalation", "fallback", "errors",
                                "cost", "per 1,000"] + (["per success"] if success else []),
                        [[_value(g["value"]) if "value" in g else g["start"], f"{g['requests']:,}" + (" (too few)" if g["too_few"] else ""),
                          _pct(g["escalation_rate"]), _pct(g["fallback_rate"]), _pct(g["error_rate"]), _money(g["cost"]),
                          _money(g["cost_per_1000_requests"])] + ([_money(g["cost_per_success"])] if success else [])
                         for g in d[key]]))
    for entry in d.get("shadow", []):
        out.append((f"Shadow {entry['candidate']}: agreement {_pct(entry['agreement'])}", ["live rule", "candidate rule", "requests"],
                    [[str(c["live"]), str(c["candidate"]), f"{c['count']:,}"] for c in entry["matrix"]]))
    for other in d.get("comparison", {}).get("groups", []):
        reference = _value(d["comparison"]["reference"])
        out.append((f"{d['by']} {_value(other['value'])} against {reference} (Newcombe 95% interval)",
                    ["rate", reference, _value(other["value"]), "difference", "interval", ""],
                    _difference_rows(other["rates"])))
    if "drift" in d:
        out.append(("Drift (after - before, Newcombe 95% interval)", ["rate", "before", "after", "difference", "interval", ""],
                    _difference_rows(d["drift"]["rates"])))
    return out


def _difference_rows(rates: list[dict[str, Any]]) -> list[list[str]]:
    return [[r["rate"], _pct(r["before"].get("rate")), _pct(r["after"].get("rate")),
             "-" if r["difference"] is None else f"{r['difference'] * 100:+.2f} pts",
             "-" if r["ci95"] is None else f"[{r['ci95'][0] * 100:+.2f}, {r['ci95'][1] * 100:+.2f}]",
             "significant" if r["significant"] else r.get("why", "")] for r in rates]


def _outcome(value: dict[str, Any] | None) -> str:
    if value is None:
        return "-"
    return f"{value['mean']:.3f}" if "mean" in value else _pct(value["rate"])


def _headline(d: dict[str, Any]) -> list[str]:
    s, cost = d["summary"], d["cost"]
    lines = [f"{d['requests']:,} requests in {d['records']:,} records ({d['engine']} engine): "
             f"{s['answered']:,} answered, {s['rejected']:,} rejected, {s['incomplete']:,} incomplete, {s['failed']:,} failed",
             f"cost {_money(cost['total'])}, {_money(cost['per_1000_requests'])} per 1,000 requests"
             + (f", {_money(cost.get('cost_per_success'))} per success" if "successes" in cost else ""),
             f"escalation {_pct(d['escalation']['rate'])}, fallback {_pct(d['fallback_rate'])}, "
             f"call errors {_pct(s['error_rate'])}"]
    if d["latency"]:
        lat = d["latency"]
        lines.append(f"latency p50 {lat['p50']}s, p95 {lat['p95']}s, p99 {lat['p99']}s")
    if d["ttft"]:
        lines.append(f"time to first token p50 {d['ttft']['p50']}s, p95 {d['ttft']['p95']}s")
    if "drift" in d:
        mix = d["drift"]["rule_mix"]
        lines.append(f"rule mix shift: chi-square {mix['statistic']} (dof {mix['dof']}), p = {mix['p_value']}"
                     + (" (significant)" if mix["significant"] else ""))
    return lines


def render_text(d: dict[str, Any]) -> str:
    """A readable summary: the headline figures, then a table per section, notes and alerts."""
    out = _headline(d)
    for title, headers, rows in sections(d):
        if rows:
            out += ["", title] + text_table(headers, rows)
    for note in d["notes"]:
        out.append(f"note: {note}")
    for alert in d.get("alerts", []):
        state = "FIRED" if alert["fired"] else "ok"
        out.append(f"alert {state}: {alert['alert']} (value {alert['value']})" + (f": {alert['why']}" if "why" in alert else ""))
    return "\n".join(out) + "\n"


def _svg_lines(title: str, labels: list[str], series: dict[str, list[float | None]], percent: bool) -> str:
    """A line chart, inline SVG, one polyline per series; None values break nothing (skipped)."""
    width, height, left, bottom = 640, 200, 50, 30
    values = [v for vs in series.values() for v in vs if v is not None]
    top = max(values, default=0) or 1
    count = max(len(labels), 2)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"]
    parts = [f'<figure><figcaption>{escape(title)}</figcaption>'
             f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" role="img">',
             f'<line x1="{left}" y1="{height}" x2="{width}" y2="{height}" stroke="#888"/>',
             f'<text x="2" y="12" font-size="10">{escape(f"{top * 100:.1f}%" if percent else f"{top:,.4g}")}</text>',
             f'<text x="2" y="{height}" font-size="10">0</text>']
    for index, (name, points) in enumerate(series.items()):
        colour = colours[index % len(colours)]
        coords = " ".join(f"{left + i * (width - left - 10) / (count - 1):.1f},{height - (v / top) * (height - bottom):.1f}"
                          for i, v in enumerate(points) if v is not None)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>')
        parts.append(f'<text x="{left + 10 + 120 * index}" y="{height + 30}" font-size="11" fill="{colour}">{escape(name)}</text>')
    if labels:
        parts.append(f'<text x="{left}" y="{height + 14}" font-size="10">{escape(labels[0])}</text>')
        parts.append(f'<text x="{width - 130}" y="{height + 14}" font-size="10">{escape(labels[-1])}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


def render_html(d: dict[str, Any]) -> str:
    """One self-contained page: headline, charts over time (cost, escalation rate per group,
    error rate per model), then every table, notes and alerts. Everything from a log is escaped."""
    body = [f"<p>{escape(line)}</p>" for line in _headline(d)]
    buckets = d.get("buckets", [])
    if buckets:
        labels = [b["start"] for b in buckets]
        body.append(_svg_lines("Cost per bucket ($)", labels, {"cost": [float(Decimal(b["cost"])) for b in buckets]}, False))
        body.append(_svg_lines("Escalation rate per bucket", labels, {"all": [b["escalation_rate"] for b in buckets]}, True))
        if "escalation_by_group" in buckets[0]:
            groups = list(buckets[0]["escalation_by_group"])
            body.append(_svg_lines(f"Escalation rate per {d['by']} (buckets of fewer than 30 requests left out)", labels,
                                   {g: [b["escalation_by_group"].get(g) for b in buckets] for g in groups}, True))
        models = sorted({m for b in buckets for m in b["error_rates"]})
        body.append(_svg_lines("Error rate per model", labels,
                               {m: [b["error_rates"].get(m) for b in buckets] for m in models}, True))
    if "groups" in d:
        body.append(_bars(f"Escalation rate by {d['by']}", [(_value(g["value"]), g["escalation_rate"]) for g in d["groups"]]))
    for title, headers, rows in sections(d):
        if not rows:
            continue
        head = "".join(f"<th>{escape(h)}</th>" for h in headers)
        cells = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        body.append(f"<h2>{escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
    if d["notes"]:
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in d["notes"]) + "</ul>")
    if d.get("alerts"):
        body.append("<h2>Alerts</h2><ul>" + "".join(
            f"<li class=\"{'fired' if a['fired'] else 'ok'}\">{escape(a['alert'])}: {escape(str(a['value']))}"
            f"{' FIRED' if a['fired'] else ''}</li>" for a in d["alerts"]) + "</ul>")
    style = ("body{font:14px system-ui,sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
             ".fired{color:#b00;font-weight:bold}figure{margin:1em 0}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>policyc report</title>"
            f"<style>{style}</style></head><body><h1>policyc report</h1>\n" + "\n".join(body) + "\n</body></html>\n")


def _bars(title: str, rows: list[tuple[str, float | None]]) -> str:
    """A horizontal bar chart, inline SVG."""
    height = 22 * len(rows) + 10
    parts = [f'<figure><figcaption>{escape(title)}</figcaption>'
             f'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="{height}" role="img">']
    for index, (label, value) in enumerate(rows):
        y = 5 + 22 * index
        parts.append(f'<text x="0" y="{y + 14}" font-size="11">{escape(label[:24])}</text>')
        if value is not None:
            parts.append(f'<rect x="170" y="{y}" width="{value * 400:.1f}" height="16" fill="#1f77b4"/>'
                         f'<text x="{175 + value * 400:.1f}" y="{y + 13}" font-size="11">{value * 100:.1f}%</text>')
        else:
            parts.append(f'<text x="170" y="{y + 13}" font-size="11">too few requests</text>')
    parts.append("</svg></figure>")
    return "".join(parts)
