"""Exact yes/no answers without z3 for the questions that policies with integer arithmetic ask
most: can these conditions, some negated, hold together (section 6's first-match regions)?

The fragment: Booleans (and, or, not, implies) over bool signals and linear comparisons with
integer coefficients over int and enum variables (`a + b > 100`, `2 * a <= 7`, `tenant == 3`).
Anything else (a real-valued variable, so a float, money or duration with its decimal
semantics; an if-then-else; a product of two variables) makes `decide` say None, and the
caller asks z3. Within the fragment the answer is exact or None, never a guess:

- "yes" only with a point (integers and Booleans) at which every condition of the question
  evaluates true, checked term by term at the end;
- "no" only when every branch of the case split over the disjunctions meets a contradiction
  found by interval propagation with integer rounding (`c*x <= b` gives `x <= floor(b/c)`),
  which removes no integer point;
- None when a branch is neither (the propagation stalls with no point found, or the search
  passes `NODES` branches).

Terms are read from z3's own ASTs (what the encoder built), with Boolean constants whose names
start with `@` read through the definitions asserted for them (`@rule_3 == C_3`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, TypeAlias

import z3

NODES = 512
"""The most branches one question may explore before it is left to z3."""

ROUNDS = 24
"""The most propagation rounds per branch; a chain of bounds that keeps tightening past this is
left to z3 (e.g. `x < y and y < x` over a domain of a million values)."""

POINTS = 64
"""The most corner points tried at a leaf (two per variable that meets another in a sum)."""

Coefficients: TypeAlias = tuple[tuple[str, int], ...]
Formula: TypeAlias = tuple[Any, ...]
"""("T",), ("F",), ("b", name, value), ("le", coefficients, bound) meaning sum <= bound,
("and", parts), ("or", parts): a condition in negation normal form."""

TRUE: Formula = ("T",)
FALSE: Formula = ("F",)


class GiveUp(Exception):
    """Outside the fragment, or past the search's limits: z3's question."""


class Translator:
    """z3 terms as formulas, each term translated once (per polarity)."""

    def __init__(self, definitions: dict[int, Any]) -> None:
        self.definitions = definitions
        """A Boolean constant's id to the term asserted equal to it."""
        self._cache: dict[tuple[int, bool], Formula] = {}
        self._failed: set[int] = set()

    def formula(self, term: Any, positive: bool = True) -> Formula:
        """`term` (or its negation) as a formula; GiveUp when outside the fragment."""
        key = (term.get_id(), positive)
        found = self._cache.get(key)
        if found is None:
            if key[0] in self._failed:
                raise GiveUp(str(term))
            try:
                found = self._cache[key] = self._translate(term, positive)
            except GiveUp:
                self._failed.add(key[0])
                raise
        return found

    def _translate(self, term: Any, positive: bool) -> Formula:
        kind = term.decl().kind()
        if kind == z3.Z3_OP_TRUE:
            return TRUE if positive else FALSE
        if kind == z3.Z3_OP_FALSE:
            return FALSE if positive else TRUE
        if kind == z3.Z3_OP_NOT:
            return self.formula(term.arg(0), not positive)
        if kind in (z3.Z3_OP_AND, z3.Z3_OP_OR):
            parts = tuple(self.formula(term.arg(i), positive) for i in range(term.num_args()))
            conjunction = (kind == z3.Z3_OP_AND) == positive
            return _join("and" if conjunction else "or", parts)
        if kind == z3.Z3_OP_IMPLIES:
            parts = (self.formula(term.arg(0), not positive), self.formula(term.arg(1), positive))
            return _join("or" if positive else "and", parts)
        if kind == z3.Z3_OP_UNINTERPRETED and term.num_args() == 0 and z3.is_bool(term):
            name = term.decl().name()
            if name.startswith("@"):
                definition = self.definitions.get(term.get_id())
                if definition is None:
                    raise GiveUp(f"{name} has no definition")
                return self.formula(definition, positive)
            return ("b", name, positive)
        if kind in (z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT) and term.num_args() == 2:
            left, right = term.arg(0), term.arg(1)
            if not (_is_int(left) and _is_int(right)):
                raise GiveUp(str(term))
            difference = _minus(_linear(left), _linear(right))
            equal = (kind == z3.Z3_OP_EQ) == positive
            below, above = _atom(difference, "<="), _atom(_negated(difference), "<=")
            if equal:
                return _join("and", (below, above))
            return _join("or", (_atom(difference, "<"), _atom(_negated(difference), "<")))
        if kind in _COMPARISONS:
            left, right = term.arg(0), term.arg(1)
            if not (_is_int(left) and _is_int(right)):
                raise GiveUp(str(term))
            difference = _minus(_linear(left), _linear(right))
            op = _COMPARISONS[kind] if positive else _OPPOSITE[_COMPARISONS[kind]]
            if op in (">", ">="):
                difference, op = _negated(difference), {">": "<", ">=": "<="}[op]
            return _atom(difference, op)
        raise GiveUp(str(term))


