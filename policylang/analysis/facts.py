"""What the analysis passes share about one policy: each rule's condition as a solver term and
as a hull, where each rule fires under first-match semantics (section 6), how far each
cascade can climb there (section 7), and the replay of witnesses through the interpreter.

Every question is asked of the solver only after the hulls could not answer it, and only
about the rules that can meet: for rule i, the earlier rules whose hull meets rule i's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..ir import expr as e
from ..ir.boxes import LIMIT, Box, Interval, Number, Space, TooLarge, disjoint, domain_box, hull, key_signal, meet
from ..ir.node import walk
from ..ir.policy import CascadeTarget, CheckedPolicy, Model, RejectTarget, Rule
from ..source import Source, Span
from .costs import fallback_closure
from .encode import Encoder, Z3OnFirstUse, Z3Term, as_bool
from .meets import Keyed, KeyedRegion, MeetIndex
from .solver import Solver

if TYPE_CHECKING:
    import z3
else:
    z3 = Z3OnFirstUse(globals())

_OUTCOME_ONLY = (e.SignalRef, e.Const, e.Not, e.BoolOp, e.Compare, e.InSet, e.InRange, e.Sum, e.Scale)
"""What an edge condition may be built of for `Facts.edge_holds` to decide it alone (signal
references only to outcomes)."""

_SWEPT_LIMIT = 64 * LIMIT
"""The most boxes of a global rule's swept region: one per tenant it shares, and read a few
buckets at a time (`firing_keyed`); past LIMIT, `firing_region` leaves it to the solver."""

_SLICED_AT_MOST = 5_000
"""Global rules times key members past which `_sweep` takes the global rules once (1,000
tenant rules: 21 x 100, sliced; 2,000: 40 x 200, shared)."""

Terms = tuple[Z3Term, ...]
"""Solver terms that hold together: a region of requests, as the solver is asked about it."""


class ReplayEngine(Protocol):
    """What the checker replays witnesses through: an engine of section 5 that runs a policy
    even when it has errors (the interpreter, handed in by the pipeline)."""

    def decide(self, signals: Mapping[str, Any]) -> Any:
        """The decision for a request (section 5)."""

    def escalate(self, decision: Any, step: int | str, outcomes: Mapping[str, Any]) -> str | None:
        """The next step's model when the edge leaving `step` holds for `outcomes`, else None."""

    def validate(self, values: Any, role: str, strict: bool = False) -> dict[str, Any]:
        """The values checked against their declarations, defaults filled."""

    def holds(self, expr: e.InvariantExpr, env: dict[str, Any], model: Model | None = None) -> bool:
        """Whether `expr` holds for validated values (and a serving model)."""


class WitnessMismatch(AssertionError):
    """A witness that does not show what the checker claims: a checker bug, never reported as a finding."""


class Climb:
    """How far a rule's cascade can climb: `regions[k]`, the solver terms that hold where the
    climb reaches step k, are built only when some question needs them."""

    def __init__(self, facts: Facts, rule: Rule) -> None:
        self.steps = facts.policy.steps(rule)
        self._facts, self._rule = facts, rule
        index = facts.rule_index(rule)
        reachable = [facts.fires(index)]
        if isinstance(rule.target, CascadeTarget):
            cascade = rule.target.cascade
            for k in range(1, len(self.steps)):
                if not reachable[-1]:
                    reachable.append(False)
                    continue
                alone = facts.edge_holds(cascade, k - 1)
                if alone is None:
                    reachable.append(facts.solver.satisfiable(*self.regions[k]))
                else:  # the edge reads only its own step's outcomes: no variable shared with the rest
                    facts.solver.with_outcomes(k - 1)
                    reachable.append(alone)
        self.reachable = tuple(reachable)

    @cached_property
    def regions(self) -> tuple[Terms, ...]:
        """`regions[k]`: the terms that hold where the climb reaches step k."""
        facts, rule = self._facts, self._rule
        region = facts.firing(facts.rule_index(rule))
        regions = [region]
        if isinstance(rule.target, CascadeTarget):
            for k, edge in enumerate(facts.policy.cascade(rule.target.cascade).edges):
                facts.solver.with_outcomes(k)
                region = (*region, as_bool(facts.encoder.encode(edge.condition, step=k)))
                regions.append(region)
        return tuple(regions)


