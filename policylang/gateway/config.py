"""The serve config (section 14): a TOML file naming the policies to serve, where each signal
comes from, the upstreams, the client keys, the shared state, the log and the request limits.

`read(path)` parses and validates the file's shape; `for_route(path)` is the config a bare
`.route` file is served with. Every problem is a `ConfigError` whose messages are located
(`file:line: message`), like `policyc lint`'s; nothing in the file is ever executed.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from .signals import EXTRACTORS

SOURCE_KINDS = ("header", "metadata", "request", "key", "extract", "value")
"""Where a signal may come from: a request header, a key of the request's `metadata` object, a
top-level field of the request (`user`, `temperature`...), an attribute of the caller's key, a
built-in extractor over the chat request, or a constant."""


class ConfigError(Exception):
    """A config that cannot be served: `messages` are located (`file:line: message`)."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class Source:
    """Where one signal comes from: `kind` one of SOURCE_KINDS, `name` the header, key,
    attribute or extractor name (for `value`, the constant itself)."""

    signal: str
    kind: str
    name: Any
    line: int


@dataclass(frozen=True)
class Upstream:
    """An OpenAI-compatible endpoint for the models whose id starts with `prefix`: the id less
    the prefix is the model sent. The key is read from the environment variable `api_key_env`
    (its value is never stored in the config, logged or echoed)."""

    prefix: str
    base_url: str
    api_key_env: str | None
    timeout: float
    max_tokens_param: str
    line: int


@dataclass(frozen=True)
class ClientKey:
    """A caller: the sha256 (hex) of its bearer token, its attributes, an optional budget in
    dollars and an optional request rate (requests per minute)."""

    sha256: str
    name: str
    attributes: dict[str, Any]
    budget: Decimal | None
    rpm: int | None
    line: int


@dataclass(frozen=True)
class Limits:
    """Request limits; the defaults are documented in docs/serve.md."""

    max_body_bytes: int = 4 * 1024 * 1024
    max_messages: int = 2048
    max_header_bytes: int = 16 * 1024
    idle_timeout: float = 30.0
    total_timeout: float = 600.0
    keep_alive: float = 5.0
    drain_timeout: float = 30.0


@dataclass(frozen=True)
class PolicyEntry:
    """A served policy: a client names it as its `model`."""

    name: str
    file: str
    line: int


@dataclass(frozen=True)
class Config:
    """A validated serve config. Paths are absolute, resolved next to the config file."""

    path: str
    policies: dict[str, PolicyEntry]
    signals: dict[str, Source]
    upstreams: tuple[Upstream, ...]
    keys: dict[str, ClientKey]
    redis: str | None = None
    log_path: str | None = None
    limits: Limits = field(default_factory=Limits)
    retries: int = 2
    reload_interval: float = 2.0
    route_defaults: bool = False
    metrics: bool = True

    def upstream_for(self, model_id: str) -> Upstream | None:
        """The upstream of the longest prefix `model_id` starts with, or None."""
        best: Upstream | None = None
        for upstream in self.upstreams:
            if model_id.startswith(upstream.prefix) and (best is None or len(upstream.prefix) > len(best.prefix)):
                best = upstream
        return best


_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


class _Lines:
    """Where a key sits in the TOML text: tomllib gives no positions, so the text is scanned
    for the table headers and the keys under them."""

    def __init__(self, text: str) -> None:
        self.entries: list[tuple[str, int, str, int]] = []  # (table, occurrence, key, line)
        self.tables: list[tuple[str, int, int]] = []
        table, counts = "", {}  # type: str, dict[str, int]
        for number, line in enumerate(text.splitlines(), 1):
            header = _TABLE.match(line)
            if header and not _KEY.match(line):
                table = ".".join(part.strip().strip("\"'") for part in header.group(1).split("."))
                counts[table] = counts.get(table, -1) + 1
                self.tables.append((table, counts[table], number))
                continue
            key = _KEY.match(line)
            if key:
                self.entries.append((table, counts.get(table, 0), key.group(1).strip("\"'"), number))

    def of(self, table: str, key: str | None = None, occurrence: int = 0) -> int:
        """The line of `key` in `table` (or of the table's header), 1 when not found."""
        if key is not None:
            for t, o, k, number in self.entries:
                if t == table and o == occurrence and k == key:
                    return number
            dotted = f"{table.split('.')[-1]}" if "." in table else None
            for t, o, k, number in self.entries:  # `[policies] desk = {...}` or `desk.file = ...`
                if dotted is not None and t == table.rsplit(".", 1)[0] and k.split(".")[0] == dotted:
                    return number
        for t, o, number in self.tables:
            if t == table and o == occurrence:
                return number
        return 1


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip().removeprefix("$").replace("_", "")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            return None
        return amount if amount.is_finite() and amount >= 0 else None
    return None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value > 0 else None


