"""The interpreter's fast paths: cheaper closures for the shapes most conditions are made of,
and the exact-class test that validates most values, kept apart from the reference engine
(interpreter.py) so that the reference reads as the semantics.

Each fast closure computes exactly what the reference closure of the same expression would:
a signal compared with a constant (the constant narrowed as both engines compare it), a
signal's membership in a set, `not` of a bool signal, a conjunction or disjunction of two or
three such plain tests as one closure (C functions, no nesting), and `a and b` / `a or b`
without a loop. `fast_closure` answers None for every other expression, which the reference
then builds. tests/test_interpreter_paths.py holds both to the compiled module's answers.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, TypeAlias

from ...ir import expr as e
from ...ir.policy import Model
from .checks import SignalCheck, Spec
from .plan import narrow_number

Env: TypeAlias = dict[str, Any]
"""A request's values by signal (and outcome) name, validated or trusted."""
Closure: TypeAlias = Callable[[Env, Model | None], Any]
"""An expression compiled: its value for an environment (and, in invariants, a serving model)."""
FastTest: TypeAlias = tuple[type, Any, Any, frozenset[str] | None, Spec]
"""(exact class, low, high, members or None, spec): one signal's common case, see `fast_test`."""
Atom: TypeAlias = tuple[str, Callable[[Any], Any]]
"""(signal, test): a plain test of one signal's value, `test(env[signal])`; see `_atom`."""

ORDER = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
         ">=": operator.ge}
"""Each comparison operator as a function: `ORDER[op](left, right)`."""
_FLIPPED = {"==": operator.eq, "!=": operator.ne, "<": operator.gt, "<=": operator.ge, ">": operator.lt,
            ">=": operator.le}
"""`value OP constant` as `_FLIPPED[OP](constant, value)`: the same answer for every pair of
values the engines compare (ints, floats, Decimals, strings, bools), and the same shape as a
membership test, `operator.contains(members, value)`."""


def fast_closure(x: e.AnyExpr, closure: Callable[[e.AnyExpr], Closure]) -> Closure | None:
    """A faster closure computing what the reference closure of `x` computes, or None when `x`
    has no fast path. `closure` compiles a subexpression (fast or reference)."""
    match x:
        case e.Compare(op=op, left=e.SignalRef(name=name), right=e.Const(value=value)) if left_is_plain(x):
            test, constant = ORDER[op], narrow_number(value)
            return lambda env, model: test(env[name], constant)
        case e.InSet(element=e.SignalRef(name=name), members=members, negated=negated):
            allowed = frozenset(members)
            if negated:
                return lambda env, model: env[name] not in allowed
            return lambda env, model: env[name] in allowed
        case e.Not(operand=e.SignalRef(name=name)):
            return lambda env, model: not env[name]
        case e.BoolOp(operands=operands) if _plain_conjunction(operands):
            return _all_or_any(x.op, [atom for atom in map(_atom, operands) if atom is not None])
        case e.BoolOp(op="and", operands=(first, second)):
            a, b = closure(first), closure(second)
            return lambda env, model: a(env, model) and b(env, model)
        case e.BoolOp(op="or", operands=(first, second)):
            a, b = closure(first), closure(second)
            return lambda env, model: a(env, model) or b(env, model)
    return None


def _atom(x: e.AnyExpr) -> Atom | None:
    """A test of one signal that a C function decides: against a constant (`x > 3`, as
    `3 < x`), membership (`x in {..}`), a bool signal or its negation; None for anything else."""
    match x:
        case e.Compare(op=op, left=e.SignalRef(name=name), right=e.Const(value=value)) if left_is_plain(x):
            return name, partial(_FLIPPED[op], narrow_number(value))
        case e.InSet(element=e.SignalRef(name=name), members=members, negated=False):
            return name, frozenset(members).__contains__
        case e.SignalRef(name=name) if x.type.kind == "bool":
            return name, operator.truth
        case e.Not(operand=e.SignalRef(name=name)):
            return name, operator.not_
    return None


def _plain_conjunction(operands: tuple[e.AnyExpr, ...]) -> bool:
    """Two or three plain tests (`_atom`), which one closure decides without nesting."""
    return 2 <= len(operands) <= 3 and all(_atom(o) is not None for o in operands)


def _all_or_any(op: str, atoms: list[Atom]) -> Closure:
    """One closure for `a and b [and c]` (or `or`) of plain tests, left to right, short-circuit."""
    if len(atoms) == 2:
        (n1, t1), (n2, t2) = atoms
        if op == "and":
            return lambda env, model: t1(env[n1]) and t2(env[n2])
        return lambda env, model: t1(env[n1]) or t2(env[n2])
    (n1, t1), (n2, t2), (n3, t3) = atoms
    if op == "and":
        return lambda env, model: t1(env[n1]) and t2(env[n2]) and t3(env[n3])
    return lambda env, model: t1(env[n1]) or t2(env[n2]) or t3(env[n3])


def left_is_plain(x: e.Compare[e.AnyExpr]) -> bool:
    """A comparison of a signal with a constant that Python's operators decide directly."""
    return x.left.type.kind != "set"


def fast_test(check: SignalCheck) -> FastTest:
    """(exact class, low, high, members, spec): a value of exactly that class inside
    low..high (or among the members, for an enum) is valid as it is, with no conversion;
    anything else goes to runtime `_check`. Unbounded ends are infinite, but the largest
    finite float for a float signal, so that infinity and NaN fail the test; Decimal ends
    are compared as the int or float of the same value (`narrow_number`)."""
    if check.kind == "enum":
        return (str, None, None, frozenset(check.members), check.spec)
    if check.kind == "bool":
        return (bool, False, True, None, check.spec)
    unbounded = sys.float_info.max if check.kind == "float" else float("inf")
    low = -unbounded if check.low is None else narrow_number(check.low)
    high = unbounded if check.high is None else narrow_number(check.high)
    # ints, money and durations: an int is exact; a float (read by its repr) or Decimal is checked
    return (float if check.kind == "float" else int, low, high, None, check.spec)
