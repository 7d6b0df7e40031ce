"""The compiled module's plan, as data: which rules each path tries, which signals it reads
and where, the dispatch and its chains, and the tables the module holds. No Python text.

jinja2 tracks every identifier (`idtracking`) before its compiler writes a line; here
`plan_module` decides everything the module does, and codegen.py only words it. The paths:
the validated one (every signal already in its local), the trusted one (`validate=False`:
each signal read just before the first rule that tests it, or, past `lazy_rules` rules, every
signal the rules read up front) and, with a dispatch on an enum signal (index.py), the chains
each value of the key calls.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

from ...ir import expr as e
from ...ir.node import walk
from ...ir.policy import CascadeTarget, CheckedPolicy, Model, Rule
from ...ir.types import describe
from .checks import SignalCheck, checks
from .index import Dispatch, plan_dispatch
from .lowering import split_deep
from .plan import Ladder, fallback_table, ladder, serving_models, signals_read

ReadKind: TypeAlias = Literal["read", "if_unread", "unset"]
Decided: TypeAlias = tuple[str | None, tuple[str, ...], int | None, tuple[int, ...], str | None]
"""What a rule decides, its name aside: (model, steps, max_output, caps, reject)."""


@dataclass(frozen=True)
class Read:
    """One trusted read of a signal into its local: `read` reads it (by key, or with its
    default); `if_unread` reads it where an earlier rule may not have; `unset` marks it not
    read yet, for a conjunct that reads it only if it gets there."""

    signal: str
    kind: ReadKind = "read"


@dataclass(frozen=True)
class Deferral:
    """A conjunction as the trusted path tests it: the `ready` conjuncts first (what they read
    is read before the rule), then the `pending` ones, each reading its new optional signals
    (`deferred`, in order) at their only place in the condition."""

    ready: tuple[e.Expr, ...]
    pending: tuple[e.Expr, ...]
    deferred: tuple[str, ...]


@dataclass(frozen=True)
class RulePlan:
    """One rule on one path: its position in the route, its condition (maybe specialized to a
    value of the dispatch's key; None: it always fires), the signals its decision carries for
    its escalations (none: the module's prebuilt decision), and on a trusted path the reads it
    needs first, in the order planned, and its conjunction's deferral."""

    position: int
    name: str
    line: int
    condition: e.Expr | None
    captured: tuple[str, ...]
    trusted: bool = False
    reads: tuple[Read, ...] = ()
    deferral: Deferral | None = None


@dataclass(frozen=True)
class ChainPlan:
    """One function of a dispatch: the rules some values of the key can reach. `index` names
    it among the dispatch's chains (None: the chain of a value that is no member)."""

    index: int | None
    members: tuple[str, ...]
    rules: tuple[RulePlan, ...]
    closed: bool
    """Its last rule always fires (or it ends in the default): nothing is returned after it."""


@dataclass(frozen=True)
class FamilyPlan:
    """The chains of one path, each taking `params` (signals; a lazy family takes the request
    first and reads the rest itself)."""

    lazy: bool
    chains: tuple[ChainPlan, ...]
    params: tuple[str, ...]


@dataclass(frozen=True)
class CallPlan:
    """A path's call of a family's chain for the key's value: `member` when the key is surely
    a member (validated), else a value that is no member calls the family's other chain."""

    lazy: bool
    args: tuple[str, ...]
    member: bool


@dataclass(frozen=True)
class PathPlan:
    """One path through the route: its reads up front, the rules before the dispatch, the
    reads the dispatch needs, its call and the rules after it. `shared` (trusted path only):
    it reads every signal the rules read up front and takes the validated path's rules."""

    reads: tuple[Read, ...] = ()
    before: tuple[RulePlan, ...] = ()
    key_reads: tuple[Read, ...] = ()
    after: tuple[RulePlan, ...] = ()
    shared: bool = False
    call: CallPlan | None = None


@dataclass(frozen=True)
class DispatchPlan:
    """The dispatch on `key`: a family of chains per path that has its own; `ends`, no rule
    after it (each chain ends in the default itself)."""

    key: str
    families: tuple[FamilyPlan, ...]
    ends: bool


@dataclass(frozen=True)
class RoutePlan:
    validated: PathPlan
    trusted: PathPlan
    dispatch: DispatchPlan | None = None


@dataclass(frozen=True)
class Climb:
    """How a rule climbs: its steps, the steps each model that may answer can stand for, and
    its escalation tests as (cascade, edge) positions."""

    steps: tuple[str, ...]
    serves: tuple[tuple[str, tuple[int, ...]], ...]
    edges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class RuleRow:
    """A route entry in the module's tables: its name, what it decides and how it climbs (as
    positions in `ModulePlan.sends` and `.climbs`), its cap."""

    name: str
    sends: int
    climbs: int
    cap: int | None


@dataclass(frozen=True)
class EdgePlan:
    """One cascade edge's test, a function of the decision's signals and the outcomes."""

    cascade: int
    index: int
    cascade_name: str
    source: str
    target: str
    line: int
    condition: e.Expr


@dataclass(frozen=True)
class CheckPlan:
    """One signal's validation: the check, and whether its value gets a local of its own (a
    signal no rule reads is validated into one scratch name)."""

    check: SignalCheck
    own_local: bool
    type_text: str


@dataclass(frozen=True)
class ModulePlan:
    """Everything a compiled module does, decided: the route, the tables, the edges, the checks."""

    route: RoutePlan
    rows: tuple[RuleRow, ...]
    sends: tuple[Decided, ...]
    climbs: tuple[Climb, ...]
    edges: tuple[EdgePlan, ...]
    signal_checks: tuple[CheckPlan, ...]
    outcome_checks: tuple[CheckPlan, ...]
    models: tuple[Model, ...]
    fallbacks: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    has_default: bool


def plan_module(policy: CheckedPolicy, lazy_rules: int, lazy_chains: bool) -> ModulePlan:
    """The plan of `policy`'s module. A trusted path reads lazily unless the route has more
    than `lazy_rules` rules outside a dispatch; with `lazy_chains` it has chains of its own."""
    return _Planner(policy).module(lazy_rules, lazy_chains)


def signal_refs(expr: e.Expr) -> list[e.SignalRef]:
    """The request signals `expr` reads (outcomes aside), once per reference."""
    return [x for x in walk(expr) if isinstance(x, e.SignalRef) and x.role == "signal"]


_Row: TypeAlias = "tuple[int, Rule, e.Expr | None]"
"""A rule as a path writes it: (its position, the rule, its condition, maybe specialized)."""


class _Planner:
    def __init__(self, policy: CheckedPolicy) -> None:
        self.policy = policy
        self.declared = [s.name for s in policy.signals]
        self.known = set(self.declared)
        self.signal_checks = {c.name: c for c in checks(policy, "signal")}
        self.ladders: dict[int, Ladder] = {id(rule): ladder(policy, rule) for rule in policy.route}
        """Each route entry's ladder, by the rule object's identity: built once."""
        self.reads: dict[tuple[int, int], tuple[e.Expr | None, tuple[str, ...]]] = {}
        """What each (rule, condition) reads, with the condition (kept, so its identity is not reused)."""
        self.used = {name for rule in policy.route if rule.condition is not None for name in signals_read(rule.condition)}
        for rule in policy.route:  # what escalation conditions read travels with the decision
            self.used.update(r.name for x in self.ladders[id(rule)].edges for r in signal_refs(x))

    # ---- the route ----------------------------------------------------------------------------

    def captured(self, rule: Rule) -> tuple[str, ...]:
        """The signals `rule`'s decision carries for its escalations (sorted), or none."""
        plan = self.ladders[id(rule)]
        if not plan.reads_signals:
            return ()
        return tuple(sorted({r.name for x in plan.edges for r in signal_refs(x)}))

    def rule(self, row: _Row) -> RulePlan:
        i, rule, condition = row
        return RulePlan(i, rule.name, rule.span.line, condition, self.captured(rule))

    def rule_reads(self, rule: Rule, condition: e.Expr | None) -> tuple[str, ...]:
        """The signals a rule's block reads, in order: its condition's, then what its decision
        carries for escalation (found once per rule and condition: a dispatch's chains share
        the conditions that do not read the key)."""
        key = (id(rule), id(condition))
        found = self.reads.get(key)
        if found is None or found[0] is not condition:
            names = signals_read(condition) if condition is not None else []
            names += self.captured(rule)
            found = (condition, tuple(n for n in dict.fromkeys(names) if n in self.known))
            self.reads[key] = found
        return found[1]

    def lazy(self, rows: list[_Row], read: set[str], maybe: set[str], defer: bool = False) -> list[RulePlan]:
        """The rules on a trusted path, each with the reads it needs first: each signal just
        before the first rule that tests it, never twice (`read` holds what the path has read
        so far). `maybe` holds what the path may have read (a local that is None until then):
        a rule that needs one reads it behind `is None`. With `defer` (a path that only trusted
        requests take), a conjunction tests what is read first and reads an optional signal
        inside the conjunct that needs it, so a rule that fails early reads nothing more."""
        planned: list[RulePlan] = []
        for row in rows:
            _, rule, condition = row
            reads: list[Read] = []
            deferral = self.deferral(rule, condition, read | maybe) if defer else None
            for name in self.rule_reads(rule, condition):
                if name in maybe:
                    maybe.discard(name)
                    read.add(name)
                    reads.append(Read(name, "if_unread"))
                elif name not in read and not (deferral and name in deferral.deferred):
                    read.add(name)
                    reads.append(Read(name))
            if deferral is not None:
                reads += [Read(name, "unset") for name in deferral.deferred]
                maybe.update(deferral.deferred)
            planned.append(replace(self.rule(row), trusted=True, reads=tuple(reads), deferral=deferral))
        return planned

    def deferral(self, rule: Rule, condition: e.Expr | None, read: Collection[str]) -> Deferral | None:
        """A conjunction's trusted test with optional signals read where they are tested, or
        None where nothing would be saved.

        The conjuncts that need no new optional signal come first (a required one is still
        read before the rule, so a missing one is the same `KeyError`); each later conjunct
        reads its new signal at its only place in the condition. `and` stops at the first
        false conjunct, so those after it read nothing; their locals start as None. On a
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
        return Deferral(tuple(ready), tuple(o for o, _ in pending), tuple(n for _, names in pending for n in names))

    def route(self, lazy_rules: int, lazy_chains: bool) -> RoutePlan:
        """The route twice over, the validated path and the trusted one; with a dispatch each
        path has the rules before it and after it (or, with none after, the chains end in the
        default themselves), and the trusted path calls chains of its own that read lazily
        (`lazy_chains`), or the validated path's."""
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
        validated = PathPlan(before=tuple(map(self.rule, before)), after=tuple(map(self.rule, after)))
        args: list[str] = []
        if dispatch is not None:
            reads: set[str] = set()
            for chain in (*dispatch.chains, dispatch.other):
                for i, condition in chain.rules:
                    reads.update(self.rule_reads(policy.rules[i], condition))
            args = [n for n in self.declared if n in reads]
        maybe: set[str] = set()  # what the trusted path may have read by the dispatch
        if len(before) + len(after) <= lazy_rules:
            read: set[str] = set()
            trusted_before = self.lazy(before, read, maybe, defer=True)
            key_reads: list[Read] = []
            passed: list[str] = []
            if dispatch is not None:
                # the chains read the rest, unless the rules after them read it too (once)
                later = {n for _, r, c in after for n in self.rule_reads(r, c)}
                # (the key is always read by then: a chain that needs it takes it, never reads it again)
                passed = [n for n in args
                          if n == dispatch.key or n in read or n in maybe or n in later or not lazy_chains]
                for name in [dispatch.key, *passed]:
                    if name in maybe and (name in later or not lazy_chains or name == dispatch.key):
                        maybe.discard(name)
                        read.add(name)
                        key_reads.append(Read(name, "if_unread"))
                    elif name not in read and name not in maybe:
                        read.add(name)
                        key_reads.append(Read(name))
            chain_maybe = set(maybe)
            trusted = PathPlan(before=tuple(trusted_before), key_reads=tuple(key_reads),
                               after=tuple(self.lazy(after, read, maybe, defer=True)))
        else:
            lazy_chains, passed, chain_maybe = False, args, set()
            trusted = PathPlan(reads=tuple(Read(n) for n in self.declared if n in self.used), shared=True)
        if dispatch is None:
            return RoutePlan(validated, trusted)
        return self.dispatch(dispatch, default, validated, trusted, (args, passed, chain_maybe, lazy_chains))

    def dispatch(self, dispatch: Dispatch, default: list[_Row], validated: PathPlan, trusted: PathPlan,
                 handoff: tuple[list[str], list[str], set[str], bool]) -> RoutePlan:
        """The route with a dispatch. `handoff`: the signals the validated path's chains take
        (`args`), those the trusted path's own chains are given (`passed`), those of them it
        may not have read yet (None until then), and whether it has chains of its own."""
        policy = self.policy
        args, passed, chain_maybe, lazy_chains = handoff
        ends = not dispatch.after  # then each chain ends in the default (its own reads lazy too)

        def chain(index: int | None, members: tuple[str, ...], rules: tuple[tuple[int, e.Expr | None], ...],
                  lazy: bool) -> ChainPlan:
            whole = bool(rules) and rules[-1][1] is None  # its last rule always fires
            rows = [(i, policy.rules[i], cond) for i, cond in rules] + (default if ends and not whole else [])
            if lazy:  # what the trusted path may have read comes as None if it has not
                planned = self.lazy(rows, set(passed) - chain_maybe, chain_maybe & set(passed))
            else:
                planned = [self.rule(row) for row in rows]
            return ChainPlan(index, members, tuple(planned), whole or (ends and bool(default)))

        def family(lazy: bool, other: bool, params: list[str]) -> FamilyPlan:
            chains = [chain(k, c.members, c.rules, lazy) for k, c in enumerate(dispatch.chains)]
            if other:
                chains.append(chain(None, (), dispatch.other.rules, lazy))
            return FamilyPlan(lazy, tuple(chains), tuple(params))

        # the trusted path has chains of its own that read lazily, or it reads what the chains
        # read up front and calls the validated path's (which then also take a value that is no member)
        trusted_own = lazy_chains and not trusted.shared
        families = [family(False, not trusted_own, args)]
        if trusted_own:
            validated = replace(validated, call=CallPlan(False, tuple(args), member=True))
            families.append(family(True, True, passed))
            trusted = replace(trusted, call=CallPlan(True, tuple(passed), member=False))
        else:
            validated = replace(validated, call=CallPlan(False, tuple(args), member=False))
            trusted = replace(trusted, call=CallPlan(False, tuple(args), member=False))
        return RoutePlan(validated, trusted, DispatchPlan(dispatch.key, tuple(families), ends))

    # ---- the module ---------------------------------------------------------------------------

    def module(self, lazy_rules: int, lazy_chains: bool) -> ModulePlan:
        policy = self.policy
        sends: dict[object, int] = {}  # what rules decide, their names aside, each once
        decided: list[Decided] = []
        climbs: dict[Climb, int] = {}  # rules that climb the same way share one ladder
        cascades = {c.name: ci for ci, c in enumerate(policy.cascades)}
        rows: list[RuleRow] = []
        for rule in policy.route:
            fields = policy.decision_of(rule)[1:]
            sent = sends.setdefault(_exact_key(fields), len(sends))
            if sent == len(decided):
                decided.append(fields)
            plan = self.ladders[id(rule)]
            target = rule.target  # only a cascade's ladder has edges
            edges = tuple((cascades[target.cascade], i) for i in range(len(plan.edges))) \
                if isinstance(target, CascadeTarget) else ()
            climb = Climb(plan.steps, tuple(sorted(plan.serves.items())), edges)
            rows.append(RuleRow(rule.name, sent, climbs.setdefault(climb, len(climbs)), rule.cap))
        edge_plans = tuple(
            EdgePlan(ci, ei, cascade.name, edge.source, edge.target, edge.span.line, edge.condition)
            for ci, cascade in enumerate(policy.cascades) for ei, edge in enumerate(cascade.edges))
        types = {s.name: s.type for s in policy.signals}
        return ModulePlan(
            route=self.route(lazy_rules, lazy_chains),
            rows=tuple(rows),
            sends=tuple(decided),
            climbs=tuple(climbs),
            edges=edge_plans,
            signal_checks=tuple(CheckPlan(c, c.name in self.used, describe(types[c.name]))
                                for c in self.signal_checks.values()),
            outcome_checks=tuple(CheckPlan(c, True, describe(types[c.name])) for c in checks(policy, "outcome")),
            models=tuple(policy.model(name) for name in serving_models(policy)),
            fallbacks=tuple((source, tuple(sorted(errors.items())))
                            for source, errors in sorted(fallback_table(policy).items())),
            has_default=policy.default is not None,
        )


def _exact_key(value: object) -> object:
    """A key equal for two values exactly when the module writes them as the same text: by
    class and repr, so that 1, 1.0, True and Decimal('1') stay apart."""
    if isinstance(value, tuple):
        return tuple(_exact_key(v) for v in value)
    return (value.__class__, repr(value))
