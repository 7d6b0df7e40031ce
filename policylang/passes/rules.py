"""Section 6: rules that never fire (W201, W202), a default that never fires (W203), requests
no rule takes (E204), and rules whose deletion changes nothing (W205). First-match throughout:
rule i fires on `D and C_i and not C_1 ... and not C_(i-1)`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..analysis.encode import Z3OnFirstUse, Z3Term, as_bool
from ..ir.boxes import Box, TooLarge
from ..analysis.facts import Facts, WitnessMismatch
from ..analysis.meets import Keyed, key_members
from ..analysis.solver import NoDouble
from ..codes import E204, W201, W202, W203, W205
from ..diagnostics import Diagnostic, Related, diagnostic
from ..ir import expr as e
from ..ir.node import walk
from ..ir.policy import Rule
from ..jsontext import dumps
from ..ir.types import describe
from ..progress import report

if TYPE_CHECKING:
    import z3
else:
    z3 = Z3OnFirstUse(globals())  # loaded by the first question the boxes leave to the solver

_PAIR_SEARCH_LIMIT = 24
"""Look for a cover by two rules when at most this many rules overlap; beyond, shrink greedily."""


def check_rules(facts: Facts) -> list[Diagnostic]:
    """W201, W202, W203, E204 and W205; with `facts.warnings` off only E204, the one error, and
    none of the work only the warnings need (compile asks for errors only). Either way each
    rule and the default is first asked whether it fires, in order: the error checks need
    those answers too, and a solver asked the same questions in the same order gives E204
    lint's witness (unless a warning check asked it more before E204)."""
    found: list[Diagnostic] = []
    silent: set[int] = set()  # W201/W202 rules: not also called redundant
    for i, rule in enumerate(facts.rules):
        report("rules", i + 1, len(facts.rules))  # progress/terminals: the CLI's concern, not this pass's
        if facts.fires(i):  # the common case, one question: it fires, so it can hold too
            continue
        if facts.warnings:
            found.append(_covered(facts, i, rule) if facts.holds(i) else _never_holds(facts, i, rule))
        silent.add(i)
    found += _default(facts)
    if not facts.warnings:
        return found
    for i, rule in enumerate(facts.rules):
        report("redundant rules", i + 1, len(facts.rules))
        if i not in silent:
            instead = _redundant(facts, i, rule)
            if instead is not None:
                found.append(_redundant_diagnostic(facts, rule, instead))
    return found


# ---- W202 -------------------------------------------------------------------------------------


def _conjuncts(x: e.Expr) -> list[e.Expr]:
    if isinstance(x, e.BoolOp) and x.op == "and":
        return [part for operand in x.operands for part in _conjuncts(operand)]
    return [x]


def _text(facts: Facts, x: e.Expr) -> str:
    return facts.text(x.span)


def _never_holds(facts: Facts, i: int, rule: Rule) -> Diagnostic:
    parts = _conjuncts(rule.when)
    named = {str(k): as_bool(facts.encoder.encode(p)) for k, p in enumerate(parts)}
    core = [parts[int(k)] for k in facts.solver.core(named)] or parts
    shown = [f"`{_text(facts, p)}`" for p in core]
    refs = sorted({r.name for p in core for r in _refs(p)})
    domains = "; ".join(f"{n} is {describe(facts.encoder.signals[n].type)}" for n in refs)
    if len(core) == 1:
        why = f"{shown[0]} is false for every request" + (f" ({domains})" if domains else "")
    else:
        why = f"{' and '.join(shown)} cannot both hold" if len(core) == 2 else \
            f"{', '.join(shown[:-1])} and {shown[-1]} cannot all hold"
        why += f" ({domains})" if domains else ""
    return diagnostic(
        W202,
        f"rule '{rule.name}' can never fire: {why}",
        rule.span,
        related=[Related(message="this part", span=p.span) for p in core if len(core) > 1],
        help="fix the condition, or delete the rule",
    )


def _refs(x: e.Expr) -> list[e.SignalRef]:
    return [n for n in walk(x) if isinstance(n, e.SignalRef)]


# ---- W201 -------------------------------------------------------------------------------------


