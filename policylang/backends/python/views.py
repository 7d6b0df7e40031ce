"""What the module template writes (`templates/module.py.jinja`), as typed text: codegen.py
words the plan (module_plan.py) into these, and the template only lays them out.

A rule is written once per path that tries it: the validated path (every signal already in its
local), the trusted one (`validate=False`, each signal read where it is first needed) and, with
a dispatch on an enum signal (backends/python/index.py), the chains that each value of the key
calls.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleView:
    """One rule on one path: its comment (`name`, and `line` in the .route file, so a reader of
    the module or of a traceback finds the rule), the reads it needs first, its test and the
    decision it returns."""

    name: str
    line: int
    prelude: tuple[str, ...]
    """Statements its test needs first (a deep expression split into locals)."""
    condition: str | None
    """The Python test; None for a rule that always fires (the default)."""
    result: str
    """The expression returned: a hoisted Decision, or one built with the signals it captures."""
    reads: tuple[str, ...] = ()
    """Trusted path: the signals it reads first (and the deferred ones set to None)."""
    guarded: tuple[str, ...] = ()
    """Trusted path: the signals it reads first if an earlier rule may not have (`is None`)."""
    mark: str = ""
    """Appended to its comment: `, validate=False` on a trusted path."""


@dataclass(frozen=True)
class PathView:
    """One path through the route: what it reads up front, the rules before the dispatch, the
    dispatch's reads and call, and the rules after it."""

    reads: tuple[str, ...] = ()
    before: tuple[RuleView, ...] = ()
    after: tuple[RuleView, ...] = ()
    key_reads: tuple[str, ...] = ()
    shared: bool = False
    """Trusted path only: it reads every signal the rules read up front, then takes the
    validated path's rules (a route too long to read lazily)."""
    call: str | None = None
    """The call of the dispatch's chain (None: no dispatch)."""


@dataclass(frozen=True)
class ChainView:
    """One function of a dispatch: the rules that can fire for some values of the key."""

    function: str
    members: str
    """The key's values that call it, as a comment."""
    ending: str | None
    """What it returns when none of its rules fires (None: `None`, the rules after it decide)."""
    rules: tuple[RuleView, ...]
    closed: bool
    """Its last rule always fires: no return after it."""


@dataclass(frozen=True)
class FamilyView:
    """The chains of one path and the table from each value of the key to its chain."""

    chains: tuple[ChainView, ...]
    table: str
    name: str
    params: str


@dataclass(frozen=True)
class DispatchView:
    name: str
    """The key signal, as a comment."""
    families: tuple[FamilyView, ...]
    ends: bool
    """No rule after the dispatch: each chain ends in the default itself."""


@dataclass(frozen=True)
class RouteView:
    """The route as the template writes it: both paths, and the dispatch if there is one."""

    validated: PathView
    trusted: PathView
    dispatch: DispatchView | None = None


@dataclass(frozen=True)
class CheckView:
    """One signal's (or outcome's) validation: into local `var`, the inline `fast` test of the
    common case, `_check` with `spec_var` for the rest; its entry in SIGNALS or OUTCOMES."""

    name: str
    var: str
    required: bool
    default_text: str
    fast: str
    spec_var: str
    type_text: str


@dataclass(frozen=True)
class ModelView:
    """One serving model's entry in MODELS, each field a literal."""

    name: str
    id: str
    tier: str
    input_per_mtok: str
    output_per_mtok: str
    context: str
    max_output: str
    latency: str
    regions: str
    tags: str


@dataclass(frozen=True)
class EdgeView:
    """One cascade edge's function: `_edge_C_E(s, o)`, its test over signals and outcomes."""

    function: str
    cascade: str
    source: str
    target: str
    line: int
    prelude: tuple[str, ...]
    condition: str


@dataclass(frozen=True)
class ModuleView:
    """Everything the template writes, by the name the template reads it."""

    version: str
    file: str
    policy_name: str
    policy_name_repr: str
    sha_repr: str
    runtime: str
    signal_checks: tuple[CheckView, ...]
    outcome_checks: tuple[CheckView, ...]
    models: tuple[ModelView, ...]
    fallbacks: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    constants: tuple[tuple[str, str], ...]
    sends: tuple[str, ...]
    rule_names: str
    rule_sends: str
    rule_climbs: str
    rule_caps: str
    route: RouteView
    has_default: bool
    edges: tuple[EdgeView, ...]
    climbs: tuple[str, ...]
