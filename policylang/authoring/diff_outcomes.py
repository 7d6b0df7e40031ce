"""What `diff` says of the outcome objects only one version of a policy accepts (section 9.5,
revision 3: an outcome's domain or default). Outcome objects are validated strictly (section
5.3), wherever a request climbs: after a step answers and the cascade has a step above. An
object that one version accepts and the other refuses turns a climb into a request error in
the other (`eval`'s path, `simulate`'s count), so the request and its outcomes are treated
differently: a change, reported outcome by outcome with a witness, the request and its
`"@outcomes"`, that one version walks and the other refuses.

Which objects: those that carry an outcome only one version declares (the other says R004),
leave out one only one version gives a default (R001), or carry a value only one accepts (a
domain narrowed or widened, a type changed). The candidates are those of the signals'
comparison (`diff_signals`), each checked by both validations, never assumed. A difference
that no request can show (no request both versions accept reaches a cascade of two steps or
more in the version that would refuse) is not reported.
"""

from __future__ import annotations

from typing import Any

from ..analysis.joint import JointSpace
from ..analysis.solver import NoDouble
from ..backends.python.support import RequestError
from ..ir.policy import CheckedPolicy, Signal
from ..ir.types import describe
from ..policy import Policy
from .diff_climbs import path
from .diff_signals import _ABSENT, Acceptance, _change_word, _inside_values, _only_in, _plain


def outcome_acceptance(space: JointSpace, old: Policy, new: Policy) -> list[Acceptance]:
    """Per outcome and direction, the outcome objects only one version accepts, each with a
    witness request (signals both accept, decided with two steps or more by the version that
    refuses) whose single outcome object the accepting version's walk takes and the other's
    refuses (its RequestError is kept)."""
    olds, news = {s.name: s for s in old.ir.outcomes}, {s.name: s for s in new.ir.outcomes}
    found: list[Acceptance] = []
    requests: dict[str, dict[str, Any] | None] = {}
    for name in [*olds, *(n for n in news if n not in olds)]:
        a, b = olds.get(name), news.get(name)
        if a is not None and b is not None and a.type == b.type and a.has_default == b.has_default:
            continue
        for only, mine, theirs in (("old", a, b), ("new", b, a)):
            accepting, refusing = (old, new) if only == "old" else (new, old)
            which, candidates = _objects_only_in(name, mine, theirs)
            if not which:
                continue
            if only not in requests:
                requests[only] = _climbing_request(space, "new" if only == "old" else "old")
            request = requests[only]
            if request is None:
                continue  # no request both accept reaches an outcome check in the refusing version
            base = _base_object(accepting.ir, refusing.ir)
            for value in candidates:
                obj = {k: v for k, v in base.items() if k != name}
                if value is not _ABSENT:
                    obj[name] = value
                witness = {**request, "@outcomes": [obj]}
                error = _refusal(accepting, refusing, witness)
                if error is not None:
                    found.append(Acceptance(name, _change_word(mine, theirs, only), only,
                                            describe(a.type) if a is not None else None,
                                            describe(b.type) if b is not None else None,
                                            tuple(which), witness, error))
                    break
    return found


def _objects_only_in(name: str, mine: Signal | None, theirs: Signal | None) -> tuple[list[str], list[Any]]:
    """(the objects in words, candidate values) of those `mine` accepts and `theirs` refuses,
    as far as this outcome decides it. Unlike a signal, an outcome that a version does not
    declare is refused when an object carries it (R004 always, section 5.3)."""
    if mine is None:
        assert theirs is not None
        if theirs.has_default:
            return [], []
        return [f"objects without {name} (required)"], [_ABSENT]
    if theirs is None:
        values = [mine.default] if mine.has_default else []
        values += [False, True] if mine.type.kind == "bool" else \
            list(getattr(mine.type, "members", ())) or _inside_values(mine.type)
        return [f"objects that carry {name} (the other declares no such outcome)"], values
    which, values = _only_in(name, mine, theirs)
    return [w.replace("requests", "objects") for w in which], values


def _base_object(accepting: CheckedPolicy, refusing: CheckedPolicy) -> dict[str, Any]:
    """An outcome object the accepting version takes: each outcome it requires at a plain value,
    those both declare with a default left out."""
    outcomes = accepting.model_copy(update={"signals": tuple(s.model_copy(update={"role": "signal"})
                                                             for s in accepting.outcomes)})
    return _plain(outcomes)


def _climbing_request(space: JointSpace, side: str) -> dict[str, Any] | None:
    """A request both versions accept that `side` decides with two steps or more (so that it
    checks the object observed after the first), or None when there is none."""
    import z3

    policy = space.policies[side]
    climbing = [i for i, rule in enumerate(policy.route) if len(policy.decision_of(rule)[2]) >= 2]
    if not climbing or space.empty:
        return None
    term = z3.Or(*[space.fires(side, i) for i in climbing])
    model = space.solver.model(term)
    if model is None:
        return None
    try:
        return space.solver.witness(model, term)
    except NoDouble:
        return None


def _refusal(accepting: Policy, refusing: Policy, witness: dict[str, Any]) -> RequestError | None:
    """The refusing version's error for the witness's outcomes, where the accepting version
    walks them (both decide its signals)."""
    signals = {k: v for k, v in witness.items() if k != "@outcomes"}
    try:
        path(accepting, accepting.interpreter.decide(signals), witness["@outcomes"])
    except RequestError:
        return None
    try:
        path(refusing, refusing.interpreter.decide(signals), witness["@outcomes"])
    except RequestError as exc:
        return exc
    return None
