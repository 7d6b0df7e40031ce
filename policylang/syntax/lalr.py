"""The LALR(1) loop of the fast path: Lark's own tables and callbacks, driven by one tight loop.

Lark's parser feeds each token through a method that looks the action up by a rule object
(hashed in Python) and calls a chain of wrappers at each reduction. This loop works on the same
parse table and calls the same builder methods with the same children, with less in between:

- the table is read once into a list of dicts, a shift as the next state (>= 0) and a
  reduction as the complement of its rule's index (< 0);
- a rule that Lark would reduce through `ExpandSingleChild` with one child (the chain
  `expr -> or_expr -> ... -> atom` of every operand) keeps its value as it is, as Lark does,
  without a call;
- the helper rules of `x*` and `x+` (`__route_decl_star_4`, ...) make a plain list where Lark
  makes a Tree, and a child filter that inlines them takes the list where Lark takes the
  Tree's children; such a helper's value only ever reaches a child filter that inlines it
  (checked when the table is read), so the builder sees the same lists either way.

It stops at the first token it cannot shift and gives None, and so at the first lexical error
token (BAD_CHAR, ...: the grammar takes those as a `lexical_error` item only so that the
recovering loop can report them, and this loop's table has no action for them): the
recovering loop in `parser.py` then parses the file again and says what is wrong. `tests/test_parse_fast.py` checks that both
give the same trees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from lark import Token
from lark.parse_tree_builder import ChildFilterLALR_NoPlaceholders, ExpandSingleChild
from lark.parsers.lalr_analysis import Shift

from .grammar import parser

_KEEP = 0  # one child, kept as the value (ExpandSingleChild)
_CALL = 1  # the builder's method over the children
_CALL_FILTERED = 2  # the builder's method over the children, helper lists inlined
_LIST = 3  # a helper rule: the children, as a list
_LIST_FILTERED = 4  # a helper rule: the children, the helper list before them inlined

_Rule = tuple[int, str, int, Callable[[list[Any]], Any] | None, tuple[tuple[int, bool], ...]]
"""(size, the rule's nonterminal, how it reduces, the builder method, the child filter)."""


@dataclass(frozen=True)
class _Machine:
    actions: list[dict[str, int]]
    rules: list[_Rule]
    start: int
    end: int


def _is_helper(name: str) -> bool:
    return name.startswith("__")


def _plan(rule: Any, callback: Any) -> tuple[int, Callable[[list[Any]], Any] | None, tuple[tuple[int, bool], ...]]:
    """How a rule reduces, read off the wrapper chain Lark built for it."""
    size = len(rule.expansion)
    origin = rule.origin.name
    spec: tuple[tuple[int, bool], ...] = ()
    if isinstance(callback, ExpandSingleChild):
        if size == 1:
            return _KEEP, None, ()
        callback = callback.node_builder
    if isinstance(callback, ChildFilterLALR_NoPlaceholders):
        spec = tuple((int(i), bool(expand)) for i, expand in callback.to_include)
        for i, expand in spec:
            if expand != _is_helper(rule.expansion[i].name):
                raise AssertionError(f"rule {origin}: a child filter inlines something else than a helper list")
        callback = callback.node_builder
    for i, symbol in enumerate(rule.expansion):
        if _is_helper(symbol.name) and (i, True) not in spec:
            raise AssertionError(f"rule {origin}: a helper list reaches a callback as it is")
    if _is_helper(origin):
        if not (isinstance(callback, partial) and callback.args == (origin,)):
            raise AssertionError(f"helper rule {origin} has a callback of its own")
        return (_LIST_FILTERED if spec else _LIST), None, spec
    if not (callable(callback) and getattr(callback, "__self__", None) is not None):
        raise AssertionError(f"rule {origin}: unexpected callback {callback!r}")
    return (_CALL_FILTERED if spec else _CALL), callback, spec


@lru_cache(maxsize=1)
def _machine() -> _Machine:
    """The parse table and the reductions of the packaged grammar, read from Lark once."""
    inner = parser().parser.parser.parser  # ParsingFrontend -> LALR_Parser -> its _Parser
    table = inner.parse_table
    rules: list[_Rule] = []
    index: dict[Any, int] = {}
    for rule, callback in inner.callbacks.items():
        if isinstance(rule, str):
            raise AssertionError(f"a token callback for {rule}: the fast loop does not call those")
        how, method, spec = _plan(rule, callback)
        index[rule] = len(rules)
        rules.append((len(rule.expansion), rule.origin.name, how, method, spec))
    lexical_errors = {symbol.name for rule in inner.callbacks if rule.origin.name == "lexical_error"
                      for symbol in rule.expansion}
    actions: list[dict[str, int]] = [{} for _ in range(max(table.states) + 1)]
    for state, row in table.states.items():
        for symbol, (action, arg) in row.items():
            if symbol == "$END" and action is Shift:
                raise AssertionError("the table shifts $END: the loop does not expect it")
            if symbol not in lexical_errors:
                actions[state][symbol] = arg if action is Shift else ~index[arg]
    return _Machine(actions, rules, table.start_states["start"], table.end_states["start"])


def run(tokens: Sequence[Token]) -> Any:
    """The value the builder gives the whole file, when every token shifts; None at the first
    token that does not. `tokens` ends with the `$END` token."""
    machine = _machine()
    actions = machine.actions
    rules = machine.rules
    end_state = machine.end
    state = machine.start
    states = [state]
    values: list[Any] = []
    push_state = states.append
    push_value = values.append
    for token in tokens:
        kind = token.type
        while True:
            act = actions[state].get(kind)
            if act is None:
                return None
            if act >= 0:  # never at $END: the table only reduces there (checked when read)
                push_state(act)
                push_value(token)
                state = act
                break
            size, origin, how, method, spec = rules[~act]
            if how == _KEEP:  # one child, which stays as it is
                state = actions[states[-2]][origin]
                states[-1] = state
            else:
                if size:
                    children = values[-size:]
                    del values[-size:]
                    del states[-size:]
                else:
                    children = []
                if how == _CALL:
                    value = method(children)  # type: ignore[misc]  # a method in every _CALL rule
                elif how == _LIST:
                    value = children
                else:
                    filtered: list[Any] = []
                    for i, expand in spec:
                        if not expand:
                            filtered.append(children[i])
                        elif filtered:
                            filtered += children[i]
                        else:  # a left-recursive list grows in place, as in Lark
                            filtered = children[i]
                    value = filtered if how == _LIST_FILTERED else method(filtered)  # type: ignore[misc]
                state = actions[states[-1]][origin]
                push_state(state)
                push_value(value)
            if state == end_state and kind == "$END":
                return values[-1]
    return None
