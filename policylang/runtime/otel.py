"""OpenTelemetry spans for runs and calls (extra `otel`), with the GenAI attribute names.

    router = runtime.Router(policy, call, tracer=runtime.otel.tracer())   # the global provider

Each run is a span `route POLICY` whose children are its calls, `chat MODEL_ID` (the GenAI
conventions' `{gen_ai.operation.name} {gen_ai.request.model}`), each with
`gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.request.max_tokens`,
`gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens` and, on a failure, `error.type`;
`policylang.*` attributes carry the policy, rule, step, cost and how the run ended. The call
span is current while the call runs, so an instrumented HTTP client nests beneath it.
"""

from __future__ import annotations

from typing import Any

from .errors import MissingExtra
from ..money import money_text
from .results import Attempt


class Spans:
    """The Router's tracer over an OpenTelemetry tracer."""

    def __init__(self, tracer: Any) -> None:
        try:
            from opentelemetry import context, trace
        except ImportError:
            raise MissingExtra("runtime.otel", "opentelemetry-sdk", "otel") from None
        self._tracer = tracer
        self._context = context
        self._trace = trace

    def start_run(self, policy: str) -> Any:
        span = self._tracer.start_span(f"route {policy}", kind=self._trace.SpanKind.INTERNAL,
                                       attributes={"policylang.policy": policy})
        token = self._context.attach(self._trace.set_span_in_context(span))
        return span, token

    def end_run(self, handle: Any, record: dict[str, Any], exc: BaseException | None) -> None:
        span, token = handle
        attributes = {
            "policylang.policy_sha256": record["policy_sha256"],
            "policylang.end": record["end"],
            "policylang.cost": record["cost"],
            "policylang.complete": record["complete"],
            "policylang.path": record["path"],
            "gen_ai.usage.input_tokens": record["gen_ai.usage.input_tokens"],
            "gen_ai.usage.output_tokens": record["gen_ai.usage.output_tokens"],
        }
        if record["rule"] is not None:
            attributes["policylang.rule"] = record["rule"]
        if record["gen_ai.request.model"] is not None:
            attributes["gen_ai.request.model"] = record["gen_ai.request.model"]
        span.set_attributes(attributes)
        if record["end"] not in ("answered", "rejected"):
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, record["end"]))
            if exc is not None:
                span.record_exception(exc)
                span.set_attribute("error.type", type(exc).__name__)
        self._context.detach(token)
        span.end()

    def start_call(self, run: Any, attempt: Attempt) -> Any:
        parent = self._trace.set_span_in_context(run[0])
        span = self._tracer.start_span(f"chat {attempt.id}", context=parent, kind=self._trace.SpanKind.CLIENT,
                                       attributes={"gen_ai.operation.name": "chat",
                                                   "gen_ai.request.model": attempt.id,
                                                   "gen_ai.request.max_tokens": attempt.max_output,
                                                   "policylang.model": attempt.model,
                                                   "policylang.step": attempt.step,
                                                   "policylang.retry": attempt.retry})
        token = self._context.attach(self._trace.set_span_in_context(span))
        return span, token

    def end_call(self, handle: Any, attempt: Attempt, exc: BaseException | None = None) -> None:
        span, token = handle
        if exc is not None:  # a call that ended in an exception the Router re-raised
            span.record_exception(exc)
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(exc) or type(exc).__name__))
        if attempt.error is not None:
            span.set_attribute("error.type", attempt.error)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, attempt.message or attempt.error))
        if attempt.skipped is not None:
            span.set_attribute("policylang.skipped", attempt.skipped)
        if attempt.input_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", attempt.input_tokens)
        if attempt.output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", attempt.output_tokens)
        span.set_attribute("policylang.cost", money_text(attempt.cost))
        self._context.detach(token)
        span.end()


def tracer(provider: Any = None, name: str = "policylang.runtime") -> Spans:
    """The Router's `tracer=` for an OpenTelemetry TracerProvider (default: the global one)."""
    try:
        from opentelemetry import trace
    except ImportError:
        raise MissingExtra("runtime.otel", "opentelemetry-sdk", "otel") from None
    from .._version import __version__

    source = provider.get_tracer(name, __version__) if provider is not None else trace.get_tracer(name, __version__)
    return Spans(source)