def cover(facts: Facts, i: int, among: list[int]) -> list[int]:
    """A minimal set of rules in `among` whose conditions cover rule i's (none can be dropped),
    one rule where one suffices among those that matter; `among` must cover it (rule i never
    fires). Exact boxes answer where they can; else one solver question gives an unsat core,
    which is then shrunk."""
    region = facts.exact[i]
    regions = _exact_regions(facts, among) if region is not None else None
    if region is not None and regions is not None:
        try:
            return _cover_by_boxes(facts, region, among, regions)
        except TooLarge:
            pass
    condition = facts.conditions[i]
    needed = facts.solver.core_of_literals({j: facts.excluded(j) for j in among}, fixed=(condition,))
    for j in needed:  # a single rule of the core may cover alone
        if not facts.solver.satisfiable(condition, z3.Not(facts.conditions[j])):
            return [j]
    if len(needed) <= _PAIR_SEARCH_LIMIT:
        for a, b in itertools.combinations(needed, 2):
            if not facts.solver.satisfiable(condition, z3.Not(facts.conditions[a]), z3.Not(facts.conditions[b])):
                return [a, b]
    return needed


def _exact_regions(facts: Facts, rules: list[int]) -> dict[int, list[Box]] | None:
    """Each of these rules' conditions as exact boxes, or None when boxes cannot say for one."""
    regions: dict[int, list[Box]] = {}
    for j in rules:
        region = facts.exact[j]
        if region is None:
            return None
        regions[j] = region
    return regions


def _cover_by_boxes(facts: Facts, region: list[Box], among: list[int], exact: Mapping[int, list[Box]]) -> list[int]:
    """`cover` on exact boxes: the first rule of `among` that covers rule i alone, else the first
    pair (with at most `_PAIR_SEARCH_LIMIT` rules meeting it), else what is left of them when,
    last first, every rule the others make unnecessary is dropped. Only emptiness is asked of
    most differences (`Space.covers`, which builds none), and what each rule takes of rule i
    comes from the firing regions that `Facts` keeps."""
    space = facts.space
    overlapping = [j for j in among if space.meets(region, exact[j])]
    for j in overlapping:
        if space.covers(exact[j], region):
            return [j]
    if len(overlapping) <= _PAIR_SEARCH_LIMIT:
        for position, a in enumerate(overlapping):
            left = space.subtract(region, exact[a])
            for b in overlapping[position + 1:]:
                if space.covers(exact[b], left):
                    return [a, b]
    # Last first, drop each rule when the others kept so far cover rule i: those before it
    # (all still kept) and those after it that were kept. Together with it they cover rule i
    # (the caller's promise, kept at each step), so only what it takes of rule i, first-match,
    # needs the ones after it.
    kept: list[int] = []
    kept_boxes: list[Box] = []
    for j, taken in reversed(list(zip(overlapping, _taken(facts, region, overlapping, exact)))):
        if not space.covers(kept_boxes, taken):
            kept.append(j)
            kept_boxes += exact[j]
    return kept[::-1]


def _taken(facts: Facts, region: list[Box], overlapping: list[int], exact: Mapping[int, list[Box]]
           ) -> list[list[Box]]:
    """What each rule of `overlapping` (ascending: the earlier rules that meet `region`) takes
    of `region` under first-match: where it fires, from the firing region `Facts` swept (only
    the buckets around region's key members), else its own part of `region` less the rules of
    `overlapping` before it. The two agree because the rules before it that are not in
    `overlapping` do not meet `region`."""
    space, key = facts.space, facts.key
    members = _members_of(region, key) if key is not None else None
    parts: list[list[Box]] = []
    for position, j in enumerate(overlapping):
        swept = facts.swept_region(j)
        if swept is None:
            part = space.intersect(region, exact[j])
            if part:
                part = space.subtract(part, [box for k in overlapping[:position] for box in exact[k]])
            parts.append(part)
        elif not swept:
            parts.append([])
        elif key is None:
            parts.append(space.intersect(region, swept))
        else:
            keyed = facts.firing_keyed(j)
            assert keyed is not None  # its firing region is known, and there is a key
            # only the buckets around region's members can meet it
            parts.append(space.intersect(region, [box for m in keyed.around(members) for box in keyed.buckets[m]]))
    return parts


def _members_of(region: list[Box], key: str) -> frozenset[object] | None:
    """The key's members that some box of `region` allows (None: some box allows every one)."""
    found: set[object] = set()
    for box in region:
        members = key_members(box, key)
        if members is None:
            return None
        found |= members
    return frozenset(found)


def _names(rules: list[Rule]) -> str:
    quoted = [f"'{r.name}'" for r in rules]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _covered(facts: Facts, i: int, rule: Rule) -> Diagnostic:
    covering = [facts.rules[j] for j in cover(facts, i, facts.earlier(i))]
    if len(covering) == 1:
        why = f"rule {_names(covering)} above takes every request it matches"
    else:
        why = f"rules {_names(covering)} above together take every request it matches"
    return diagnostic(
        W201,
        f"rule '{rule.name}' can never fire: {why}",
        rule.span,
        related=[Related(message=f"rule '{r.name}' covers it", span=r.span) for r in covering],
        help="move the rule above the rules that cover it, narrow them, or delete it",
    )


