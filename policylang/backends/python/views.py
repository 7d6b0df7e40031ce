"""What the module template writes for the route (`templates/module.py.jinja`), as typed data:
`codegen._Writer.route_view` plans these, the template only emits them.

A rule is written once per path that tries it: the validated path (every signal already in its
local), the trusted one (`validate=False`, each signal read where it is first needed) and, with
a dispatch on an enum signal (backends/python/index.py), the chains that each value of the key
calls. The views are mutable while planned: the trusted path's reads are added to the rules
that need them (`_Writer.lazy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

ReadKind: TypeAlias = Literal["read", "if_unread", "unset"]


@dataclass(frozen=True)
class Read:
    """One trusted read of a signal into its local, as planned (the writer words it when the
    template emits it): `read` reads it (`v = signals['x']`, or `.get` with its default);
    `if_unread` reads it where an earlier rule may not have (`if v is None: v = ...`); `unset`
    marks it not read yet (`v = None`), for a conjunct that reads it only if it gets there."""

    signal: str
    kind: ReadKind = "read"


@dataclass
class RuleView:
    """One rule on one path: its comment (`name`, and `line` in the .route file, so a reader of
    the module or of a traceback finds the rule), the reads it needs first, its test and the
    decision it returns."""

    name: str
    line: int
    prelude: list[str]
    """Statements its test needs first (a deep expression split into locals)."""
    condition: str | None
    """The Python test; None for a rule that always fires (the default)."""
    result: str
    """The expression returned: a hoisted Decision, or one built with the signals it captures."""
    reads: list[Read] = field(default_factory=list)
    """Trusted path: the signals it reads first (and the deferred ones set to None)."""
    guarded: list[Read] = field(default_factory=list)
    """Trusted path: the signals it reads first if an earlier rule may not have (`is None`)."""
    mark: str = ""
    """Appended to its comment: `, validate=False` on a trusted path."""


@dataclass
class PathView:
    """One path through the route: what it reads up front, the rules before the dispatch, the
    dispatch's reads and call, and the rules after it."""

    reads: list[Read] = field(default_factory=list)
    before: list[RuleView] = field(default_factory=list)
    after: list[RuleView] = field(default_factory=list)
    key_reads: list[Read] = field(default_factory=list)
    shared: bool = False
    """Trusted path only: it reads every signal the rules read up front, then takes the
    validated path's rules (a route too long to read lazily)."""
    call: str | None = None
    """The call of the dispatch's chain (None: no dispatch)."""


@dataclass
class ChainView:
    """One function of a dispatch: the rules that can fire for some values of the key."""

    function: str
    members: str
    """The key's values that call it, as a comment."""
    ending: str | None
    """What it returns when none of its rules fires (None: `None`, the rules after it decide)."""
    rules: list[RuleView]
    closed: bool
    """Its last rule always fires: no return after it."""


@dataclass
class FamilyView:
    """The chains of one path and the table from each value of the key to its chain."""

    chains: list[ChainView]
    table: str
    name: str
    params: str


@dataclass
class DispatchView:
    name: str
    """The key signal, as a comment."""
    families: list[FamilyView]
    ends: bool
    """No rule after the dispatch: each chain ends in the default itself."""


@dataclass
class RouteView:
    """The route as the template writes it: both paths, and the dispatch if there is one."""

    validated: PathView
    trusted: PathView
    dispatch: DispatchView | None = None
