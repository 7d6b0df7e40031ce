"""A loaded policy for an app: decide with either engine, escalate, compile, run its tests."""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .backends.python import EngineName, support as rt
from .diagnostics import Diagnostic, render_text
from .ir.policy import CheckedPolicy
from .passes import Checked, check
from .syntax.loader import decode, read_top
from .source import Source

if TYPE_CHECKING:  # imported where they are used: loading and checking a policy needs neither
    from .backends.python.interpreter import Interpreter
    from .explanation import Explanation
    from .jsontext import JsonValue

Decision = rt.Decision
RequestError = rt.RequestError


class PolicyError(Exception):
    """A policy with errors: `diagnostics` holds every finding (errors and warnings)."""

    def __init__(self, diagnostics: list[Diagnostic], sources: Mapping[str, Source] | None = None) -> None:
        self.diagnostics = list(diagnostics)
        self.sources = dict(sources or {})
        errors = [d for d in self.diagnostics if d.is_error]
        super().__init__(f"{len(errors)} error(s) in the policy:\n" + render_text(errors, self.sources))


class Policy:
    """A checked policy. Build one with `policylang.load` or `policylang.loads`."""

    def __init__(self, checked: Checked) -> None:
        assert checked.policy is not None, "a policy with front-end errors has no IR"
        self.ir: CheckedPolicy = checked.policy
        self.diagnostics: list[Diagnostic] = checked.diagnostics
        self.sources = checked.sources

    @property
    def name(self) -> str:
        return self.ir.name

    # ---- engines ------------------------------------------------------------------------------

    @cached_property
    def interpreter(self) -> Interpreter:
        """The tree-walking engine over this policy's IR."""
        from .backends.python.interpreter import Interpreter

        return Interpreter(self.ir)

    @cached_property
    def compiled(self) -> types.ModuleType:
        """The generated module, executed in-process: the same text `policyc compile` writes."""
        module = types.ModuleType(f"policylang_compiled_{self.ir.name}")
        exec(compile(self.to_python(), f"<policy {self.ir.name}>", "exec"), module.__dict__)  # noqa: S102
        Decision.register(module.Decision)
        return module

    def to_python(self) -> str:
        """The standalone module's source: standard library only, byte-identical per policy."""
        return self._python

    @cached_property
    def _python(self) -> str:
        from .backends.python.codegen import generate  # Jinja2 and the generator: only to compile

        return generate(self.ir)

    # ---- decisions ----------------------------------------------------------------------------

    def decide(self, signals: Mapping[str, Any], *, engine: EngineName = "compiled", strict: bool = False,
               validate: bool = True) -> Decision:
        """Which rule, model, steps and cap serve this request; raises RequestError (R001-R004)."""
        if engine == "interpreted":
            return self.interpreter.decide(signals, validate=validate, strict=strict)
        module = self._engine(engine)
        try:
            decision: Decision = module.decide(signals, validate=validate, strict=strict)  # its Decision is registered as one
            return decision
        except module.RequestError as exc:
            raise RequestError(exc.code, exc.signal, exc.message) from None

    def escalate(self, decision: Decision, step: int | str, outcomes: Mapping[str, Any], *,
                 engine: EngineName = "compiled") -> str | None:
        """The next step of the decision's cascade when the answer of step `step` (its index in
        `decision.steps`, whether its model or a fallback answered; or a model's name where it
        means one step) calls for it under these outcomes; else None. Raises RequestError for
        bad outcomes (an unknown key is R004 always), ValueError for a step the decision lacks."""
        if engine == "interpreted":
            return self.interpreter.escalate(decision, step, outcomes)
        module = self._engine(engine)
        try:
            following: str | None = module.escalate(decision, step, outcomes)
            return following
        except module.RequestError as exc:
            raise RequestError(exc.code, exc.signal, exc.message) from None

    def fallback(self, model: str, error: str, *, engine: EngineName = "compiled") -> str | None:
        """The model declared to serve when `model` fails with `error` (an error of section
        3.6), or None. One link per call: a caller walks the chain and stops at a model it has
        already tried. ValueError for an unknown error or a model that serves nothing."""
        if engine == "interpreted":
            return self.interpreter.fallback(model, error)
        answer: str | None = self._engine(engine).fallback(model, error)
        return answer

    def path(self, decision: Decision, outcomes: list[Mapping[str, Any]], *, engine: EngineName = "compiled") -> list[str]:
        """The models called when the i-th outcome object is observed after step i (section 9):
        the climb stops at the first step with no outcome listed, or whose edge does not hold."""
        if decision.model is None:
            return []
        called = [decision.model]
        for at, observed in enumerate(outcomes[: max(0, len(decision.steps) - 1)]):
            following = self.escalate(decision, at, observed, engine=engine)
            if following is None:
                break
            called.append(following)
        return called

    def explain(self, signals: Mapping[str, JsonValue], *, engine: EngineName = "compiled", all_rules: bool = False,
                strict: bool = False) -> Explanation:
        """Why this request gets its decision (section 9.2): each rule up to the one that fired
        (every rule with `all_rules`), whether it held and the parts that decided it, the
        decision, the climb under `@outcomes`, each step's fallbacks and the cost. The rule it
        says fired is always `decide`'s with this engine. A bad request gives an explanation
        with `error` set, never an exception. Returns an `Explanation` (`as_dict()` for JSON)."""
        from .explainer import explain  # a layer below: loading a policy never imports it

        return explain(self, signals, engine=engine, all_rules=all_rules, strict=strict)

    def _engine(self, engine: str) -> types.ModuleType:
        if engine != "compiled":
            raise ValueError(f"engine must be 'compiled' or 'interpreted', not {engine!r}")
        return self.compiled


def _checked_policy(checked: Checked) -> Policy:
    if not checked.ok:
        raise PolicyError(checked.diagnostics, checked.sources)
    return Policy(checked)


def load(path: str, *, analyze: bool = True, warnings: bool = True) -> Policy:
    """Read, check and load a `.route` file; raises PolicyError when it has errors, or when it
    cannot be read (an E009 diagnostic), never OSError.

    `analyze=False` skips the analyses of sections 6 and 7 (not the name and type checks);
    `warnings=False` runs only the analyses that can find errors. `Policy.diagnostics` holds
    every finding that was looked for.
    """
    source, decode_error = read_top(str(path))
    return _checked_policy(check(source, decode_error, analyze=analyze, warnings=warnings))


def loads(text: str | bytes, name: str = "<string>", *, analyze: bool = True, warnings: bool = True) -> Policy:
    """Like `load`, for policy text. Relative imports are resolved next to `name` when it is a
    file's path, else from the working directory."""
    return _checked_policy(check_text(text, name, analyze=analyze, warnings=warnings))


def check_text(text: str | bytes, name: str = "<string>", *, analyze: bool = True, warnings: bool = True) -> Checked:
    """Every check on policy text, as `loads` runs them, without raising."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    path = os.path.realpath(name) if not name.startswith("<") else None
    source, decode_error = decode(name, data, path)
    return check(source, decode_error, analyze=analyze, warnings=warnings)