# ---- W203, E204 -------------------------------------------------------------------------------


def _default(facts: Facts) -> list[Diagnostic]:
    policy = facts.policy
    if policy.default is not None:
        if facts.warnings and not facts.fires(None):  # W203 alone needs it: compile asks nothing
            return [diagnostic(W203, "the default can never fire: the rules above take every request",
                               policy.default.span, help="delete the default, or keep it as a guard and ignore this")]
        return []
    if not facts.fires(None):
        return []
    try:
        gap = facts.witness(*facts.firing(None))
    except NoDouble:
        return []  # the gap holds no double: no request falls into it
    if gap is None:
        raise WitnessMismatch("the boxes found a request no rule takes, the solver none")
    facts.replay(gap, None)
    return [diagnostic(
        E204,
        "some requests match no rule and there is no default, e.g. " + dumps(gap),
        policy.route_span or policy.span,
        witness=gap,
        help="add `default -> MODEL` as the last entry of the route block, or a rule for these requests",
    )]


# ---- W205 -------------------------------------------------------------------------------------


def _redundant(facts: Facts, i: int, rule: Rule) -> list[Rule] | None:
    """The rules that would decide instead if rule i were deleted, when nothing would change."""
    boxes = facts.firing_region(i)  # the swept region when there is one: the same requests
    later = facts.later(i)
    regions = _exact_regions(facts, later) if boxes is not None else None
    if boxes is not None and regions is not None:
        try:
            return _redundant_by_boxes(facts, rule, boxes, later, regions)
        except TooLarge:
            pass
    # the solver, asked with assumptions over literals that mean each rule's condition
    region = [facts.included(i), *(facts.excluded(j) for j in facts.earlier(i))]
    same_outcome = facts.outcome(rule)
    excluded: list[Z3Term] = []
    instead: list[Rule] = []
    for j in later:
        other = facts.rules[j]
        if facts.outcome(other) == same_outcome:
            if facts.solver.holds_under([*region, *excluded, facts.included(j)]):
                instead.append(other)
            excluded.append(facts.excluded(j))
        elif facts.solver.holds_under([*region, *excluded, facts.included(j)]):
            return None  # a request would go to a rule that decides differently
    default = facts.policy.default
    left_over = facts.solver.holds_under([*region, *excluded])
    if left_over:
        if default is None or facts.outcome(default) != same_outcome:
            return None
        instead.append(default)
    return instead


def _redundant_by_boxes(facts: Facts, rule: Rule, left: list[Box], later: list[int],
                        exact: Mapping[int, list[Box]]) -> list[Rule] | None:
    """`_redundant` on exact boxes: `left` is what rule i takes that no later rule has taken yet."""
    space, same_outcome = facts.space, facts.outcome(rule)
    instead: list[Rule] = []
    key = facts.key
    if key is None:
        for j in later:
            other = facts.rules[j]
            if not space.intersect(left, exact[j]):
                continue
            if facts.outcome(other) != same_outcome:
                return None
            instead.append(other)
            left = space.subtract(left, exact[j])
            if not left:
                return instead
    else:  # the same, reading only the buckets of `left` that rule j's key members can meet
        keyed = Keyed(key, left)
        count = len(left)
        for j in later:
            other = facts.rules[j]
            near = keyed.around(key_members(facts.narrow(j), key))
            if not space.intersect([box for m in near for box in keyed.buckets[m]], exact[j]):
                continue
            if facts.outcome(other) != same_outcome:
                return None
            instead.append(other)
            for m in near:
                before = len(keyed.buckets[m])
                keyed.buckets[m] = space.subtract(keyed.buckets[m], exact[j])
                count += len(keyed.buckets[m]) - before
            if not count:
                return instead
    default = facts.policy.default
    if default is None or facts.outcome(default) != same_outcome:
        return None
    return instead + [default]


def _redundant_diagnostic(facts: Facts, rule: Rule, instead: list[Rule]) -> Diagnostic:
    target = facts.outcome(rule)
    what = "reject with the same reason" if target[0] is None else f"send them to '{target[0]}' the same way"
    return diagnostic(
        W205,
        f"rule '{rule.name}' is redundant: without it, {_names(instead)} would {what}",
        rule.span,
        related=[Related(message=f"'{r.name}' would decide instead", span=r.span) for r in instead],
        help="delete the rule, or change what it decides",
    )