_COMPARISONS = {z3.Z3_OP_LE: "<=", z3.Z3_OP_LT: "<", z3.Z3_OP_GE: ">=", z3.Z3_OP_GT: ">"}
_OPPOSITE = {"<=": ">", "<": ">=", ">=": "<", ">": "<="}

Linear: TypeAlias = tuple[dict[str, int], int]
"""sum of coefficient * variable, plus a constant."""


def _is_int(term: Any) -> bool:
    return bool(term.sort().kind() == z3.Z3_INT_SORT)


def _linear(term: Any) -> Linear:
    """An integer term as a linear sum; GiveUp for anything else (a product of variables, an
    if-then-else, a conversion from reals)."""
    if not _is_int(term):
        raise GiveUp(str(term))
    if z3.is_int_value(term):
        return {}, term.as_long()
    kind = term.decl().kind()
    if kind == z3.Z3_OP_UNINTERPRETED and term.num_args() == 0:
        return {term.decl().name(): 1}, 0
    args = [_linear(term.arg(i)) for i in range(term.num_args())]
    if kind == z3.Z3_OP_ADD:
        total: Linear = ({}, 0)
        for part in args:
            total = _plus(total, part)
        return total
    if kind == z3.Z3_OP_SUB:
        total = args[0]
        for part in args[1:]:
            total = _minus(total, part)
        return total
    if kind == z3.Z3_OP_UMINUS:
        return _negated(args[0])
    if kind == z3.Z3_OP_MUL:
        total = ({}, 1)
        for part in args:
            if total[0] and part[0]:
                raise GiveUp(f"nonlinear: {term}")
            scale, sum_ = (total[1], part) if not total[0] else (part[1], total)
            total = ({v: c * scale for v, c in sum_[0].items()}, sum_[1] * scale)
        return total
    raise GiveUp(str(term))


def _plus(a: Linear, b: Linear) -> Linear:
    coefficients = dict(a[0])
    for v, c in b[0].items():
        coefficients[v] = coefficients.get(v, 0) + c
    return coefficients, a[1] + b[1]


def _negated(a: Linear) -> Linear:
    return {v: -c for v, c in a[0].items()}, -a[1]


def _minus(a: Linear, b: Linear) -> Linear:
    return _plus(a, _negated(b))


