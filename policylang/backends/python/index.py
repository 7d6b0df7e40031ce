"""Indexing a long route on an enum signal: a dispatch from each value to its own rules.

When many rules test one enum signal (a `tenant`, a `task`), first-match still tries every
rule in order; `plan_dispatch` finds that signal and, for each of its values, the chain of
rules that can still fire for it, in the original order, with the rules that do not test it
merged in at their positions and each condition specialized to the value (`tenant == t7`
folds to true or false). Leading rules that do not test the signal run before the dispatch,
trailing ones after it. A rule joins a chain when its hull admits the value (ir/boxes.py,
an over-approximation), so no rule that could fire is ever left out: first-match semantics
are unchanged, which the engines-agree property tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from ...ir.boxes import Box, hull, key_signal
from ...ir import expr as e
from ...ir.node import children, depth, walk
from ...ir.policy import CheckedPolicy, Rule
from ...ir.types import BOOL, EnumType

SPECIALIZE_DEPTH = 64
"""Conditions deeper than this are not specialized (the rewrite recurses)."""

MIN_KEYED_RULES = 8
"""Fewer rules on one signal than this, and a plain chain is as fast as a dispatch."""


@dataclass(frozen=True)
class Chain:
    """The rules one value of the key can reach: (position in the route, specialized condition,
    None for always); `members` are the values that share it."""

    members: tuple[str, ...]
    rules: tuple[tuple[int, e.Expr | None], ...]


@dataclass(frozen=True)
class Dispatch:
    key: str
    before: tuple[int, ...]  # positions tried first, in order
    chains: tuple[Chain, ...]
    other: Chain  # for a value that is no member (possible only without validation)
    after: tuple[int, ...]  # positions tried when a chain takes nothing, then the default
    region: range  # the positions the chains stand for

    def reads_key(self, policy: CheckedPolicy) -> bool:
        """Some specialized condition still reads the key (an enum compared with another)."""
        return any(
            isinstance(n, e.SignalRef) and n.name == self.key
            for chain in (*self.chains, self.other) for _, cond in chain.rules if cond is not None
            for n in walk(cond))


def _admits(box: Box | None, key: str, members: tuple[str, ...]) -> frozenset[str]:
    """The values of the key a rule's hull admits. A rule whose hull is empty holds for no
    valid request, but an unvalidated one (`validate=False` with a value outside a signal's
    domain) may still take it, so it stays in every chain, as first-match says."""
    if box is None:
        return frozenset(members)
    return frozenset(box.get(key, members))  # type: ignore[arg-type]  # an enum's constraint: its members


def plan_dispatch(policy: CheckedPolicy) -> Dispatch | None:
    """The dispatch for this route, or None when no enum signal keys enough rules."""
    hulls = [hull(r.condition) for r in policy.rules]
    key, count = key_signal(policy, hulls)
    if key is None or count < MIN_KEYED_RULES:
        return None
    best = next(s for s in policy.signals if s.name == key)
    key_type = best.type
    assert isinstance(key_type, EnumType)  # key_signal picks an enum signal
    members = key_type.members
    admits = [_admits(box, key, members) for box in hulls]
    keyed = [i for i, a in enumerate(admits) if len(a) < len(members)]
    first, last = keyed[0], keyed[-1]
    before = tuple(range(first))
    after = tuple(range(last + 1, len(policy.rules)))
    region = range(first, last + 1)
    # rules in the region test the key, so each has a condition (the default is no rule here)
    shallow = {i: depth(policy.rules[i].when)[0] <= SPECIALIZE_DEPTH for i in region}
    everywhere = [i for i in region if len(admits[i]) == len(members)]
    by_member: dict[str, list[int]] = {m: [] for m in members}
    for i in region:
        if len(admits[i]) < len(members):
            for m in admits[i]:
                by_member[m].append(i)

    # a condition that does not read the key specializes the same way for every value: once
    # (so each chain holds the same node, which the code generator words once)
    unkeyed: dict[int, e.Expr] = {}
    for i in everywhere:
        condition = policy.rules[i].when
        if shallow[i] and not any(isinstance(n, e.SignalRef) and n.name == key for n in walk(condition)):
            unkeyed[i] = specialize(condition, key, None, key_type)

    def chain_for(member: str | None) -> tuple[tuple[int, e.Expr | None], ...]:
        rules: list[tuple[int, e.Expr | None]] = []
        reach = region if member is None else sorted([*everywhere, *by_member[member]])
        for i in reach:
            condition = policy.rules[i].when
            if i in unkeyed:
                condition = unkeyed[i]
            elif shallow[i]:
                condition = specialize(condition, key, member, key_type)
            if isinstance(condition, e.Const):
                if condition.value is False:
                    continue
                rules.append((i, None))
                break  # it always fires here: nothing after it in this chain can
            rules.append((i, condition))
        return tuple(rules)

    chains: dict[tuple[tuple[int, e.Expr | None], ...], list[str]] = {}
    for member in members:
        chains.setdefault(chain_for(member), []).append(member)
    return Dispatch(key, before, tuple(Chain(tuple(ms), rules) for rules, ms in chains.items()),
                    Chain((), chain_for(None)), after, region)


def specialize(x: e.Expr, key: str, member: str | None, t: EnumType) -> e.Expr:
    """`x` where the enum signal `key` is known to be `member` (None: a value that is no
    member, as only an unvalidated request can hold), folded where that decides. The caller
    leaves deep conditions whole (the rewrite recurses): still exact, only not specialized."""
    value = e.Const(span=x.span, value=member, type=t)
    return _fold(_substitute(x, key, value))


def _substitute(x: e.Expr, key: str, value: e.Const) -> e.Expr:
    """`x` with the key signal replaced by `value`; untouched subtrees are returned as they are."""
    match x:
        case e.SignalRef(name=name, role="signal") if name == key:
            return value.model_copy(update={"span": x.span})
        case e.Not(operand=operand):
            new = _substitute(operand, key, value)
            return x if new is operand else x.model_copy(update={"operand": new})
        case e.BoolOp(operands=operands) | e.Sum(terms=operands):
            new_items = tuple(_substitute(o, key, value) for o in operands)
            if all(a is b for a, b in zip(new_items, operands)):
                return x
            return x.model_copy(update={"operands" if isinstance(x, e.BoolOp) else "terms": new_items})
        case e.Compare(left=left, right=right):
            a, b = _substitute(left, key, value), _substitute(right, key, value)
            return x if (a is left and b is right) else x.model_copy(update={"left": a, "right": b})
        case e.InSet(element=element) | e.Scale(operand=element):
            new = _substitute(element, key, value)
            field = "element" if isinstance(x, e.InSet) else "operand"
            return x if new is element else x.model_copy(update={field: new})
        case e.InRange(element=element, low=low, high=high):
            parts = [_substitute(p, key, value) for p in (element, low, high)]
            if all(a is b for a, b in zip(parts, (element, low, high))):
                return x
            return x.model_copy(update=dict(zip(("element", "low", "high"), parts)))
        case e.HasLabel(element=element, container=container):
            a, b = _substitute(element, key, value), _substitute(container, key, value)
            return x if (a is element and b is container) else x.model_copy(update={"element": a, "container": b})
        case e.Const() | e.SignalRef() | e.CostOf():
            return x  # constants, other signals, cost(): nothing to replace
        case _:
            assert_never(x)


def _true(x: e.Expr) -> bool:
    return isinstance(x, e.Const) and x.value is True


def _false(x: e.Expr) -> bool:
    return isinstance(x, e.Const) and x.value is False


def _const(x: e.Expr, value: bool) -> e.Const:
    return e.Const(span=x.span, value=value, type=BOOL)


def _fold(x: e.Expr) -> e.Expr:
    """Fold what the substitution decided: comparisons of constants, and the logic above them."""
    if not any(isinstance(c, e.Const) for c in children(x)) and not isinstance(x, (e.Not, e.BoolOp)):
        return x
    match x:
        case e.Compare(op=op, left=e.Const(value=a), right=e.Const(value=b)) if x.left.type.kind in ("enum", "bool"):
            return _const(x, (a == b) == (op == "=="))
        case e.InSet(element=e.Const(value=v), members=members, negated=negated):
            return _const(x, (v in members) != negated)
        case e.HasLabel(element=e.Const(value=v), container=e.Const(value=labels), negated=negated):
            return _const(x, (labels is None or v in labels) != negated)
        case e.Not(operand=operand):
            inner = _fold(operand)
            if isinstance(inner, e.Const):
                return _const(x, not inner.value)
            return x.model_copy(update={"operand": inner}) if inner is not operand else x
        case e.BoolOp(op=op, operands=operands):
            folded = [_fold(o) for o in operands]
            decisive, neutral = (_false, _true) if op == "and" else (_true, _false)
            if any(decisive(f) for f in folded):
                return _const(x, op == "or")
            kept = [f for f in folded if not neutral(f)]
            if not kept:
                return _const(x, op == "and")
            if len(kept) == 1:
                return kept[0]
            return x.model_copy(update={"operands": tuple(kept)})
    return x
