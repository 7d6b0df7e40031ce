"""One question-answering surface over a `Policy` and a compiled module alike: decide,
escalate, what serves when a model fails with an error, each model's fields and each rule's
cap. A compiled module answers by itself; a `Policy` answers through its compiled module,
the same text `policyc compile` writes."""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..ir.policy import ERRORS
from ..ir.values import EXACT
from ..policy import Policy, RequestError


@dataclass(frozen=True)
class Model:
    """A model as the policy declares it: `name` is the policy's name for it, `id` what the
    provider calls it; prices in dollars per million tokens, `latency` in seconds; `regions`
    None where the model does not say (it may process data anywhere)."""

    name: str
    id: str
    tier: int
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    context: int
    max_output: int
    latency: Decimal
    regions: frozenset[str] | None
    tags: frozenset[str]
    _per_token: tuple[Decimal, Decimal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_per_token", (self.input_per_mtok.scaleb(-6, EXACT),
                                                self.output_per_mtok.scaleb(-6, EXACT)))

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """The exact price of a call that read `input_tokens` and wrote `output_tokens`."""
        per_input, per_output = self._per_token
        return EXACT.add(EXACT.multiply(input_tokens, per_input), EXACT.multiply(output_tokens, per_output))


@dataclass(frozen=True)
class Engine:
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
        """The max_output of a call to `model` for `rule`: min(rule cap, model max_output)."""
        cap = self.rule_caps[rule]
        limit = self.models[model].max_output
        return limit if cap is None or cap > limit else cap


def engine_of(policy: Any) -> Engine:
    """The engine of a `Policy` (through its compiled module) or of a compiled module;
    TypeError for anything else, or for a module compiled before modules carried RULE_CAPS."""
    if isinstance(policy, Policy):
        return _from_module(policy.compiled, f"policy {policy.name}")
    if isinstance(policy, types.ModuleType) and hasattr(policy, "decide") and hasattr(policy, "MODELS"):
        return _from_module(policy, f"module {policy.__name__}")
    raise TypeError("a Router runs a Policy (policylang.load), a compiled policy module or a watch() handle, "
                    f"not {type(policy).__name__}")


def _from_module(module: types.ModuleType, what: str) -> Engine:
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

    models = {name: Model(name=name, id=f["id"], tier=f["tier"], input_per_mtok=Decimal(f["input_per_mtok"]),
                          output_per_mtok=Decimal(f["output_per_mtok"]), context=f["context"],
                          max_output=f["max_output"], latency=Decimal(f["latency"]), regions=f["regions"],
                          tags=f["tags"])
              for name, f in module.MODELS.items()}
    return Engine(name=module.POLICY_NAME, sha256=module.SOURCE_SHA256, models=models,
                  rule_caps=dict(module.RULE_CAPS), input_tokens="input_tokens" in module.SIGNALS,
                  decide=deciding, escalate=escalating, fallback=fallback)
