"""Name resolution: every name in every loaded file bound to the declaration it means.

The result is a side table (`Resolution.bindings`) from each name's span to a `Symbol`, or
to a `Member` where a bare identifier stands for an enum member (section 4: compared with an
enum-typed operand, it is a member, never a declared name), or to a `Label` (a region or tag).
The surface tree is not touched. Reports E101 (with a suggestion), E102 and E112.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeGuard, assert_never

from ..codes import E101, E102, E112, Code
from ..diagnostics import Diagnostic, Related, diagnostic
from ..ir import surface as s
from ..ir.node import Node, children
from ..source import Span
from ..syntax.loader import Program, Unit

SymbolKind = Literal["threshold", "signal", "outcome", "model", "cascade", "rule", "invariant", "test"]


@dataclass(frozen=True, eq=False)
class Symbol:
    """One declaration, by the name it declares: its kind, the file it is in, its node."""

    kind: SymbolKind
    name: str
    unit: Unit = field(repr=False)
    decl: Node = field(repr=False)
    span: Span = field(repr=False)

    @property
    def is_enum_signal(self) -> bool:
        """Whether this is a signal or an outcome of an enum type."""
        return self.kind in ("signal", "outcome") and isinstance(self.decl, s.SignalDecl) and \
            self.decl.type.base == "enum"


@dataclass(frozen=True)
class Member:
    """A bare identifier that names a member of the enum it is compared with."""

    text: str


@dataclass(frozen=True)
class Label:
    """A bare identifier used as a region or tag label."""

    text: str


Binding = Symbol | Member | Label


def key(node: Node) -> tuple[str, int, int]:
    """Where a name is, as the binding table keys it: (file, start, end)."""
    return (node.span.file, node.span.start, node.span.end)


@dataclass
class Resolution:
    """What every name means (`bindings`), and what resolution found out along the way."""

    program: Program
    bindings: dict[tuple[str, int, int], Binding] = field(default_factory=dict)
    signals: list[Symbol] = field(default_factory=list)
    """Signals and outcomes of the whole policy, in declaration order with imports in place."""
    display: dict[Symbol, str] = field(default_factory=dict)
    active: list[tuple[Unit, s.Decl]] = field(default_factory=list)
    """Every declaration that takes part, in order; imported route and test blocks do not."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    declared: dict[int, Symbol] = field(default_factory=dict)
    """Declaration node id -> its symbol."""

    def binding(self, node: Node) -> Binding | None:
        """What the name at `node` means; None when it is unknown (E101 reported)."""
        return self.bindings.get(key(node))

    def symbols(self, kind: SymbolKind) -> list[Symbol]:
        """The declarations of one kind that take part, in order, each once."""
        seen: list[Symbol] = []
        for unit, decl in self.active:
            sym = self.declared.get(id(decl))
            if sym is not None and sym.kind == kind and sym not in seen:
                seen.append(sym)
        return seen


_KIND_WORDS = {
    "threshold": "a threshold", "signal": "a signal", "outcome": "an outcome", "model": "a model",
    "cascade": "a cascade", "rule": "a rule", "invariant": "an invariant", "test": "a test",
}


def resolve(program: Program) -> Resolution:
    """Bind every name of every loaded file; see the module docstring."""
    return _Resolver(program).run()


