"""HTTP as the gateway speaks it: the ASGI callables' types, and the errors it answers with in
OpenAI's shape, with the status each exception of a run stands for (section 14). Both the app
(`app.py`) and its streamed responses (`streaming.py`) use them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..policy import RequestError
from ..runtime import BudgetBusy, Exhausted, OverBudget, Rejected
from .upstream import UpstreamRefused

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

logger = logging.getLogger("policylang.gateway")


class Failure(Exception):
    """An HTTP error in OpenAI's shape: `{"error": {"message", "type", "code", "param"}}`."""

    def __init__(self, status: int, message: str, kind: str, code: str | None = None, param: str | None = None,
                 headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param, self.headers = \
            status, message, kind, code, param, headers

    def body(self) -> bytes:
        """The JSON error body."""
        return json.dumps({"error": {"message": self.message, "type": self.kind, "param": self.param,
                                     "code": self.code}}).encode("utf-8")


def failure_of(exc: BaseException) -> BaseException:
    """The HTTP error a run's exception stands for (section 14's statuses): a `Failure`, or
    `exc` itself when it is one already or no Exception (a cancellation goes on as it is)."""
    if isinstance(exc, RequestError):
        return Failure(400, f"signal {exc.signal}: {exc.message}" if exc.signal else exc.message,
                       "invalid_request_error", exc.code, str(exc.signal) if exc.signal else None)
    if isinstance(exc, Rejected):
        return Failure(403, exc.reason, "policy_rejected", "rejected")
    if isinstance(exc, BudgetBusy):  # the money is held by calls in flight, not spent: try again soon
        return Failure(429, "the key's budget is held by requests in flight; retry shortly", "rate_limit_exceeded",
                       "budget_busy", headers=((b"retry-after", b"1"),))
    if isinstance(exc, OverBudget):
        return Failure(429, "the key's budget is spent", "insufficient_quota", "insufficient_quota")
    if isinstance(exc, Exhausted):
        tried = ", ".join(f"{a.model} ({a.error})" for a in exc.attempts) or "no model"
        return Failure(502, f"no model could serve the request: tried {tried}", "server_error", "no_model_available")
    if isinstance(exc, UpstreamRefused):
        return Failure(exc.status, exc.message, "invalid_request_error" if exc.status < 500 else "server_error",
                       exc.code)
    if isinstance(exc, Failure) or not isinstance(exc, Exception):
        return exc
    logger.error("a request failed inside the gateway: %s", type(exc).__name__)
    return Failure(500, "the gateway failed to serve the request", "server_error", "internal_error")
