"""What one worker serves: the config's policies loaded and checked against the config, each
with its runtime `Router` on the gateway's upstream call, built whole or not at all.

`build(path)` is called at start (errors stop `serve`, exit 1) and at each hot reload (errors
keep the last good version serving). A config and its policies are checked together: a policy
with errors, a signal source for a signal no served policy declares, a signal a policy requires
that has no source, a model whose id no upstream prefix matches, an upstream key variable that is
not set; each a located message.
"""

from __future__ import annotations

import contextvars
import hashlib
import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..diagnostics import render_text
from ..policy import Policy, PolicyError, load
from ..runtime import Breaker, Retry, Router, Session
from . import config as configs
from .config import ClientKey, Config, ConfigError
from .keys import Keys
from .signals import TOKEN_COUNTER, Plan
from .upstream import GatewayCall

logger = logging.getLogger("policylang.gateway")

REQUEST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("policylang_gateway_request",
                                                                                default=None)
"""The gateway's fields for the decision record of the run in progress (key, request id...)."""


@dataclass
class Policy_:
    """One served policy: the name clients ask for, the policy, its Router and signal plan."""

    name: str
    policy: Policy
    router: Router
    plan: Plan
    sessions: dict[str, Session] = field(default_factory=dict)

    def session(self, key: ClientKey, state: Any) -> Session | None:
        """The key's budget on this policy (None: the key has no budget)."""
        if key.budget is None:
            return None
        session = self.sessions.get(key.sha256)
        if session is None:
            session = _session(self.router, key.budget, key.sha256, state)
            self.sessions[key.sha256] = session
        return session


def _session(router: Router, budget: Decimal, key: str, state: Any) -> Session:
    parameters = inspect.signature(Session).parameters
    if "key" in parameters:  # 13.2: the budget in the runtime's state, shared by every Session of the key
        return Session(router, budget, key=f"gateway:{key}", state=state)
    return Session(router, budget)


@dataclass
class Served:
    """A loaded config: the policies by name, the keys, the upstream call, and the files whose
    contents it was built from (for hot reload)."""

    config: Config
    policies: dict[str, Policy_]
    keys: Keys
    call: GatewayCall
    fingerprint: str
    files: tuple[str, ...]
    state: Any = None
    needs_headers: bool = True


def fingerprint(files: tuple[str, ...]) -> str:
    """The sha256 over the contents of `files` (a missing file reads as empty)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.encode("utf-8") + b"\0")
        try:
            with open(path, "rb") as handle:
                digest.update(handle.read())
        except OSError:
            digest.update(b"\0missing")
    return digest.hexdigest()


def read_config(path: str) -> Config:
    """The config at `path`: a TOML serve config, or a `.route` file served with the defaults
    of `config.for_route`."""
    if path.endswith(".route"):
        return configs.for_route(path)
    return configs.read(path)


def build(path: str, *, log: Callable[[dict[str, Any]], Any] | None = None, metrics: Any = None,
          state: Any = None, shadow: tuple[str, ...] = ()) -> Served:
    """Load the config at `path` and every policy it names, check them against each other, and
    build a Router per policy, each with the policies of the `shadow` files as its `shadow=`
    candidates (spec section 15: they decide each request for the log only). ConfigError with
    every located problem."""
    config = read_config(path)
    errors: list[str] = []
    candidates: list[Policy] = []
    for file in shadow:
        try:
            candidates.append(load(file, warnings=False))
        except PolicyError as exc:
            errors.append(f"--shadow {file} has errors:\n"
                          + render_text([d for d in exc.diagnostics if d.is_error], exc.sources))
        except OSError as exc:
            errors.append(f"--shadow {file}: cannot read it ({exc.strerror or exc})")
    policies: dict[str, Policy] = {}
    for name, entry in config.policies.items():
        try:
            policies[name] = load(entry.file, warnings=False)
        except PolicyError as exc:
            where = f"{config.path}:{entry.line}: " if entry.line else ""
            errors.append(f"{where}policy {name!r} ({entry.file}) has errors:\n"
                          + render_text([d for d in exc.diagnostics if d.is_error], exc.sources))
    if config.route_defaults:
        policy = policies.pop("", None)
        if policy is not None:
            policies[policy.name] = policy
            config = configs.with_sources(config, policy.name, policy.compiled.SIGNALS)
    if errors:
        raise ConfigError(errors)
    errors.extend(_cross_check(config, policies))
    if errors:
        raise ConfigError(errors)
    call = GatewayCall(config)
    router_options = _router_options(log, metrics, state)
    served = {}
    for name, policy in policies.items():
        router = Router(policy, call, log=log, retry=Retry(attempts=config.retries + 1, cap=8.0), breaker=Breaker(),
                        shadow=candidates or None, **router_options)
        served[name] = Policy_(name, policy, router, Plan(config.signals, policy.compiled.SIGNALS))
    files = [config.path] + sorted({os.path.abspath(p) for policy in [*policies.values(), *candidates]
                                    for p in policy.sources if not p.startswith("std/") and os.path.exists(p)})
    logger.info("input_tokens counted by %s", TOKEN_COUNTER)
    needs_headers = any(source.kind == "header" for source in config.signals.values())
    return Served(config, served, Keys(config), call, fingerprint(tuple(files)), tuple(files), state, needs_headers)


def _router_options(log: Any, metrics: Any, state: Any) -> dict[str, Any]:
    """The Router's optional 13.2/13.3 wiring, passed only where this runtime has it."""
    parameters = inspect.signature(Router).parameters
    options: dict[str, Any] = {}
    if metrics is not None and "metrics" in parameters:
        options["metrics"] = metrics
    if state is not None and "state" in parameters:
        options["state"] = state
    return options


def _cross_check(config: Config, policies: dict[str, Policy]) -> list[str]:
    errors: list[str] = []
    shown = config.path
    declared: dict[str, dict[str, Any]] = {name: policy.compiled.SIGNALS for name, policy in policies.items()}
    for signal, source in config.signals.items():
        if not any(signal in signals for signals in declared.values()):
            errors.append(f"{shown}:{source.line}: signal {signal!r} has a source but no served policy declares it "
                          f"(declared: {', '.join(sorted(set().union(*declared.values()))) or 'none'})")
        if source.kind == "key" and config.keys and not any(source.name in k.attributes for k in config.keys.values()):
            errors.append(f"{shown}:{source.line}: signal {signal!r} reads key attribute {source.name!r}, "
                          "which no key has")
    for name, signals in declared.items():
        line = config.policies[name].line if name in config.policies else 0
        for signal, spec in signals.items():
            if spec.get("required") and signal not in config.signals and signal != "remaining_budget":
                errors.append(f"{shown}:{line}: policy {name!r} requires signal {signal!r}, which has no source in "
                              "[signals]: every request would be refused (R001)")
        for model in policies[name].compiled.MODELS.values():
            upstream = config.upstream_for(model["id"])
            if upstream is None:
                errors.append(f"{shown}:{line}: policy {name!r}: no upstream serves model id {model['id']!r}; add "
                              "an [upstreams] entry whose prefix it starts with")
            elif upstream.api_key_env and not config.route_defaults and upstream.api_key_env not in os.environ:
                errors.append(f"{shown}:{upstream.line}: upstream {upstream.prefix!r}: the environment variable "
                              f"{upstream.api_key_env} is not set")
    return sorted(set(errors), key=errors.index)