def _atom(a: Linear, op: str) -> Formula:
    """`a op 0` (op `<=` or `<`) as `("le", coefficients, bound)`, divided by the gcd of the
    coefficients with the bound rounded down (exact over the integers)."""
    coefficients = {v: c for v, c in a[0].items() if c}
    bound = -a[1] - (1 if op == "<" else 0)
    if not coefficients:
        return TRUE if 0 <= bound else FALSE
    divisor = math.gcd(*coefficients.values())
    return ("le", tuple(sorted((v, c // divisor) for v, c in coefficients.items())), bound // divisor)


def _join(op: str, parts: tuple[Formula, ...]) -> Formula:
    unit, zero = (TRUE, FALSE) if op == "and" else (FALSE, TRUE)
    kept: list[Formula] = []
    for part in parts:
        if part == zero:
            return zero
        if part != unit:
            kept.extend(part[1] if part[0] == op else (part,))
    if not kept:
        return unit
    return kept[0] if len(kept) == 1 else (op, tuple(kept))


# ---- deciding -----------------------------------------------------------------------------------

Bounds: TypeAlias = dict[str, tuple[int | None, int | None]]


class _State:
    """One branch: the integer bounds, the Booleans fixed, the sums over two or more variables."""

    def __init__(self, bounds: Bounds, bools: dict[str, bool], sums: list[Formula]) -> None:
        self.bounds = bounds
        self.bools = bools
        self.sums = sums

    def copy(self) -> _State:
        return _State(dict(self.bounds), dict(self.bools), list(self.sums))

    def low_of(self, coefficients: Coefficients) -> int | None:
        """The least a sum takes in the box (None: unbounded below)."""
        return self._end_of(coefficients, most=False)

    def high_of(self, coefficients: Coefficients) -> int | None:
        """The most a sum takes in the box (None: unbounded above)."""
        return self._end_of(coefficients, most=True)

    def _end_of(self, coefficients: Coefficients, most: bool) -> int | None:
        """The most (or least) a sum takes in the box: each term at the end of its variable's
        bounds that its coefficient's sign picks; None where that end is unbounded."""
        total = 0
        for v, c in coefficients:
            low, high = self.bounds.get(v, (None, None))
            end = high if (c > 0) == most else low
            if end is None:
                return None
            total += c * end
        return total

    def status(self, f: Formula) -> bool | None:
        """True or False where the branch decides `f` already, else None."""
        tag = f[0]
        if tag == "T":
            return True
        if tag == "F":
            return False
        if tag == "b":
            value = self.bools.get(f[1])
            return None if value is None else value == f[2]
        if tag == "le":
            high = self.high_of(f[1])
            if high is not None and high <= f[2]:
                return True
            low = self.low_of(f[1])
            if low is not None and low > f[2]:
                return False
            return None
        statuses = [self.status(part) for part in f[1]]
        if tag == "and":
            return False if False in statuses else True if all(s is True for s in statuses) else None
        return True if True in statuses else False if all(s is False for s in statuses) else None

    def tighten(self, v: str, low: int | None, high: int | None) -> bool:
        """Narrow v's bounds; False when they cross."""
        old_low, old_high = self.bounds.get(v, (None, None))
        if low is not None and (old_low is None or low > old_low):
            old_low = low
        if high is not None and (old_high is None or high < old_high):
            old_high = high
        self.bounds[v] = (old_low, old_high)
        return old_low is None or old_high is None or old_low <= old_high

    def propagate(self) -> bool:
        """Bounds implied by the sums, to a fixed point or ROUNDS; False on a contradiction."""
        for _ in range(ROUNDS):
            changed = False
            for _, coefficients, bound in self.sums:
                low = self.low_of(coefficients)
                if low is not None and low > bound:
                    return False
                for v, c in coefficients:
                    rest = self.low_of(tuple(p for p in coefficients if p[0] != v))
                    if rest is None:
                        continue
                    room = bound - rest
                    before = self.bounds.get(v, (None, None))
                    ok = self.tighten(v, None, room // c) if c > 0 else self.tighten(v, -(-room // c), None)
                    if not ok:
                        return False
                    changed = changed or self.bounds[v] != before
            if not changed:
                return True
        return True


class _Search:
    def __init__(self) -> None:
        self.nodes = 0

    def run(self, pending: list[Formula], state: _State, choices: list[Formula]) -> dict[str, Any] | None | bool:
        """A point (dict) where everything holds, False when nothing can, None: undecided."""
        self.nodes += 1
        if self.nodes > NODES:
            raise GiveUp("too many branches")
        while True:
            while pending:
                f = pending.pop()
                tag = f[0]
                if tag == "T":
                    continue
                if tag == "F":
                    return False
                if tag == "and":
                    pending.extend(f[1])
                elif tag == "or":
                    choices.append(f)
                elif tag == "b":
                    if state.bools.setdefault(f[1], f[2]) != f[2]:
                        return False
                elif len(f[1]) == 1:
                    (v, c), = f[1]
                    ok = state.tighten(v, None, f[2] // c) if c > 0 else state.tighten(v, -(-f[2] // c), None)
                    if not ok:
                        return False
                else:
                    state.sums.append(f)
            if not state.propagate():
                return False
            open_choices = []
            for choice in choices:
                alternatives = []
                done = False
                for alternative in choice[1]:
                    status = state.status(alternative)
                    if status is True:
                        done = True
                        break
                    if status is None:
                        alternatives.append(alternative)
                if done:
                    continue
                if not alternatives:
                    return False
                if len(alternatives) == 1:
                    pending.append(alternatives[0])
                else:
                    open_choices.append(("or", tuple(alternatives)))
            choices = open_choices
            if not pending:
                break
        if not choices:
            return _point(state)
        choices.sort(key=lambda choice: len(choice[1]))
        first, rest = choices[0], choices[1:]
        undecided = False
        for alternative in first[1]:
            found = self.run([alternative], state.copy(), list(rest))
            if isinstance(found, dict):
                return found
            undecided = undecided or found is None
        return None if undecided else False


def _point(state: _State) -> dict[str, Any] | None:
    """An integer point of the box that meets every sum, from the corners of the variables the
    sums read (others at an end of their bounds); None when no corner does."""
    def anywhere(v: str) -> int:
        low, high = state.bounds.get(v, (None, None))
        return low if low is not None else high if high is not None else 0

    point: dict[str, Any] = {v: anywhere(v) for v in state.bounds}
    point.update(state.bools)
    shared = sorted({v for _, coefficients, _ in state.sums for v, _ in coefficients})
    if not shared:
        return point
    corners = []
    for v in shared:
        low, high = state.bounds.get(v, (None, None))
        ends = {e for e in (low, high) if e is not None} or {0}
        corners.append(sorted(ends))
    for tried, corner in enumerate(itertools.product(*corners)):
        if tried >= POINTS:
            return None
        point.update(zip(shared, corner))
        if all(sum(c * point[v] for v, c in coefficients) <= bound for _, coefficients, bound in state.sums):
            return point
    return None


def holds_at(f: Formula, point: dict[str, Any]) -> bool:
    """The formula's value at a point (a variable the point leaves out is 0, or false)."""
    tag = f[0]
    if tag == "T":
        return True
    if tag == "F":
        return False
    if tag == "b":
        return bool(point.get(f[1], False)) is bool(f[2])
    if tag == "le":
        total: int = sum(c * point.get(v, 0) for v, c in f[1])
        return total <= int(f[2])
    if tag == "and":
        return all(holds_at(part, point) for part in f[1])
    return any(holds_at(part, point) for part in f[1])


def decide(formulas: list[Formula]) -> bool | None:
    """Whether the formulas can all hold at some point of integers and Booleans: exact, or
    None when the search cannot tell within its limits."""
    try:
        found = _Search().run(list(formulas), _State({}, {}, []), [])
    except GiveUp:
        return None
    if isinstance(found, dict):
        if not all(holds_at(f, found) for f in formulas):  # never trust a point unchecked
            return None
        return True
    return found
