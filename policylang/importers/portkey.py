"""`policyc import portkey`: a Portkey gateway config (JSON) as a `.route` policy.

What the config means, per Portkey's documentation (portkey.ai/docs/product/ai-gateway/configs,
.../fallbacks, .../load-balancing, .../conditional-routing):

- A **target** is a provider and model (`provider` or `virtual_key`, and
  `override_params.model`), or itself a config with a `strategy` and `targets` (nesting).
  A target whose `provider/model` is in std/catalog copies that model; Portkey's config carries
  no prices, context windows or output caps, so any other model says so in a TODO.
- `strategy.mode: "fallback"`: the targets in order; the next serves when one fails with a
  status code of `strategy.on_status_codes` (any error when none is given): 429 is the
  policy's `rate_limited`, 408 and 504 `timeout`, 502 and 503 `unavailable`, other 5xx
  `server_error`; a 4xx other than 408 and 429 is no provider failure a policy names.
- `strategy.mode: "loadbalance"`: each target with probability weight / total weight
  (`weight`, 1 when not given). Portkey draws at random; the policy reads the draw as a
  signal, `draw` (a float in 0..1 the app draws uniformly), and target i serves where
  `draw * total` falls in [w1 + ... + w(i-1), w1 + ... + wi), as Portkey's walk over the
  weights does.
- `strategy.mode: "conditional"`: `conditions` in order, each a `query` over the request's
  `metadata.KEY` (or `params.KEY`) with `$eq` (also a bare value), `$ne`, `$in`, `$nin`,
  `$gt`, `$gte`, `$lt`, `$lte`, `$and`, `$or`, and `then` naming a target; the first that
  holds decides, else `default`. Each key is a signal: numeric where it is compared by order
  or with numbers, bool with booleans, else an enum of the values the config names plus
  `other` (any other value, or none: the default).

Every other key (retries, caching, credentials, call parameters, ...) is named in a TODO line
saying why it is not carried over (`reasons.portkey_reason`), and every number is checked first
(`ledger.survey`, `reasons.check_numbers`). Nothing in the config is executed; names become
identifiers and strings quoted literals.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .draft import ERRORS, ConfigError, Draft, DraftModel, Imported, Names, Rule, catalog, described, identifier, quoted
from .ledger import Ledger, survey
from .reasons import check_numbers, portkey_reason

STATUS_ERRORS = {429: "rate_limited", 408: "timeout", 504: "timeout", 502: "unavailable", 503: "unavailable"}
ORDER_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
OPERATORS = {"$eq", "$ne", "$in", "$nin", *ORDER_OPERATORS}
OTHER = "other"


def status_error(code: int) -> str | None:
    """The error of section 3.6 a provider's HTTP status stands for, or None."""
    if code in STATUS_ERRORS:
        return STATUS_ERRORS[code]
    return "server_error" if 500 <= code <= 599 else None


@dataclass
class _Key:
    """A metadata or params key that a query reads, and what it is compared with."""

    path: str
    signal: str
    values: list[Any] = field(default_factory=list)
    ordered: bool = False
    members: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if all(isinstance(v, bool) for v in self.values) and self.values and not self.ordered:
            return "bool"
        if self.ordered or any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values):
            numbers = [v for v in self.values if not isinstance(v, bool)]
            return "int" if all(isinstance(v, int) for v in numbers) else "float"
        return "enum"


@dataclass
class _Node:
    """One target of the config tree: a model (leaf) or a strategy over targets."""

    where: str
    mode: str
    name: str | None
    model: str | None = None
    children: list[_Node] = field(default_factory=list)
    weights: list[Decimal] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict)


