"""`policylang.runtime` (section 13): run decisions in an app, calling the models, climbing
cascades, taking fallbacks, retrying, accounting cost against budgets and logging every
decision, so that an app does not write that loop by hand.

    from policylang import runtime
    router = runtime.Router(policy, call, assess=..., log=runtime.JsonlLog("decisions.jsonl"))
    result = router.run(signals, request)
    result.answer, result.model, result.path, result.cost, result.complete

It needs nothing beyond policylang itself; the client glue (`runtime.clients`), OpenTelemetry
spans (`runtime.otel`) and `watchfiles` are extras, imported only when used.
"""

from . import assess, clients, metrics, otel
from .engine import Model, PolicyEngine
from .errors import BudgetBusy, Exhausted, MissingExtra, OverBudget, ProviderError, Rejected, StreamInterrupted
from .log import JsonlLog, read_log
from .resilience import Breaker, Retry
from .results import Answer, Attempt, Result, Usage
from .router import Router
from .session import Session
from .split import Split
from .state import LocalState
from .streaming import AStream, Stream
from .watch import Watched, watch

__all__ = [
    "AStream",
    "Answer",
    "Attempt",
    "Breaker",
    "BudgetBusy",
    "Engine",
    "Exhausted",
    "JsonlLog",
    "LocalState",
    "MissingExtra",
    "Model",
    "OverBudget",
    "PolicyEngine",
    "ProviderError",
    "RedisState",
    "Rejected",
    "Result",
    "Retry",
    "Router",
    "Session",
    "Split",
    "Stream",
    "StreamInterrupted",
    "Usage",
    "Watched",
    "assess",
    "clients",
    "metrics",
    "otel",
    "read_log",
    "watch",
]

Engine = PolicyEngine
"""The name `PolicyEngine` had before it said which engine it is; kept for apps that import it."""


def __getattr__(name: str) -> object:
    """`runtime.RedisState` (extra `redis`): imported when first asked for, so that importing
    the runtime never imports redis."""
    if name == "RedisState":
        from .redisstate import RedisState

        return RedisState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
