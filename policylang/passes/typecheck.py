"""Type checking of declarations: the resolved files become one `CheckedPolicy`.

Reports E103 (kinds), E104 (enum members), E105 (outcomes outside cascades), E108 (values
outside their domain), E109/E110 (model fields), E111 (caps, also beside other errors of the
capped model), E102 (a field or enum member given twice) and E305 (a cascade that is not one
simple path). When anything is wrong the policy is None and every finding is reported. Two
fallbacks for one error (E308) are the analyses' to report (passes/fallbacks.py), so that they
hide nothing else.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any, assert_never

from ..codes import E101, E102, E103, E105, E108, E109, E110, E111, E305, Code
from ..diagnostics import Diagnostic, Related, diagnostic
from ..ir import expr as e
from ..ir import surface as s
from ..ir.node import trusted
from ..ir.policy import (ERRORS, MODEL_FIELDS, REQUIRED_MODEL_FIELDS, Budget, Cascade, CascadeEdge,
                         CascadeTarget, CheckedPolicy, Fallback, Invariant, Model, ModelTarget, RejectTarget,
                         Rule, Signal, Target, Test)
from ..ir.types import (BOOL, BoolType, DurationType, EnumType, FloatType, IntType, MoneyType, SetType, StringType,
                        Type, describe, format_value, kind_of)
from ..source import Span
from ..syntax.loader import Unit
from .expressions import _NUMBER_TEXT, MODEL_FIELD_TYPES, ExpressionChecker, Where, phrase
from .resolve import Member, Resolution, Symbol

WELL_KNOWN = {"input_tokens": "int"}

_TYPE_CLASSES: dict[str, type[IntType] | type[FloatType] | type[MoneyType] | type[DurationType]] = {"int": IntType, "float": FloatType, "money": MoneyType, "duration": DurationType}
_BOUND_KINDS = {"int": "number", "float": "number", "money": "money", "duration": "duration"}

_RULE = Where("a rule's condition")
_CONST = Where("a constant")


def typecheck(res: Resolution) -> tuple[CheckedPolicy | None, list[Diagnostic]]:
    """The pass: the CheckedPolicy of a resolved program, or None with every finding (the
    policy is None whenever a finding is reported)."""
    checker = Checker(res)
    policy = checker.run()
    return (policy if not checker.diagnostics else None), checker.diagnostics


class Checker:
    """Checks each declaration once, in dependency order (thresholds and models on demand)."""

    def __init__(self, res: Resolution) -> None:
        self.res = res
        self.sources = res.program.sources
        self.diagnostics: list[Diagnostic] = []
        self.exprs = ExpressionChecker(self)
        self._thresholds: dict[Symbol, e.Const | None] = {}
        self._types: dict[Symbol, Type | None] = {}
        self._models: dict[Symbol, Model | None] = {}
        self._max_outputs: dict[str, int] = {}
        """Each model's checked max_output by its name, even where another field of it is wrong,
        so that E111 is reported beside those errors."""
        self._in_progress: set[Symbol] = set()

    def error(self, code: Code, message: str, span: Span, *, related: Iterable[Related] = (),
              help: str | None = None) -> None:
        """Report a finding at `span`."""
        self.diagnostics.append(diagnostic(code, message, span, related=related, help=help))

    # ---- the policy ---------------------------------------------------------------------------

    def run(self) -> CheckedPolicy | None:
        """The checked policy, or None when any declaration has a finding (all are reported)."""
        res, top = self.res, self.res.program.top
        top_file = top.file
        assert top_file is not None  # resolution runs only on programs whose every file parsed
        signals = [self.signal(sym) for sym in res.signals]
        models = [self.model(sym) for sym in res.symbols("model")]
        cascades, fallbacks, budgets, invariants = [], [], [], []
        route, tests = None, []
        for unit, decl in res.active:
            match decl:
                case s.Threshold():
                    self.threshold(res.declared[id(decl)])
                case s.CascadeDecl():
                    cascades.append(self.cascade(unit, decl))
                case s.FallbackDecl():
                    fallbacks.append(self.fallback(decl))
                case s.BudgetDecl():
                    budgets.append(self.budget(unit, decl))
                case s.InvariantDecl():
                    invariants.append(self.invariant(unit, decl))
                case s.RouteDecl() if route is None:
                    route = decl
                case s.TestDecl():
                    tests.append(self.test(unit, decl))
                case s.SignalDecl() | s.ModelDecl() | s.RouteDecl() | s.Import():
                    pass  # signals and models above, in their own order; a second route is E112
                case _:
                    assert_never(decl)
        by_name = {c.name: c for c in cascades if c is not None}
        rules = [self.rule(top, r, by_name) for r in route.rules] if route else []
        default = self.rule(top, route.default, by_name) if route and route.default else None
        parts = [*signals, *models, *cascades, *fallbacks, *budgets, *invariants, *rules, *tests]
        if self.diagnostics or self.res.diagnostics or any(p is None for p in parts) or (route and route.default and default is None):
            return None
        return CheckedPolicy(
            span=top_file.name.span,
            name=top_file.name.text,
            file=top.name,
            source_sha256=top.source.sha256,
            signals=tuple(signals),
            models=tuple(models),
            cascades=tuple(cascades),
            fallbacks=tuple(fallbacks),
            budgets=tuple(budgets),
            invariants=tuple(invariants),
            rules=tuple(rules),
            default=default,
            route_span=route.span if route else None,
            tests=tuple(tests),
        )

    # ---- constants ----------------------------------------------------------------------------

    def threshold(self, symbol: Symbol) -> e.Const | None:
        """A threshold's value, checked once (a constant number, amount, duration or bool);
        None after a finding, a cycle among thresholds included."""
        if symbol in self._thresholds:
            return self._thresholds[symbol]
        if symbol in self._in_progress:
            self.error(E103, f"threshold '{symbol.name}' is defined in terms of itself", symbol.span)
            self._thresholds[symbol] = None
            return None
        self._in_progress.add(symbol)
        decl = symbol.decl
        assert isinstance(decl, s.Threshold)  # a symbol holds the declaration of its kind
        value = self.exprs.constant(decl.value, symbol.unit, Where(f"threshold '{symbol.name}'"))
        self._in_progress.discard(symbol)
        if value is not None and kind_of(value.type) not in ("number", "money", "duration", "bool"):
            self.error(E103, f"a threshold is a number, money, a duration or a bool; this is {phrase(value.type)}",
                       decl.value.span)
            value = None
        self._thresholds.setdefault(symbol, value)
        return self._thresholds[symbol]

    def _bound(self, node: s.Expr, unit: Unit, base: str, what: str) -> Any:
        value = self.exprs.constant(node, unit, Where(what))
        if value is None:
            return None
        if kind_of(value.type) != _BOUND_KINDS[base] or (base == "int" and value.type.kind != "int"):
            written = {"int": "whole numbers", "float": "numbers", "money": "amounts such as $0..$100",
                       "duration": "durations such as 0s..30s"}[base]
            self.error(E103, f"the bounds of {base} are {written}; '{self.exprs.text(node)}' is {phrase(value.type)}", node.span)
            return None
        return float(value.value) if base == "float" else value.value

    # ---- signals and outcomes -----------------------------------------------------------------

    def signal_type(self, symbol: Symbol) -> Type | None:
        """A signal's or outcome's type, checked once (its domain's bounds included); None after
        a finding."""
        if symbol in self._types:
            return self._types[symbol]
        decl = symbol.decl
        assert isinstance(decl, s.SignalDecl)  # a symbol holds the declaration of its kind
        texpr = decl.type
        result: Type | None
        if texpr.base == "bool":
            result = BOOL
        elif texpr.base == "enum":
            members: list[str] = []
            for m in texpr.members:
                if m.text in members:
                    self.error(E102, f"'{m.text}' is listed twice in this enum", m.span)
                else:
                    members.append(m.text)
            result = EnumType(members=tuple(members))
        else:
            low = high = None
            result = _TYPE_CLASSES[texpr.base]()
            if texpr.domain is not None:
                what = f"the range of '{symbol.name}'"
                low = self._bound(texpr.domain.low, symbol.unit, texpr.base, what)
                high = self._bound(texpr.domain.high, symbol.unit, texpr.base, what)
                if low is None or high is None:
                    result = None
                elif low > high:
                    self.error(E108, f"the range {format_value(low)}..{format_value(high)} is empty", texpr.domain.span)
                    result = None
                else:
                    result = _TYPE_CLASSES[texpr.base](low=low, high=high)
        expected = WELL_KNOWN.get(symbol.name)
        if result is not None and expected and result.kind != expected:
            self.error(E103, f"'{symbol.name}' is a well-known signal of type {expected}; here it is {texpr.base}",
                       texpr.span, help=f"declare it as {expected}, or import \"std/signals\"")
        self._types[symbol] = result
        return result

    def signal(self, symbol: Symbol) -> Signal | None:
        """The checked signal or outcome, its default of its type and in its domain; None after
        a finding."""
        decl = symbol.decl
        assert isinstance(decl, s.SignalDecl)  # a symbol holds the declaration of its kind
        t = self.signal_type(symbol)
        has_default, default = decl.default is not None, None
        if t is not None and decl.default is not None:
            default = self.value(decl.default, symbol, t, f"the default of '{symbol.name}'")
        if t is None:
            return None
        return Signal(span=decl.name.span, name=symbol.name, role=symbol.kind, type=t,
                      has_default=has_default, default=default)

    def value(self, node: s.Expr, symbol: Symbol, t: Type, what: str) -> Any:
        """A constant given for a signal (a default, a test value): of its type, in its domain."""
        if isinstance(t, EnumType):
            binding = self.res.binding(node.name) if isinstance(node, s.NameRef) else None
            if not isinstance(binding, Member):
                self.error(E103, f"{what} is a member of {describe(t)}, written as a bare name", node.span)
                return None
            member = self.exprs.member(trusted(e.SignalRef, span=node.span, name=symbol.name, role=symbol.kind, type=t),
                                        binding.text, node)
            return member.value if member is not None else None
        const = self.exprs.constant(node, symbol.unit, Where(what))
        if const is None:
            return None
        if kind_of(const.type) != kind_of(t) or (isinstance(t, IntType) and const.type.kind != "int"):
            self.error(E103, f"'{symbol.name}' is {describe(t)}, but {self.exprs.text(node)} is {phrase(const.type)}",
                       node.span)
            return None
        value = float(const.value) if isinstance(t, FloatType) else const.value
        low: Any
        high: Any
        match t:
            case IntType() | FloatType() | MoneyType() | DurationType():
                low, high = t.low, t.high
            case BoolType() | SetType() | StringType():
                low = high = None
            case _:
                assert_never(t)
        if (low is not None and value < low) or (high is not None and value > high):
            self.error(E108, f"{format_value(value, t)} is outside the domain of '{symbol.name}', {describe(t)}", node.span)
            return None
        return value

    # ---- models -------------------------------------------------------------------------------

    def model(self, symbol: Symbol) -> Model | None:
        """A model, checked once: its base's fields, then its own, each of its type and range;
        None after a finding (a model that copies itself included)."""
        if symbol in self._models:
            return self._models[symbol]
        if symbol in self._in_progress:
            self.error(E101, f"model '{symbol.name}' is a copy of itself", symbol.span)
            self._models[symbol] = None
            return None
        self._in_progress.add(symbol)
        decl = symbol.decl
        assert isinstance(decl, s.ModelDecl)  # a symbol holds the declaration of its kind
        values: dict[str, Any] = {}
        ok = True
        if decl.base is not None:
            base = self.res.binding(decl.base)
            base_model = self.model(base) if isinstance(base, Symbol) else None
            if base_model is None:
                ok = False
            else:
                values = {f: getattr(base_model, f) for f in MODEL_FIELDS}
        given: dict[str, s.FieldAssign] = {}
        for assign in decl.fields:
            name = assign.name.text
            if name not in MODEL_FIELD_TYPES:
                close = difflib.get_close_matches(name, MODEL_FIELDS, n=1)
                self.error(E110, f"models have no field '{name}'", assign.name.span,
                           help=f"did you mean '{close[0]}'?" if close else "fields: " + ", ".join(MODEL_FIELDS))
                ok = False
                continue
            if name in given:
                self.error(E102, f"field '{name}' is given twice", assign.name.span,
                           related=[Related(message="first given here", span=given[name].name.span)])
                ok = False
                continue
            given[name] = assign
            value = self._field(symbol, assign)
            if value is _INVALID:
                ok = False
            else:
                values[name] = value
        missing = [f for f in REQUIRED_MODEL_FIELDS if f not in values and f not in given]
        if missing and decl.base is None:
            self.error(E109, f"model '{symbol.name}' is missing {', '.join(missing)}", decl.name.span,
                       help="a model needs id, tier, input_per_mtok, output_per_mtok, context, max_output and latency")
            ok = False
        self._in_progress.discard(symbol)
        if isinstance(values.get("max_output"), int):
            self._max_outputs.setdefault(self.res.display[symbol], values["max_output"])
        model = Model(span=decl.name.span, name=self.res.display[symbol], **values) if ok else None
        self._models.setdefault(symbol, model)
        return self._models[symbol]

    def _field(self, symbol: Symbol, assign: s.FieldAssign) -> Any:
        name, node = assign.name.text, assign.value
        want = MODEL_FIELD_TYPES[name]
        const = self.exprs.constant(node, symbol.unit, Where(f"field '{name}'"))
        if const is None:
            return _INVALID
        if kind_of(const.type) != kind_of(want) or (want.kind == "int" and const.type.kind != "int"):
            self.error(E103, f"field '{name}' is {_FIELD_WORDS[name]}; {self.exprs.text(node)} is {phrase(const.type)}",
                       node.span)
            return _INVALID
        value = const.value
        positive = name in ("context", "max_output")
        if not isinstance(value, (frozenset, str)) and (value < 0 or (positive and value == 0)):
            self.error(E108, f"field '{name}' must be {'greater than 0' if positive else 'at least 0'}; "
                               f"it is {format_value(value, want)}", node.span)
            return _INVALID
        return value

    # ---- cascades and fallbacks ---------------------------------------------------------------

    def cascade(self, unit: Unit, decl: s.CascadeDecl) -> Cascade | None:
        """The cascade as one ladder (E305 otherwise), its edges' conditions checked with
        outcomes allowed; None after a finding."""
        symbol = self.res.declared[id(decl)]
        edges: list[CascadeEdge] = []
        ok = True
        for edge in decl.edges:
            source, target = self.res.binding(edge.source), self.res.binding(edge.target)
            condition = self.exprs.condition(edge.condition, unit, Where("an escalation's condition", outcomes=True))
            if not (isinstance(source, Symbol) and isinstance(target, Symbol)) or condition is None:
                ok = False
                continue
            edges.append(CascadeEdge(span=edge.span, source=self.res.display[source],
                                     target=self.res.display[target], condition=condition))
        if not ok:
            return None
        ordered = self._ladder(decl, edges)
        if ordered is None:
            return None
        steps = (ordered[0].source,) + tuple(x.target for x in ordered)
        return Cascade(span=decl.span, name=self.res.display[symbol], steps=steps, edges=tuple(ordered))

    def _ladder(self, decl: s.CascadeDecl, edges: list[CascadeEdge]) -> list[CascadeEdge] | None:
        """The edges as one simple path from the entry, or None after E305."""
        def fail(message: str, help: str | None = None) -> None:
            self.error(E305, f"cascade '{decl.name.text}' {message}", decl.span, help=help,
                       related=[Related(message="edge", span=x.span) for x in edges[:4]])

        if not edges:
            fail("has no edges", help="a cascade climbs at least once: cheap -> strong when confidence < 0.7")
            return None
        outgoing: dict[str, CascadeEdge] = {}
        incoming: dict[str, CascadeEdge] = {}
        for edge in edges:
            if edge.source in outgoing:
                fail(f"forks: '{edge.source}' climbs to both '{outgoing[edge.source].target}' and '{edge.target}'",
                     help="a cascade is one ladder; merge the conditions into one edge")
                return None
            if edge.target in incoming:
                fail(f"joins: both '{incoming[edge.target].source}' and '{edge.source}' climb to '{edge.target}'")
                return None
            outgoing[edge.source] = incoming[edge.target] = edge
        entries = [x.source for x in edges if x.source not in incoming]
        if len(entries) != 1:
            chain = " -> ".join(x.source for x in edges) + " -> " + edges[-1].target
            fail(f"has a cycle ({chain})" if not entries else "is not one connected ladder",
                 help="every step but the entry has exactly one edge into it")
            return None
        ordered, at = [], entries[0]
        while at in outgoing:
            ordered.append(outgoing[at])
            at = outgoing[at].target
            if len(ordered) > len(edges):
                break
        if len(ordered) != len(edges):
            fail("has a cycle besides its ladder", help="every step but the entry has exactly one edge into it")
            return None
        return ordered

    def fallback(self, decl: s.FallbackDecl) -> Fallback | None:
        """The fallback with its errors, each a provider error and listed once; None when a
        model is unknown."""
        source, target = self.res.binding(decl.source), self.res.binding(decl.target)
        errors: list[str] = []
        for error in decl.errors:
            if error.text not in ERRORS:
                close = difflib.get_close_matches(error.text, ERRORS, n=1)
                self.error(E101, f"unknown provider error '{error.text}'", error.span,
                           help=f"did you mean '{close[0]}'?" if close else "errors: " + ", ".join(ERRORS))
            elif error.text in errors:
                self.error(E102, f"'{error.text}' is listed twice", error.span)
            else:
                errors.append(error.text)
        if not (isinstance(source, Symbol) and isinstance(target, Symbol)):
            return None
        return Fallback(span=decl.span, source=self.res.display[source], target=self.res.display[target],
                        errors=tuple(errors))

    # ---- budgets and invariants ---------------------------------------------------------------

    def budget(self, unit: Unit, decl: s.BudgetDecl) -> Budget | None:
        """The budget, its bound an amount (cost) or a duration (latency); None after a finding."""
        metric = decl.metric.text
        bound = self.exprs.constant(decl.bound, unit, Where(f"a {metric} budget"))
        condition = self.exprs.condition(decl.condition, unit, Where("a budget's condition")) if decl.condition else None
        want = "money" if metric == "cost" else "duration"
        if bound is not None and kind_of(bound.type) != want:
            self.error(E103, f"a {metric} budget is {'an amount of money' if metric == 'cost' else 'a duration'}; "
                               f"'{self.exprs.text(decl.bound)}' is {phrase(bound.type)}", decl.bound.span,
                       help=self._budget_help(decl, metric, kind_of(bound.type)))
            return None
        if bound is None or (decl.condition is not None and condition is None):
            return None
        return Budget(span=decl.span, metric=metric, bound=bound.value, condition=condition)

    def _budget_help(self, decl: s.BudgetDecl, metric: str, found: str) -> str:
        """The fix of a budget whose bound is of the wrong kind, in the user's own words: the
        other budget for the bound they wrote (`400ms` bounds latency), or their number with the
        unit it lacks; never a value they did not write."""
        written = self.exprs.text(decl.bound)
        when = f" when {self.exprs.text(decl.condition)}" if decl.condition is not None else ""
        other, other_kind = ("latency", "duration") if metric == "cost" else ("cost", "money")
        if found == other_kind:
            return f"to bound {other}, write: budget {other} <= {written}{when}"
        if _NUMBER_TEXT.fullmatch(written):
            if metric == "cost":
                return f"write the amount with a dollar sign: budget cost <= ${written}{when}"
            return f"give the number a unit: budget latency <= {written}s{when} (or {written}ms, {written}m)"
        if metric == "cost":
            return "the bound of a cost budget is an amount of money: $ and a number, or a money threshold"
        return "the bound of a latency budget is a duration: a number with s, ms or m, or a duration threshold"

    def invariant(self, unit: Unit, decl: s.InvariantDecl) -> Invariant | None:
        """The invariant, its requirement free to read `model.FIELD`; None after a finding."""
        condition = self.exprs.condition(decl.condition, unit, Where("an invariant's condition")) if decl.condition else None
        requirement = self.exprs.requirement(decl.requirement, unit, Where("an invariant's requirement"))
        if requirement is None or (decl.condition is not None and condition is None):
            return None
        return Invariant(span=decl.span, name=decl.name.text, condition=condition, requirement=requirement)

    # ---- the route ----------------------------------------------------------------------------

    def rule(self, unit: Unit, decl: s.RuleDecl, cascades: dict[str, Cascade]) -> Rule | None:
        """The rule (or the default), its target a known model or a well-formed cascade, its cap
        within the entry model's max_output; None after a finding."""
        name = decl.name.text if decl.name is not None else "default"
        condition = self.exprs.condition(decl.condition, unit, _RULE) if decl.condition is not None else None
        target = self._target(decl.target, cascades)
        cap = self._cap(decl.cap, target, cascades) if decl.cap is not None else None
        if target is None or (decl.condition is not None and condition is None) or cap is _INVALID:
            return None
        return trusted(Rule, span=decl.span, name=name, condition=condition, target=target, cap=cap)

    def _target(self, target: s.Target, cascades: dict[str, Cascade]) -> Target | None:
        match target:
            case s.RejectTarget():
                return trusted(RejectTarget, span=target.span, reason=target.reason.value)
            case s.ModelTarget():
                pass  # a model or a cascade, by what the name means
            case _:
                assert_never(target)
        symbol = self.res.binding(target.ref)
        if not isinstance(symbol, Symbol):
            return None
        name = self.res.display[symbol]
        if symbol.kind == "cascade":
            return trusted(CascadeTarget, span=target.span, cascade=name) if name in cascades else None
        return trusted(ModelTarget, span=target.span, model=name)

    def _cap(self, given: s.Cap, target: Target | None, cascades: dict[str, Cascade]) -> Any:
        cap = self.exprs.constant(given.value, self.res.program.top, Where("max_output"))
        if cap is None:
            return _INVALID
        if cap.type.kind != "int":
            self.error(E103, f"max_output is a whole number of tokens; this is {phrase(cap.type)}", given.value.span)
            return _INVALID
        if cap.value <= 0:
            self.error(E108, "max_output must be greater than 0", given.value.span)
            return _INVALID
        entry: str | None
        match target:
            case RejectTarget():
                self.error(E103, "a rejected request makes no call, so it has no max_output", given.span,
                           help="drop `with max_output = ...` from this rule")
                return _INVALID
            case ModelTarget():
                entry = target.model
            case CascadeTarget():
                entry = cascades[target.cascade].steps[0]
            case None:
                entry = None  # an unknown target, reported already
            case _:
                assert_never(target)
        most = self._max_outputs.get(entry) if entry is not None else None
        if most is not None and cap.value > most:
            declared = next((sym for sym in self.res.symbols("model") if self.res.display[sym] == entry), None)
            related = [Related(message=f"model '{entry}'", span=declared.span)] if declared is not None else []
            self.error(E111, f"max_output = {cap.value} is above the max_output of '{entry}' ({most})",
                       given.value.span, related=related, help=f"lower the cap to at most {most}")
            return _INVALID
        return cap.value

    # ---- tests --------------------------------------------------------------------------------

    def test(self, unit: Unit, decl: s.TestDecl) -> Test | None:
        """The test, every value of its signal's type and domain and every name known; None
        after a finding."""
        given = self._assignments(decl.given, "signal", "given")
        outcomes = self._assignments(decl.outcomes, "outcome", "outcome") if decl.outcomes is not None else ()
        expect = decl.expect
        models: list[str | None] = []
        for ref in ((expect.model,) if expect.model else ()) + expect.then:
            symbol = self.res.binding(ref)
            models.append(self.res.display[symbol] if isinstance(symbol, Symbol) else None)
        rule = expect.rule.text if expect.rule is not None else None
        caps = [self._expected_cap(cap) if cap is not None else None for cap in expect.caps]
        down = [self._down(d) for d in decl.down]
        for d, later in zip(decl.down, down):
            twice = [x for x in decl.down if x is not d and later is not None and self._down_name(x) == later[0]]
            if twice and later is not None and decl.down.index(twice[0]) < decl.down.index(d):
                self.error(E102, f"'{later[0]}' is down twice in this test; a model fails with one error",
                           d.span, related=[Related(message="first said here", span=twice[0].span)])
                down = [None]
        if given is None or outcomes is None or any(m is None for m in models) or _INVALID in caps \
                or any(d is None for d in down):
            return None
        if expect.rule is not None and rule != "default" and not isinstance(self.res.binding(expect.rule), Symbol):
            return None
        return Test(
            span=decl.span,
            name=decl.name.text,
            given=given,
            outcomes=outcomes if decl.outcomes is not None else None,
            expect_reject=expect.reject,
            expect_model=models[0] if models else None,
            expect_rule=rule,
            expect_then=tuple(models[1:]),
            expect_caps=tuple(caps) if any(c is not None for c in caps) else (),
            down=tuple(down),
        )

    def _expected_cap(self, cap: s.Cap) -> Any:
        """The cap a test expects of a call: a whole number of tokens above 0."""
        value = self.exprs.constant(cap.value, self.res.program.top, Where("max_output"))
        if value is None:
            return _INVALID
        if value.type.kind != "int" or value.value <= 0:
            self.error(E103 if value.type.kind != "int" else E108,
                       f"max_output is a whole number of tokens above 0; this is {self.exprs.text(cap.value)}",
                       cap.value.span)
            return _INVALID
        return value.value

    def _down_name(self, down: s.Down) -> str | None:
        symbol = self.res.binding(down.model)
        return self.res.display[symbol] if isinstance(symbol, Symbol) else None

    def _down(self, down: s.Down) -> tuple[str, str] | None:
        """(model, error) of a `down` clause; the error is `unavailable` unless one is named."""
        symbol = self.res.binding(down.model)
        error = down.error.text if down.error is not None else "unavailable"
        if down.error is not None and error not in ERRORS:
            close = difflib.get_close_matches(error, ERRORS, n=1)
            self.error(E101, f"unknown provider error '{error}'", down.error.span,
                       help=f"did you mean '{close[0]}'?" if close else "errors: " + ", ".join(ERRORS))
            return None
        return (self.res.display[symbol], error) if isinstance(symbol, Symbol) else None

    def _assignments(self, assignments: Sequence[s.Assignment], role: str, block: str
                     ) -> tuple[tuple[str, Any], ...] | None:
        values: list[tuple[str, Any]] = []
        ok = True
        for a in assignments:
            symbol = self.res.binding(a.name)
            if not isinstance(symbol, Symbol):
                ok = False
                continue
            if symbol.kind != role:
                if role == "signal":
                    self.error(E105, f"'{symbol.name}' is an outcome; set it in the test's `outcome {{ ... }}` block", a.name.span)
                else:
                    self.error(E101, f"'{symbol.name}' is a signal; set it in `given {{ ... }}`", a.name.span)
                ok = False
                continue
            if any(name == symbol.name for name, _ in values):
                self.error(E102, f"'{symbol.name}' is given twice", a.name.span)
                ok = False
                continue
            t = self.signal_type(symbol)
            value = self.value(a.value, symbol, t, f"the value of '{symbol.name}'") if t is not None else None
            if value is None:
                ok = False
                continue
            values.append((symbol.name, value))
        return tuple(values) if ok else None


class _Invalid:
    """A value that failed its check (distinct from None, which can be a real value)."""


_INVALID = _Invalid()

_FIELD_WORDS = {
    "id": "a string", "tier": "a whole number", "input_per_mtok": "an amount of money",
    "output_per_mtok": "an amount of money", "context": "a whole number of tokens",
    "max_output": "a whole number of tokens", "latency": "a duration", "regions": "a set of labels",
    "tags": "a set of labels",
}