class _Importer:
    def __init__(self, config: Mapping[str, Any], name: str, source: str) -> None:
        self.draft = Draft(identifier(name, "p"), [
            f"Imported by `policyc import portkey` from {source}, a Portkey gateway config.",
        ])
        self.config = config
        self.names = Names()
        self.rule_names = Names()
        self.keys: dict[str, _Key] = {}
        self.draws = 0
        self.leaves: dict[int, str] = {}
        found = survey(config, "config")
        check_numbers(found)
        self.ledger = Ledger(found)
        self.ledger.use(*(path for path, entry in found.items() if entry.key == "//"))  # JSON's stand-in comment

    # ---- the tree ------------------------------------------------------------------------------------

    def node(self, raw: Any, where: str) -> _Node:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected a target object")
        strategy = raw.get("strategy")
        if strategy is None:
            return self.leaf(raw, where)
        if not isinstance(strategy, Mapping) or not isinstance(strategy.get("mode"), str):
            raise ConfigError(f"{where}.strategy: expected {{\"mode\": \"fallback\"|\"loadbalance\"|\"conditional\"}}")
        mode = strategy["mode"]
        self.ledger.use(f"{where}.strategy.mode", f"{where}.name")
        self.ledger.open(f"{where}.strategy", f"{where}.targets")
        targets = raw.get("targets")
        if not isinstance(targets, list) or not targets:
            raise ConfigError(f"{where}.targets: a {mode} strategy needs a list of targets")
        node = _Node(where, mode, raw.get("name"), raw=raw)
        node.children = [self.node(t, f"{where}.targets[{i}]") for i, t in enumerate(targets)]
        if mode == "loadbalance":
            for i, target in enumerate(targets):
                self.ledger.use(f"{where}.targets[{i}].weight")
                weight = target.get("weight", 1)
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                    raise ConfigError(f"{where}.targets[{i}].weight: expected a number >= 0")
                node.weights.append(Decimal(repr(weight)) if isinstance(weight, float) else Decimal(weight))
            if not any(node.weights):
                raise ConfigError(f"{where}: every weight is 0, so no target can serve")
        elif mode == "fallback":
            self.ledger.use(f"{where}.strategy.on_status_codes")
        elif mode == "conditional":
            self.ledger.use(f"{where}.strategy.conditions", f"{where}.strategy.default")
        elif mode != "single":
            raise ConfigError(f"{where}.strategy.mode: {mode!r} is not fallback, loadbalance or conditional")
        return node

    def leaf(self, raw: Mapping[str, Any], where: str) -> _Node:
        override = raw.get("override_params") or {}
        if not isinstance(override, Mapping):
            raise ConfigError(f"{where}.override_params: expected an object")
        self.ledger.use(*(f"{where}.{key}" for key in ("provider", "virtual_key", "provider_slug", "name",
                                                       "override_params.model")))
        self.ledger.open(f"{where}.override_params")
        model = override.get("model")
        provider = raw.get("provider") or raw.get("virtual_key") or raw.get("provider_slug")
        if isinstance(model, str) and model.startswith("@") and "/" in model:
            provider, model = model[1:].split("/", 1)
        if not isinstance(model, str) or not model:
            self.draft.todo(f"{where}: the target names no override_params.model, so Portkey calls the model the "
                            "request names; the policy needs one model here")
            model = "unknown"
        if not isinstance(provider, str) or not provider:
            raise ConfigError(f"{where}: expected a provider (provider, virtual_key or @provider/model)")
        return _Node(where, "leaf", raw.get("name"), model=f"{provider}/{model}", raw=raw)

    # ---- models ---------------------------------------------------------------------------------------

    def model_of(self, node: _Node) -> str:
        """The policy's model for a leaf, declared the first time."""
        if id(node) in self.leaves:
            return self.leaves[id(node)]
        assert node.model is not None
        label = node.name or node.raw.get("virtual_key") or node.model.split("/", 1)[-1]
        name = self.names.new(label, "m")
        self.rule_names.taken.add(name)
        self.leaves[id(node)] = name
        known = catalog().get(node.model)
        model = DraftModel(name, node.model, origin=f"{node.where}: {node.model}")
        if known is not None:
            model.base = known.name
        else:
            model.fields["id"] = quoted(node.model)
            model.missing.append("tier, input_per_mtok, output_per_mtok, context, max_output, latency: Portkey's "
                                 f"config does not carry them for {node.model}")
            self.draft.todo(f"model {name}: give tier, input_per_mtok, output_per_mtok, context, max_output and "
                            f"latency ({node.model} is not in std/catalog)")
        self.draft.models.append(model)
        return name

    def leaves_of(self, node: _Node) -> list[str]:
        if node.mode == "leaf":
            return [self.model_of(node)]
        return [m for child in node.children for m in self.leaves_of(child)]

    def entry(self, node: _Node, why: str) -> str:
        """The one model a fallback to `node` reaches."""
        if node.mode == "leaf":
            return self.model_of(node)
        first = node.children[0]
        if node.mode == "conditional":
            first = self.target(node, node.raw["strategy"].get("default"), f"{node.where}.strategy.default")
        self.draft.todo(f"{why}: a fallback reaches one model, so it goes to {node.where}'s first target; "
                        f"Portkey applies that target's {node.mode} strategy")
        return self.entry(first, why)

    def target(self, node: _Node, name: Any, where: str) -> _Node:
        for child in node.children:
            if child.name == name:
                return child
        raise ConfigError(f"{where}: {name!r} names no target of {node.where}")

    # ---- rules ----------------------------------------------------------------------------------------

    def rules(self, node: _Node, condition: str | None) -> None:
        """Rules sending every request that meets `condition` (None: all) where `node` does;
        the last of them takes all the rest."""
        match node.mode:
            case "leaf":
                self.rule(condition, self.model_of(node))
            case "fallback":
                self.fallbacks(node)
                self.rules(node.children[0], condition)
            case "single":
                self.rules(node.children[0], condition)
            case "loadbalance":
                self.loadbalance(node, condition)
            case "conditional":
                self.conditional(node, condition)

    def rule(self, condition: str | None, model: str, note: str = "") -> None:
        if condition is None:
            self.draft.default = Rule("default", "", model, note)
        else:
            self.draft.rules.append(Rule(self.rule_names.new(f"to_{model}"), condition, model, note))

    def fallbacks(self, node: _Node) -> None:
        codes = node.raw["strategy"].get("on_status_codes")
        errors: tuple[str, ...]
        if codes is None:
            errors = ERRORS
        else:
            if not isinstance(codes, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
                raise ConfigError(f"{node.where}.strategy.on_status_codes: expected a list of HTTP status codes")
            errors = tuple(dict.fromkeys(e for e in ERRORS if e in {status_error(c) for c in codes}))
            dropped = [str(c) for c in codes if status_error(c) is None]
            if dropped:
                self.draft.todo(f"{node.where}: on_status_codes {', '.join(dropped)} are not provider failures a "
                                "policy's fallback names (it takes unavailable, rate_limited, timeout, "
                                "server_error, content_filtered); those responses are not carried over")
        if not errors:
            return
        for one, two in zip(node.children, node.children[1:]):
            target = self.entry(two, f"{node.where}")
            for source in self.leaves_of(one):
                self.draft.fallback(source, target, errors, f"{node.where}: fallback")

    def loadbalance(self, node: _Node, condition: str | None) -> None:
        self.draws += 1
        draw = "draw" if self.draws == 1 else f"draw_{self.draws}"
        self.draft.signals.append((draw, "float in 0.0..1.0",
                                   f"{node.where}: loadbalance; the app draws it uniformly in [0, 1)"))
        total = sum(node.weights, Decimal(0))
        cumulative = Decimal(0)
        live = [(child, w) for child, w in zip(node.children, node.weights) if w > 0]
        for k, (child, weight) in enumerate(live):
            cumulative += weight
            if k == len(live) - 1:
                self.rules(child, condition)
                break
            share = f"{draw} * {_decimal(total)} < {_decimal(cumulative)}"
            self.rules(child, f"{condition} and {share}" if condition else share)
        if len(live) < len(node.children):
            self.draft.todo(f"{node.where}: targets of weight 0 never serve and are left out")

    def conditional(self, node: _Node, condition: str | None) -> None:
        strategy = node.raw["strategy"]
        conditions = strategy.get("conditions")
        if not isinstance(conditions, list):
            raise ConfigError(f"{node.where}.strategy.conditions: expected a list of {{query, then}}")
        default = self.target(node, strategy.get("default"), f"{node.where}.strategy.default")
        for i, entry in enumerate(conditions):
            where = f"{node.where}.strategy.conditions[{i}]"
            if not isinstance(entry, Mapping) or "query" not in entry or "then" not in entry:
                raise ConfigError(f"{where}: expected {{\"query\": {{...}}, \"then\": TARGET}}")
            chosen = self.target(node, entry["then"], f"{where}.then")
            try:
                test = self.query(entry["query"], f"{where}.query")
            except _Unsupported as exc:
                self.draft.todo(f"{where}: {exc}; this condition is left out, so its requests go on to the next")
                continue
            if chosen is default and default.mode == "leaf":
                continue  # the default decides these requests the same way
            self.rules(chosen, f"{condition} and ({test})" if condition else test)
        self.rules(default, condition)

    # ---- queries --------------------------------------------------------------------------------------

    def key(self, path: str, where: str) -> _Key:
        found = self.keys.get(path)
        if found is None:
            if path.startswith("metadata."):
                label = path[len("metadata."):]
            elif path.startswith("params."):
                label = "param_" + path[len("params."):]
            else:
                raise _Unsupported(f"{path!r} is neither metadata.KEY nor params.KEY")
            found = _Key(path, self.names.new(label, "k"))
            self.rule_names.taken.add(found.signal)
            self.keys[path] = found
        return found

    def survey(self, query: Any, where: str) -> None:
        """Note every key a query reads and what it is compared with (to type the signals)."""
        if not isinstance(query, Mapping):
            raise ConfigError(f"{where}: expected a query object")
        for path, test in query.items():
            if path in ("$and", "$or"):
                if not isinstance(test, list):
                    raise ConfigError(f"{where}.{path}: expected a list of queries")
                for i, q in enumerate(test):
                    self.survey(q, f"{where}.{path}[{i}]")
                continue
            try:
                key = self.key(path, where)
            except _Unsupported:
                continue
            tests = test if isinstance(test, Mapping) else {"$eq": test}
            for op, value in tests.items():
                if op in ORDER_OPERATORS:
                    key.ordered = True
                for v in value if isinstance(value, list) and op in ("$in", "$nin") else [value]:
                    if op in OPERATORS and not isinstance(v, (Mapping, list)) and v is not None:
                        key.values.append(v)

    def query(self, query: Mapping[str, Any], where: str) -> str:
        parts = []
        for path, test in query.items():
            if path in ("$and", "$or"):
                if not isinstance(test, list) or not test:
                    raise ConfigError(f"{where}.{path}: expected a non-empty list of queries")
                joined = f" {path[1:]} ".join(f"({self.query(q, f'{where}.{path}[{i}]')})"
                                              for i, q in enumerate(test))
                parts.append(joined)
                continue
            key = self.key(path, where)
            tests = test if isinstance(test, Mapping) else {"$eq": test}
            for op, value in tests.items():
                if op not in OPERATORS:
                    raise _Unsupported(f"the operator {op} of {path} has no policy equivalent")
                parts.append(self.compare(key, op, value, f"{where}.{path}"))
        if not parts:
            raise ConfigError(f"{where}: an empty query")
        return " and ".join(f"({p})" if " or " in p else p for p in parts)

    def compare(self, key: _Key, op: str, value: Any, where: str) -> str:
        kind = key.kind
        if op in ("$in", "$nin"):
            if not isinstance(value, list) or not value:
                raise ConfigError(f"{where}.{op}: expected a non-empty list")
            literals = "{" + ", ".join(self.literal(key, v, where) for v in value) + "}"
            if kind != "enum":
                alternatives = [f"{key.signal} == {self.literal(key, v, where)}" for v in value]
                joined = " or ".join(alternatives)
                return joined if op == "$in" else f"not ({joined})"
            return f"{key.signal} {'in' if op == '$in' else 'not in'} {literals}"
        literal = self.literal(key, value, where)
        if op in ORDER_OPERATORS:
            return f"{key.signal} {ORDER_OPERATORS[op]} {literal}"
        if kind == "bool":
            return key.signal if (value is True) == (op == "$eq") else f"not {key.signal}"
        return f"{key.signal} {'==' if op == '$eq' else '!='} {literal}"

    def literal(self, key: _Key, value: Any, where: str) -> str:
        kind = key.kind
        if kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                shown = repr(value) if isinstance(value, str) else described(value)
                raise _Unsupported(f"{key.path} is compared with numbers and with {shown}")
            text = f"{Decimal(repr(value)):f}" if isinstance(value, float) else str(value)  # never 1e-05: no exponents
            return text if kind == "int" or "." in text else f"{text}.0"
        if kind == "bool":
            return "true" if value else "false"
        if not isinstance(value, str):
            value = str(value)
        if value not in key.members:
            names = Names()
            names.taken.update(key.members.values())
            names.taken.add(OTHER)
            key.members[value] = names.new(value, "v")
        return key.members[value]

    # ---- the policy -----------------------------------------------------------------------------------

    def run(self) -> Imported:
        config = self.config
        top = self.node(config, "config")
        for where, query in self.queries(config, "config"):
            self.survey(query, where)
        for key in self.keys.values():  # the members in the order the config names them
            if key.kind == "enum":
                for value in key.values:
                    self.literal(key, value, key.path)
        self.rules(top, None)
        for key in self.keys.values():
            if key.kind == "enum":
                members = ", ".join([*key.members.values(), OTHER])
                renamed = [f"{m} is {v!r}" for v, m in key.members.items() if m != v]
                note = f"{key.path}; {OTHER}: any other value, or none" + (f" ({'; '.join(renamed)})" if renamed else "")
                self.draft.signals.insert(0, (key.signal, f"enum {{{members}}} = {OTHER}", note))
            elif key.kind == "bool":
                self.draft.signals.insert(0, (key.signal, "bool = false", f"{key.path}; false when absent"))
            else:
                self.draft.signals.insert(0, (key.signal, key.kind, f"{key.path}; required: Portkey's test is false "
                                              "without it, a policy needs the value"))
                self.draft.todo(f"{key.path}: a request without it fails no condition in Portkey; here it is "
                                f"a required signal {key.signal}")
        self.ledger.report(self.draft, portkey_reason)
        if self.draft.default is None:  # a config whose every request is decided by a rule
            raise AssertionError("the tree's last rule takes every request")
        return Imported(self.draft.render(), list(self.draft.todos))

    def queries(self, raw: Any, where: str) -> Iterator[tuple[str, Any]]:
        if not isinstance(raw, Mapping):
            return
        strategy = raw.get("strategy")
        if isinstance(strategy, Mapping) and strategy.get("mode") == "conditional":
            conditions = strategy.get("conditions")
            if not isinstance(conditions, list):
                raise ConfigError(f"{where}.strategy.conditions: expected a list of {{query, then}}, found "
                                  f"{described(conditions)}")
            for i, entry in enumerate(conditions):
                if isinstance(entry, Mapping) and "query" in entry:
                    yield f"{where}.strategy.conditions[{i}].query", entry["query"]
        targets = raw.get("targets") if isinstance(strategy, Mapping) else None
        for i, target in enumerate(targets if isinstance(targets, list) else []):
            yield from self.queries(target, f"{where}.targets[{i}]")


class _Unsupported(Exception):
    """A part of a query that a policy condition cannot say."""


def _decimal(value: Decimal) -> str:
    """A weight as a number literal, exactly as written (`0.7`, `3`)."""
    return f"{value.normalize():f}"


def import_portkey(config: Any, name: str = "portkey", source: str | None = None) -> Imported:
    """The policy a Portkey gateway config describes (see the module docstring), and a warning
    for each thing it could not carry over (each also a `# TODO` line of the policy).
    Raises ConfigError, naming the key, for a config that is not a Portkey config."""
    if not isinstance(config, Mapping):
        raise ConfigError("the config: expected a JSON object")
    return _Importer(config, name, source or name).run()
