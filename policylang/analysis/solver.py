"""The questions the passes ask: can these conditions hold together, give me a request
where they do, how large can input_tokens get there. One z3 solver per policy, with every
domain asserted once; each question pushes, asks and pops.

What a request can carry decides every answer. Ints are integers. Floats, money and durations
are decimals: a request holds a float as the decimal its repr shows, an amount as a Decimal,
and the engines compute in those decimals. So `3 * f == 1` holds for no request (f = 1/3 is
no decimal), and no finding is claimed for it. Each question is asked over the reals first;
where z3's answer needs a value that no decimal is, it is asked again with every such variable
on the grid of 10^-324 (`GRID`): a decimal every double's repr and every cent lies on, so that
"no request" is proven, not guessed. Witnesses then pin floats and durations to doubles.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, assert_never

from ..ir import expr as e
from ..ir.types import BoolType, DurationType, EnumType, FloatType, IntType, MoneyType, SetType, StringType
from ..ir.values import EXACT, decimal_of
from ..source import Span
from .budget import clock, current
from .encode import Encoder, Z3OnFirstUse, as_bool

if TYPE_CHECKING:
    import z3
else:
    z3 = Z3OnFirstUse(globals())

GRID_DIGITS = 324
"""Every double's shortest repr has its last digit at 10^-324 or above (5e-324 is the least)."""

TIMEOUT_MS = 60_000
"""The most one question may take z3 (ms). A question over a policy takes it milliseconds; one
that runs out is a checker bug, reported as E900 with the question's pass, never a hang."""

_DECIMAL_KINDS = ("float", "money", "duration")
_DOUBLE_KINDS = ("float", "duration")  # a request carries these as Python floats (or ints)


@dataclass(frozen=True)
class _Answer:
    """What z3 said of one question: whether a request meets it, with a model when one does,
    else the ids of the assumptions in the unsat core."""

    sat: bool
    model: z3.ModelRef | None
    core: frozenset[int]


class SolverError(RuntimeError):
    """z3 could not decide a question (it answered `unknown`): never guessed around."""


class Undecided(SolverError):
    """The policy's solver time (`--timeout`, analysis/budget.py) ran out before z3 decided a
    question: reported as E901 at `span`, the condition the question was about (None when
    no condition of the policy is in it)."""

    def __init__(self, seconds: float, span: Span | None) -> None:
        super().__init__(f"not decided within the --timeout of {seconds:g} s")
        self.seconds = seconds
        self.span = span


class NoDouble(Exception):
    """The region holds decimals but no double: it is narrower than the gap between two
    neighbouring doubles, so no request with a float shows it. The finding is not reported."""


def _unknown(reason: str) -> str:
    if reason in ("timeout", "canceled"):
        return f"z3 gave up on a question after {TIMEOUT_MS // 1000} s ({reason})"
    return f"z3 could not decide a question ({reason})"


def _fraction(value: Any) -> Fraction:
    if z3.is_int_value(value):
        return Fraction(value.as_long())
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long())
    if z3.is_algebraic_value(value):  # not reachable with linear constraints; be exact anyway
        return Fraction(Decimal(value.approx(30).as_decimal(30).rstrip("?")))
    raise SolverError(f"no numeric value: {value}")


def _short(value: Fraction) -> bool:
    """A decimal of at most 15 significant digits, none past the 15th decimal place: a double
    holds it exactly as its repr, and a witness reads well."""
    d = decimal_of(value)
    if d is None:
        return False
    shape = d.normalize(EXACT).as_tuple()
    return len(shape.digits) <= 15 and int(shape.exponent) >= -15


def is_double(value: Fraction) -> bool:
    """A value a float signal can carry: an int (Python takes those as they are), or the
    decimal that some double's shortest repr shows."""
    if value.denominator == 1:
        return True
    double = float(value)
    return math.isfinite(double) and Fraction(Decimal(repr(double))) == value


