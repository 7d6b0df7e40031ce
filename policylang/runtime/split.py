"""Canaries and shadows (section 15): `runtime.Split` sends each request to one of several
policies by a stable hash of a signal's value; a Router's `shadow=` policies decide each
request too, for the log only.

The hash is SHA-256 of the value's canonical JSON text, so the same value picks the same arm
in every process, on every host, in every Python version (Python's own `hash()` of a str is
salted per process). The arms split [0, 1) by their weights, in the order given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..policy import RequestError
from .engine import PolicyEngine, engine_of

_SCALE = float(2**64)


class Split:
    """A policy for a Router that picks one of `arms` (`{policy: weight}`, each a `Policy` or
    a compiled module, weights positive numbers) per request by a stable hash of the value of
    signal `key`. A request without that signal goes to the first arm. The run's record says
    which arm served it (`"arm"`: the arm policy's name, with `@` and the first 12 hex digits
    of its source's SHA-256 when two arms share a name)."""

    def __init__(self, arms: Mapping[Any, int | float | Decimal], *, key: str) -> None:
        if not isinstance(key, str) or not key:
            raise TypeError("Split(..., key=...) names the signal whose value picks the arm")
        if not arms:
            raise ValueError("a Split needs at least one arm: Split({policy: weight, ...}, key=...)")
        engines: list[PolicyEngine] = []
        weights: list[float] = []
        for policy, weight in arms.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float, Decimal)) or not weight > 0 \
                    or weight != weight or weight == float("inf"):
                raise ValueError(f"a Split's weights are positive finite numbers, not {weight!r}")
            engines.append(engine_of(policy))
            weights.append(float(weight))
        names = [e.name for e in engines]
        self.key = key
        self.engines = tuple(engines)
        self.arms = tuple(n if names.count(n) == 1 else f"{n}@{e.sha256[:12]}" for n, e in zip(names, engines))
        total = sum(weights)
        bounds, running = [], 0.0
        for weight in weights:
            running += weight / total
            bounds.append(running)
        bounds[-1] = 1.0
        self._bounds = tuple(bounds)

    def pick(self, signals: Mapping[str, Any]) -> tuple[PolicyEngine, str]:
        """The engine and arm name for a request: the same key value, the same arm, anywhere."""
        if self.key not in signals:
            return self.engines[0], self.arms[0]
        point = share(signals[self.key])
        for index, bound in enumerate(self._bounds):
            if point < bound:
                return self.engines[index], self.arms[index]
        return self.engines[-1], self.arms[-1]


def share(value: Any) -> float:
    """A value's place in [0, 1): the first 8 bytes of the SHA-256 of its canonical JSON."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def shadows(policies: Any) -> tuple[PolicyEngine, ...]:
    """The engines of a Router's `shadow=` policies (a list of `Policy` or compiled modules)."""
    if policies is None:
        return ()
    return tuple(engine_of(policy) for policy in policies)


def decide_shadows(engines: tuple[PolicyEngine, ...], signals: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What each shadow policy decides for these signals, as the log writes it. Never raises:
    a shadow's request error (or any failure) is written into its entry."""
    entries = []
    for engine in engines:
        entry: dict[str, Any] = {"policy": engine.name, "policy_sha256": engine.sha256, "rule": None, "decision": None}
        try:
            decision = engine.decide(signals)
            entry["rule"], entry["decision"] = decision.rule, decision.as_dict()
        except RequestError as exc:
            entry["error"] = {"type": "request_error", "code": exc.code, "signal": exc.signal, "message": exc.message}
        except Exception as exc:  # noqa: BLE001 - a shadow never reaches the app
            entry["error"] = {"type": type(exc).__name__, "message": str(exc)}
        entries.append(entry)
    return entries
