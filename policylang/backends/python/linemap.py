"""From a line of a generated module back to the `.route` file: which rule (or cascade edge)
the line belongs to, and that rule's line in the policy.

The module already says so in words: the template opens every rule block with
`# rule NAME (line N)` and every edge function with `# cascade C: A -> B (line N)`. This
module reads those comments, so that the map costs the generated code nothing (its bytes are
unchanged) and holds for a module written to disk by `policyc compile` as for one executed by
`Policy.compiled`. Give it a traceback's or a profile's line number in the module
(`origin_of(source, frame.lineno)`) and it names the rule.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Literal

_RULE = re.compile(r"^(?P<indent> *)# rule (?P<name>\S+) \(line (?P<line>\d+)\)(?:, validate=False)?$")
_EDGE = re.compile(r"^(?P<indent> *)# cascade (?P<name>.+) \(line (?P<line>\d+)\)$")
_RETURNS = re.compile(r"^(?:return |if .*: return )")
"""The last line of a rule block: its test and its return, or the return of a rule that always fires."""


@dataclass(frozen=True)
class Origin:
    """Lines `first` to `last` (1-based, inclusive) of a generated module are the code of one
    rule (`kind` "rule", `name` the rule's) or of one cascade edge (`kind` "edge", `name`
    `cascade: source -> target`), declared at line `line` of the policy's top-level file."""

    kind: Literal["rule", "edge"]
    name: str
    line: int
    first: int
    last: int


def line_map(source: str) -> tuple[Origin, ...]:
    """Every rule block and edge function of a generated module, in the module's order (a rule
    appears once per path that tries it: trusted, validated, a dispatch's chains)."""
    lines = source.splitlines()
    found: list[Origin] = []
    for at, text in enumerate(lines):
        rule = _RULE.match(text)
        edge = None if rule else _EDGE.match(text)
        opened = rule or edge
        if opened is None:
            continue
        indent = opened["indent"]
        last = at
        for later in range(at + 1, len(lines)):
            body = lines[later]
            inner = body[len(indent):]
            if not body.strip() or not body.startswith(indent) or inner.startswith("#"):
                break  # a blank line, a dedent or the next comment ends the block
            last = later
            if rule is not None and _RETURNS.match(inner):
                break
        found.append(Origin("rule" if rule else "edge", opened["name"], int(opened["line"]), at + 1, last + 1))
    return tuple(found)


def origin_of(source: str, line: int, origins: tuple[Origin, ...] | None = None) -> Origin | None:
    """The rule or edge whose code holds line `line` (1-based) of the generated module `source`;
    None for a line of no rule (validation, the runtime support). Pass `origins`, the module's
    `line_map`, to look up many lines of one module."""
    spans = origins if origins is not None else line_map(source)
    at = bisect_right([o.first for o in spans], line) - 1
    if at >= 0 and spans[at].first <= line <= spans[at].last:
        return spans[at]
    return None
