"""What the editor asks of a checked buffer: hover, definition, references, completion and the
outline. Pure functions over a `Snapshot`; offsets are code points into the buffer's text.

Names mean what the checker says they mean: every answer comes from the resolver's bindings
(passes/resolve.py), so go-to-definition lands where `policyc lint` would say a name is
declared, across `import "./lib.route"` and `import "std/..."` alike.
"""

from __future__ import annotations

import re
from decimal import Decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from ..codes import W201, W202
from ..ir import surface as s
from ..ir.boxes import Constraint, Interval
from ..ir.node import Node
from ..ir.policy import CascadeTarget, CheckedPolicy, ModelTarget, RejectTarget
from ..ir.types import describe, format_value
from ..jsontext import decimal_text
from ..passes.resolve import Label, Member, Symbol
from ..source import Span
from ..syntax.loader import Unit
from .snapshot import Snapshot, unit_path

KEYWORDS = ("policy import as threshold signal outcome model cascade fallback on budget when invariant "
            "require route rule default reject with test given expect by then and or not in true false "
            "bool int float money duration enum").split()
"""Section 11's reserved words."""
ERRORS = ("unavailable", "rate_limited", "timeout", "server_error", "content_filtered")


@dataclass(frozen=True)
class Location:
    """A place in a file: `path` on disk (None for a buffer that has no file), the span."""

    path: str | None
    span: Span


@dataclass(frozen=True)
class Hover:
    markdown: str
    span: Span


CompletionKind = Literal["signal", "outcome", "threshold", "model", "cascade", "rule", "invariant", "test",
                         "member", "alias", "keyword", "error", "field"]


@dataclass(frozen=True)
class Completion:
    label: str
    kind: CompletionKind
    detail: str = ""


OutlineKind = Literal["signal", "outcome", "threshold", "model", "cascade", "fallback", "budget", "invariant",
                      "route", "rule", "test", "import"]


@dataclass(frozen=True)
class Outline:
    """One entry of the document outline: its whole extent, the name's span, what is inside."""

    name: str
    kind: OutlineKind
    detail: str
    span: Span
    selection: Span
    children: tuple[Outline, ...] = field(default_factory=tuple)


# ---- what is under the cursor --------------------------------------------------------------------


@dataclass(frozen=True)
class _At:
    """The name under the cursor: what it binds to, and its span."""

    span: Span
    target: Symbol | Member | Label | Unit
    declaration: bool = False


def _aliases(unit: Unit) -> dict[str, Unit]:
    return {decl.alias.text: target for decl, target in unit.imports if decl.alias is not None and target is not None}


def at(snapshot: Snapshot, offset: int) -> _At | None:
    """The innermost name at `offset` of the buffer: a use, a declaration, an import path or
    alias; None where there is none (or the buffer does not parse)."""
    resolution = snapshot.resolution
    if resolution is None:
        return None
    top = snapshot.program.top
    name = top.source.name
    found: _At | None = None

    def consider(candidate: _At) -> None:
        nonlocal found
        span = candidate.span
        if span.file == name and span.start <= offset <= span.end and (
                found is None or span.end - span.start < found.span.end - found.span.start):
            found = candidate

    for (file, start, end), binding in resolution.bindings.items():
        if file == name and start <= offset <= end:
            span = top.source.span(start, end)
            text = top.source.text[start:end]
            if isinstance(binding, Symbol) and "." in text:  # `alias.name`: the alias part is the import
                alias = text.split(".", 1)[0]
                target = _aliases(top).get(alias)
                if target is not None and offset <= start + len(alias):
                    consider(_At(top.source.span(start, start + len(alias)), target))
                    continue
            consider(_At(span, binding))
    for symbol in resolution.declared.values():
        span = symbol.span  # tested here, not in `consider`: a policy declares thousands of names
        if symbol.unit is top and span.start <= offset <= span.end and span.file == name:
            consider(_At(span, symbol, declaration=True))
    for decl, target in top.imports:
        if target is not None:
            consider(_At(decl.path.span, target))
            if decl.alias is not None:
                consider(_At(decl.alias.span, target, declaration=True))
    return found