class _Resolver:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.result = Resolution(program)
        self.own: dict[int, dict[str, Symbol]] = {}
        self._export_cache: dict[int, dict[str, Symbol]] = {}
        self._scope_cache: dict[int, dict[str, Symbol]] = {}
        self.global_signals: dict[str, Symbol] = {}

    def error(self, code: Code, message: str, span: Span, *, related: Iterable[Related] = (),
              help: str | None = None) -> None:
        self.result.diagnostics.append(diagnostic(code, message, span, related=related, help=help))

    # ---- declarations -------------------------------------------------------------------------

    def run(self) -> Resolution:
        top = self.program.top
        self.result.active = list(self._walk(top, set()))
        for unit in self.program.units:
            if unit.file is not None:
                self.own[id(unit)] = self._declare(unit)
        self._check_route_count(top)
        self._declare_signals()
        for unit in self.program.units:
            if unit.file is not None:
                self._scope(unit)  # reports clashes of unaliased imports once per unit
        self._display_names(top)
        for unit, decl in self.result.active:
            self._bind_decl(unit, decl)
        return self.result

    def _walk(self, unit: Unit, seen: set[int]) -> Iterator[tuple[Unit, s.Decl]]:
        """Declarations in order, each import's declarations in place of the import."""
        if unit.file is None or id(unit) in seen:
            return
        seen.add(id(unit))
        imported = {id(decl): target for decl, target in unit.imports}
        for decl in unit.file.decls:
            if isinstance(decl, s.Import):
                target = imported.get(id(decl))
                if target is not None:
                    yield from self._walk(target, seen)
            elif unit is self.program.top or not isinstance(decl, (s.RouteDecl, s.TestDecl)):
                yield unit, decl

    def _declared_names(self, unit: Unit) -> Iterator[tuple[SymbolKind, s.Name, Node]]:
        is_top = unit is self.program.top
        routes = 0
        for decl in _file(unit).decls:
            match decl:
                case s.Threshold():
                    yield "threshold", decl.name, decl
                case s.SignalDecl():
                    yield decl.role, decl.name, decl
                case s.ModelDecl():
                    yield "model", decl.name, decl
                case s.CascadeDecl():
                    yield "cascade", decl.name, decl
                case s.InvariantDecl():
                    yield "invariant", decl.name, decl
                case s.RouteDecl() if is_top and routes == 0:
                    routes += 1
                    for rule in decl.rules:
                        assert rule.name is not None  # the default is decl.default, not a rule
                        yield "rule", rule.name, rule
                case s.TestDecl() if is_top:
                    yield "test", decl.name, decl
                case s.Import() | s.FallbackDecl() | s.BudgetDecl() | s.RouteDecl() | s.TestDecl():
                    pass  # no name; or an imported route or test, or a second route (E112)
                case _:
                    assert_never(decl)

    def _declare(self, unit: Unit) -> dict[str, Symbol]:
        table: dict[str, Symbol] = {}
        for kind, name, decl in self._declared_names(unit):
            symbol = Symbol(kind, name.text, unit, decl, name.span)
            self.result.declared[id(decl)] = symbol
            first = table.get(name.text)
            if first is not None:
                self.error(
                    E102,
                    f"'{name.text}' is already declared as {_KIND_WORDS[first.kind]}; every name in a file is declared once",
                    name.span,
                    related=[Related(message=f"'{name.text}' first declared here", span=first.span)],
                )
                continue
            table[name.text] = symbol
        return table

    def _check_route_count(self, top: Unit) -> None:
        routes = [d for d in _file(top).decls if isinstance(d, s.RouteDecl)]
        if not routes:
            self.error(E112, "the policy has no route block", _file(top).name.span,
                       help="add route { rule NAME when COND -> MODEL ... default -> MODEL }")
        for extra in routes[1:]:
            self.error(E112, "a policy has exactly one route block; this is another", extra.span,
                       related=[Related(message="the first route block", span=routes[0].span)])

    def _declare_signals(self) -> None:
        """Signals and outcomes are request keys: one namespace across all files."""
        for unit, decl in self.result.active:
            if not isinstance(decl, s.SignalDecl):
                continue
            symbol = self.result.declared[id(decl)]
            first = self.global_signals.get(symbol.name)
            if first is None:
                self.global_signals[symbol.name] = symbol
                self.result.signals.append(symbol)
            elif first.unit is not unit:  # a duplicate inside one file is reported already
                self.error(
                    E102,
                    f"{symbol.kind} '{symbol.name}' is already declared in {first.unit.name}; "
                    "signal and outcome names are request keys, one namespace across all imports",
                    symbol.span,
                    related=[Related(message="first declared here", span=first.span)],
                )

    # ---- scopes -------------------------------------------------------------------------------

    def _aliases(self, unit: Unit) -> dict[str, Unit]:
        return {decl.alias.text: target for decl, target in unit.imports if decl.alias is not None and target is not None}

    def _exports(self, unit: Unit) -> dict[str, Symbol]:
        """What an unaliased import of `unit` brings: its own names and its unaliased imports'."""
        cached = self._export_cache.get(id(unit))
        if cached is None:
            cached = dict(self._scope(unit, report=False))
            self._export_cache[id(unit)] = cached
        return cached

    def _scope(self, unit: Unit, report: bool = True) -> dict[str, Symbol]:
        cached = self._scope_cache.get(id(unit))
        if cached is not None:
            return cached
        scope = dict(self.own.get(id(unit), {}))
        for decl, target in unit.imports:
            if target is None or decl.alias is not None:
                continue
            for name, symbol in self._exports(target).items():
                first = scope.get(name)
                if first is None:
                    scope[name] = symbol
                elif first is not symbol and report and not (
                    first.kind in ("signal", "outcome") and symbol.kind in ("signal", "outcome")
                ):  # request keys clash whatever the alias: _declare_signals reports those once
                    self.error(
                        E102,
                        f"this import brings '{name}', which is already declared as {_KIND_WORDS[first.kind]}",
                        decl.path.span,
                        related=[Related(message=f"'{name}' declared here", span=first.span),
                                 Related(message=f"the imported '{name}'", span=symbol.span)],
                        help='import it with an alias: import "..." as lib',
                    )
        self._scope_cache[id(unit)] = scope
        return scope

    def _display_names(self, top: Unit) -> None:
        display = self.result.display
        for name, symbol in self._scope(top).items():
            display.setdefault(symbol, name)
        for alias, target in self._aliases(top).items():
            for name, symbol in self._exports(target).items():
                display.setdefault(symbol, f"{alias}.{name}")
        for symbol in self.result.declared.values():  # unreachable by name, or a duplicate
            bare = symbol.unit is top
            display.setdefault(symbol, symbol.name if bare else f"{_file(symbol.unit).name.text}.{symbol.name}")

    # ---- lookups ------------------------------------------------------------------------------

    def lookup(self, unit: Unit, name: s.QualName, kinds: tuple[SymbolKind, ...], what: str) -> Symbol | None:
        """The symbol `name` means in `unit`, bound; or None after an E101 with a suggestion."""
        parts = name.parts
        symbol: Symbol | None = None
        if len(parts) == 2:
            aliases = self._aliases(unit)
            target = aliases.get(parts[0].text)
            if target is None:
                self.error(E101, f"unknown import alias '{parts[0].text}'", parts[0].span,
                           help=_suggest(parts[0].text, list(aliases)))
                return None
            symbol = self._exports(target).get(parts[1].text)
        else:
            symbol = self._scope(unit).get(name.text)
            if symbol is None and ("signal" in kinds or "outcome" in kinds):
                symbol = self.global_signals.get(name.text)  # request keys are global
        if symbol is not None and symbol.kind in kinds:
            self.result.bindings[key(name)] = symbol
            return symbol
        if symbol is not None:
            message = f"'{name.text}' is {_KIND_WORDS[symbol.kind]}, not {what}"
        else:
            message = f"unknown {what.split(' ', 1)[1] if what.startswith(('a ', 'an ')) else what} '{name.text}'"
        self.error(E101, message, name.span, help=_suggest(name.text, self._candidates(unit, kinds)))
        return None

    def _candidates(self, unit: Unit, kinds: tuple[SymbolKind, ...]) -> list[str]:
        names = [n for n, sym in self._scope(unit).items() if sym.kind in kinds]
        for alias, target in self._aliases(unit).items():
            names += [f"{alias}.{n}" for n, sym in self._exports(target).items() if sym.kind in kinds]
        if "signal" in kinds or "outcome" in kinds:
            names += [n for n, sym in self.global_signals.items() if sym.kind in kinds]
        return names

    # ---- binding ------------------------------------------------------------------------------

    def _bind_decl(self, unit: Unit, decl: s.Decl) -> None:
        match decl:
            case s.Threshold():
                self._bind_expr(unit, decl.value)
            case s.SignalDecl():
                if decl.type.domain is not None:
                    self._bind_expr(unit, decl.type.domain.low)
                    self._bind_expr(unit, decl.type.domain.high)
                if decl.default is not None:
                    self._bind_value(unit, decl.default, self.result.declared[id(decl)])
            case s.ModelDecl():
                if decl.base is not None:
                    self.lookup(unit, decl.base, ("model",), "a model")
                for f in decl.fields:
                    self._bind_expr(unit, f.value)
            case s.CascadeDecl():
                for edge in decl.edges:
                    self.lookup(unit, edge.source, ("model",), "a model")
                    self.lookup(unit, edge.target, ("model",), "a model")
                    self._bind_expr(unit, edge.condition)
            case s.FallbackDecl():
                self.lookup(unit, decl.source, ("model",), "a model")
                self.lookup(unit, decl.target, ("model",), "a model")
            case s.BudgetDecl():
                self._bind_expr(unit, decl.bound)
                if decl.condition is not None:
                    self._bind_expr(unit, decl.condition)
            case s.InvariantDecl():
                if decl.condition is not None:
                    self._bind_expr(unit, decl.condition)
                self._bind_expr(unit, decl.requirement)
            case s.RouteDecl():
                for rule in decl.rules + ((decl.default,) if decl.default else ()):
                    if rule.condition is not None:
                        self._bind_expr(unit, rule.condition)
                    if isinstance(rule.target, s.ModelTarget):
                        self.lookup(unit, rule.target.ref, ("model", "cascade"), "a model or cascade")
                    if rule.cap is not None:
                        self._bind_expr(unit, rule.cap.value)
            case s.TestDecl():
                for assignment in decl.given:
                    signal = self.lookup(unit, _qual(assignment.name), ("signal", "outcome"), "a signal")
                    self._bind_value(unit, assignment.value, signal)
                for assignment in decl.outcomes or ():
                    outcome = self.lookup(unit, _qual(assignment.name), ("outcome", "signal"), "an outcome")
                    self._bind_value(unit, assignment.value, outcome)
                for down in decl.down:
                    self.lookup(unit, down.model, ("model",), "a model")
                expect = decl.expect
                for model in ((expect.model,) if expect.model else ()) + expect.then:
                    self.lookup(unit, model, ("model",), "a model")
                for cap in expect.caps:
                    if cap is not None:
                        self._bind_expr(unit, cap.value)
                if expect.rule is not None and expect.rule.text != "default":
                    self.lookup(unit, _qual(expect.rule), ("rule",), "a rule")
            case s.Import():
                pass  # the loader followed it; its declarations stand in its place
            case _:
                assert_never(decl)

    def _bind_value(self, unit: Unit, value: Node, target: Symbol | None) -> None:
        """A default or a test value: a bare name assigned to an enum signal is a member."""
        if target is not None and target.is_enum_signal and _bare(value):
            self.result.bindings[key(value.name)] = Member(value.name.text)
        else:
            self._bind_expr(unit, value)

    def _bind_expr(self, unit: Unit, expr: Node) -> None:
        stack = [expr]
        while stack:  # iterative: expressions may nest a thousand levels
            node = stack.pop()
            match node:
                case s.NameRef():
                    if key(node.name) not in self.result.bindings:
                        self.lookup(unit, node.name, ("threshold", "signal", "outcome"), "a signal or threshold")
                    continue
                case s.Compare():
                    # the right side is read as a member first: in `task == other` (two enum
                    # signals) `other` is a member name, as section 4 says, and never both sides
                    if not self._bind_members(unit, node.left, node.right):
                        self._bind_members(unit, node.right, node.left)
                case s.In():
                    self._bind_label(unit, node.element, node.container)
                case s.FunctionCall():
                    if node.function.text != "cost":
                        self.error(E101, f"unknown function '{node.function.text}'", node.function.span,
                                   help="the one function is cost(MODEL)")
                    else:
                        self.lookup(unit, node.argument, ("model",), "a model")
                    continue
            stack.extend(_subexpressions(node))

    def _bind_members(self, unit: Unit, enum_side: Node, other: Node) -> bool:
        if not (isinstance(enum_side, s.NameRef) and _bare(other)):
            return False
        symbol = self._peek(unit, enum_side.name)
        if symbol is not None and symbol.is_enum_signal:
            self.result.bindings[key(other.name)] = Member(other.name.parts[0].text)
            return True
        return False

    def _bind_label(self, unit: Unit, element: Node, container: Node) -> None:
        """`eu in model.regions`: a bare name that is no signal is a label."""
        if _bare(element) and isinstance(container, (s.ModelFieldRef, s.SetLit)):
            symbol = self._peek(unit, element.name)
            if symbol is None or symbol.kind not in ("signal", "outcome"):
                self.result.bindings[key(element.name)] = Label(element.name.text)

    def _peek(self, unit: Unit, name: s.QualName) -> Symbol | None:
        """Look a name up without reporting anything."""
        if len(name.parts) == 2:
            target = self._aliases(unit).get(name.parts[0].text)
            return self._exports(target).get(name.parts[1].text) if target else None
        return self._scope(unit).get(name.text) or self.global_signals.get(name.text)


