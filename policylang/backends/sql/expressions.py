"""Conditions in SQL: the typed expressions of rules and cascade edges (section 4).

Booleans map to SQL's, whose three-valued logic carries an undecidable number comparison
(NULL, see `numbers.py`) only as far as the condition depends on it. Numeric comparisons go
through `numbers.compare` on exact linear forms, so they decide as the Python engines do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, assert_never

from ...ir import expr as e
from ...ir import values
from ..python.plan import cost_terms, exact_arithmetic
from ...ir.policy import Model
from .numbers import Linear, Number, compare
from .text import FALSE, TRUE, all_of, any_of, double, negate, string

NUMERIC = ("int", "float", "money", "duration")


@dataclass(frozen=True)
class Env:
    """What a condition reads: `plain[name]`, the SQL of a bool or enum value;
    `numbers[name]`, a validated number; the models, for `cost(MODEL)`."""

    plain: Mapping[str, str]
    numbers: Mapping[str, Number]
    models: Mapping[str, Model]
    input_tokens: bool


def condition(x: e.Expr, env: Env) -> str:
    """SQL for a boolean expression: TRUE, FALSE, or NULL where a comparison is undecidable."""
    match x:
        case e.Const(value=value):
            return TRUE if value else FALSE
        case e.SignalRef(name=name):
            return env.plain[name]
        case e.Not(operand=operand):
            return negate(condition(operand, env))
        case e.BoolOp(op="and", operands=operands):
            return all_of([condition(o, env) for o in operands])
        case e.BoolOp(operands=operands):  # op == "or", the only other
            return any_of([condition(o, env) for o in operands])
        case e.Compare(op=op, left=left, right=right) if left.type.kind in NUMERIC:
            exact = exact_arithmetic(left) or exact_arithmetic(right)
            form = _minus(linear(left, env, exact), linear(right, env, exact))
            return compare(op, form, exact_floats=exact)
        case e.Compare(op=op, left=left, right=right) if left.type.kind in ("bool", "enum") and op in ("==", "!="):
            return f"({_plain(left, env)} {'=' if op == '==' else '<>'} {_plain(right, env)})"
        case e.InSet(element=element, members=members, negated=negated):
            inside = f"{_plain(element, env)} IN ({', '.join(string(m) for m in members)})" if members else FALSE
            return negate(inside) if negated else inside
        case e.InRange(element=element, low=low, high=high, negated=negated):
            exact = any(exact_arithmetic(p) for p in (element, low, high))
            inner = linear(element, env, exact)
            held = all_of([compare("<=", _minus(linear(low, env, exact), inner), exact_floats=exact),
                           compare("<=", _minus(inner, linear(high, env, exact)), exact_floats=exact)])
            return negate(held) if negated else held
        case e.Compare() | e.CostOf() | e.HasLabel() | e.Sum() | e.Scale():  # set and string tests, numbers
            raise NotImplementedError(f"{x.kind} expressions have no SQL form (they appear only in invariants)")
        case _:
            assert_never(x)


def _plain(x: e.Expr, env: Env) -> str:
    match x:
        case e.Const(value=bool() as value):
            return TRUE if value else FALSE
        case e.Const(value=str() as value):
            return string(value)
        case e.SignalRef(name=name):
            return env.plain[name]
    return condition(x, env)


def _minus(left: Linear, right: Linear) -> Linear:
    terms: dict[int, tuple[Fraction, Number]] = {}
    order: list[int] = []
    for sign, form in ((1, left), (-1, right)):
        for coefficient, number in form.terms:
            key = id(number)
            if key not in terms:
                terms[key] = (Fraction(0), number)
                order.append(key)
            terms[key] = (terms[key][0] + sign * coefficient, number)
    return Linear(tuple(terms[k] for k in order), left.offset - right.offset)


def _scaled(form: Linear, factor: Fraction) -> Linear:
    return Linear(tuple((c * factor, n) for c, n in form.terms), form.offset * factor)


def _exact(value: Any, exact_floats: bool) -> Fraction:
    """A constant's exact value: a float by its repr where float arithmetic is exact, else by
    its binary value, as Python compares it."""
    if isinstance(value, float):
        return Fraction(Decimal(repr(value))) if exact_floats else Fraction(value)
    if isinstance(value, Decimal):
        return Fraction(value)
    return Fraction(value)


def linear(x: e.Expr, env: Env, exact_floats: bool) -> Linear:
    """A numeric expression as `sum(coefficient * value) + offset`, exactly (linear: section 4)."""
    match x:
        case e.Const(value=value):
            return Linear((), _exact(value, exact_floats))
        case e.SignalRef(name=name):
            return Linear(((Fraction(1), env.numbers[name]),), Fraction(0))
        case e.CostOf(model=name):
            terms = cost_terms(env.models[name])
            if not env.input_tokens:
                return Linear((), Fraction(terms.at(env.models[name].context)))
            return Linear(((Fraction(terms.per_input_token), env.numbers["input_tokens"]),), Fraction(terms.fixed))
        case e.Sum(terms=terms, signs=signs):
            total = Linear((), Fraction(0))
            for term, sign in zip(terms, signs):
                part = linear(term, env, exact_floats)
                total = _minus(total, _scaled(part, Fraction(-sign)))
            return total
        case e.Scale(factor=factor, operand=operand):
            return _scaled(linear(operand, env, exact_floats), Fraction(values.exact(factor)))
        case e.Not() | e.BoolOp() | e.Compare() | e.InSet() | e.InRange() | e.HasLabel():
            raise NotImplementedError(f"{x.kind} is not a number the SQL target computes")
        case _:
            assert_never(x)


__all__ = ["Env", "condition", "double", "linear"]