def _identity(symbol: Symbol) -> tuple[str, int, str]:
    """The same declaration seen from two snapshots (each loads its own units)."""
    return (symbol.unit.key, symbol.span.start, symbol.name)


def definition(snapshot: Snapshot, offset: int) -> list[Location]:
    """Where the name under the cursor is declared: a signal, threshold, model, cascade, rule or
    test (in this file or an imported one, `std/...` included); for an import's path or alias,
    the imported file."""
    found = at(snapshot, offset)
    if found is None:
        return []
    target = found.target
    if isinstance(target, Symbol):
        return [Location(unit_path(target.unit), target.span)]
    if isinstance(target, Unit):
        return [Location(unit_path(target), target.source.span(0, 0))]
    return []


def references(snapshots: list[Snapshot], snapshot: Snapshot, offset: int, *,
               include_declaration: bool = True) -> list[Location]:
    """Every use of the declaration under the cursor in `snapshot` and in the other open
    `snapshots` (each with what it imports), and the declaration itself if asked; each once."""
    found = at(snapshot, offset)
    if found is None or not isinstance(found.target, Symbol):
        return []
    wanted = _identity(found.target)
    seen: dict[tuple[str | None, int], Location] = {}
    for other in [snapshot, *snapshots]:
        resolution = other.resolution
        if resolution is None:
            continue
        units = {u.source.name: u for u in other.program.units}
        for (file, start, end), binding in resolution.bindings.items():
            if isinstance(binding, Symbol) and _identity(binding) == wanted:
                unit = units[file]
                location = Location(unit_path(unit) if unit is not other.program.top else other.path,
                                    unit.source.span(start, end))
                seen.setdefault((location.path, start), location)
    if include_declaration:
        symbol = found.target
        location = Location(unit_path(symbol.unit), symbol.span)
        seen.setdefault((location.path, symbol.span.start), location)
    return sorted(seen.values(), key=lambda loc: (loc.path or "", loc.span.start))


# ---- hover -----------------------------------------------------------------------------------------


def _decl_text(symbol: Symbol) -> str:
    text = symbol.unit.source.text[symbol.decl.span.start:symbol.decl.span.end]
    return _one_line(text)


def _rule_text(symbol: Symbol) -> str:
    """The whole rule, `rule NAME when CONDITION -> TARGET with CAP` (its declaration's span is
    the keyword alone)."""
    decl = symbol.decl
    parts = [node for node in (decl, getattr(decl, "condition", None), getattr(decl, "target", None),
                               getattr(decl, "cap", None)) if node is not None]
    end = max(node.span.end for node in parts)
    return _one_line(symbol.unit.source.text[decl.span.start:end])


def _one_line(text: str, limit: int = 200) -> str:
    without_comments = " ".join(line.split("#", 1)[0].strip() for line in text.splitlines())
    joined = re.sub(r"\s+", " ", without_comments).strip()
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def _code(text: str) -> str:
    return f"```route\n{text}\n```"


def _where(symbol: Symbol) -> str:
    return f"declared in `{symbol.unit.source.name}` line {symbol.span.line}"


def hover(snapshot: Snapshot, offset: int, firing: str | None = None) -> Hover | None:
    """What the name under the cursor is: a signal's type, domain and default; a model's id,
    prices, context, max_output, latency, regions and tags; a threshold's value; a cascade's
    steps; a rule's target and, once the analyses of this very text have run, where it fires
    (`firing`, from `firing_summary` in the analyses' process; never computed here, where it
    would hold the server for seconds on a large policy); an enum member's enum; an import's
    file."""
    found = at(snapshot, offset)
    if found is None:
        return None
    target = found.target
    if isinstance(target, Unit):
        return Hover(f"imports `{target.source.name}`" + (f"\n\n{unit_path(target)}" if unit_path(target) else ""),
                     found.span)
    if isinstance(target, Member):
        return Hover(_member_text(snapshot, target.text), found.span)
    if isinstance(target, Label):
        return Hover(f"label `{target.text}` (a region or tag)", found.span)
    return Hover(_symbol_text(snapshot, target, firing), found.span)


