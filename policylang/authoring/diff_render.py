"""`diff`'s report for people: terminal text, and Markdown for a pull-request comment."""

from __future__ import annotations

import json
import re
from fractions import Fraction

from ..backends.python.support import Decision
from ..diagnostics import Diagnostic
from ..jsontext import dumps
from ..money import dollars
from .diff import Change, Diff, TrafficSummary
from .diff_budgets import BudgetDiff, amount
from .diff_climbs import ClimbChange
from .diff_findings import Findings


def _decision_words(decision: Decision, caps: bool = True) -> str:
    if decision.rule is None:
        return "no rule (no model)"
    if decision.reject is not None:
        return f"reject {json.dumps(decision.reject)}"
    steps = " -> ".join(decision.steps)
    if not caps:
        return steps
    return f"{steps} (max_output {', '.join(f'{c:,}' for c in decision.caps)})"


def _pair_words(change: Change) -> str:
    caps = "caps" in change.fields or "max_output" in change.fields
    return f"{_decision_words(change.before, caps)}  =>  {_decision_words(change.after, caps)}"


def render_text(report: Diff) -> str:
    """The diff for a terminal: the changes, each with its witness, then what only one version
    accepts, renames, budgets, other changes; the last line says whether decisions change."""
    lines = [f"old {report.old_file}, new {report.new_file}"]
    if report.no_common_request:
        lines += ["", "no request is accepted by both versions: a signal both require has no value both accept"]
    if report.changes:
        lines += ["", f"decisions that change ({_count(len(report.changes), 'pair')} of rules)"]
        width = max(len(f"{c.old.label} -> {c.new.label}") for c in report.changes)
        for change in report.changes:
            lines.append(f"  {f'{change.old.label} -> {change.new.label}'.ljust(width)}   {_pair_words(change)}")
            lines.append(f"      e.g. {dumps(change.witness)}")
            if change.traffic is not None:
                t = change.traffic
                lines.append(f"      traffic: {_count(t.requests, 'request')}, cost {dollars(t.cost_before)} -> "
                             f"{dollars(t.cost_after)}")
            if change.from_traffic:
                lines.append("      found in the traffic only: please report this as a bug in diff")
    if report.climbs:
        edges = len({(c.cascade, c.step) for c in report.climbs})
        rules = len({(c.old.rule, c.new.rule) for c in report.climbs})
        lines += ["", f"climbs that change ({_count(edges, 'cascade edge')}, {_count(rules, 'rule')})"]
        for climb in report.climbs:
            lines.append(f"  {_climb_words(climb)}")
            lines.append(f"      e.g. {dumps(climb.witness)}: OLD calls {' -> '.join(climb.before)}, "
                         f"NEW {' -> '.join(climb.after)}")
            if climb.traffic is not None:
                t = climb.traffic
                lines.append(f"      traffic: {_count(t.requests, 'request')}, cost {dollars(t.cost_before)} -> "
                             f"{dollars(t.cost_after)}")
            if climb.from_traffic:
                lines.append("      found in the traffic only: please report this as a bug in diff")
    if report.acceptance:
        lines += ["", "requests only one version accepts"]
        for fact in report.acceptance:
            lines.append(f"  signal {fact.signal}, {fact.change}: {fact.old_type or '(not declared)'} -> "
                         f"{fact.new_type or '(not declared)'}")
            lines.append(f"      only {fact.only.upper()} accepts " + "; ".join(fact.which))
            other = "NEW" if fact.only == "old" else "OLD"
            lines.append(f"      e.g. {dumps(fact.witness)}: {other} refuses it, {fact.error.code} {fact.error.message}")
    if report.outcomes:
        lines += ["", "outcome objects only one version accepts (the climb of the other stops with an error)"]
        for fact in report.outcomes:
            lines.append(f"  outcome {fact.signal}, {fact.change}: {fact.old_type or '(not declared)'} -> "
                         f"{fact.new_type or '(not declared)'}")
            lines.append(f"      only {fact.only.upper()} accepts " + "; ".join(fact.which))
            other = "NEW" if fact.only == "old" else "OLD"
            lines.append(f"      e.g. {dumps(fact.witness)}: {other} refuses it, {fact.error.code} {fact.error.message}")
    if report.renames:
        lines += ["", "renamed (the same requests, the same decisions: not a change)"]
        lines += [f"  {r.old.label} -> {r.new.label}" for r in report.renames]
    if report.budgets:
        lines += ["", "budgets, worst case before -> after"]
        for b in report.budgets:
            before = b.before.text(b.metric) if b.before is not None else "(no such budget)"
            after = b.after.text(b.metric) if b.after is not None else "(no such budget)"
            lines.append(f"  {b.text}{_bound_words(b)}: {before} -> {after}")
    if report.notes:
        lines += ["", "also changed, though no decision shows it"]
        lines += [f"  {note}" for note in report.notes]
    if report.traffic is not None:
        lines += ["", _traffic_words(report.traffic)]
    if report.findings is not None and report.findings.added:
        lines += ["", f"new in NEW: {_findings_count(report.findings.added)} that OLD does not have"]
        for d in report.findings.added:
            lines.append(f"  {d.severity.value}[{d.code}] {_where(d)}: {d.message}")
            if d.witness is not None:
                lines.append(f"      e.g. {dumps(d.witness)}")
    lines += ["", _verdict(report)]
    return "\n".join(lines)