class Solver:
    """One policy's questions, over one z3 solver that holds every signal's domain."""

    def __init__(self, encoder: Encoder, *, quick: bool = False) -> None:
        from .quick import QuickAnswers, RecordingSolver  # z3's, as the solver is

        self.encoder = encoder
        recording = RecordingSolver() if quick else None
        self.z3 = recording or z3.Solver()
        self.z3.set("timeout", TIMEOUT_MS)
        self.quick = None if recording is None else QuickAnswers(recording)
        """With `quick`, yes/no questions (`satisfiable`, `holds_under`) in integer linear
        arithmetic are answered exactly without z3 where analysis/linear.py can. Off by
        default: z3 keeps what it learns from each question, so skipping some changes which
        unsat core or model it gives later ones (a W201's covering rules, a witness), and
        lint's findings are kept byte for byte; the checks for errors alone (compile, eval,
        test), whose output is only which errors there are, turn it on."""
        self._steps: set[int] = set()
        self._domains: list[Any] = []
        """What `__init__` and `with_outcomes` asserted: the domains, without the literals that
        callers assert on `self.z3` to ask questions under assumptions."""
        for s in encoder.policy.signals:
            if s.role == "signal":
                self._domains += encoder.domain(s.name)
        self.z3.add(*self._domains)
        self.queries = 0

    def with_outcomes(self, step: int) -> None:
        """Assert the domains of the outcome copies read by the edge leaving `step`."""
        if step not in self._steps:
            self._steps.add(step)
            for s in self.encoder.policy.signals:
                if s.role == "outcome":
                    domain = self.encoder.domain(s.name, step)
                    self._domains += domain
                    self.z3.add(*domain)

    # ---- decimal semantics --------------------------------------------------------------------

    def _decimal_vars(self) -> list[Any]:
        """Every float, money and duration variable made so far."""
        return [var for key, var in self.encoder.variables() if self.encoder.kind(key) in _DECIMAL_KINDS]

    @staticmethod
    def _grid(variables: list[Any]) -> list[Any]:
        """The variables on the grid of 10^-324: asserted only inside a scope, where a question
        needs it, and gone at its pop. (Kept for good, these constraints make every question
        mixed-integer with 10^324 coefficients, and z3 could then spend minutes on a question
        over the reals that takes it milliseconds.)"""
        scale = z3.RealVal(10**GRID_DIGITS)
        return [z3.IsInt(var * scale) for var in variables]

    @staticmethod
    def _all_decimal(model: z3.ModelRef, variables: list[Any]) -> bool:
        return all(decimal_of(_fraction(model.eval(v, model_completion=True))) is not None for v in variables)

    def _check(self, solver: z3.Solver | z3.Optimize, assumptions: list[Any], about: tuple[Any, ...]) -> Any:
        """z3's answer, within what is left of the policy's solver time when `--timeout` set a
        budget (else within z3's ceiling alone); Undecided, located at the first condition of
        `about` (terms, or literals asserted to mean one), when the budget runs out first."""
        budget = current()
        if budget is None:
            return solver.check(*assumptions)
        left = budget.left(self.encoder)
        if left > 0:
            solver.set("timeout", max(1, min(TIMEOUT_MS, int(left * 1000))))
            start = clock()
            try:
                answer = solver.check(*assumptions)
            finally:
                budget.spend(self.encoder, clock() - start)
            if answer != z3.unknown or solver.reason_unknown() not in ("timeout", "canceled"):
                return answer
        raise Undecided(budget.seconds, self._subject(about))

    def _subject(self, about: tuple[Any, ...]) -> Span | None:
        """The span of the first rule condition, conjunct or cascade edge condition that one
        of `about` is (or is the negation of, or is a literal asserted to mean). Built only
        when a question runs out of time: the conditions are encoded again, and z3 shares
        equal terms, so the ids agree."""
        spans: dict[int, Span] = {}

        def note(x: Any, step: int | None = None) -> None:
            try:
                term = self.encoder.encode(x, step)
            except (ValueError, KeyError):  # model fields: an invariant's, not a request's
                return
            if z3.is_expr(term):
                spans.setdefault(term.get_id(), x.span)

        policy = self.encoder.policy
        for rule in policy.rules:
            if rule.condition is not None:
                note(rule.condition)
                parts = [rule.condition]
                while parts:
                    part = parts.pop(0)
                    if isinstance(part, e.BoolOp) and part.op == "and":
                        parts += list(part.operands)
                    note(part)
        for cascade in policy.cascades:
            for k, edge in enumerate(cascade.edges):
                note(edge.condition, k)
        definitions = {a.arg(0).get_id(): a.arg(1) for a in self.z3.assertions()
                       if z3.is_eq(a) and z3.is_const(a.arg(0)) and str(a.arg(0)).startswith("@")}
        for term in about:
            if not z3.is_expr(term):
                continue
            term = definitions.get(term.get_id(), term)
            if z3.is_not(term):
                term = term.arg(0)
            found = spans.get(term.get_id())
            if found is not None:
                return found
        return None

    def _decide(self, solver: z3.Solver, assumptions: list[Any], details: bool = True,
                about: tuple[Any, ...] = ()) -> _Answer:
        """sat or unsat for a request, with the model (sat) or the assumptions in the unsat
        core when `details` are asked for: over the reals, and again on the grid where the
        reals' model needs a value that no decimal is. (A model or core over every literal
        asserted so far costs z3 more than most questions do: each is fetched only when the
        caller or the decimal check reads it.)"""
        about = about or tuple(assumptions)
        answer = self._check(solver, assumptions, about)
        variables = self._decimal_vars()
        eager = self.quick is None
        """Without `quick` (lint), every model and core is fetched, as z3 has always been asked:
        fetching one changes which unsat core z3 gives to a later question, so skipping them
        (2.7x faster lint of the arith shape) changed which rules some W201s name as covering
        in 2 of the 172 policies of benchmarks/scale_check.py, and so does asking W202's core
        of a solver without the literals. With `quick` (errors alone), only what the caller
        reads is fetched."""
        model = None
        if answer == z3.sat and (variables or eager):
            model = solver.model()
            if not self._all_decimal(model, variables):
                solver.push()
                try:
                    solver.add(*self._grid(variables))
                    return self._read(solver, self._check(solver, assumptions, about), None, details or eager)
                finally:
                    solver.pop()
        return self._read(solver, answer, None if eager else model, details or eager)

    @staticmethod
    def _read(solver: z3.Solver, answer: Any, model: z3.ModelRef | None, details: bool) -> _Answer:
        if answer == z3.unknown:
            raise SolverError(_unknown(solver.reason_unknown()))
        if answer == z3.sat:
            if model is None and details:
                model = solver.model()
            return _Answer(True, model, frozenset())
        if not details:
            return _Answer(False, None, frozenset())
        return _Answer(False, None, frozenset(c.get_id() for c in solver.unsat_core()))

    # ---- questions ----------------------------------------------------------------------------

    def _ask(self, terms: tuple[Any, ...], want_model: bool) -> Any:
        self.queries += 1
        self.z3.push()
        try:
            self.z3.add(*[as_bool(t) for t in terms])
            answer = self._decide(self.z3, [], want_model, terms)
            if not answer.sat:
                return None
            return answer.model if want_model else True
        finally:
            self.z3.pop()

    def holds_under(self, literals: list[Any]) -> bool:
        """Whether the domains and these Boolean constants can all hold (assumptions)."""
        self.queries += 1
        found = None if self.quick is None else self.quick.decide(literals)
        if found is not None:
            return found
        return self._decide(self.z3, literals, False).sat

    def model(self, *terms: Any) -> z3.ModelRef | None:
        """A model of the domains and `terms` that a request can carry, or None when none."""
        found: z3.ModelRef | None = self._ask(terms, True)
        return found

    def satisfiable(self, *terms: Any) -> bool:
        """Whether some request (decimals where it carries them) meets the domains and `terms`."""
        found = None if self.quick is None else self.quick.decide([as_bool(t) for t in terms])
        if found is not None:
            self.queries += 1
            return found
        return self._ask(terms, False) is not None

    def maximum(self, objective: Any, *terms: Any) -> Fraction | None:
        """The largest value of `objective` where the domains and `terms` hold for a request;
        None: unbounded. Only asked of terms known to be satisfiable."""
        upper = self._optimum(objective, terms, on_grid=False)
        if upper is not None and not self.satisfiable(*terms, objective == _value(upper)):
            upper = self._optimum(objective, terms, on_grid=True)  # the reals' best is no request
        return upper

    def _optimum(self, objective: Any, terms: tuple[Any, ...], on_grid: bool) -> Fraction | None:
        opt = z3.Optimize()
        opt.set("timeout", TIMEOUT_MS)
        opt.add(*self.z3.assertions())
        opt.add(*[as_bool(t) for t in terms])
        if on_grid:
            opt.add(*self._grid(self._decimal_vars()))
        handle = opt.maximize(objective)
        answer = self._check(opt, [], terms)
        if answer == z3.unknown:
            raise SolverError(_unknown(opt.reason_unknown()))
        if answer != z3.sat:
            raise SolverError(f"optimizing over a region the solver calls {answer}")
        upper = opt.upper(handle)
        if not (z3.is_int_value(upper) or z3.is_rational_value(upper)):
            return None  # oo, or oo - epsilon: no largest value
        return _fraction(upper)

    def core_of_literals(self, literals: dict[Any, Any], fixed: tuple[Any, ...] = ()) -> list[Any]:
        """A minimal set of the keys whose literals (Boolean constants asserted elsewhere to
        mean something) cannot hold together with the domains and `fixed`; every key when
        they can. Asked of this solver, with assumptions: nothing is copied."""
        self.z3.push()
        try:
            self.z3.add(*[as_bool(t) for t in fixed])
            return self._core(self.z3, literals, fixed)
        finally:
            self.z3.pop()

    def core(self, named: dict[str, Any], fixed: tuple[Any, ...] = ()) -> list[str]:
        """A minimal set of the named conditions that cannot hold together with the domains
        and the `fixed` terms (all of them, if they can). Asked of a solver of its own that
        holds the domains (with `quick`, the domains alone, not the literals asserted for other
        questions: neither the conditions nor `fixed` may read those)."""
        probe = z3.Solver()
        probe.set("timeout", TIMEOUT_MS)
        probe.add(*(self._domains if self.quick is not None else self.z3.assertions()))  # see _decide
        probe.add(*[as_bool(t) for t in fixed])
        flags = {n: z3.Bool(f"@core:{n}") for n in named}
        for n in named:
            probe.add(z3.Implies(flags[n], as_bool(named[n])))
        found: list[str] = self._core(probe, flags, (*named.values(), *fixed))
        return found

    def _core(self, solver: z3.Solver, literals: dict[Any, Any], about: tuple[Any, ...]) -> list[Any]:
        keys = list(literals)
        about = (*about, *literals.values())
        answer = self._decide(solver, list(literals.values()), about=about)
        if answer.sat:
            return keys
        core = [k for k in keys if literals[k].get_id() in answer.core]
        for k in list(core):  # deletion: keep only what is needed
            if not self._decide(solver, [literals[m] for m in core if m != k], False, about).sat:
                core.remove(k)
        return core

    # ---- witnesses ----------------------------------------------------------------------------

    def witness(self, model: z3.ModelRef, *terms: Any, steps: int = 0) -> dict[str, Any]:
        """A request that the model's region holds, as JSON-ready values: money as exact
        decimals, floats and durations as doubles (or ints), short where the region allows.
        `steps` outcome objects (one per escalation edge) go under "@outcomes". Raises
        NoDouble when the region holds decimals but no double.
        """
        model = self._prefer_defaults(terms, steps) or model
        model = self._pin_short(model, terms, steps) or model
        if not all(is_double(_fraction(model.eval(v, model_completion=True))) for v in self._vars(steps, _DOUBLE_KINDS)):
            pinned = self._pin_each(model, terms, steps)
            if pinned is None:
                raise NoDouble(f"no double meets {terms}")
            model = pinned
        request = self._values(model, None, "signal")
        if steps:
            request["@outcomes"] = [self._values(model, step, "outcome") for step in range(steps)]
        return request

    def _prefer_defaults(self, terms: tuple[Any, ...], steps: int) -> z3.ModelRef | None:
        """A model where every signal the finding does not need keeps its default, so that the
        witness names only what matters."""
        preferences = {}
        for s in self.encoder.policy.signals:
            if not s.has_default:
                continue
            for step in ([None] if s.role == "signal" else range(steps)):
                value = self.encoder.value(s, s.default)
                preferences[z3.Bool(f"@default:{self.encoder.key(s.name, step)}")] = self.encoder.var(s.name, step) == value
        if not preferences:
            return None
        self.z3.push()
        try:
            self.z3.add(*[as_bool(t) for t in terms])
            for flag, preference in preferences.items():
                self.z3.add(z3.Implies(flag, preference))
            flags = list(preferences)
            while True:
                answer = self._decide(self.z3, flags, about=terms)
                if answer.model is not None:
                    return answer.model
                core = answer.core
                flags_left = [f for f in flags if f.get_id() not in core]
                if not core or len(flags_left) == len(flags):
                    return None
                flags = flags_left
        finally:
            self.z3.pop()

    def _vars(self, steps: int, kinds: tuple[str, ...]) -> Iterator[Any]:
        for s in self.encoder.policy.signals:
            if s.type.kind not in kinds:
                continue
            for step in ([None] if s.role == "signal" else range(steps)):
                yield self.encoder.var(s.name, step)

    def _pin_short(self, model: z3.ModelRef, terms: tuple[Any, ...], steps: int) -> z3.ModelRef | None:
        """A model whose floats, amounts and durations are all short decimals (a double holds
        each exactly as its repr shows; an amount reads well), on a grid of 10^-k for growing
        k; None when the model's are short already or no grid up to 10^-15 meets the region."""
        variables = list(self._vars(steps, _DECIMAL_KINDS))
        if all(_short(_fraction(model.eval(v, model_completion=True))) for v in variables):
            return None
        for digits in (0, 1, 2, 3, 6, 9, 12, 15):
            scale = z3.RealVal(10**digits)
            found = self.model(*terms, *[z3.IsInt(v * scale) for v in variables])
            if found is not None and all(_short(_fraction(found.eval(v, model_completion=True))) for v in variables):
                return found
        return None

    def _pin_each(self, model: z3.ModelRef, terms: tuple[Any, ...], steps: int) -> z3.ModelRef | None:
        """A model whose floats and durations are all doubles (as their repr shows), pinned
        one at a time to the nearest doubles so that the others can still move to meet the
        constraints; None when some variable meets no double."""
        pins: list[Any] = []
        for var in list(self._vars(steps, _DOUBLE_KINDS)):
            value = _fraction(model.eval(var, model_completion=True))
            if is_double(value):
                pins.append(var == _value(value))
                continue
            double = float(value)
            for candidate in (double, math.nextafter(double, math.inf), math.nextafter(double, -math.inf)):
                pin = var == z3.RealVal(str(Decimal(repr(candidate))))
                found = self.model(*terms, *pins, pin)
                if found is not None:
                    model = found
                    pins.append(pin)
                    break
            else:
                return None
        return model

    def _values(self, model: z3.ModelRef, step: int | None, role: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for s in self.encoder.policy.signals:
            if s.role != role:
                continue
            raw = model.eval(self.encoder.var(s.name, step), model_completion=True)
            t = s.type
            value: Any
            match t:
                case BoolType():
                    value = z3.is_true(raw)
                case EnumType():
                    value = t.members[raw.as_long()]
                case IntType():
                    value = raw.as_long()
                case MoneyType():
                    value = decimal_of(_fraction(raw))  # a decimal: the grid guarantees it
                case FloatType() | DurationType() | SetType() | StringType():
                    exact = _fraction(raw)
                    if exact.denominator == 1 and (t.kind == "duration" or abs(exact) > 2**53):
                        value = int(exact)  # whole seconds; a float signal takes a large int as it is
                    else:
                        value = float(exact)
                case _:
                    assert_never(t)
            if s.has_default and value == s.default and type(value) is type(s.default):
                continue  # a default is what an absent key means: keep witnesses short
            values[s.name] = value
        return values


def _value(value: Fraction) -> Any:
    return z3.RealVal(f"{value.numerator}/{value.denominator}") if value.denominator != 1 else z3.IntVal(value.numerator)