def _member_text(snapshot: Snapshot, member: str) -> str:
    resolution = snapshot.resolution
    enums = [sym for sym in (resolution.signals if resolution else []) if member in _members(sym)]
    if not enums:
        return f"enum member `{member}`"
    owners = ", ".join(f"`{sym.name}`" for sym in enums)
    members = ", ".join(_members(enums[0]))
    return f"member `{member}` of the enum {owners}\n\n" + _code(f"enum {{{members}}}")


def _members(symbol: Symbol) -> list[str]:
    """The members of an enum signal or outcome, in declared order; none for another symbol."""
    decl = symbol.decl
    return [m.text for m in decl.type.members] if symbol.is_enum_signal and isinstance(decl, s.SignalDecl) else []


def _edges(symbol: Symbol) -> tuple[s.Edge, ...]:
    """The edges of a cascade's declaration; none for another symbol."""
    return symbol.decl.edges if isinstance(symbol.decl, s.CascadeDecl) else ()


def _symbol_text(snapshot: Snapshot, symbol: Symbol, firing: str | None) -> str:
    policy = snapshot.policy
    display = snapshot.resolution.display.get(symbol, symbol.name) if snapshot.resolution else symbol.name
    lines: list[str] = []
    if symbol.kind in ("signal", "outcome"):
        lines = [_code(_decl_text(symbol))]
        signal = next((x for x in policy.signals if x.name == symbol.name), None) if policy else None
        if signal is not None:
            default = format_value(signal.default, signal.type) if signal.has_default else "none: required"
            role = "signal (a request key)" if signal.role == "signal" else "outcome (read after a model answers)"
            lines.append(f"{role}  \ntype `{describe(signal.type)}`  \ndefault `{default}`")
    elif symbol.kind == "model":
        model = next((m for m in policy.models if m.name == display), None) if policy else None
        lines = [_code(f"model {display}")]
        if model is not None:
            regions = "{" + ", ".join(sorted(model.regions)) + "}" if model.regions is not None else \
                "anywhere (the model does not say)"
            lines.append("\n".join([
                f"id `{model.id}`, tier {model.tier}  ",
                f"price ${decimal_text(model.input_per_mtok)} in / ${decimal_text(model.output_per_mtok)} out "
                "per million tokens  ",
                f"context {model.context:,} tokens, max_output {model.max_output:,}  ",
                f"latency {decimal_text(model.latency)}s  ",
                f"regions {regions}" + (f"  \ntags {{{', '.join(sorted(model.tags))}}}" if model.tags else ""),
            ]))
        else:
            lines[0] = _code(_decl_text(symbol))
    elif symbol.kind == "cascade":
        cascade = next((c for c in policy.cascades if c.name == display), None) if policy else None
        lines = [_code(f"cascade {display}")]
        if cascade is not None:
            lines.append("steps " + " -> ".join(f"`{step}`" for step in cascade.steps))
        edges = [_one_line(symbol.unit.source.text[edge.span.start:edge.span.end]) for edge in _edges(symbol)]
        lines.append("\n".join(f"- `{edge}`" for edge in edges))
    elif symbol.kind == "rule":
        lines = [f"rule `{symbol.name}`", _code(_rule_text(symbol))]
        lines.append(_rule_summary(snapshot, symbol, firing))
    else:  # threshold, invariant, test
        lines = [_code(_decl_text(symbol))]
    lines.append(_where(symbol))
    return "\n\n".join(line for line in lines if line)


