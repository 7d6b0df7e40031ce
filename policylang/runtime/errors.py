"""How a run can end other than with an answer, and the provider errors a `call` raises."""

from __future__ import annotations

from typing import Any

from ..ir.policy import ERRORS

RETRYABLE = frozenset({"rate_limited", "server_error", "timeout"})
"""The errors a retry may cure (section 3.6's other two, `unavailable` and `content_filtered`,
go straight to the fallback)."""


class ProviderError(Exception):
    """A provider failed a call: `error` is one of section 3.6's names (`unavailable`,
    `rate_limited`, `timeout`, `server_error`, `content_filtered`); `retry_after` the seconds
    the provider asked to wait (its Retry-After), if it said. `transient`: a failure a retry
    may cure whatever its name (a connection refused or reset is `unavailable` for the
    fallbacks, but retried first, as the SDKs retry it)."""

    def __init__(self, error: str, message: str = "", *, retry_after: float | None = None,
                 transient: bool = False) -> None:
        if error not in ERRORS:
            raise ValueError(f"{error!r} is no provider error; the errors are {', '.join(ERRORS)}")
        super().__init__(message or error)
        self.error = error
        self.message = message or error
        self.retry_after = retry_after
        self.transient = transient

    def __reduce__(self) -> Any:
        return (_provider_error, (self.error, self.message, self.retry_after, self.transient))


def _provider_error(error: str, message: str, retry_after: float | None, transient: bool = False) -> ProviderError:
    return ProviderError(error, message, retry_after=retry_after, transient=transient)


class Rejected(Exception):
    """The policy rejected the request: `reason` is the rule's, `decision` the decision. No
    model was called."""

    def __init__(self, reason: str, decision: Any) -> None:
        super().__init__(f"rejected by rule {decision.rule}: {reason}")
        self.reason = reason
        self.decision = decision


class Exhausted(Exception):
    """No model could serve the request's first step: every model its fallbacks reach failed
    (or was not called). `attempts` lists each call made, `decision` the decision."""

    def __init__(self, decision: Any, attempts: tuple[Any, ...], message: str | None = None) -> None:
        tried = ", ".join(f"{a.model} ({a.error})" for a in attempts) or "no model"
        super().__init__(message or f"no model could serve rule {decision.rule}: tried {tried}")
        self.decision = decision
        self.attempts = attempts


class OverBudget(Exhausted):
    """An `Exhausted` run whose last call was not made because the session's budget could not
    cover its worst case."""


class BudgetBusy(Exhausted):
    """An `Exhausted` run that waited (as long as the Session's `wait`) for money held by
    other runs' calls in flight, and still could not be covered: the budget is not spent,
    only held. Not an `OverBudget`: retrying later may serve it."""


class StreamInterrupted(Exception):
    """A stream failed after its first chunk was handed to the app: `partial` is the text
    handed out, `attempts` every attempt (the last one `cut="interrupted"`), `cause` the
    provider's error. The Router never switches model in the middle of an answer."""

    def __init__(self, partial: str, attempts: tuple[Any, ...], cause: BaseException | None = None) -> None:
        last = attempts[-1] if attempts else None
        where = f" from {last.model} ({last.error})" if last is not None else ""
        super().__init__(f"the stream was interrupted{where} after {len(partial)} characters")
        self.partial = partial
        self.attempts = attempts
        self.cause = cause


class MissingExtra(ImportError):
    """An optional integration whose package is not installed; the message names the extra."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        super().__init__(f"{feature} needs the '{package}' package: pip install 'policylang[{extra}]'")
        self.extra = extra