def _climb_words(climb: ClimbChange) -> str:
    """`rule drafting, cascade careful: cheap -> mid climbs only in NEW (when ...)`."""
    entries = climb.old.label if climb.old.rule == climb.new.rule else f"{climb.old.label} -> {climb.new.label}"
    if climb.old_when != climb.new_when:
        how = f"when {climb.old_when}  now  when {climb.new_when}"
    else:
        how = f"when {climb.new_when}, which reads differently"
    return (f"{entries}, cascade {climb.cascade}: {climb.source} -> {climb.target} climbs only in "
            f"{climb.climbs.upper()} ({how})")


def _where(d: Diagnostic) -> str:
    return f"{d.span.file}:{d.span.line}:{d.span.column}"


def _findings_count(found: tuple[Diagnostic, ...] | list[Diagnostic]) -> str:
    errors = sum(d.is_error for d in found)
    parts = ([_count(errors, "error")] if errors else []) + \
        ([_count(len(found) - errors, "warning")] if len(found) > errors else [])
    return " and ".join(parts)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


def _bound_words(b: BudgetDiff) -> str:
    if b.bound_before is not None and b.bound_after is not None and b.bound_before != b.bound_after:
        return f" (was {amount(Fraction(b.bound_before), b.metric)})"
    if b.bound_before is None:
        return " (new budget)"
    if b.bound_after is None:
        return " (budget removed)"
    return ""


def _traffic_words(t: TrafficSummary) -> str:
    refused = ""
    if t.only_old or t.only_new:
        refused = f" ({sum(t.only_old.values()):,} now refused, {sum(t.only_new.values()):,} now accepted)"
    broken = ""
    if t.first_not_object is not None:  # the records that are no request, and the first of them
        broken = f", {t.not_objects:,} not a request (first: {t.first_not_object[1]})"
    climbed = f", {t.climbed:,} climbed differently" if t.climbed else ""
    return (f"traffic: {_count(t.records, 'record')}, {t.changed:,} decided differently{refused}{climbed}, "
            f"{t.unchanged:,} "
            f"the same, {t.refused_by_both:,} refused by both{broken}; cost {dollars(t.cost_before)} -> "
            f"{dollars(t.cost_after)}")


def _verdict(report: Diff) -> str:
    verdict = _change_verdict(report)
    found = report.findings
    if found is None or not (found.errors or found.added):
        return verdict
    return f"{verdict}; {_findings_words(found)}"


def _findings_words(found: Findings) -> str:
    """`NEW has 1 error (new)`, `NEW has 3 errors (2 new); 1 new warning`."""
    parts = []
    if found.errors:
        new = found.added_errors
        fresh = "new" if new == found.errors == 1 else f"{new:,} new" if new else "none new"
        parts.append(f"NEW has {_count(found.errors, 'error')} ({fresh})")
    warnings = len(found.added) - found.added_errors
    if warnings:
        parts.append(_count(warnings, "new warning"))
    return "; ".join(parts)


def _change_verdict(report: Diff) -> str:
    if not report.changed:
        return "no request's decision changes"
    parts = []
    if report.changes:
        n = len(report.changes)
        parts.append(f"{_count(n, 'pair')} of rules {'decide' if n != 1 else 'decides'} differently")
    if report.acceptance:
        signals = len({a.signal for a in report.acceptance})
        parts.append(f"{_count(signals, 'signal')} {'change' if signals != 1 else 'changes'} which requests are accepted")
    if report.climbs:
        edges = len({(c.cascade, c.step) for c in report.climbs})
        parts.append(f"{_count(edges, 'cascade edge')} {'climb' if edges != 1 else 'climbs'} differently")
    if report.outcomes:
        outcomes = len({a.signal for a in report.outcomes})
        parts.append(f"{_count(outcomes, 'outcome')} {'change' if outcomes != 1 else 'changes'} which outcome objects "
                     "are accepted")
    head = "decisions change" if report.changes or report.acceptance else "climbs change"
    return f"{head}: " + "; ".join(parts)


