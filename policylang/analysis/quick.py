"""Yes/no questions answered without z3 where `linear` can (analysis/linear.py), for the
`Solver`: what its z3 solver holds outside any scope is noted as it is asserted, so that a
question over its literals (`@rule_3`, `@not_rule_1`) reads their definitions, and the domains
of the variables it mentions come with it.

A question is decided here only when what the z3 solver would check is, exactly, the question's
formulas, the domains (and any other fact asserted for good) of the variables they read, and
facts over other variables that hold apart from them:

- every fact asserted outside a scope, other than a definition `@name == term`, is either in
  `linear`'s fragment and reads at most one variable (a domain), or is opaque (a float's
  domain); a question that reads an opaque fact's variable is not decided here; and the facts
  together are checked (once, by a z3 solver of their own) to hold, so that those over other
  variables than the question's hold whatever the question's variables are;
- a definition gives a literal that nothing else constrains its meaning; a literal defined twice
  turns the shortcut off;
- while the z3 solver has a scope open (a question of `_ask` in progress), nothing is decided
  here: what the scope holds is not noted.
"""

from __future__ import annotations

from typing import Any

import z3

from . import linear
from .linear import Formula, GiveUp, Translator


class RecordingSolver(z3.Solver):  # type: ignore[misc]  # z3 ships no type stubs
    """A z3 solver that notes what is asserted outside any scope: definitions of `@` literals
    by the literal's id, and the other facts in order."""

    def __init__(self) -> None:
        super().__init__()
        self.definitions: dict[int, Any] = {}
        self.facts: list[Any] = []
        self.redefined = False

    def assert_exprs(self, *args: Any) -> None:
        """As z3's, noting each assertion made outside a scope."""
        if self.num_scopes() == 0:
            for arg in args:
                for term in (arg if isinstance(arg, (list, tuple)) else [arg]):
                    self._note(term)
        super().assert_exprs(*args)

    def _note(self, term: Any) -> None:
        if isinstance(term, bool):
            self.facts.append(z3.BoolVal(term))
            return
        if term.decl().kind() == z3.Z3_OP_EQ:
            literal = term.arg(0)
            if z3.is_const(literal) and z3.is_bool(literal) and literal.decl().name().startswith("@"):
                key = literal.get_id()
                if key in self.definitions:
                    self.redefined = True
                self.definitions[key] = term.arg(1)
                return
        self.facts.append(term)


class QuickAnswers:
    """`linear`'s answers to one RecordingSolver's yes/no questions, where it has one."""

    def __init__(self, solver: RecordingSolver) -> None:
        self.solver = solver
        self.translator = Translator(solver.definitions)
        self._seen = 0
        self._facts: list[tuple[frozenset[str], Formula]] = []
        self._opaque: set[str] = set()
        self._usable = True

    def decide(self, terms: list[Any] | tuple[Any, ...]) -> bool | None:
        """Whether the solver's facts and `terms` can hold together; None: ask z3."""
        solver = self.solver
        if solver.redefined or solver.num_scopes() > 0 or not self._read_facts():
            return None
        try:
            formulas = [self.translator.formula(t) for t in terms]
        except GiveUp:
            return None
        names: set[str] = set()
        for f in formulas:
            _variables(f, names)
        if names & self._opaque:
            return None
        context = [f for variables, f in self._facts if not variables or variables & names]
        return linear.decide(formulas + context)

    def _read_facts(self) -> bool:
        """Translate the facts asserted since the last question; False when they make the
        shortcut unusable (a fact over two variables, or facts that cannot hold together)."""
        facts = self.solver.facts
        if self._seen == len(facts) or not self._usable:
            return self._usable
        for term in facts[self._seen:]:
            try:
                f = self.translator.formula(term)
            except GiveUp:
                _z3_variables(term, self._opaque)
                continue
            variables: set[str] = set()
            _variables(f, variables)
            if len(variables) > 1:
                self._usable = False
            self._facts.append((frozenset(variables), f))
        self._seen = len(facts)
        probe = z3.Solver()  # a solver of its own: the policy's is not asked
        probe.add(*facts)
        self._usable = self._usable and probe.check() == z3.sat
        return self._usable


def _variables(f: Formula, out: set[str]) -> None:
    tag = f[0]
    if tag == "b":
        out.add(f[1])
    elif tag == "le":
        out.update(v for v, _ in f[1])
    elif tag in ("and", "or"):
        for part in f[1]:
            _variables(part, out)


def _z3_variables(term: Any, out: set[str]) -> None:
    if z3.is_const(term) and term.decl().kind() == z3.Z3_OP_UNINTERPRETED:
        out.add(term.decl().name())
        return
    for i in range(term.num_args()):
        _z3_variables(term.arg(i), out)
