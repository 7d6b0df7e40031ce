"""The compiler: one standalone Python module per policy, rendered from a jinja2 template.

Safe: every string, name and number from a policy reaches the module through `repr` or a
mangled identifier (`v_NAME` for a signal, indexes for everything else), and comments are
cut to printable ASCII, so no policy text can run. Deterministic: the same policy gives the
same bytes. Traceable: every rule is found by its name and source line in a comment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache, partial
from importlib.resources import files
from typing import Any, TypeAlias, assert_never

import jinja2

from ..._version import __version__
from ...ir import expr as e
from ...ir.node import walk
from ...ir.policy import CascadeTarget, Model, CheckedPolicy, Rule
from ...ir.types import describe
from .checks import SignalCheck, checks
from .lowering import split_deep
from .constants import Constants
from .index import Chain, Dispatch, plan_dispatch
from .views import ChainView, DispatchView, FamilyView, PathView, Read, ReadKind, RouteView, RuleView
from ...ir.values import exact
from .plan import (cost_terms, exact_arithmetic, fallback_table, has_input_tokens, ladder, narrow_number,
                   serving_models, signals_read)

_Row: TypeAlias = "tuple[int, Rule, e.Expr | None]"


@dataclass(frozen=True)
class _Handoff:
    """What the trusted path hands to a dispatch's chains: `args`, the locals the chains read
    (the validated path's chains take them); `passed`, what the trusted path's own chains are
    given; `maybe`, those of them it may not have read yet (None until then); `lazy`, whether
    it has chains of its own that read lazily."""

    args: list[str]
    passed: list[str]
    maybe: set[str]
    lazy: bool
"""A rule as a path writes it: (its position, the rule, its condition, maybe specialized)."""

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
    def __init__(self, policy: CheckedPolicy) -> None:
        self.policy = policy
        self.constants = Constants()
        self.input_tokens = has_input_tokens(policy)
        self.models = {m.name: m for m in policy.models}
        self.locals = {s.name: _identifier(s.name, i) for i, s in enumerate(policy.signals)}
        self.signal_checks = {c.name: c for c in checks(policy, "signal")}
        """Each signal's check by name, in declaration order: built once, read by every read."""
        self.views: dict[tuple[int, int], tuple[e.Expr | None, RuleView]] = {}
        """Each rule view written so far, by (position, the condition's identity), with the
        condition (kept, so that its identity is not reused)."""
        self.ladders = {id(rule): ladder(policy, rule) for rule in policy.route}
        """Each route entry's ladder (by the rule object's identity): built once, read by every view."""
        self.used = {name for rule in policy.route if rule.condition is not None for name in signals_read(rule.condition)}
        for rule in policy.route:  # what escalation conditions read travels with the decision
            self.used.update(r.name for x in self.ladders[id(rule)].edges for r in _signal_refs(x))

    # ---- expressions --------------------------------------------------------------------------

    def condition(self, expr: e.Expr, name_of: NameOf) -> tuple[list[str], str]:
        """(lines computing the hoisted pieces of a deep `expr`, the test that reads them)."""
        pieces, rest = split_deep(expr)
        prelude = [f"t{index} = {self.expr(piece, name_of, top=True)}" for index, piece in pieces]
        return prelude, self.expr(rest, name_of, top=True)

    def expr(self, x: e.Expr, name_of: NameOf, top: bool = False) -> str:
        """Python code for `x`; `top`: a whole condition, which needs no outer parentheses."""
        text = self._expr(x, name_of)
        wrapped = isinstance(x, (e.Not, e.BoolOp, e.Compare, e.InSet, e.InRange, e.Scale)) or (
            isinstance(x, e.Sum) and x.type.kind not in ("money", "duration", "float") and len(x.terms) <= WIDE_SUM)
        if top and wrapped and text.startswith("(") and text.endswith(")"):
            return text[1:-1]  # these cases are written as one parenthesized group
        return text

    def _expr(self, x: e.Expr, name_of: NameOf) -> str:
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
            case e.ModelAttr():  # invariants read the serving model; a module runs no invariant
                raise AssertionError(f"{x.kind} cannot be compiled")
            case _:
                assert_never(x)

    def operand(self, x: e.Expr, name_of: NameOf) -> str:
        """A comparison's operand: a decimal constant whose value an int or a float holds
        exactly is written as that literal (Python compares ints, floats and decimals by their
        exact values, so the answer is the same, and cheaper than a Decimal's)."""
        if isinstance(x, e.Const) and isinstance(x.value, Decimal):
            narrowed = narrow_number(x.value)
            if narrowed.__class__ is not Decimal:
                return repr(narrowed)
        return self.expr(x, name_of)

    def exact(self, x: e.Expr, text: str) -> str:
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

    def check_view(self, check: SignalCheck, index: int) -> dict[str, Any]:
        """One signal's validation as the template writes it."""
        lit = self.constants.literal
        # a signal no rule reads is validated into one scratch name: fewer locals, a cheaper call
        var = self.locals[check.name] if check.name in self.used or check.role == "outcome" else "_v"
        signal = next(s for s in self.policy.signals if s.name == check.name)
        return {
            "name": check.name,
            "var": var,
            "required": check.required,
            "default_text": lit(check.default),
            "fast": self.fast_test(check, var),
            "spec_var": lit(check.spec),
            "type_text": describe(signal.type),
        }

    def rule_reads(self, rule: Rule, condition: e.Expr | None) -> list[str]:
        """The signals a rule's block reads, in order: its condition's, then what its decision
        carries for escalation."""
        names = signals_read(condition) if condition is not None else []
        plan = self.ladders[id(rule)]
        if plan.reads_signals:
            names += sorted({r.name for x in plan.edges for r in _signal_refs(x)})
        return [n for n in dict.fromkeys(names) if n in self.locals]

    def read(self, name: str) -> str:
        """The trusted read of one signal into its local."""
        return f"{self.locals[name]} = {self.lookup(name)}"

    def planned(self, name: str, kind: ReadKind = "read") -> Read:
        """A trusted read, planned: a default that is a module constant (`_K3`) is named now,
        so that constants keep the numbers they get in planning order."""
        if kind != "unset":
            self.lookup(name)
        return Read(name, kind)

    def read_line(self, read: Read) -> str:
        """A planned read as the module writes it (the template calls this)."""
        match read.kind:
            case "read":
                return self.read(read.signal)
            case "if_unread":
                return f"if {self.locals[read.signal]} is None: {self.read(read.signal)}"
            case "unset":
                return f"{self.locals[read.signal]} = None"
            case _:
                assert_never(read.kind)

    def lookup(self, name: str) -> str:
        """The trusted lookup of one signal: by key when required, else with its default."""
        check = self.signal_checks[name]
        return f"signals[{name!r}]" if check.required else \
            f"signals.get({name!r}, {self.constants.literal(check.default)})"

    def lazy(self, views: list[RuleView], rules: list[tuple[Rule, e.Expr | None]], read: set[str],
             maybe: set[str], defer: bool = False) -> None:
        """Give each rule view the trusted reads it needs first: each signal just before the
        first rule that tests it, never twice (`read` holds what the path has read so far).
        `maybe` holds what the path may have read (a local that is None until then): a rule that
        needs one reads it behind `is None`. With `defer` (a path that only trusted requests
        take), a conjunction tests what is read first and reads an optional signal inside the
        conjunct that needs it, so a rule that fails early reads nothing more (see `deferred`)."""
        for view, (rule, condition) in zip(views, rules):
            names = self.rule_reads(rule, condition)
            rewritten = self.deferred(rule, condition, read | maybe) if defer else None
            for name in names:
                if name in maybe:
                    maybe.discard(name)
                    read.add(name)
                    view.guarded.append(self.planned(name, "if_unread"))
                elif name not in read and not (rewritten and name in rewritten[1]):
                    read.add(name)
                    view.reads.append(self.planned(name))
            if rewritten is not None:
                view.condition, deferred = rewritten
                view.reads += [self.planned(name, "unset") for name in deferred]
                maybe.update(deferred)

    def deferred(self, rule: Rule, condition: e.Expr | None, read: Collection[str]) -> tuple[str, list[str]] | None:
        """A conjunction's trusted test with optional signals read where they are tested:
        (the test, the signals it may leave unread), or None where nothing would be saved.

        The conjuncts that need no new optional signal come first (a required one is still
        read before the rule, so a missing one is the same `KeyError`); each later conjunct
        reads its new signal with `:=` at its only place in the condition. `and` stops at the
        first false conjunct, so those after it read nothing; their locals start as None. On a
        trusted request every conjunct is a pure test of typed values, so the order does not
        change the answer."""
        if not isinstance(condition, e.BoolOp) or condition.op != "and" or self.ladders[id(rule)].reads_signals:
            return None
        if split_deep(condition)[0]:
            return None  # hoisted pieces are computed before the test, reading their signals
        counts: dict[str, int] = {}
        for x in walk(condition):
            if isinstance(x, e.SignalRef):
                counts[x.name] = counts.get(x.name, 0) + 1
            elif isinstance(x, e.CostOf):
                counts["input_tokens"] = counts.get("input_tokens", 0) + 2  # never deferred

        def new(operand: e.Expr) -> list[str]:
            return [n for n in signals_read(operand) if n not in read and counts.get(n) == 1
                    and n in self.signal_checks and not self.signal_checks[n].required]

        operands = [(o, new(o)) for o in condition.operands]
        ready = [o for o, names in operands if not names]
        pending = [(o, names) for o, names in operands if names]
        if not ready:  # the first conjunct is always tested: its signals are read before it
            ready.append(pending.pop(0)[0])
        if not pending:
            return None
        deferred = [n for _, names in pending for n in names]
        first = set(deferred)

        def name_of(name: str, role: str) -> str:
            if name in first:
                first.discard(name)
                return f"({self.locals[name]} := {self.lookup(name)})"
            return self.locals[name]

        tests = [self.expr(o, self.local_name, top=isinstance(o, (*_TIGHT, e.Not))) for o in ready]
        tests += [self.expr(o, name_of, top=isinstance(o, (*_TIGHT, e.Not))) for o, _ in pending]
        return " and ".join(tests), deferred

    def rule_view(self, i: int, rule: Rule, condition: e.Expr | None) -> RuleView:
        """One rule as the template writes it: its test (maybe specialized) and its decision; a
        new view each call, its test written once (both paths' chains hold the same rules)."""
        made = self.views.get((i, id(condition)))
        if made is not None and made[0] is condition:
            return replace(made[1], reads=[], guarded=[])
        view = self._rule_view(i, rule, condition)
        self.views[(i, id(condition))] = (condition, view)
        return replace(view, reads=[], guarded=[])

    def _rule_view(self, i: int, rule: Rule, condition: e.Expr | None) -> RuleView:
        fields = self.policy.decision_of(rule)
        result = f"_D{i}"
        plan = self.ladders[id(rule)]
        if plan.reads_signals:  # the decision carries what its escalations will read
            names = sorted({r.name for x in plan.edges for r in _signal_refs(x)})
            captured = "{" + ", ".join(f"{n!r}: {self.locals[n]}" for n in names) + "}"
            result = f"Decision({', '.join(self.constants.literal(f, hoist=False) for f in fields)}, {captured})"
        prelude: list[str] = []
        test: str | None = None
        if condition is not None:
            prelude, test = self.condition(condition, self.local_name)
        return RuleView(comment(rule.name), rule.span.line, prelude, test, result)

    def route_view(self) -> RouteView:
        """The route twice over: the validated path (every signal already in its local) and the
        trusted one (`validate=False`: each signal read just before the first rule that tests
        it, or, past LAZY_RULES rules, every signal the rules read up front). With a dispatch
        (backends/index.py) each path has the rules before it and after it (or, with none
        after, the chains end in the default themselves); the trusted path calls chains of its
        own that read lazily (LAZY_CHAINS), or the validated path's."""
        policy = self.policy
        dispatch = plan_dispatch(policy)
        default: list[_Row] = [(len(policy.rules), policy.default, None)] if policy.default else []
        before: list[_Row]
        after: list[_Row] = []
        if dispatch is None:
            before = [(i, r, r.condition) for i, r in enumerate(policy.rules)] + default
        else:
            before = [(i, policy.rules[i], policy.rules[i].condition) for i in dispatch.before]
            after = [(i, policy.rules[i], policy.rules[i].condition) for i in dispatch.after] + default

        def views(rows: list[_Row]) -> list[RuleView]:
            return [self.rule_view(i, rule, condition) for i, rule, condition in rows]

        validated = PathView(before=views(before), after=views(after))
        args: list[str] = []
        if dispatch is not None:
            reads: set[str] = set()
            for chain in (*dispatch.chains, dispatch.other):
                for i, condition in chain.rules:
                    reads.update(self.rule_reads(policy.rules[i], condition))
            args = [n for n in self.locals if n in reads]
        maybe: set[str] = set()  # what the trusted path may have read by the dispatch
        if len(before) + len(after) <= LAZY_RULES:
            read: set[str] = set()
            trusted = PathView(before=views(before), after=views(after))
            for view in (*trusted.before, *trusted.after):
                view.mark = ", validate=False"
            self.lazy(trusted.before, [(r, c) for _, r, c in before], read, maybe, defer=True)
            if dispatch is not None:
                lazy_chains = LAZY_CHAINS
                # the chains read the rest, unless the rules after them read it too (once)
                later = {n for _, r, c in after for n in self.rule_reads(r, c)}
                # (the key is always read by then: a chain that needs it takes it, never reads it again)
                passed = [n for n in args
                          if n == dispatch.key or n in read or n in maybe or n in later or not lazy_chains]
                for name in [dispatch.key, *passed]:
                    if name in maybe and (name in later or not lazy_chains or name == dispatch.key):
                        maybe.discard(name)
                        read.add(name)
                        trusted.key_reads.append(self.planned(name, "if_unread"))
                    elif name not in read and name not in maybe:
                        read.add(name)
                        trusted.key_reads.append(self.planned(name))
            chain_maybe = set(maybe)
            self.lazy(trusted.after, [(r, c) for _, r, c in after], read, maybe, defer=True)
        else:
            lazy_chains, passed, chain_maybe = False, args, set()
            trusted = PathView(reads=[self.planned(n) for n in self.locals if n in self.used], shared=True)
        if dispatch is None:
            return RouteView(validated, trusted)
        return self.dispatch_view(dispatch, default, validated, trusted,
                                  _Handoff(args, passed, chain_maybe, lazy_chains))

    def dispatch_view(self, dispatch: Dispatch, default: list[_Row], validated: PathView, trusted: PathView,
                      handoff: _Handoff) -> RouteView:
        """The route with a dispatch: one family of chain functions for the validated path,
        and one for the trusted path when it has chains of its own (`handoff.lazy`); each
        path's call of its family."""
        policy = self.policy
        args, passed, chain_maybe, lazy_chains = handoff.args, handoff.passed, handoff.maybe, handoff.lazy
        ends = not dispatch.after  # then each chain ends in the default (its own reads lazy too)
        ending = None if dispatch.after or default else "_NO_RULE"

        def chain_view(function: str, chain: Chain, label: str, lazy: bool) -> ChainView:
            whole = bool(chain.rules) and chain.rules[-1][1] is None  # its last rule always fires
            rows = [(i, policy.rules[i], cond) for i, cond in chain.rules] + (default if ends and not whole else [])
            views = [self.rule_view(i, rule, cond) for i, rule, cond in rows]
            if lazy:  # what the trusted path may have read comes as None if it has not
                for view in views:
                    view.mark = ", validate=False"
                self.lazy(views, [(rule, cond) for _, rule, cond in rows], set(passed) - chain_maybe,
                          chain_maybe & set(passed))
            return ChainView(function, comment(label), ending, views, whole or (ends and bool(default)))

        def family(prefix: str, name: str, lazy: bool, other: bool, params: str) -> FamilyView:
            """One function per chain and the table from each value of the key to its function."""
            chains = [chain_view(f"{prefix}_{k}", c, ", ".join(c.members[:8]) + (", ..." if len(c.members) > 8 else ""),
                                 lazy) for k, c in enumerate(dispatch.chains)]
            if other:
                chains.append(chain_view(f"{prefix}_other", dispatch.other,
                                         "a value that is no member (unvalidated requests)", lazy))
            table = "{" + ", ".join(f"{m!r}: {prefix}_{k}" for k, c in enumerate(dispatch.chains) for m in c.members) + "}"
            return FamilyView(chains, table, name, params)

        key = self.locals[dispatch.key]
        values = ", ".join(self.locals[n] for n in args)
        # the trusted path has chains of its own that read lazily, or it reads what the chains
        # read up front and calls the validated path's (which then also take a value that is no member)
        trusted_own = lazy_chains and not trusted.shared
        families = [family("_chain", "_CHAINS", False, not trusted_own, values)]
        if trusted_own:
            validated.call = f"_CHAINS[{key}]({values})"  # a validated key is a member
            lazy_args = ", ".join(["signals", *(self.locals[n] for n in passed)])
            families.append(family("_lazy", "_LAZY_CHAINS", True, True, lazy_args))
            trusted.call = f"_LAZY_CHAINS.get({key}, _lazy_other)({lazy_args})"
        else:
            validated.call = trusted.call = f"_CHAINS.get({key}, _chain_other)({values})"
        return RouteView(validated, trusted, DispatchView(comment(dispatch.key), families, ends))

    def render(self) -> str:
        """The module's source: deterministic, every policy string quoted or cut to a comment."""
        policy, lit = self.policy, self.constants.literal
        sends: dict[str, int] = {}  # what rules decide, their names aside, each written once
        rule_table: list[dict[str, Any]] = []
        for rule in policy.route:
            fields = policy.decision_of(rule)
            text = "(" + ", ".join(lit(f, hoist=False) for f in fields[1:]) + ")"
            rule_table.append({"name": fields[0], "sends": sends.setdefault(text, len(sends))})
        route = self.route_view()
        edges: list[dict[str, Any]] = []
        edge_functions: dict[tuple[str, int], str] = {}
        for ci, cascade in enumerate(policy.cascades):
            for ei, edge in enumerate(cascade.edges):
                function = f"_edge_{ci}_{ei}"
                edge_functions[(cascade.name, ei)] = function
                prelude, condition = self.condition(edge.condition, self.dict_name)
                edges.append({"function": function, "cascade": comment(cascade.name), "source": comment(edge.source),
                              "target": comment(edge.target), "line": edge.span.line, "prelude": prelude,
                              "condition": condition})
        climbs: dict[str, int] = {}  # rules that climb the same way share one ladder
        for row, rule in zip(rule_table, policy.route):
            plan = self.ladders[id(rule)]
            target = rule.target  # only a cascade's ladder has edges
            names = [edge_functions[(target.cascade, i)] for i in range(len(plan.edges))] \
                if isinstance(target, CascadeTarget) else []
            serves = "{" + ", ".join(f"{m!r}: {lit(at, hoist=False)}" for m, at in sorted(plan.serves.items())) + "}"
            text = f"({lit(plan.steps, hoist=False)}, {serves}, ({''.join(n + ', ' for n in names)}))"
            row["climbs"] = climbs.setdefault(text, len(climbs))
        signal_checks = [self.check_view(c, i) for i, c in enumerate(self.signal_checks.values())]
        outcome_checks = [self.check_view(c, i + len(signal_checks)) for i, c in enumerate(checks(policy, "outcome"))]
        models = [_model_view(policy.model(name), self.constants) for name in serving_models(policy)]
        fallbacks = {source: sorted(errors.items()) for source, errors in sorted(fallback_table(policy).items())}
        text = _template().render(
            read_line=self.read_line,
            version=__version__,
            file=comment(policy.file.replace("\\", "/").rsplit("/", 1)[-1]),
            policy_name=comment(policy.name),
            policy_name_repr=repr(policy.name),
            sha_repr=repr(policy.source_sha256),
            runtime=_runtime_source(),
            signal_checks=signal_checks,
            outcome_checks=outcome_checks,
            models=models,
            fallbacks=list(fallbacks.items()),
            constants=[(name, text) for text, name in self.constants.names.items()],
            sends=list(sends),
            rule_names=_strings([r["name"] for r in rule_table]),
            rule_sends=_numbers([r["sends"] for r in rule_table]),
            rule_climbs=_numbers([r["climbs"] for r in rule_table]),
            rule_caps=_numbers([rule.cap for rule in policy.route]),
            route=route,
            has_default=policy.default is not None,
            edges=edges,
            climbs=list(climbs),
        )
        return _tidy(text)


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


def _signal_refs(expr: e.Expr) -> list[e.SignalRef]:
    return [x for x in walk(expr) if isinstance(x, e.SignalRef) and x.role == "signal"]


def _model_view(model: Model, constants: Constants) -> dict[str, str]:
    lit = partial(constants.literal, hoist=False)
    return {
        "name": model.name,
        "id": model.id,
        "tier": lit(model.tier),
        "input_per_mtok": lit(model.input_per_mtok),
        "output_per_mtok": lit(model.output_per_mtok),
        "context": lit(model.context),
        "max_output": lit(model.max_output),
        "latency": lit(model.latency),
        "regions": lit(model.regions),
        "tags": lit(model.tags),
    }


def generate(policy: CheckedPolicy) -> str:
    """The standalone module for a checked policy."""
    return _Writer(policy).render()