class Facts:
    """What the analyses of one policy share; `engine` builds the replay engine on first use."""

    def __init__(self, policy: CheckedPolicy, sources: dict[str, Source] | None,
                 engine: Callable[[CheckedPolicy], ReplayEngine], *, warnings: bool = True) -> None:
        self.policy = policy
        self.warnings = warnings
        """Whether the passes should look for warnings too, or only for errors."""
        self.sources = sources or {}
        self._make_engine = engine
        self._encoder = Encoder(policy)
        self._outcome_steps: list[int] = []
        """The steps whose outcome domains `with_outcomes` asked for before the solver was built."""
        self.rules: tuple[Rule, ...] = policy.rules
        self.domain: Box = domain_box(policy)
        self.hulls = [meet(self.domain, hull(r.condition)) for r in self.rules]
        self.space = Space(policy)
        self.exact = [self.space.region_of(r.condition) for r in self.rules]
        """Each condition as exact boxes (analysis/boxes.py), or None where only the solver can say."""
        self._firing_boxes: dict[int, list[Box] | None] = {}
        self._index = self._build_index()
        self._positions = {id(rule): i for i, rule in enumerate(self.rules)}
        self._meeting: dict[int, list[int]] = {}
        self._firing: dict[int, Terms] = {}
        self._fires: dict[int, bool] = {}
        self._climbs: dict[int, Climb] = {}
        self._edges: dict[tuple[str, int], bool | None] = {}
        self._edge_answers: dict[str, bool] = {}
        self._keyed: dict[int, Keyed | None] = {}
        self._serving: dict[str, list[str]] = {}
        self.memo: dict[object, Any] = {}
        """What passes compute once per policy and share (keyed by the pass)."""
        self._excluded: dict[int, Z3Term] = {}
        self._included: dict[int, Z3Term] = {}

    @cached_property
    def solver(self) -> Solver:
        """The policy's solver, built (and z3 loaded) by the first question the boxes leave to it:
        a policy whose conditions are all boxes never builds one."""
        solver = Solver(self._encoder, quick=not self.warnings)  # errors alone: yes/no is all they show
        for step in self._outcome_steps:
            solver.with_outcomes(step)
        return solver

    def with_outcomes(self, step: int) -> None:
        """`Solver.with_outcomes(step)`: now if the solver is built, else as it is built (z3
        sees the same domains in the same order either way)."""
        if "solver" in self.__dict__:
            self.solver.with_outcomes(step)
        else:
            self._outcome_steps.append(step)

    @property
    def encoder(self) -> Encoder:
        """The policy's terms; the solver is built first, so that z3 makes the domains' terms
        before any question's (its answers, witnesses and cores depend on that order)."""
        return self.solver.encoder

    @property
    def has_input_tokens(self) -> bool:
        """Whether requests carry `input_tokens` (a signal of the policy), read without z3."""
        return self._encoder.has_input_tokens

    @cached_property
    def interpreter(self) -> ReplayEngine:
        """The engine every witness is replayed through, built the first time one is."""
        return self._make_engine(self.policy)

    @cached_property
    def conditions(self) -> list[Z3Term]:
        """Each rule's condition as a solver term, built the first time the solver is asked."""
        return [as_bool(self.encoder.encode(r.when)) for r in self.rules]

    def included(self, i: int) -> Z3Term:
        """A Boolean constant that means `C_i`, asserted once, for assumption questions."""
        literal = self._included.get(i)
        if literal is None:
            solver = self.solver.z3  # built before the literal: z3's terms in their old order
            literal = self._included[i] = z3.Bool(f"@rule_{i}")
            solver.add(literal == self.conditions[i])
        return literal

    def excluded(self, j: int) -> Z3Term:
        """A Boolean constant that means `not C_j`, asserted once, for assumption questions."""
        literal = self._excluded.get(j)
        if literal is None:
            solver = self.solver.z3  # built before the literal: z3's terms in their old order
            literal = self._excluded[j] = z3.Bool(f"@not_rule_{j}")
            solver.add(literal == z3.Not(self.conditions[j]))
        return literal

    # ---- which rules can meet -----------------------------------------------------------------

    def _build_index(self) -> tuple[str | None, dict[str | bool, list[int]], list[int]]:
        """Rules by the members of the enum that most rules restrict (a tenant, a task)."""
        key, _ = key_signal(self.policy, self.hulls)
        if key is None:
            return None, {}, list(range(len(self.rules)))
        by_member: dict[str | bool, list[int]] = defaultdict(list)
        everywhere = []
        for i, box in enumerate(self.hulls):
            if box is None:
                continue
            members = box.get(key)
            if members is None or members == self.domain.get(key):
                everywhere.append(i)
            else:
                assert isinstance(members, frozenset)  # the key is an enum signal
                for m in members:
                    by_member[m].append(i)
        return key, by_member, everywhere

    def meeting(self, i: int) -> list[int]:
        """The other rules (ascending) whose hull meets rule i's."""
        found = self._meeting.get(i)
        if found is None:
            found = self._meeting[i] = self._find_meeting(i)
        return found

    def _find_meeting(self, i: int) -> list[int]:
        return self._meet_index.meeting(i)

    @cached_property
    def _meet_index(self) -> MeetIndex:
        """The rules' narrow hulls indexed by every value they admit (analysis/meets.py)."""
        return MeetIndex(self._narrow_hulls)

    @property
    def key(self) -> str | None:
        """The enum that most rules restrict (a tenant, a task): the index's key, if any."""
        return self._index[0]

    def narrow(self, i: int) -> Box | None:
        """Rule i's hull without the signals it leaves at their whole domain (None: nowhere)."""
        return self._narrow_hulls[i]

    def firing_keyed(self, i: int) -> Keyed | None:
        """Where rule i fires (the swept region, past LIMIT boxes too), split by the index
        key's members (None: no key, or no region)."""
        if i not in self._keyed:
            region = self.swept_region(i)
            if region is None:
                region = self.firing_region(i)
            self._keyed[i] = None if region is None or self.key is None else Keyed(self.key, region)
        return self._keyed[i]

    @cached_property
    def _narrow_hulls(self) -> list[Box | None]:
        """Each hull without the signals it leaves at their whole domain, for `meeting`: a
        hull's interval or set lies within its domain, so two hulls are apart only on a signal
        that both narrow."""
        domain = self.domain
        return [None if box is None else {name: c for name, c in box.items() if c != domain.get(name)}
                for box in self.hulls]

    def earlier(self, i: int) -> list[int]:
        """The earlier rules (ascending) whose hull meets rule i's: the only ones that can take
        a request from it."""
        return [j for j in self.meeting(i) if j < i]

    def later(self, i: int) -> list[int]:
        """The later rules (ascending) whose hull meets rule i's."""
        return [j for j in self.meeting(i) if j > i]

    # ---- where rules fire (section 6) ---------------------------------------------------------

    def holds(self, i: int) -> bool:
        """Rule i's condition can hold somewhere in the domain."""
        exact = self.exact[i]
        if exact is not None:
            return bool(exact)
        return self.hulls[i] is not None and self.solver.satisfiable(self.conditions[i])

    def firing_boxes(self, i: int) -> list[Box] | None:
        """Where rule i fires, as exact boxes: its own less each earlier rule's in turn; None
        when boxes cannot say (then ask `firing`)."""
        if i not in self._firing_boxes:
            region = self.exact[i] if self._swept_firing.get(i) != [] else []
            try:
                if region:
                    for j in self.earlier(i):
                        cut = self.exact[j]
                        if cut is None:
                            region = None
                            break
                        region = self.space.subtract(region, cut)
                        if not region:
                            break
            except TooLarge:
                region = None
            self._firing_boxes[i] = region
        return self._firing_boxes[i]

    def firing_region(self, i: int) -> list[Box] | None:
        """The requests of `firing_boxes(i)`, in whichever boxes come quickest (for questions
        about the set: is it empty, how far does input_tokens go, what meets it)."""
        swept = self._swept_firing.get(i)
        return swept if swept is not None else self.firing_boxes(i)

    def swept_region(self, i: int) -> list[Box] | None:
        """Where rule i fires as the sweep found it (`_sweep`), past LIMIT boxes too (for
        questions that read a few buckets of it: `firing_keyed`); None when the sweep could
        not say (nothing else is computed: `firing_region` would)."""
        return self._sweep[0].get(i)

    @cached_property
    def _swept_firing(self) -> dict[int, list[Box]]:
        """Where each rule fires, from one pass in rule order (when every condition is boxes):
        see `_sweep`. A rule whose region outgrows LIMIT is left out (`firing_boxes` asks)."""
        return {j: region for j, region in self._sweep[0].items() if len(region) <= LIMIT}

    @cached_property
    def _sweep(self) -> tuple[dict[int, list[Box]], list[Box] | None]:
        """`_swept_firing`, and what no rule takes (None: not known from boxes).

        The rules that test no key (the index's `everywhere`: global rules) are swept once over
        the whole space: `shared` is what none of them has taken yet, and a handful of boxes
        that soon runs out. A rule that tests the key (a tenant's) then fires on its part of
        `shared` less the earlier key-testing rules that meet it (the meeting index names
        them): a few small differences, never the space copied once per tenant. A global rule
        fires on what it takes of `shared` less every earlier key-testing rule, subtracted
        bucket by bucket of the key (`KeyedRegion`): each cut reads its own tenant's boxes.
        With few global rules and few members (`_shared_sweep` false), `_sliced_sweep`."""
        if any(region is None for region in self.exact):
            return {}, None
        if not self._shared_sweep:
            return self._sliced_sweep()
        exact = cast(list[list[Box]], self.exact)
        space = self.space
        key, _, everywhere = self._index
        is_global = set(everywhere)
        keyed_rules = [j for j in range(len(self.rules)) if j not in is_global]
        found: dict[int, list[Box]] = {}
        shared: list[Box] | None = [{}]
        for j in range(len(self.rules)):
            if self.hulls[j] is None:
                found[j] = []
                continue
            if shared is None:
                continue  # unknown: `firing_boxes` asks
            try:
                if j in is_global:
                    taken, shared = space.split(shared, exact[j])
                else:
                    taken = space.intersect(shared, exact[j])
            except TooLarge:
                shared = None if j in is_global else shared  # for a global rule, every later one is unknown too
                continue
            try:
                if not taken:
                    found[j] = []
                elif j in is_global:
                    found[j] = self._less_keyed(taken, [k for k in self.earlier(j) if k not in is_global])
                else:
                    found[j] = space.subtract(taken, [box for k in self.earlier(j) if k not in is_global
                                                      for box in exact[k]])
            except TooLarge:
                continue
        gap: list[Box] | None = None
        if shared is not None:
            try:
                gap = self._less_keyed(shared, keyed_rules) if shared else []
            except TooLarge:
                gap = None
        return found, gap

    @property
    def _shared_sweep(self) -> bool:
        """Whether `_sweep` takes the global rules once (else slice by slice of the key, which
        copies them into every slice: quicker while there are few of both)."""
        key, by_member, everywhere = self._index
        return key is not None and len(everywhere) * len(by_member) > _SLICED_AT_MOST

    def _sliced_sweep(self) -> tuple[dict[int, list[Box]], list[Box] | None]:
        """`_sweep` by slices of the index key: in each slice, what no rule has taken yet, met
        with each rule in turn, then less it. A slice that outgrows LIMIT leaves its rules
        from there on out (and the gap to `gap_boxes`'s own pass)."""
        exact = cast(list[list[Box]], self.exact)
        space = self.space
        found: dict[int, list[Box]] = {}
        unknown: set[int] = set()
        gap: list[Box] | None = []
        for start, rules in self._key_slices():
            left = [start]
            for position, j in enumerate(rules):
                found.setdefault(j, [])
                if not left:
                    continue
                try:
                    taken, left = space.split(left, exact[j])
                    found[j] += taken
                except TooLarge:
                    unknown.update(rules[position:])
                    gap = None
                    break
            if gap is not None:
                gap += left
        return {j: region for j, region in found.items() if j not in unknown}, gap

    def _key_slices(self) -> list[tuple[Box, list[int]]]:
        """The space cut by the values of the index key, each with the rules (ascending) that
        can take a request there: those of that value and those that test no key."""
        key, by_member, everywhere = self._index
        if key is None:
            return [({}, list(range(len(self.rules))))]
        members = self.space.full[key]
        assert isinstance(members, frozenset)  # the key is an enum signal
        return [({key: frozenset({m})}, sorted({*everywhere, *by_member.get(m, ())}))
                for m in sorted(members)]

    def _less_keyed(self, region: list[Box], rules: list[int]) -> list[Box]:
        """`region` less these rules' exact regions, bucket by bucket of the key."""
        key = self.key
        cuts = [box for k in rules for box in cast(list[Box], self.exact[k])]
        if key is None:
            return self.space.subtract(region, cuts)
        return KeyedRegion(self.space, key, region, _SWEPT_LIMIT).subtract(cuts)

    @cached_property
    def gap_boxes(self) -> list[Box] | None:
        """The requests no rule takes, as exact boxes; None when boxes cannot say (from the
        same pass as `_swept_firing`), else from a pass of its own by slices of the key."""
        swept = self._sweep[1]
        if swept is not None or self._shared_sweep or any(region is None for region in self.exact):
            return swept
        exact = cast(list[list[Box]], self.exact)
        left_over: list[Box] = []
        try:
            for start, rules in self._key_slices():
                left = [start]
                for j in rules:
                    left = self.space.subtract(left, exact[j])
                    if not left:
                        break
                left_over += left
        except TooLarge:
            return None
        return left_over

    def tokens_upper(self, rule: Rule, when: e.Expr | None = None) -> tuple[bool, Number | None]:
        """(known, upper) for input_tokens where the rule fires and `when` holds (its first
        step): known is False when boxes cannot say; upper is None when unbounded or no request."""
        index = self.rule_index(rule)
        region = self.firing_region(index) if index is not None else self.gap_boxes
        if region is None or "input_tokens" not in self.space.full:
            return False, None
        if when is not None:
            condition = self.space.region_of(when)
            if condition is None:
                return False, None
            try:
                region = self.space.intersect(region, condition)
            except TooLarge:
                return False, None
        if not region:
            return True, Fraction(-1)  # no request: every bound holds
        return True, self.space.upper(region, "input_tokens")

    def firing(self, i: int | None) -> Terms:
        """Terms for where rule i fires (None: the default): its condition, no earlier one."""
        if i is None:
            return tuple(z3.Not(c) for c in self.conditions)
        if i not in self._firing:
            self._firing[i] = (self.conditions[i], *(z3.Not(self.conditions[j]) for j in self.earlier(i)))
        return self._firing[i]

    def fires(self, i: int | None) -> bool:
        """Whether rule i (None: the default) takes some request under first-match: from boxes
        where they can say, else from the solver."""
        key = -1 if i is None else i
        if key not in self._fires:
            boxes = self.gap_boxes if i is None else self.swept_region(i)
            if boxes is None and i is not None:
                boxes = self.firing_region(i)
            if boxes is not None:
                self._fires[key] = bool(boxes)
            elif i is not None and self.hulls[i] is None:
                self._fires[key] = False
            else:  # assumptions over literals asserted once: the solver keeps what it learned
                literals = [self.included(i)] if i is not None else []
                literals += [self.excluded(j) for j in (self.earlier(i) if i is not None else range(len(self.rules)))]
                self._fires[key] = self.solver.holds_under(literals)
        return self._fires[key]

    def edge_holds(self, cascade: str, k: int) -> bool | None:
        """Whether the condition of the cascade's edge k holds for some outcomes at step k, when
        it reads nothing but outcomes and constants; None when it reads more (a signal, a model
        field, a cost). Outcomes are fresh at every step, so where a climb reaches step k + 1 is
        then where it reaches step k, or nowhere. Asked of a solver of its own, once per
        condition: the same condition at another step or in another cascade reads other
        outcomes with the same domains, so its answer is the same (a thousand cascades over a
        handful of thresholds are a handful of questions)."""
        key = (cascade, k)
        if key not in self._edges:
            condition = self.policy.cascade(cascade).edges[k].condition
            alone: bool | None = None
            if all(isinstance(n, _OUTCOME_ONLY) and (not isinstance(n, e.SignalRef) or n.role == "outcome")
                   for n in walk(condition)):
                shape = as_bool(self.encoder.encode(condition, step=0)).sexpr()
                alone = self._edge_answers.get(shape)
                if alone is None:
                    edges = self._edge_solver
                    edges.with_outcomes(k)
                    alone = self._edge_answers[shape] = edges.satisfiable(
                        as_bool(self.encoder.encode(condition, step=k)))
            self._edges[key] = alone
        return self._edges[key]

    @cached_property
    def _edge_solver(self) -> Solver:
        """A solver for questions about edges alone, apart from the one about requests."""
        return Solver(self.encoder)

    def text(self, span: Span) -> str:
        """The source text under a span, for messages; short."""
        source = self.sources.get(span.file)
        text = source.text[span.start : span.end] if source is not None else "the condition"
        return text if len(text) <= 60 else text[:57] + "..."

    def rule_index(self, rule: Rule) -> int | None:
        """The position of `rule` among the rules; None for the default."""
        return None if rule.is_default else self._positions[id(rule)]

    def outcome(self, rule: Rule) -> tuple[object, ...]:
        """What a request gets from a rule, its name aside: model, steps, cap, rejection, and
        for a cascade which one (two cascades over the same models may climb differently)."""
        target = rule.target
        return (*self.policy.decision_of(rule)[1:], target.cascade if isinstance(target, CascadeTarget) else None)

    # ---- climbs (section 7) -------------------------------------------------------------------

    def climb(self, rule: Rule) -> Climb:
        """Where each step of the rule's cascade is reached; outcomes are fresh at each step."""
        key = id(rule)
        if key not in self._climbs:
            self._climbs[key] = Climb(self, rule)
        return self._climbs[key]

    def serving(self, step_model: str) -> list[str]:
        """The models that may answer for a step: its own, then every fallback reachable from it."""
        found = self._serving.get(step_model)
        if found is None:
            found = self._serving[step_model] = [step_model, *fallback_closure(self.policy, step_model)]
        return found

    @cached_property
    def routed(self) -> tuple[Rule, ...]:
        """The rules (and default) that can fire and send requests to a model."""
        return tuple(r for r in self.policy.route
                     if not isinstance(r.target, RejectTarget) and self.fires(self.rule_index(r)))

    def tokens_bound(self, rule: Rule) -> Number | None:
        """An upper bound on input_tokens where the rule fires, from hulls alone (None: none known)."""
        index = self.rule_index(rule)
        box = self.hulls[index] if index is not None else self.domain
        reach = (box or {}).get("input_tokens")
        if reach is None:
            return None
        assert isinstance(reach, Interval)  # input_tokens is a number
        return reach.high

    # ---- witnesses, replayed ------------------------------------------------------------------

    def witness(self, *terms: Z3Term, steps: int = 0) -> dict[str, Any] | None:
        """A request where `terms` hold (see Solver.witness), or None when none does."""
        model = self.solver.model(*terms)
        return None if model is None else self.solver.witness(model, *terms, steps=steps)

    def replay(self, witness: dict[str, Any], rule: Rule | None, steps: int = 0) -> tuple[Any, list[str]]:
        """Decide the witness with the interpreter: it must fire `rule` (None: no rule at all)
        and climb through `steps` escalations, to the rule's step `steps`; the decision and its
        path, else WitnessMismatch."""
        request = {k: v for k, v in witness.items() if not k.startswith("@")}
        try:
            decision = self.interpreter.decide(request)
        except Exception as exc:  # noqa: BLE001 - any failure here is a checker bug
            raise WitnessMismatch(f"witness {witness} is not a valid request: {exc}") from exc
        wanted = None if rule is None else rule.name
        if decision.rule != wanted:
            raise WitnessMismatch(f"witness {witness} fires {decision.rule!r}, not {wanted!r}")
        path = [decision.model] if decision.model else []
        for k, outcomes in enumerate(witness.get("@outcomes", [])[:steps]):
            following = self.interpreter.escalate(decision, k, outcomes)
            if following is None:
                raise WitnessMismatch(f"witness {witness} does not climb past step {k}")
            path.append(following)
        if rule is not None and path != list(self.policy.steps(rule)[: steps + 1]):
            raise WitnessMismatch(f"witness {witness} climbs {path}, not to step {steps} of rule {rule.name}")
        return decision, path

    def holds_for(self, expr: e.InvariantExpr, witness: dict[str, Any], model: Model | None = None) -> bool:
        """Whether `expr` holds for the witness's request (and serving model), in the engine."""
        env = self.interpreter.validate({k: v for k, v in witness.items() if not k.startswith("@")}, "signal")
        return self.interpreter.holds(expr, env, model)