def render_markdown(report: Diff) -> str:
    """The diff as a pull-request comment (GitHub-flavoured Markdown)."""
    lines = [f"### policyc diff: {_code(report.old_file)} → {_code(report.new_file)}", ""]
    lines.append(f"**{_verdict(report)[0].upper()}{_verdict(report)[1:]}.**")
    if report.no_common_request:
        lines += ["", "No request is accepted by both versions."]
    if report.changes:
        lines += ["", "#### Decisions that change", "",
                  "| old | new | before | after | changes | example request |" + (" requests | cost before → after |"
                                                                                 if report.traffic else ""),
                  "|---|---|---|---|---|---|" + ("---:|---|" if report.traffic else "")]
        for c in report.changes:
            caps = "caps" in c.fields or "max_output" in c.fields
            row = (f"| {_md(c.old.label)} | {_md(c.new.label)} | {_md(_decision_words(c.before, caps))} | "
                   f"{_md(_decision_words(c.after, caps))} | {', '.join(c.fields)} | {_code(dumps(c.witness))} |")
            if report.traffic is not None and c.traffic is not None:
                row += f" {c.traffic.requests:,} | {dollars(c.traffic.cost_before)} → {dollars(c.traffic.cost_after)} |"
            lines.append(row)
    if report.climbs:
        lines += ["", "#### Climbs that change", "",
                  "| old | new | cascade edge | climbs only in | conditions | example request | old calls | new calls |"
                  + (" requests | cost before → after |" if report.traffic else ""),
                  "|---|---|---|---|---|---|---|---|" + ("---:|---|" if report.traffic else "")]
        for climb in report.climbs:
            when = climb.new_when if climb.old_when == climb.new_when else f"{climb.old_when} → {climb.new_when}"
            row = (f"| {_md(climb.old.label)} | {_md(climb.new.label)} | "
                   f"{_md(f'{climb.cascade}: {climb.source} -> {climb.target}')} | {climb.climbs.upper()} | "
                   f"{_code(when)} | {_code(dumps(climb.witness))} | {_md(' -> '.join(climb.before))} | "
                   f"{_md(' -> '.join(climb.after))} |")
            if report.traffic is not None and climb.traffic is not None:
                t = climb.traffic
                row += f" {t.requests:,} | {dollars(t.cost_before)} → {dollars(t.cost_after)} |"
            lines.append(row)
    if report.acceptance:
        lines += ["", "#### Requests only one version accepts", "",
                  "| signal | change | accepted only by | requests | example | the other says |", "|---|---|---|---|---|---|"]
        for a in report.acceptance:
            lines.append(f"| {_code(a.signal)} | {a.change} | {a.only} | {_md('; '.join(a.which))} | "
                         f"{_code(dumps(a.witness))} | {a.error.code}: {_md(a.error.message)} |")
    if report.outcomes:
        lines += ["", "#### Outcome objects only one version accepts", "",
                  "| outcome | change | accepted only by | objects | example | the other says |",
                  "|---|---|---|---|---|---|"]
        for a in report.outcomes:
            lines.append(f"| {_code(a.signal)} | {a.change} | {a.only} | {_md('; '.join(a.which))} | "
                         f"{_code(dumps(a.witness))} | {a.error.code}: {_md(a.error.message)} |")
    if report.renames:
        lines += ["", "#### Renamed (same requests, same decisions)", ""]
        lines += [f"- {_code(str(r.old.rule))} → {_code(str(r.new.rule))}" for r in report.renames]
    if report.budgets:
        lines += ["", "#### Budgets, worst case", "", "| budget | before | after |", "|---|---|---|"]
        for b in report.budgets:
            before = b.before.text(b.metric) if b.before is not None else "(none)"
            after = b.after.text(b.metric) if b.after is not None else "(none)"
            lines.append(f"| {_code(b.text)}{_md(_bound_words(b))} | {_md(before)} | {_md(after)} |")
    if report.notes:
        lines += ["", "#### Also changed (no decision shows it)", ""]
        lines += [f"- {_md(n)}" for n in report.notes]
    if report.traffic is not None:
        lines += ["", _md(_traffic_words(report.traffic))]
    if report.findings is not None and report.findings.added:
        lines += ["", f"#### New in NEW: {_findings_count(report.findings.added)}", "",
                  "| severity | code | where | message | example request |", "|---|---|---|---|---|"]
        for d in report.findings.added:
            example = _code(dumps(d.witness)) if d.witness is not None else ""
            lines.append(f"| {d.severity.value} | {d.code} | {_code(_where(d))} | {_md(d.message)} | {example} |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Text that Markdown shows as it is, inside a table cell too: what Markdown or HTML could
    read as markup is escaped (a reason or a file name never becomes a link, a tag or a
    column); `_` only where it could start or end emphasis, so that `tool_heavy` stays as is."""
    text = " ".join(text.split())
    out = []
    for k, ch in enumerate(text):
        inside_word = 0 < k < len(text) - 1 and text[k - 1].isalnum() and text[k + 1].isalnum()
        out.append("\\" + ch if ch in _MARKUP or (ch == "_" and not inside_word) else ch)
    return "".join(out)


_MARKUP = frozenset("\\`*[]<|&")


def _code(text: str) -> str:
    """A code span that holds any text: a fence longer than any run of backticks inside it,
    `|` escaped for tables (GitHub reads `\\|` in a code span in a table as `|`)."""
    text = " ".join(text.split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
