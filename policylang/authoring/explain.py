"""`explain` for a terminal: an `Explanation` (section 9.2) as text. The explanation itself is
built by `policylang.explainer` (which `Policy.explain` asks) and its data lives in
`policylang.explanation`; both are re-exported here, the authoring tool's one entry point.
"""

from __future__ import annotations

import json

from ..backends.python.support import Decision
from ..explainer import call_cost, explain, trimmed
from ..explanation import (ClimbStep, Cost, Explanation, PricedCall, Reason, RuleTrace, StepFallbacks, WorstCase,
                           json_shown)
from ..money import exact_dollars
from ..source import Span

__all__ = ["ClimbStep", "Cost", "Explanation", "PricedCall", "Reason", "RuleTrace", "StepFallbacks", "WorstCase",
           "call_cost", "explain", "render_text", "trimmed"]


# ---- text -------------------------------------------------------------------------------------


def render_text(explanation: Explanation) -> str:
    """The explanation for a terminal: rules in order with the parts that decided them, the
    decision, the climb, each step's fallbacks and the cost."""
    from ..jsontext import dumps

    top = explanation.file
    lines = [f"{top}: {dumps(json_shown(explanation.request))}"]
    if explanation.error is not None:
        error = explanation.error
        lines.append(f"error[{error.code}]: {error.message}")
        if explanation.error_span is not None:
            lines.append(f"  --> {explanation.error_span} (where '{error.signal}' is declared)")
        lines.append("  no rule was tried: a request is validated before any rule is (section 5)")
        return "\n".join(lines)
    decision = explanation.decision
    assert decision is not None
    lines += ["", "rules, in order"]
    width = max((len(_rule_label(r)) for r in explanation.rules), default=0)
    for trace in explanation.rules:
        verdict = "fired" if trace.fired else "holds, but an earlier rule fired" if trace.held else "does not hold"
        lines.append(f"  {_rule_label(trace).ljust(width)}  {_where(trace.span, top)}  {verdict}")
        lines += _reason_lines(trace.because, "      ", top)
    if explanation.fired is None:
        lines.append("  no rule fired, and the policy has no default (E204)")
    lines += ["", f"decision  {_decision_text(decision)}"]
    if explanation.climb:
        lines += ["", "climb"]
        for step in explanation.climb:
            head = f"  step {step.step} {step.source} -> {step.target} when {step.text}  {_where(step.span, top)}"
            if step.error is not None:
                lines.append(f"{head}: the outcomes are invalid, error[{step.error.code}]: {step.error.message}")
            elif step.outcomes is None:
                lines.append(f"{head}: no outcomes listed for step {step.step}, the climb stops")
            else:
                lines.append(f"{head}: {'true, climbs' if step.held else 'false, stops'}")
                lines += _reason_lines(step.because, "      ", top)
    if explanation.outcomes_given or explanation.climb:
        lines.append(f"path      {' -> '.join(explanation.path) if explanation.path else '(no call)'}")
    if explanation.fallbacks:
        lines += ["", "fallbacks, when a provider fails"]
        width = max(len(f.model) for f in explanation.fallbacks)
        for fb in explanation.fallbacks:
            links = "; ".join(f"{'' if a == fb.model else a + ' '}on {', '.join(errors)} -> {b}"
                              for a, errors, b in fb.links) or "none"
            lines.append(f"  step {fb.step} {fb.model.ljust(width)}  {links}")
    cost = explanation.cost
    if cost is not None and decision.model is not None:
        at_cap = any(c.at_cap for c in cost.calls)
        lines += ["", "cost" + (", output counted at each call's cap (@output_tokens gives the real count)"
                                if at_cap else "")]
        width = max([len(c.model) for c in cost.calls] + [len("worst")])
        for call in cost.calls:
            tokens = "context" if call.input_tokens is None else f"{call.input_tokens:,}"
            lines.append(f"  {call.model.ljust(width)}  {exact_dollars(call.cost)} = {tokens} in x {exact_dollars(call.input_price)}/M"
                         f" + {call.output_tokens:,} out x {exact_dollars(call.output_price)}/M")
        lines.append(f"  {'total'.ljust(width)}  {exact_dollars(cost.total)}")
        if cost.worst is not None:
            parts = " + ".join(f"{chain} {exact_dollars(value)}" for chain, value in cost.worst.parts)
            at = "each model's full context window" if cost.worst.input_tokens is None else \
                f"input_tokens = {cost.worst.input_tokens:,}"
            lines.append(f"  {'worst'.ljust(width)}  {exact_dollars(cost.worst.cost)} at {at}, every fallback and climb "
                         "that can happen:")
            lines.append(f"  {' ' * width}  {parts}")
    return "\n".join(lines)


def _where(span: Span, top: str) -> str:
    return f"line {span.line}" if span.file == top else f"{span.file}:{span.line}"


def _rule_label(trace: RuleTrace) -> str:
    return "default" if trace.rule == "default" and not trace.because else f"rule {trace.rule}"


def _reason_lines(reasons: tuple[Reason, ...], indent: str, top: str) -> list[str]:
    lines = []
    for reason in reasons:
        values = reason.values_text()
        plain = values in (f"{reason.text} = true", f"{reason.text} = false") or \
            reason.text.startswith("not ") and values.split(" = ")[0] == reason.text[4:]
        at = f"{reason.span.line}:{reason.span.column}" if reason.span.file == top else str(reason.span)
        lines.append(f"{indent}{reason.text}  is {'true' if reason.held else 'false'}  ({at})"
                     + (f": {values}" if values and not plain else ""))
    return lines


def _decision_text(decision: Decision) -> str:
    by = "by default" if decision.rule == "default" else f"by rule {decision.rule}"
    if decision.rule is None:
        return "no rule: no model serves this request"
    if decision.reject is not None:
        return f"reject {json.dumps(decision.reject)}, {by}"
    if len(decision.steps) == 1:
        return f"{decision.model}, {by}, max_output {decision.caps[0]:,}"
    caps = ", ".join(f"{c:,}" for c in decision.caps)
    return f"{decision.model}, {by}; cascade steps {' -> '.join(decision.steps)}, max_output {caps}"