# ---- where a rule fires ---------------------------------------------------------------------------


def _rule_summary(snapshot: Snapshot, symbol: Symbol, firing: str | None) -> str:
    """What the hover says of a rule's reach: `never` with the analyses' reason, else the
    region `firing` gives, else what it decides (and that the region comes with the analyses)."""
    for d in snapshot.analysis_diagnostics:
        if d.code in (W201.code, W202.code) and d.span.file == symbol.span.file and d.span.start == symbol.decl.span.start:
            return f"**never fires**: {d.message}"
    if firing is not None:
        return firing
    policy = snapshot.policy
    rule = next((r for r in policy.rules if r.name == symbol.name), None) if policy is not None else None
    if policy is None or rule is None or symbol.unit is not snapshot.program.top:
        return ""
    later = "" if snapshot.analysed else "; where it fires is shown once the analyses have run"
    return f"decides {_target_text(policy, rule.target)}{later}"


def prepare_firing(snapshot: Snapshot) -> None:
    """Build what `firing_summary` reads (the analyses' facts and their sweep over the rules),
    so that the first rule hovered is answered as soon as the others."""
    if snapshot.policy is not None and snapshot.policy.rules:
        snapshot.facts.firing_boxes(0)


def firing_summary(snapshot: Snapshot, name: str) -> str | None:
    """Where the rule `name` of the buffer fires under first-match, when the analyses can say:
    never, or the exact region when its conditions are boxes; None for no such rule. Builds the
    analyses' facts (the solver, a sweep over the rules): the analyses' process calls it."""
    policy = snapshot.policy
    if policy is None:
        return None
    index = next((i for i, rule in enumerate(policy.rules) if rule.name == name), None)
    if index is None:
        return None
    rule = policy.rules[index]
    target = _target_text(policy, rule.target)
    try:
        facts = snapshot.facts
        boxes = facts.firing_boxes(index)
    except Exception:  # the analyses' own failures are lint's to report (E900)
        return f"decides {target}"
    if boxes is None:
        return f"decides {target}; its conditions are not boxes, so `policyc lint` proves where it fires"
    if not boxes:
        return "**never fires**: earlier rules take every request it matches"
    full = facts.space.full
    shown = [_box_text(box, full, policy) for box in boxes[:4]]
    more = f"\n- … {len(boxes) - 4} more" if len(boxes) > 4 else ""
    return f"decides {target}; fires exactly where (after every earlier rule):\n" + \
        "\n".join(f"- {text}" for text in shown) + more


def _target_text(policy: CheckedPolicy, target: ModelTarget | CascadeTarget | RejectTarget) -> str:
    if isinstance(target, RejectTarget):
        return f'reject "{target.reason}"'
    if isinstance(target, CascadeTarget):
        return f"cascade `{target.cascade}` (" + " -> ".join(policy.cascade(target.cascade).steps) + ")"
    return f"`{target.model}`"


def _number(value: Fraction | int, kind: str) -> str:
    text = str(value.numerator) if value.denominator == 1 else decimal_text(
        Decimal(value.numerator) / value.denominator)
    return {"money": f"${text}", "duration": f"{text}s"}.get(kind, text)


def _box_text(box: Mapping[str, Constraint], full: Mapping[str, Constraint], policy: CheckedPolicy) -> str:
    kinds = {x.name: x.type.kind for x in policy.signals}
    parts = []
    for name in sorted(box):
        constraint = box[name]
        if full.get(name) == constraint:
            continue
        if isinstance(constraint, Interval):
            kind = kinds.get(name, "int")
            whole = full.get(name)
            bounds = []
            if constraint.low is not None and (not isinstance(whole, Interval) or whole.low != constraint.low):
                bounds.append(f"{name} {'>' if constraint.low_open else '>='} {_number(constraint.low, kind)}")
            if constraint.high is not None and (not isinstance(whole, Interval) or whole.high != constraint.high):
                bounds.append(f"{name} {'<' if constraint.high_open else '<='} {_number(constraint.high, kind)}")
            parts += bounds
        elif constraint <= {True, False} and all(isinstance(v, bool) for v in constraint):
            parts.append(name if constraint == {True} else f"not {name}")
        else:
            parts.append(f"{name} in {{{', '.join(sorted(map(str, constraint)))}}}")
    return "`" + " and ".join(parts) + "`" if parts else "every request that reaches it"


