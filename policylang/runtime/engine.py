"""One question-answering surface over a `Policy` and a compiled module alike: decide,
escalate, what serves when a model fails with an error, each model's fields and each rule's
cap. A compiled module answers by itself; a `Policy` answers through its compiled module,
the same text `policyc compile` writes."""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..ir.policy import ERRORS, step_cap
from ..ir.policy import Model as Model  # the runtime's model is the IR's: one shape, `runtime.Model`
from ..policy import Policy, RequestError
from ..source import Span


@dataclass(frozen=True)
class PolicyEngine:
    """What a run asks of a policy. Every error a decision raises is `policylang.RequestError`,
    whichever engine made it."""

    name: str
    sha256: str
    models: Mapping[str, Model]
    rule_caps: Mapping[str, int | None]
    input_tokens: bool
    """Whether the policy declares the `input_tokens` signal."""
    decide: Callable[[Mapping[str, Any]], Any]
    escalate: Callable[[Any, int, Mapping[str, Any]], str | None]
    fallback: Callable[[str, str], str | None]

    def cap(self, rule: str, model: str) -> int:
        """The max_output of a call to `model` for `rule`: min(rule cap, model max_output), as
        the IR's `step_cap` computes it. KeyError for a rule or a model the policy lacks."""
        return step_cap(self.rule_caps[rule], self.models[model])


def engine_of(policy: object) -> PolicyEngine:
    """The engine of a `Policy` (through its compiled module) or of a compiled module;
    TypeError for anything else, or for a module compiled before modules carried RULE_CAPS."""
    if isinstance(policy, Policy):
        module = policy.compiled  # its MODELS: the models the policy may call, not every one it imports
        declared = {m.name: m for m in policy.ir.models}
        return _from_module(module, f"policy {policy.name}", {name: declared[name] for name in module.MODELS})
    if isinstance(policy, types.ModuleType) and hasattr(policy, "decide") and hasattr(policy, "MODELS"):
        return _from_module(policy, f"module {policy.__name__}", _models_of(policy))
    raise TypeError("a Router runs a Policy (policylang.load), a compiled policy module or a watch() handle, "
                    f"not {type(policy).__name__}")


def _models_of(module: types.ModuleType) -> dict[str, Model]:
    """A compiled module's MODELS table as the policy's models; a module keeps no source
    positions, so each model's span is the module's first line."""
    file = getattr(module, "__file__", None) or module.__name__
    span = Span(file=file, start=0, end=0, line=1, column=1, end_line=1, end_column=1)
    return {name: Model(span=span, name=name, id=f["id"], tier=f["tier"], input_per_mtok=Decimal(f["input_per_mtok"]),
                        output_per_mtok=Decimal(f["output_per_mtok"]), context=f["context"],
                        max_output=f["max_output"], latency=Decimal(f["latency"]), regions=f["regions"],
                        tags=f["tags"])
            for name, f in module.MODELS.items()}


def _from_module(module: types.ModuleType, what: str, models: Mapping[str, Model]) -> PolicyEngine:
    if not hasattr(module, "RULE_CAPS"):
        raise TypeError(f"{what} was compiled by an older policyc and has no RULE_CAPS table; recompile it "
                        "with `policyc compile`")
    errors = module.RequestError
    decide, escalate = module.decide, module.escalate

    def deciding(signals: Mapping[str, Any]) -> Any:
        try:
            return decide(signals)
        except errors as exc:
            raise RequestError(exc.code, exc.signal, exc.message) from None

    def escalating(decision: Any, step: int, outcomes: Mapping[str, Any]) -> str | None:
        try:
            following: str | None = escalate(decision, step, outcomes)
        except errors as exc:
            raise RequestError(exc.code, exc.signal, exc.message) from None
        return following

    table: Mapping[str, Mapping[str, str]] = module.FALLBACKS

    def fallback(model: str, error: str) -> str | None:
        # the runtime's own reasons for not calling a model (a session's budget) have no fallback
        return table.get(model, {}).get(error) if error in ERRORS else None

    return PolicyEngine(name=module.POLICY_NAME, sha256=module.SOURCE_SHA256, models=models,
                  rule_caps=dict(module.RULE_CAPS), input_tokens="input_tokens" in module.SIGNALS,
                  decide=deciding, escalate=escalating, fallback=fallback)