def read(path: str) -> Config:
    """The config in the TOML file at `path`, its shape validated (the policies are not loaded
    here: `gateway.state.build` loads them and checks the signals against them). ConfigError,
    located, for anything wrong; OSError never escapes (it becomes a ConfigError)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the config: {exc.strerror or exc}"]) from None
    try:
        text = data.decode("utf-8")
        document = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError([f"{path}:1: the config is not UTF-8"]) from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_of(str(exc))
        raise ConfigError([f"{path}:{line}: not valid TOML: {str(exc).split(' (at line')[0]}"]) from None
    return _Reader(path, text, document).config()


def _line_of(message: str) -> int:
    found = re.search(r"at line (\d+)", message)
    return int(found.group(1)) if found else 1


class _Reader:
    def __init__(self, path: str, text: str, document: dict[str, Any]) -> None:
        self.path = os.path.abspath(path)
        self.shown = path
        self.lines = _Lines(text)
        self.document = document
        self.errors: list[str] = []

    def error(self, line: int, message: str) -> None:
        self.errors.append(f"{self.shown}:{line}: {message}")

    def config(self) -> Config:
        known = {"policies", "signals", "upstreams", "keys", "state", "log", "limits", "router", "reload", "metrics"}
        for name in self.document:
            if name not in known:
                self.error(self.lines.of(name),
                           f"unknown section [{name}]; the sections are {', '.join(sorted(known))}")
        config = Config(path=self.path, policies=self.policies(), signals=self.signals(), upstreams=self.upstreams(),
                        keys=self.keys(), redis=self.state(), log_path=self.log(), limits=self.limits(),
                        retries=self.router(), reload_interval=self.reload(), metrics=self.metrics())
        if self.errors:
            raise ConfigError(self.errors)
        return config

    def table(self, name: str) -> dict[str, Any]:
        value = self.document.get(name, {})
        if not isinstance(value, dict):
            self.error(self.lines.of(name), f"[{name}] must be a table")
            return {}
        return value

    def policies(self) -> dict[str, PolicyEntry]:
        entries: dict[str, PolicyEntry] = {}
        table = self.table("policies")
        if not table:
            self.error(self.lines.of("policies"), "no policy to serve: add [policies.NAME] with file = \"x.route\"")
        for name, body in table.items():
            line = self.lines.of(f"policies.{name}", "file")
            if not isinstance(body, dict) or not isinstance(body.get("file"), str):
                self.error(line, f"policy {name!r} needs file = \"path.route\"")
                continue
            extra = set(body) - {"file"}
            if extra:
                self.error(line, f"policy {name!r}: unknown field(s) {', '.join(sorted(extra))}")
            entries[name] = PolicyEntry(name, self.resolve(body["file"]), line)
        return entries

    def resolve(self, file: str) -> str:
        return os.path.normpath(os.path.join(os.path.dirname(self.path), os.path.expanduser(file)))

    def signals(self) -> dict[str, Source]:
        sources: dict[str, Source] = {}
        for signal, body in self.table("signals").items():
            line = self.lines.of("signals", signal)
            if not isinstance(body, dict) or len(body) != 1:
                self.error(line, f"signal {signal!r} needs exactly one source: "
                                 f"{{ {' | '.join(k + ' = ...' for k in SOURCE_KINDS)} }}")
                continue
            (kind, name), = body.items()
            if kind not in SOURCE_KINDS:
                self.error(line, f"signal {signal!r}: unknown source {kind!r}; the sources are "
                                 f"{', '.join(SOURCE_KINDS)}")
                continue
            if kind == "extract" and name not in EXTRACTORS:
                self.error(line, f"signal {signal!r}: unknown extractor {name!r}; the extractors are "
                                 f"{', '.join(sorted(EXTRACTORS))}")
                continue
            if kind != "value" and (not isinstance(name, str) or not name):
                self.error(line, f"signal {signal!r}: {kind} must name a non-empty string")
                continue
            sources[signal] = Source(signal, kind, name.lower() if kind == "header" else name, line)
        return sources

    def upstreams(self) -> tuple[Upstream, ...]:
        upstreams: list[Upstream] = []
        for prefix, body in self.table("upstreams").items():
            line = self.lines.of("upstreams", prefix)
            if not isinstance(body, dict) or not isinstance(body.get("base_url"), str):
                self.error(line, f"upstream {prefix!r} needs base_url = \"http(s)://host/v1\"")
                continue
            unknown = set(body) - {"base_url", "api_key_env", "timeout", "max_tokens_param"}
            if unknown:
                self.error(line, f"upstream {prefix!r}: unknown field(s) {', '.join(sorted(unknown))}")
            base_url = body["base_url"].rstrip("/")
            if not base_url.startswith(("http://", "https://")):
                self.error(line, f"upstream {prefix!r}: base_url must start with http:// or https://")
            env = body.get("api_key_env")
            if env is not None and (not isinstance(env, str) or not env):
                self.error(line, f"upstream {prefix!r}: api_key_env names an environment variable")
                env = None
            timeout = _seconds(body.get("timeout", 60))
            if timeout is None:
                self.error(line, f"upstream {prefix!r}: timeout is a positive number of seconds")
                timeout = 60.0
            param = body.get("max_tokens_param", "max_tokens")
            if param not in ("max_tokens", "max_completion_tokens"):
                self.error(line, f"upstream {prefix!r}: max_tokens_param is max_tokens or max_completion_tokens")
                param = "max_tokens"
            upstreams.append(Upstream(prefix, base_url, env, timeout, param, line))
        return tuple(upstreams)

    def keys(self) -> dict[str, ClientKey]:
        keys: dict[str, ClientKey] = {}
        value = self.document.get("keys", [])
        if not isinstance(value, list):
            self.error(self.lines.of("keys"), "keys are an array of tables: [[keys]]")
            return keys
        for index, body in enumerate(value):
            line = self.lines.of("keys", None, index)
            digest = body.get("sha256") if isinstance(body, dict) else None
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
                self.error(line, "a key needs sha256 = \"<64 hex digits>\" (the sha256 of the bearer token, "
                                 "never the token itself)")
                continue
            digest = digest.lower()
            if digest in keys:
                self.error(line, f"the key {digest[:12]}... is listed twice")
                continue
            budget = None
            if "budget" in body:
                budget = _money(body["budget"])
                if budget is None:
                    self.error(line, "budget is money: \"$5\" or \"5.00\" (>= 0)")
            rpm = body.get("rpm")
            if rpm is not None and (isinstance(rpm, bool) or not isinstance(rpm, int) or rpm <= 0):
                self.error(line, "rpm is a positive whole number of requests per minute")
                rpm = None
            attributes = {k: v for k, v in body.items() if k not in ("sha256", "budget", "rpm", "name")}
            name = body.get("name") if isinstance(body.get("name"), str) else digest[:12]
            keys[digest] = ClientKey(digest, name, attributes, budget, rpm, line)
        return keys

    def state(self) -> str | None:
        table = self.table("state")
        redis = table.get("redis")
        schemes = ("redis://", "rediss://", "unix://")
        if redis is not None and (not isinstance(redis, str) or not redis.startswith(schemes)):
            self.error(self.lines.of("state", "redis"), "redis is a URL: redis://host:6379/0")
            return None
        return redis

    def log(self) -> str | None:
        path = self.table("log").get("path")
        if path is not None and not isinstance(path, str):
            self.error(self.lines.of("log", "path"), "log path is a file name")
            return None
        return self.resolve(path) if path else None

    def limits(self) -> Limits:
        table = self.table("limits")
        defaults = Limits()
        values: dict[str, Any] = {}
        for name, given in table.items():
            line = self.lines.of("limits", name)
            if not hasattr(defaults, name):
                self.error(line, f"unknown limit {name!r}; the limits are {', '.join(Limits.__dataclass_fields__)}")
                continue
            integer = isinstance(getattr(defaults, name), int)
            if isinstance(given, bool) or not isinstance(given, (int, float)) or given <= 0 or \
                    (integer and not isinstance(given, int)):
                self.error(line, f"limit {name!r} is a positive {'whole number' if integer else 'number of seconds'}")
                continue
            values[name] = given if integer else float(given)
        return Limits(**values)

    def router(self) -> int:
        retries = self.table("router").get("retries", 2)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            self.error(self.lines.of("router", "retries"), "retries is a whole number 0..10")
            return 2
        return retries

    def metrics(self) -> bool:
        enabled = self.table("metrics").get("enabled", True)
        if not isinstance(enabled, bool):
            self.error(self.lines.of("metrics", "enabled"), "metrics enabled is true or false")
            return True
        return enabled

    def reload(self) -> float:
        interval = self.table("reload").get("interval", 2.0)
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
            self.error(self.lines.of("reload", "interval"), "reload interval is seconds >= 0 (0: no reload)")
            return 2.0
        return float(interval)


def for_route(path: str) -> Config:
    """The config a bare `.route` file is served with (docs/serve.md): the policy under its own
    name; every model id to the upstream in OPENAI_BASE_URL (default OpenAI's) with the key in
    OPENAI_API_KEY; no keys; no log. The signal sources follow from the policy's signals
    (`with_sources`, once it is loaded)."""
    absolute = os.path.abspath(path)
    base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
    upstream = Upstream("", base_url, "OPENAI_API_KEY", 60.0, "max_tokens", 0)
    return Config(path=absolute, policies={"": PolicyEntry("", absolute, 0)}, signals={}, upstreams=(upstream,),
                  keys={}, route_defaults=True)


def with_sources(config: Config, name: str, signals: dict[str, Any]) -> Config:
    """A `.route` file's config once its policy is loaded: served as `name`; each declared
    signal that a built-in extractor knows comes from that extractor, every other from the
    request's `metadata` under the signal's own name."""
    sources = {signal: Source(signal, "extract" if signal in EXTRACTORS else "metadata", signal, 0)
               for signal in signals if signal != "remaining_budget"}
    return replace(config, policies={name: PolicyEntry(name, config.path, 0)}, signals=sources)
