"""The compiler: one standalone Python module per policy, rendered from a jinja2 template.

Safe: every string, name and number from a policy reaches the module through `repr` or a
mangled identifier (`v_NAME` for a signal, indexes for everything else), and comments are
cut to printable ASCII, so no policy text can run. Deterministic: the same policy gives the
same bytes. Traceable: every rule is found by its name and source line in a comment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import fields
from decimal import Decimal
from functools import lru_cache, partial
from importlib.resources import files
from typing import Any, TypeAlias, assert_never

import jinja2

from ..._version import __version__
from ...ir import expr as e
from ...ir.policy import CheckedPolicy, Model
from ...ir.values import exact
from .checks import SignalCheck, checks
from .constants import Constants
from .index import plan_dispatch  # noqa: F401  (tests reach the planner's pieces through this module)
from .lowering import split_deep
from .module_plan import (CallPlan, CheckPlan, Climb, Deferral, EdgePlan, FamilyPlan, ModulePlan, Read, RoutePlan,
                          RulePlan, plan_module)
from .module_plan import signal_refs as _signal_refs  # noqa: F401  (as above)
from .plan import cost_terms, exact_arithmetic, has_input_tokens, narrow_number
from .plan import ladder, signals_read  # noqa: F401  (as above)
from .views import (ChainView, CheckView, DispatchView, EdgeView, FamilyView, ModelView, ModuleView, PathView,
                    RouteView, RuleView)

_TIGHT = (e.Compare, e.InSet, e.InRange)
"""Tests that bind tighter than `not`, `and` and `or`: written bare beneath them, since a
thousand rules' redundant parentheses measurably slow Python's parser (a module's import)."""

NameOf: TypeAlias = Callable[[str, str], str]
"""How generated code reads a signal or outcome, by (name, role): a local, or a dict lookup."""

WIDE_SUM = 16
"""Sums of more terms call the runtime's `_number_sum`: the same value, and no deep nesting for
Python's compiler."""

VALUES_START = "# -- value semantics: copied verbatim into compiled modules from here --\n"
VALUES_END = "# -- end of the value semantics copied into compiled modules --\n"
LAZY_CHAINS = True
"""Without validation a keyed dispatch calls chains of its own (`_lazy_N`): each takes the
request and the signals read before the dispatch, and reads the rest just before the first of
its rules that tests them. The validated path's chains (`_chain_N`) take every validated value
and read nothing. Two copies of the chains cost a module's import only where no bytecode cache
is at hand (benchmarks/shapes.py measures both paths and the import on 1,000 conjunctive tenant
rules). False: the trusted path reads every signal the chains read before the dispatch and
calls the validated path's chains."""

LAZY_RULES = 256
"""Routes of more rules outside a dispatch than this read every signal up front without
validation, sharing the validated path's rules: a second copy would cost more import time
than the reads it saves."""

SUPPORT_START = "# -- runtime support: copied verbatim into compiled modules below this line --\n"


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    text = (files("policylang.backends.python") / "templates" / "module.py.jinja").read_text(encoding="utf-8")
    env = jinja2.Environment(
        autoescape=False,  # Python source, not HTML: every value goes through `pyrepr`
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )
    env.filters["pyrepr"] = repr
    return env.from_string(text)


@lru_cache(maxsize=1)
def _runtime_source() -> str:
    """The value semantics (ir/values.py), then validation and decisions (support.py)."""
    values = (files("policylang.ir") / "values.py").read_text(encoding="utf-8")
    support = (files("policylang.backends.python") / "support.py").read_text(encoding="utf-8")
    copied = values.split(VALUES_START, 1)[1].split(VALUES_END, 1)[0]
    return copied.strip() + "\n\n\n" + support.split(SUPPORT_START, 1)[1].strip()


def comment(text: str) -> str:
    """Text safe inside a `#` comment or a docstring: printable ASCII without quotes or
    backslashes, so it can neither end the line nor the string."""
    return re.sub(r"[^\x20-\x7e]|[\"'\\]", "?", str(text))


def _identifier(name: str, index: int) -> str:
    return f"v_{name}" if name.isidentifier() and name.isascii() else f"v_{index}"


class _Writer:
    """Words a module's plan (module_plan.py) as Python text, and renders the template."""

    def __init__(self, policy: CheckedPolicy) -> None:
        self.policy = policy
        self.constants = Constants()
        self.input_tokens = has_input_tokens(policy)
        self.has_default = policy.default is not None
        self.models = {m.name: m for m in policy.models}
        self.locals = {s.name: _identifier(s.name, i) for i, s in enumerate(policy.signals)}
        self.signal_checks = {c.name: c for c in checks(policy, "signal")}
        """Each signal's check by name, in declaration order: built once, read by every read."""
        self.tests: dict[tuple[int, int], tuple[e.Expr, tuple[str, ...], str]] = {}
        """Each rule's test written so far, by (position, the condition's identity), with the
        condition (kept, so that its identity is not reused)."""

    # ---- expressions --------------------------------------------------------------------------

    def condition(self, expr: e.Expr, name_of: NameOf) -> tuple[list[str], str]:
        """(lines computing the hoisted pieces of a deep `expr`, the test that reads them)."""
        pieces, rest = split_deep(expr)
        prelude = [f"t{index} = {self.expr(piece, name_of, top=True)}" for index, piece in pieces]
        return prelude, self.expr(rest, name_of, top=True)

    def expr(self, x: e.LoweredExpr, name_of: NameOf, top: bool = False) -> str:
        """Python code for `x`; `top`: a whole condition, which needs no outer parentheses."""
        text = self._expr(x, name_of)
        wrapped = isinstance(x, (e.Not, e.BoolOp, e.Compare, e.InSet, e.InRange, e.Scale)) or (
            isinstance(x, e.Sum) and x.type.kind not in ("money", "duration", "float") and len(x.terms) <= WIDE_SUM)
        if top and wrapped and text.startswith("(") and text.endswith(")"):
            return text[1:-1]  # these cases are written as one parenthesized group
        return text

    def _expr(self, x: e.LoweredExpr, name_of: NameOf) -> str:
        lit = self.constants.literal
        match x:
            case e.Const(value=value):
                return lit(value)
            case e.SignalRef():
                return name_of(x.name, x.role)
            case e.Local(index=index):
                return f"t{index}"
            case e.CostOf(model=model):
                terms = cost_terms(self.models[model])
                if not self.input_tokens:
                    return lit(terms.at(self.models[model].context))
                tokens = name_of("input_tokens", "signal")
                return f"_EXACT.add(_EXACT.multiply({tokens}, {lit(terms.per_input_token)}), {lit(terms.fixed)})"
            case e.Not(operand=operand):  # comparisons bind tighter than `not`: no parentheses
                return f"(not {self.expr(operand, name_of, top=isinstance(operand, _TIGHT))})"
            case e.BoolOp(op=op, operands=operands):  # nor than `and`/`or`, nor `not`
                return "(" + f" {op} ".join(self.expr(o, name_of, top=isinstance(o, (*_TIGHT, e.Not)))
                                            for o in operands) + ")"
            case e.Compare(op=op, left=left, right=right):
                l, r = self.operand(left, name_of), self.operand(right, name_of)
                if left.type.kind == "set":
                    return f"_set_compare({op!r}, {l}, {r})"
                if exact_arithmetic(left) or exact_arithmetic(right):
                    l, r = self.exact(left, l), self.exact(right, r)
                return f"({l} {op} {r})"
            case e.InSet(element=element, members=members, negated=negated):
                # a module constant: a thousand rules' set displays cost Python's compiler more
                # (a module's first import) than the global lookup costs a decision
                members_name = self.constants.literal(frozenset(members))
                return f"({self.expr(element, name_of)} {'not in' if negated else 'in'} {members_name})"
            case e.InRange(element=element, low=low, high=high, negated=negated):
                parts = [self.operand(p, name_of) for p in (low, element, high)]
                if any(exact_arithmetic(p) for p in (low, element, high)):
                    parts = [self.exact(p, text) for p, text in zip((low, element, high), parts)]
                test = " <= ".join(parts)
                return f"(not ({test}))" if negated else f"({test})"
            case e.HasLabel(element=element, container=container, negated=negated):
                test = f"_has_label({self.expr(element, name_of)}, {self.expr(container, name_of)})"
                return f"(not {test})" if negated else test
            case e.Sum(terms=terms, signs=signs) if x.type.kind in ("money", "duration", "float"):
                # money, durations and float arithmetic add exactly (float terms read by their repr)
                exact_terms = ", ".join(self.exact(t, self.expr(t, name_of)) for t in terms)
                return f"_exact_sum(({exact_terms},), {signs!r})"
            case e.Sum(terms=terms, signs=signs) if len(terms) > WIDE_SUM:
                # a long `a + b + ...` would nest a level per term in Python's parser
                number_terms = ", ".join(self.expr(t, name_of) for t in terms)
                return f"_number_sum(({number_terms},), {signs!r})"
            case e.Sum(terms=terms, signs=signs):
                text = self.expr(terms[0], name_of)
                for sign, term in zip(signs[1:], terms[1:]):
                    text += f" {'+' if sign > 0 else '-'} {self.expr(term, name_of)}"
                return f"({text})"
            case e.Scale(factor=factor, operand=operand) if x.type.kind in ("money", "duration", "float"):
                exact_factor = exact(factor)
                return f"_EXACT.multiply({lit(exact_factor)}, {self.exact(operand, self.expr(operand, name_of))})"
            case e.Scale(factor=factor, operand=operand):
                return f"({lit(factor)} * {self.expr(operand, name_of)})"
            case _:
                assert_never(x)

    def operand(self, x: e.LoweredExpr, name_of: NameOf) -> str:
        """A comparison's operand: a decimal constant whose value an int or a float holds
        exactly is written as that literal (Python compares ints, floats and decimals by their
        exact values, so the answer is the same, and cheaper than a Decimal's)."""
        if isinstance(x, e.Const) and isinstance(x.value, Decimal):
            narrowed = narrow_number(x.value)
            if narrowed.__class__ is not Decimal:
                return repr(narrowed)
        return self.expr(x, name_of)

    def exact(self, x: e.LoweredExpr, text: str) -> str:
        """`text` (the code for `x`) as an exact decimal where `x` may be a float."""
        if x.type.kind != "float" or exact_arithmetic(x):
            return text  # ints, money, durations and exact sums are exact already
        if isinstance(x, e.Const):
            return self.constants.literal(exact(x.value))
        return f"_dec({text})"

    def local_name(self, name: str, role: str) -> str:
        """A NameOf for rule conditions: each signal in its (mangled) local."""
        return self.locals[name]

    @staticmethod
    def dict_name(name: str, role: str) -> str:
        """A NameOf for cascade edges: signals from `s`, outcomes from `o`, keys quoted."""
        return f"{'s' if role == 'signal' else 'o'}[{name!r}]"

    # ---- the module ---------------------------------------------------------------------------

    def fast_test(self, check: SignalCheck, var: str) -> str:
        """The common case, accepted inline: the exact type, inside the domain. Anything else
        goes to the runtime's `_check`, which gives every answer (both engines share it)."""
        kind = check.kind
        if kind == "bool":
            return f"{var}.__class__ is bool"
        if kind == "enum":
            return f"{var}.__class__ is str and {var} in {_set_display(check.members)}"
        exact = f"{var}.__class__ is int" if kind != "float" else \
            f"({var}.__class__ is float or {var}.__class__ is int)"
        tests = [exact]
        lit = self.bound_literal
        if kind == "float" and (check.low is None or check.high is None):
            tests.append(f"{var} - {var} == 0")  # false for NaN and infinities
        if check.low is not None and check.high is not None:
            tests.append(f"{lit(check.low)} <= {var} <= {lit(check.high)}")
        elif check.low is not None:
            tests.append(f"{var} >= {lit(check.low)}")
        elif check.high is not None:
            tests.append(f"{var} <= {lit(check.high)}")
        return " and ".join(tests)

    def bound_literal(self, value: Any) -> str:
        """A bound as a literal where one is exact: a whole decimal compares like an int."""
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return repr(int(value))
        return self.constants.literal(value)

    def check_view(self, plan: CheckPlan) -> CheckView:
        """One signal's validation as the template writes it."""
        check = plan.check
        lit = self.constants.literal
        # a signal no rule reads is validated into one scratch name: fewer locals, a cheaper call
        var = self.locals[check.name] if plan.own_local else "_v"
        default_text = lit(check.default)  # constants are named in this order: default, bounds, spec
        fast = self.fast_test(check, var)
        return CheckView(check.name, var, check.required, default_text, fast, lit(check.spec), plan.type_text)

    def read_line(self, read: Read) -> str:
        """A planned trusted read as the module writes it."""
        match read.kind:
            case "read":
                return f"{self.locals[read.signal]} = {self.lookup(read.signal)}"
            case "if_unread":
                local = self.locals[read.signal]
                return f"if {local} is None: {local} = {self.lookup(read.signal)}"
            case "unset":
                return f"{self.locals[read.signal]} = None"
            case _:
                assert_never(read.kind)

    def lookup(self, name: str) -> str:
        """The trusted lookup of one signal: by key when required, else with its default."""
        check = self.signal_checks[name]
        return f"signals[{name!r}]" if check.required else \
            f"signals.get({name!r}, {self.constants.literal(check.default)})"

    # ---- the route ----------------------------------------------------------------------------
    # Module constants are numbered in the order they are first written, so the route is worded
    # in one fixed order: the validated path, the trusted one, the dispatch's families, chain by
    # chain (each chain's tests first, then its reads), then the edges and the checks.

    def test(self, rule: RulePlan) -> tuple[tuple[str, ...], str | None]:
        """(the prelude, the test) of a rule's condition over validated locals, written once
        per condition (both paths' chains hold the same rules)."""
        if rule.condition is None:
            return (), None
        key = (rule.position, id(rule.condition))
        made = self.tests.get(key)
        if made is None or made[0] is not rule.condition:
            prelude, test = self.condition(rule.condition, self.local_name)
            made = (rule.condition, tuple(prelude), test)
            self.tests[key] = made
        return made[1], made[2]

    def result(self, rule: RulePlan) -> str:
        """What a rule returns: its prebuilt decision, or one carrying the signals its
        escalations read."""
        if not rule.captured:
            return f"_D{rule.position}"
        fields = self.policy.decision_of(self.policy.route[rule.position])
        captured = "{" + ", ".join(f"{n!r}: {self.locals[n]}" for n in rule.captured) + "}"
        return f"Decision({', '.join(self.constants.literal(f, hoist=False) for f in fields)}, {captured})"

    def deferred_test(self, deferral: Deferral) -> str:
        """A deferral's test: the ready conjuncts over locals, then the pending ones, each
        deferred signal read with `:=` where it first appears."""
        first = set(deferral.deferred)

        def name_of(name: str, role: str) -> str:
            if name in first:
                first.discard(name)
                return f"({self.locals[name]} := {self.lookup(name)})"
            return self.locals[name]

        tests = [self.expr(o, self.local_name, top=isinstance(o, (*_TIGHT, e.Not))) for o in deferral.ready]
        tests += [self.expr(o, name_of, top=isinstance(o, (*_TIGHT, e.Not))) for o in deferral.pending]
        return " and ".join(tests)

    def rules(self, planned: tuple[RulePlan, ...]) -> tuple[RuleView, ...]:
        """The rules of one path or chain, as the template writes them: every test first, then
        each rule's trusted reads (see the order above)."""
        tests = [self.test(rule) for rule in planned]
        views: list[RuleView] = []
        for rule, (prelude, test) in zip(planned, tests):
            if not rule.trusted:
                views.append(RuleView(comment(rule.name), rule.line, prelude, test, self.result(rule)))
                continue
            if rule.deferral is not None:
                test = self.deferred_test(rule.deferral)
            lines = [(read.kind, self.read_line(read)) for read in rule.reads]
            views.append(RuleView(comment(rule.name), rule.line, prelude, test, self.result(rule),
                                  reads=tuple(line for kind, line in lines if kind != "if_unread"),
                                  guarded=tuple(line for kind, line in lines if kind == "if_unread"),
                                  mark=", validate=False"))
        return tuple(views)

    def reads(self, planned: tuple[Read, ...]) -> tuple[str, ...]:
        return tuple(self.read_line(read) for read in planned)

    def call(self, call: CallPlan | None, key: str) -> str | None:
        """A path's call of its family's chain for the key's value."""
        if call is None:
            return None
        key_local = self.locals[key]
        if call.lazy:
            args = ", ".join(["signals", *(self.locals[n] for n in call.args)])
            return f"_LAZY_CHAINS.get({key_local}, _lazy_other)({args})"
        values = ", ".join(self.locals[n] for n in call.args)
        if call.member:  # a validated key is a member
            return f"_CHAINS[{key_local}]({values})"
        return f"_CHAINS.get({key_local}, _chain_other)({values})"

    def route_view(self, route: RoutePlan) -> RouteView:
        """The route's two paths and its dispatch, worded."""
        key = route.dispatch.key if route.dispatch else ""
        validated = PathView(before=self.rules(route.validated.before), after=self.rules(route.validated.after),
                             call=self.call(route.validated.call, key))
        planned = route.trusted
        if planned.shared:
            trusted = PathView(reads=self.reads(planned.reads), shared=True, call=self.call(planned.call, key))
        else:
            before = self.rules(planned.before)
            key_reads = self.reads(planned.key_reads)
            trusted = PathView(before=before, key_reads=key_reads, after=self.rules(planned.after),
                               call=self.call(planned.call, key))
        if route.dispatch is None:
            return RouteView(validated, trusted)
        dispatch = route.dispatch
        ending = None if not dispatch.ends or self.has_default else "_NO_RULE"
        families = tuple(self.family(family, ending) for family in dispatch.families)
        return RouteView(validated, trusted, DispatchView(comment(dispatch.key), families, dispatch.ends))

    def family(self, family: FamilyPlan, ending: str | None) -> FamilyView:
        """One function per chain and the table from each value of the key to its function."""
        prefix, name = ("_lazy", "_LAZY_CHAINS") if family.lazy else ("_chain", "_CHAINS")
        chains: list[ChainView] = []
        for chain in family.chains:
            if chain.index is None:
                function, label = f"{prefix}_other", "a value that is no member (unvalidated requests)"
            else:
                function = f"{prefix}_{chain.index}"
                label = ", ".join(chain.members[:8]) + (", ..." if len(chain.members) > 8 else "")
            chains.append(ChainView(function, comment(label), ending, self.rules(chain.rules), chain.closed))
        table = "{" + ", ".join(f"{m!r}: {prefix}_{c.index}" for c in family.chains if c.index is not None
                                for m in c.members) + "}"
        params = ", ".join([*(["signals"] if family.lazy else []), *(self.locals[n] for n in family.params)])
        return FamilyView(tuple(chains), table, name, params)

    # ---- the module ---------------------------------------------------------------------------

    def edge_view(self, edge: EdgePlan) -> EdgeView:
        prelude, condition = self.condition(edge.condition, self.dict_name)
        return EdgeView(_edge_function(edge.cascade, edge.index), comment(edge.cascade_name), comment(edge.source),
                        comment(edge.target), edge.line, tuple(prelude), condition)

    def climb(self, climb: Climb) -> str:
        lit = self.constants.literal
        serves = "{" + ", ".join(f"{m!r}: {lit(at, hoist=False)}" for m, at in climb.serves) + "}"
        names = "".join(_edge_function(ci, ei) + ", " for ci, ei in climb.edges)
        return f"({lit(climb.steps, hoist=False)}, {serves}, ({names}))"

    def model_view(self, model: Model) -> ModelView:
        lit = partial(self.constants.literal, hoist=False)
        return ModelView(model.name, model.id, lit(model.tier), lit(model.input_per_mtok), lit(model.output_per_mtok),
                         lit(model.context), lit(model.max_output), lit(model.latency), lit(model.regions),
                         lit(model.tags))

    def render(self, plan: ModulePlan) -> str:
        """The module's source: deterministic, every policy string quoted or cut to a comment."""
        policy, lit = self.policy, self.constants.literal
        sends = tuple("(" + ", ".join(lit(f, hoist=False) for f in fields) + ")" for fields in plan.sends)
        route = self.route_view(plan.route)
        edges = tuple(self.edge_view(edge) for edge in plan.edges)
        signal_checks = tuple(self.check_view(c) for c in plan.signal_checks)
        outcome_checks = tuple(self.check_view(c) for c in plan.outcome_checks)
        view = ModuleView(
            version=__version__,
            file=comment(policy.file.replace("\\", "/").rsplit("/", 1)[-1]),
            policy_name=comment(policy.name),
            policy_name_repr=repr(policy.name),
            sha_repr=repr(policy.source_sha256),
            runtime=_runtime_source(),
            signal_checks=signal_checks,
            outcome_checks=outcome_checks,
            models=tuple(self.model_view(m) for m in plan.models),
            fallbacks=plan.fallbacks,
            constants=tuple((name, text) for text, name in self.constants.names.items()),
            sends=sends,
            rule_names=_strings([row.name for row in plan.rows]),
            rule_sends=_numbers([row.sends for row in plan.rows]),
            rule_climbs=_numbers([row.climbs for row in plan.rows]),
            rule_caps=_numbers([row.cap for row in plan.rows]),
            route=route,
            has_default=plan.has_default,
            edges=edges,
            climbs=tuple(self.climb(c) for c in plan.climbs),
        )
        return _tidy(_template().render({f.name: getattr(view, f.name) for f in fields(view)}))


def _tidy(text: str) -> str:
    """No trailing blanks, at most two blank lines in a row: what the template's loops leave."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and len(out) >= 2 and not out[-1] and not out[-2]:
            continue
        out.append(line)
    return "\n".join(out).rstrip() + "\n"


def _strings(items: list[str]) -> str:
    """Python source for a sequence of strings: one quoted string split at newlines (a
    thousand names compile a hundred times faster than a tuple of them), or, should some
    string hold a newline, the tuple."""
    if items and not any("\n" in item for item in items):
        return repr("\n".join(items)) + '.split("\\n")'
    return "(" + "".join(f"{item!r}, " for item in items) + ")"


def _numbers(items: list[int | None]) -> str:
    """Python source for a tuple of ints and Nones, as one string read at import ("-" for
    None): fast to compile however long."""
    text = " ".join("-" if item is None else str(int(item)) for item in items)
    return f'tuple(None if _n == "-" else int(_n) for _n in {text!r}.split())'


def _set_display(members: Collection[str]) -> str:
    """`{'a', 'b'}`, sorted so the text is deterministic: an enum signal's check, which Python
    folds into one frozenset constant after `in` (a rule's tests name a module constant instead)."""
    return "{" + ", ".join(repr(m) for m in sorted(set(members))) + "}" if members else "frozenset()"


def _edge_function(cascade: int, edge: int) -> str:
    return f"_edge_{cascade}_{edge}"


def generate(policy: CheckedPolicy) -> str:
    """The standalone module for a checked policy: planned (module_plan.py), then worded."""
    return _Writer(policy).render(plan_module(policy, LAZY_RULES, LAZY_CHAINS))