# ---- completion ------------------------------------------------------------------------------------

_KIND_OF: dict[str, CompletionKind] = {"threshold": "threshold", "signal": "signal", "outcome": "outcome",
                                       "model": "model", "cascade": "cascade", "rule": "rule",
                                       "invariant": "invariant", "test": "test"}
_ENUM_BEFORE = (
    re.compile(r"(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\s*(?:==|!=|=)\s*[A-Za-z_]?\w*$"),
    re.compile(r"(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\s+(?:not\s+)?in\s*\{[^{}]*$"),
)


def completions(snapshot: Snapshot, offset: int, fallback: Snapshot | None = None) -> list[Completion]:
    """What may be typed at `offset`: the members of the enum being compared or assigned
    (`task == |`, `task in {a, |`, `given { task = | }`); the names an alias brings
    (`catalog.|`); the provider errors after `on`; after `->` the models, and in a rule or the
    default the cascades and `reject` too (never a signal or an outcome); else every name in scope (signals,
    thresholds, models, cascades, aliases) and the keywords. Names come from the buffer when it
    parses, else from `fallback`, the last version that did."""
    text = snapshot.text
    line_start = text.rfind("\n", 0, offset) + 1
    before = text[line_start:offset]
    source = snapshot if snapshot.resolution is not None else fallback
    if source is None or source.resolution is None:
        return [Completion(k, "keyword") for k in KEYWORDS]
    resolution = source.resolution
    names: dict[str, Symbol] = {}
    for symbol, shown in resolution.display.items():
        names.setdefault(shown, symbol)
    for symbol in resolution.signals:  # request keys are reached bare from anywhere
        names.setdefault(symbol.name, symbol)

    for pattern in _ENUM_BEFORE:
        match = pattern.search(before)
        if match:
            named = names.get(match["name"])
            if named is not None and named.is_enum_signal:
                return [Completion(m, "member", f"member of {named.name}") for m in _members(named)]
    if re.search(r"\bon\s+(?:\w+\s*,\s*)*\w*$", before):
        return [Completion(e, "error", "provider error (3.6)") for e in ERRORS]
    if re.search(r"->\s*\w*$", before):
        return _target_completions(names, models_only=_models_only(text, line_start, before))
    dotted = re.search(r"([A-Za-z_]\w*)\.(\w*)$", before)
    if dotted:
        alias = dotted.group(1) + "."
        if alias == "model.":
            from ..ir.policy import MODEL_FIELDS

            return [Completion(f, "field", "model field") for f in MODEL_FIELDS]
        return [Completion(shown[len(alias):], _KIND_OF[sym.kind], _detail(sym))
                for shown, sym in sorted(names.items()) if shown.startswith(alias)]
    found = [Completion(shown, _KIND_OF[sym.kind], _detail(sym)) for shown, sym in sorted(names.items())
             if "." not in shown and sym.kind not in ("rule", "test")]
    found += [Completion(alias, "alias", f"import {target.source.name}")
              for alias, target in sorted(_aliases(source.program.top).items())]
    found += [Completion(k, "keyword") for k in KEYWORDS]
    return found