def _subexpressions(node: Node) -> Sequence[Node]:
    """The expressions directly inside `node`, last first (a stack pops them in field order):
    read by their fields, which the generic `children` would find by asking each field."""
    match node:
        case s.Compare():
            return (node.right, node.left)
        case s.BoolOp():
            return node.operands[::-1]
        case s.In():
            return (node.container, node.element)
        case s.Not() | s.Neg():
            return (node.operand,)
        case s.Sum():
            return node.terms[::-1]
        case s.Product():
            return node.factors[::-1]
        case s.Range():
            return (node.high, node.low)
        case s.IntLit() | s.FloatLit() | s.MoneyLit() | s.DurationLit() | s.BoolLit() | s.StringLit() | \
                s.SetLit() | s.ModelFieldRef():
            return ()  # no expression inside: names of labels or fields, bound by what holds them
        case _:
            return list(reversed(list(children(node))))


def _bare(node: Node) -> TypeGuard[s.NameRef]:
    return isinstance(node, s.NameRef) and len(node.name.parts) == 1


def _file(unit: Unit) -> s.File:
    """The parsed file of a unit: resolution runs only on programs whose every file parsed."""
    assert unit.file is not None, f"{unit.name} did not parse"
    return unit.file


def _qual(name: s.Name) -> s.QualName:
    return s.QualName(span=name.span, parts=(name,))


def _suggest(name: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
