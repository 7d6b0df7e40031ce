"""The questions the passes ask: can these conditions hold together, give me a request
where they do, how large can input_tokens get there. One z3 solver per policy, with every
domain asserted once; each question pushes, asks and pops.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import z3

from ..ir.types import EnumType
from ..ir.values import decimal_of
from .encode import Encoder, as_bool


def _short(value: Fraction) -> bool:
    """A rational that a double carries exactly as its repr: a decimal of at most 15 digits."""
    d = decimal_of(value)
    return d is not None and len(d.normalize().as_tuple().digits) <= 15 and abs(d) < Decimal("1e300")


class SolverError(RuntimeError):
    """z3 could not decide a question (it answered `unknown`): never guessed around."""


def _fraction(value) -> Fraction:
    if z3.is_int_value(value):
        return Fraction(value.as_long())
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long())
    if z3.is_algebraic_value(value):  # not reachable with linear constraints; be exact anyway
        return Fraction(Decimal(value.approx(30).as_decimal(30).rstrip("?")))
    raise SolverError(f"no numeric value: {value}")


class Solver:
    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.z3 = z3.Solver()
        self._steps: set[int] = set()
        for s in encoder.policy.signals:
            if s.role == "signal":
                self.z3.add(*encoder.domain(s.name))
        self.queries = 0

    def with_outcomes(self, step: int) -> None:
        """Assert the domains of the outcome copies read by the edge leaving `step`."""
        if step not in self._steps:
            self._steps.add(step)
            for s in self.encoder.policy.signals:
                if s.role == "outcome":
                    self.z3.add(*self.encoder.domain(s.name, step))

    def _ask(self, terms, want_model: bool):
        self.queries += 1
        self.z3.push()
        try:
            self.z3.add(*[as_bool(t) for t in terms])
            answer = self.z3.check()
            if answer == z3.unknown:
                raise SolverError(self.z3.reason_unknown())
            if answer != z3.sat:
                return None
            return self.z3.model() if want_model else True
        finally:
            self.z3.pop()

    def holds_under(self, literals: list) -> bool:
        """Whether the domains and these Boolean constants can all hold (assumptions)."""
        self.queries += 1
        answer = self.z3.check(*literals)
        if answer == z3.unknown:
            raise SolverError(self.z3.reason_unknown())
        return answer == z3.sat

    def model(self, *terms) -> z3.ModelRef | None:
        """A model of the domains and `terms`, or None when they cannot all hold."""
        return self._ask(terms, True)

    def satisfiable(self, *terms) -> bool:
        return self._ask(terms, False) is not None

    def maximum(self, objective, *terms) -> Fraction | None:
        """The largest value of `objective` where the domains and `terms` hold; None: unbounded.

        Only asked of terms known to be satisfiable.
        """
        opt = z3.Optimize()
        opt.add(*self.z3.assertions())
        opt.add(*[as_bool(t) for t in terms])
        handle = opt.maximize(objective)
        answer = opt.check()
        if answer != z3.sat:
            raise SolverError(f"optimizing over a region the solver calls {answer}")
        upper = opt.upper(handle)
        if not (z3.is_int_value(upper) or z3.is_rational_value(upper)):
            return None  # oo, or oo - epsilon: no largest value
        return _fraction(upper)

    def core_of_literals(self, literals: dict[Any, Any], fixed: tuple = ()) -> list[Any]:
        """A minimal set of the keys whose literals (Boolean constants asserted elsewhere to
        mean something) cannot hold together with the domains and `fixed`; every key when
        they can. Asked of this solver, with assumptions: nothing is copied."""
        keys = list(literals)
        self.z3.push()
        try:
            self.z3.add(*[as_bool(t) for t in fixed])
            if self.z3.check(*literals.values()) != z3.unsat:
                return keys
            in_core = {c.get_id() for c in self.z3.unsat_core()}
            core = [k for k in keys if literals[k].get_id() in in_core]
            for k in list(core):  # deletion: keep only what is needed
                if self.z3.check(*[literals[m] for m in core if m != k]) == z3.unsat:
                    core.remove(k)
            return core
        finally:
            self.z3.pop()

    def core(self, named: dict[str, Any], fixed: tuple = ()) -> list[str]:
        """A minimal set of the named conditions that cannot hold together with the domains
        and the `fixed` terms (all of them, if they can)."""
        names = list(named)
        probe = z3.Solver()
        probe.add(*self.z3.assertions())
        probe.add(*[as_bool(t) for t in fixed])
        flags = {n: z3.Bool(f"@core:{n}") for n in names}
        for n in names:
            probe.add(z3.Implies(flags[n], as_bool(named[n])))
        if probe.check(*flags.values()) != z3.unsat:
            return names
        core = [n for n in names if any(z3.eq(c, flags[n]) for c in probe.unsat_core())]
        for n in list(core):  # deletion: keep only what is needed
            rest = [flags[m] for m in core if m != n]
            if probe.check(*rest) == z3.unsat:
                core.remove(n)
        return core

    # ---- witnesses ----------------------------------------------------------------------------

    def witness(self, model: z3.ModelRef, *terms, steps: int = 0) -> dict[str, Any]:
        """A request that the model describes, as JSON-ready values, floats as real doubles.

        A float's value must be a double at runtime: where the model's value is not one, the
        nearest double is pinned and the question asked again, so the request really lies in
        the region. `steps` outcome objects (one per escalation edge) go under "@outcomes".
        """
        model = self._prefer_defaults(terms, steps) or model
        pinned = self._pin_floats(model, terms, steps)
        if pinned is not None:
            model = pinned
        request = self._values(model, None, "signal")
        if steps:
            request["@outcomes"] = [self._values(model, step, "outcome") for step in range(steps)]
        return request

    def _prefer_defaults(self, terms, steps: int) -> z3.ModelRef | None:
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
                answer = self.z3.check(*flags)
                if answer == z3.sat:
                    return self.z3.model()
                core = {c.get_id() for c in self.z3.unsat_core()}
                if answer != z3.unsat or not core:
                    return None
                flags = [f for f in flags if f.get_id() not in core]
        finally:
            self.z3.pop()

    def _float_vars(self, steps: int):
        for s in self.encoder.policy.signals:
            if s.type.kind != "float":
                continue
            for step in ([None] if s.role == "signal" else range(steps)):
                yield self.encoder.var(s.name, step)

    def _pin_floats(self, model, terms, steps):
        """A model whose floats are all short decimals, which doubles hold exactly as their repr
        shows: first on a grid of 10^-k for growing k (then every float is such a decimal at
        once), else one at a time; None if no pin was needed."""
        floats = list(self._float_vars(steps))
        if not floats or all(_short(_fraction(model.eval(v, model_completion=True))) for v in floats):
            return None
        for digits in (0, 1, 2, 3, 6, 9, 12):
            scale = z3.RealVal(10**digits)
            found = self.model(*terms, *[z3.IsInt(v * scale) for v in floats])
            if found is not None and all(_short(_fraction(found.eval(v, model_completion=True))) for v in floats):
                return found
        return self._pin_each(model, terms, steps)

    def _pin_each(self, model, terms, steps):
        """A model whose floats are all doubles (the decimal a double's repr shows), pinned one
        at a time so that the others can still move to meet the constraints; None if no pin
        was needed. A variable no double can satisfy stays as it was (its replay then shows)."""
        pins: list = []
        changed = False
        for var in list(self._float_vars(steps)):
            value = _fraction(model.eval(var, model_completion=True))
            double = float(value)
            if Fraction(Decimal(repr(double))) == value:
                pins.append(var == z3.RealVal(repr(double)))
                continue
            for candidate in (double, math.nextafter(double, math.inf), math.nextafter(double, -math.inf)):
                pin = var == z3.RealVal(str(Decimal(repr(candidate))))
                found = self.model(*terms, *pins, pin)
                if found is not None:
                    model, changed = found, True
                    pins.append(pin)
                    break
        return model if changed else None

    def _values(self, model, step, role: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for s in self.encoder.policy.signals:
            if s.role != role:
                continue
            raw = model.eval(self.encoder.var(s.name, step), model_completion=True)
            t = s.type
            if t.kind == "bool":
                value: Any = z3.is_true(raw)
            elif isinstance(t, EnumType):
                value = t.members[raw.as_long()]
            elif t.kind == "int":
                value = raw.as_long()
            else:
                exact = _fraction(raw)
                if t.kind == "float":
                    value = float(exact)
                else:
                    value = decimal_of(exact)
                    if value is None:  # 1/3 of a dollar: keep 28 digits, the witness is replayed
                        value = Decimal(exact.numerator) / Decimal(exact.denominator)
                    if t.kind == "duration":
                        value = int(value) if value == value.to_integral_value() else float(value)
            if s.has_default and value == s.default and type(value) is type(s.default):
                continue  # a default is what an absent key means: keep witnesses short
            values[s.name] = value
        return values