def _models_only(text: str, line_start: int, before: str) -> bool:
    """Whether the `->` before the cursor is a fallback's or a cascade edge's (a model follows)
    rather than a rule's or the default's (a model, a cascade or `reject`)."""
    if re.match(r"\s*fallback\b", before):
        return True
    depth = 0
    for i in range(line_start - 1, -1, -1):  # the block the line is in: cascade { ... } or route { ... }
        if text[i] == "}":
            depth += 1
        elif text[i] == "{":
            if depth == 0:
                opener = text[text.rfind("\n", 0, i) + 1:i]
                return re.match(r"\s*cascade\b", opener) is not None
            depth -= 1
    return False


def _target_completions(names: dict[str, Symbol], *, models_only: bool) -> list[Completion]:
    """What may follow `->`: the models, and in a rule or the default also the cascades and `reject`."""
    kinds = ("model",) if models_only else ("model", "cascade")
    found = [Completion(shown, _KIND_OF[sym.kind], _detail(sym)) for shown, sym in sorted(names.items())
             if "." not in shown and sym.kind in kinds]
    return found if models_only else found + [Completion("reject", "keyword", 'reject "reason"')]


def _detail(symbol: Symbol) -> str:
    if symbol.kind in ("signal", "outcome"):
        return _one_line(symbol.unit.source.text[symbol.decl.span.start:symbol.decl.span.end], 80)
    return f"{symbol.kind} ({symbol.unit.source.name})"


# ---- the outline -----------------------------------------------------------------------------------


def outline(snapshot: Snapshot) -> list[Outline]:
    """The buffer's declarations in order, for the outline and breadcrumbs: imports,
    thresholds, signals, outcomes, models, cascades (their edges inside), fallbacks, budgets,
    invariants, the route block (its rules and default inside) and tests."""
    tree = snapshot.program.top.file
    if tree is None:
        return []
    source = snapshot.program.top.source

    def text(node: Node) -> str:
        return _one_line(source.text[node.span.start:node.span.end], 80)

    found: list[Outline] = []
    for decl in tree.decls:
        match decl:
            case s.Import():
                found.append(Outline(decl.path.value, "import", text(decl), decl.span, decl.path.span))
            case s.Threshold():
                found.append(Outline(decl.name.text, "threshold", text(decl.value), decl.span, decl.name.span))
            case s.SignalDecl():
                found.append(Outline(decl.name.text, decl.role, text(decl.type), decl.span, decl.name.span))
            case s.ModelDecl():
                detail = f"= {decl.base.text}" if decl.base is not None else ""
                found.append(Outline(decl.name.text, "model", detail, decl.span, decl.name.span))
            case s.CascadeDecl():
                edges = tuple(Outline(f"{e.source.text} -> {e.target.text}", "rule", text(e.condition), e.span,
                                      e.source.span) for e in decl.edges)
                found.append(Outline(decl.name.text, "cascade", "", decl.span, decl.name.span, edges))
            case s.FallbackDecl():
                found.append(Outline(f"{decl.source.text} -> {decl.target.text}", "fallback",
                                     "on " + ", ".join(e.text for e in decl.errors), decl.span, decl.source.span))
            case s.BudgetDecl():
                found.append(Outline(f"budget {decl.metric.text}", "budget", text(decl.bound), decl.span,
                                     decl.metric.span))
            case s.InvariantDecl():
                found.append(Outline(decl.name.text, "invariant", text(decl.requirement), decl.span, decl.name.span))
            case s.RouteDecl():
                rules = []
                for rule in decl.rules + ((decl.default,) if decl.default else ()):
                    name = rule.name.text if rule.name is not None else "default"
                    selection = rule.name.span if rule.name is not None else rule.span
                    target = text(rule.target)
                    rules.append(Outline(name, "rule", f"-> {target}", rule.span, selection))
                keyword = source.span(decl.span.start, decl.span.start + len("route"))
                found.append(Outline("route", "route", f"{len(decl.rules)} rules", decl.span, keyword, tuple(rules)))
            case s.TestDecl():
                found.append(Outline(decl.name.text, "test", text(decl.expect), decl.span, decl.name.span))
    return found
