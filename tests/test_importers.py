"""`policyc import litellm` and `policyc import portkey` on fixtures in the shapes those projects
document (each fixture names its documentation page): the policy lints clean, and on generated
requests, with and without a provider down, it serves what the router would, as written below
from the routers' documentation (independently of the importers), model for model and fallback
for fallback, wherever the router's choice is deterministic.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import policylang
from conftest import ROOT, examples
from policylang.importers.draft import ConfigError, catalog, identifier
from policylang.importers.litellm import import_litellm
from policylang.importers.portkey import import_portkey

DATA = ROOT / "tests" / "data" / "importers"
POLICYC = str(Path(sys.executable).parent / "policyc")
LITELLM = sorted(DATA.glob("litellm_*.yaml"))
PORTKEY = sorted(DATA.glob("portkey_*.json"))
UNSERVED, REJECTED = "unserved", "rejected"


def origins(text: str) -> dict[str, str]:
    """Config location -> the policy's model, from the `# WHERE: ...` line above each model."""
    found = {}
    for where, name in re.findall(r"^# ([\w.\[\]]+): .*\n(?:# TODO.*\n)*model (\w+)", text, re.M):
        found[where] = name
    return found


def imported(tmp_path: Path, kind: str, config: Path) -> tuple[policylang.Policy, str, subprocess.CompletedProcess]:
    out = tmp_path / f"{config.stem}.route"
    done = subprocess.run([POLICYC, "import", kind, str(config), "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lint = subprocess.run([POLICYC, "lint", "--deny-warnings", str(out)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    assert lint.stdout.strip().endswith("0 errors, 0 warnings in 1 file")
    return policylang.load(str(out)), out.read_text(encoding="utf-8"), done


def serve(policy: policylang.Policy, signals: dict[str, Any], down: Mapping[str, str]) -> str:
    """The model that answers under the policy when the models in `down` fail with their error."""
    decision = policy.decide(signals)
    if decision.reject is not None:
        return REJECTED
    model, seen = decision.model, set()
    while model in down:
        seen.add(model)
        model = policy.fallback(model, down[model])
        if model is None or model in seen:
            return UNSERVED
    return model


# ---- LiteLLM, from docs.litellm.ai/docs/proxy/{configs,reliability,tag_routing} -----------------------------


class LiteLLM:
    """LiteLLM's proxy routing as its documentation describes it, for one request."""

    def __init__(self, config: dict) -> None:
        self.deployments = config["model_list"]
        settings = {**(config.get("litellm_settings") or {}), **(config.get("router_settings") or {})}
        self.filtering = bool(settings.get("enable_tag_filtering"))

        def lists(key: str) -> dict[str, list[str]]:
            return {k: v for entry in settings.get(key) or [] for k, v in entry.items()}

        self.fallbacks, self.context, self.content = (lists("fallbacks"), lists("context_window_fallbacks"),
                                                      lists("content_policy_fallbacks"))
        self.default_fallbacks = settings.get("default_fallbacks") or []

    def group(self, name: str) -> list[int]:
        return [i for i, d in enumerate(self.deployments) if d["model_name"] == name]

    def window(self, i: int) -> int:
        info = self.deployments[i].get("model_info") or {}
        return info.get("max_input_tokens") or catalog()[self.deployments[i]["litellm_params"]["model"]].context

    def candidates(self, group: str, tag: str | None) -> list[int]:
        """Tag routing: a tag's deployments, else the `default`-tagged ones; untagged requests
        get the `default`-tagged ones, else all."""
        members = self.group(group)
        if not self.filtering:
            return members
        tags = {i: self.deployments[i]["litellm_params"].get("tags") or [] for i in members}
        defaults = [i for i in members if "default" in tags[i]]
        if tag is None:
            return defaults or members
        return [i for i in members if tag in tags[i]] or defaults

    def pick(self, group: str, tag: str | None, tokens: int, tier: str | None) -> tuple[str, list[int]]:
        """(the group that serves, the deployments it may choose among), or REJECTED."""
        first = self.deployments[self.group(group)[0]]["litellm_params"]
        if first["model"] == "auto_router/complexity_router":
            tiers = first["complexity_router_config"]["tiers"]
            group = tiers[tier.upper()]
        chosen = self.candidates(group, tag)
        if not chosen:
            return REJECTED, []
        if tokens > self.window(chosen[0]):
            for other in self.context.get(group, []):
                fits = [i for i in self.candidates(other, None) if tokens <= self.window(i)]
                if fits:
                    return other, fits
            return REJECTED, []
        return group, chosen

    def serve(self, group: str, chosen: list[int], tag: str | None, down: Mapping[int, str]) -> set[int] | str:
        """The deployments that may answer: the chosen ones that are up, else the first fallback
        group (content policy errors: content_policy_fallbacks first) with one up."""
        up = [i for i in chosen if i not in down]
        errors = {down[i] for i in chosen if i in down}
        if "content_filtered" in errors:  # the call went to the filtered deployment, or to another
            fallen = self._fallen(group, tag, down, errors)
            if not up:
                return fallen
            return set(up) | (fallen if isinstance(fallen, set) else set())
        if up:
            return set(up)
        return self._fallen(group, tag, down, errors)

    def _fallen(self, group: str, tag: str | None, down: Mapping[int, str], errors: set[str]) -> set[int] | str:
        """Where a failed call goes: a content policy violation is a 400 that LiteLLM does not
        retry on another deployment; it and every provider error go to the group's fallbacks."""
        route = self.content.get(group) if errors == {"content_filtered"} and group in self.content else None
        route = route or self.fallbacks.get(group) or [g for g in self.default_fallbacks if g != group]
        for other in route:
            up = [i for i in self.candidates(other, tag) if i not in down]
            if up:
                return set(up)
        return UNSERVED


@pytest.mark.parametrize("config", LITELLM, ids=lambda p: p.stem)
def test_litellm_configs_import_and_decide_as_litellm_routes(tmp_path: Path, config: Path) -> None:
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    policy, text, _ = imported(tmp_path, "litellm", config)
    router = LiteLLM(raw)
    names = {f"model_list[{i}]": i for i in range(len(raw["model_list"]))}
    model_of = {names[where]: name for where, name in origins(text).items()}
    index_of = {name: i for i, name in model_of.items()}
    groups = list(dict.fromkeys(d["model_name"] for d in raw["model_list"]))
    signals = {s.name for s in policy.ir.signals}
    tags: list[str | None] = [None]
    if "tag" in signals:
        tags += sorted({t for d in raw["model_list"] for t in d["litellm_params"].get("tags") or [] if t != "default"})
    tiers = [m for s in policy.ir.signals if s.name == "complexity" for m in s.type.members] or [None]
    windows = sorted({router.window(i) for i in model_of})
    sizes = sorted({0, 1_000, 10_000_000} | {w + d for w in windows for d in (0, 1)})
    outages: list[tuple[int | None, str]] = [(None, "")] + [(i, e) for i in model_of
                                                            for e in ("rate_limited", "content_filtered")]
    checked = deterministic = 0
    for group, tag, tier, tokens in itertools.product(groups, tags, tiers, sizes):
        request = {"model_group": identifier(group, "g"), "input_tokens": tokens}
        if tag is not None:
            request["tag"] = identifier(tag, "t")
        if tier is not None:
            request["complexity"] = tier
        serving, chosen = router.pick(group, tag, tokens, tier)
        for index, error in outages:
            down = {index: error} if index is not None else {}
            if down and serving != group and serving != REJECTED:
                continue  # a context-window fallback's own outage: not what the docs say
            expected = REJECTED if serving == REJECTED else router.serve(serving, chosen, tag, down)
            got = serve(policy, request, {model_of[i]: e for i, e in down.items()})
            checked += 1
            if isinstance(expected, set):
                assert got in {model_of[i] for i in expected}, (group, tag, tier, tokens, down, got, expected)
                deterministic += len(expected) == 1
                if len(expected) == 1:
                    assert index_of[got] in expected
            else:
                assert got == expected, (group, tag, tier, tokens, down, got, expected)
                deterministic += 1
    assert deterministic > 100 and deterministic >= checked * 0.8


def test_litellm_says_what_it_cannot_carry_over(tmp_path: Path) -> None:
    config = tmp_path / "partial.yaml"
    config.write_text(
        "# docs.litellm.ai/docs/proxy/configs: a deployment without model_info, and a budget\n"
        "model_list:\n  - model_name: local\n    litellm_params:\n      model: ollama/llama3\n"
        "litellm_settings:\n  max_budget: 100\n", encoding="utf-8")
    out = tmp_path / "partial.route"
    done = subprocess.run([POLICYC, "import", "litellm", str(config), "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 1  # written, and lint finds the prices it could not know
    assert "warning: litellm_settings.max_budget: spend over time is not carried over" in done.stderr
    assert done.stderr.rstrip().endswith("policyc lint: 1 error, 0 warnings")  # not "1 errors"
    assert "warning: model local: input_per_mtok" in done.stderr
    text = out.read_text(encoding="utf-8")
    assert ("# TODO: model local: input_per_mtok: the config gives no input_cost_per_token (litellm_params or "
            "model_info) for ollama/llama3") in text
    lint = policylang.lint([str(out)])
    assert {d.code for d in lint.diagnostics} == {"E109"}


def test_litellm_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model_list\[0\].litellm_params.model"):
        import_litellm({"model_list": [{"model_name": "a", "litellm_params": {}}]})
    with pytest.raises(ConfigError, match="model_list: expected a non-empty list"):
        import_litellm({"router_settings": {}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list:\n  - model_name: [unclosed\n", encoding="utf-8")
    done = subprocess.run([POLICYC, "import", "litellm", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2 and re.search(r"bad\.yaml:\d+:\d+: not YAML", done.stderr)
    assert "Traceback" not in done.stderr


def test_names_and_strings_from_a_config_stay_data(tmp_path: Path) -> None:
    hostile = {"model_list": [{"model_name": 'x" } route { default -> y', "litellm_params": {
        "model": 'evil"\nmodel z { }', "tags": ["default"]},
        "model_info": {"input_cost_per_token": 0, "output_cost_per_token": 0, "max_input_tokens": 1000,
                       "max_output_tokens": 10}}]}
    text = import_litellm(hostile, "hostile").text
    path = tmp_path / "hostile.route"
    path.write_text(text, encoding="utf-8")
    policy = policylang.load(str(path))
    assert [m.id for m in policy.ir.models] == ['evil"\nmodel z { }']
    assert [s.name for s in policy.ir.signals] == ["model_group", "input_tokens"]


# ---- Portkey, from portkey.ai/docs/product/ai-gateway/{conditional-routing,fallbacks,load-balancing} ------------

STATUS = {429: "rate_limited", 500: "server_error", 503: "unavailable", 504: "timeout"}


def portkey_serve(node: dict, where: str, request: Mapping[str, Any], down: Mapping[str, int]) -> str | None:
    """The leaf (by its config location) that answers, or None when the request fails."""
    strategy = node.get("strategy")
    if strategy is None:
        return None if where in down else where
    targets = [(t, f"{where}.targets[{i}]") for i, t in enumerate(node["targets"])]
    mode = strategy["mode"]
    if mode == "fallback":
        codes = strategy.get("on_status_codes")
        for target, at in targets:
            served = portkey_serve(target, at, request, down)
            if served is not None:
                return served
            failed = _failed_status(target, at, request, down)
            if codes is not None and failed not in codes:
                return None
        return None
    if mode == "loadbalance":
        weights = [t.get("weight", 1) for t, _ in targets]
        left = request["draw"] * sum(weights)  # Portkey: a random point along the weights, walked in order
        for (target, at), weight in zip(targets, weights):
            if left < weight:
                return portkey_serve(target, at, request, down)
            left -= weight
        return portkey_serve(*targets[-1], request, down)
    by_name = {t.get("name"): (t, at) for t, at in targets}
    for condition in strategy["conditions"]:
        if _holds(condition["query"], request):
            return portkey_serve(*by_name[condition["then"]], request, down)
    return portkey_serve(*by_name[strategy["default"]], request, down)


def _failed_status(node: dict, where: str, request: Mapping[str, Any], down: Mapping[str, int]) -> int | None:
    if "strategy" not in node:
        return down.get(where)
    for i, target in enumerate(node["targets"]):  # the status the last tried target failed with
        status = _failed_status(target, f"{where}.targets[{i}]", request, down)
    return status


def _holds(query: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """Portkey's query operators (MongoDB-style): every key of the object must hold."""
    for key, test in query.items():
        if key == "$and":
            ok = all(_holds(q, request) for q in test)
        elif key == "$or":
            ok = any(_holds(q, request) for q in test)
        else:
            value = request.get(key)
            tests = test if isinstance(test, dict) else {"$eq": test}
            ok = all(_operator(op, value, expected) for op, expected in tests.items())
        if not ok:
            return False
    return True


def _operator(op: str, value: Any, expected: Any) -> bool:
    match op:
        case "$eq":
            return value == expected
        case "$ne":
            return value != expected
        case "$in":
            return value in expected
        case "$nin":
            return value not in expected
    if value is None:
        return False
    return {"$gt": value > expected, "$gte": value >= expected, "$lt": value < expected,
            "$lte": value <= expected}[op]


@pytest.mark.parametrize("config", PORTKEY, ids=lambda p: p.stem)
def test_portkey_configs_import_and_decide_as_portkey_routes(tmp_path: Path, config: Path) -> None:
    raw = json.loads(config.read_text(encoding="utf-8"))
    policy, text, _ = imported(tmp_path, "portkey", config)
    model_of = origins(text)
    leaves = [where for where in model_of]
    keys: dict[str, set] = {}
    for where, query in _queries(raw, "config"):
        for key, value in _values(query):
            keys.setdefault(key, set()).add(value)
    signal_names = {s.name: s for s in policy.ir.signals}
    assert len(leaves) >= 4 and keys
    choices: dict[str, list] = {}
    for key, values in keys.items():
        numeric = all(isinstance(v, (int, float)) for v in values)
        if numeric:
            choices[key] = sorted({v + d for v in values for d in (-1, 0, 1)} | {0})
        else:
            choices[key] = sorted(values, key=str) + ["somebody-else", None]
    draws = [0.0, 0.3, 0.69, 0.7, 0.71, 0.99] if "draw" in signal_names else [None]
    outages = [{}] + [{leaf: code} for leaf in leaves for code in STATUS]
    checked = 0
    for combo in itertools.product(*choices.values(), draws):
        request = dict(zip(choices, combo[:-1]))
        request = {k: v for k, v in request.items() if v is not None}
        if combo[-1] is not None:
            request["draw"] = combo[-1]
        signals = {}
        for key, value in request.items():
            if key == "draw":
                signals["draw"] = value
                continue
            name = identifier(key[len("metadata."):] if key.startswith("metadata.") else
                              "param_" + key[len("params."):], "k")
            signal = signal_names[name]
            if signal.type.kind == "enum":
                member = identifier(value, "v")
                signals[name] = member if member in signal.type.members else "other"
            else:
                signals[name] = value
        for down in outages:
            expected = portkey_serve(raw, "config", request, down)
            got = serve(policy, signals, {model_of[leaf]: STATUS[code] for leaf, code in down.items()})
            assert got == (model_of[expected] if expected is not None else UNSERVED), (request, down, got, expected)
            checked += 1
    assert checked > 1_000


def _queries(raw: Any, where: str):
    strategy = raw.get("strategy") if isinstance(raw, dict) else None
    if strategy and strategy.get("mode") == "conditional":
        for condition in strategy["conditions"]:
            yield where, condition["query"]
    for i, target in enumerate(raw.get("targets") or [] if isinstance(raw, dict) else []):
        yield from _queries(target, f"{where}.targets[{i}]")


def _values(query: Mapping[str, Any]):
    for key, test in query.items():
        if key in ("$and", "$or"):
            for q in test:
                yield from _values(q)
            continue
        for op, value in (test.items() if isinstance(test, dict) else [("$eq", test)]):
            for v in value if isinstance(value, list) else [value]:
                yield key, v


def test_portkey_says_what_it_cannot_carry_over(tmp_path: Path) -> None:
    config = {"strategy": {"mode": "fallback", "on_status_codes": [429, 401]},
              "targets": [{"provider": "openai", "override_params": {"model": "gpt-5.5"}},
                          {"provider": "mistral", "override_params": {"model": "mistral-large"}}],
              "cache": {"mode": "simple"}}
    result = import_portkey(config, "partial")
    assert any("on_status_codes 401" in w for w in result.warnings)
    assert any("mistral/mistral-large is not in std/catalog" in w for w in result.warnings)
    assert any("config.cache" in w for w in result.warnings)
    assert "# TODO: model mistral_large" in result.text
    assert "fallback gpt_5_5 -> mistral_large on rate_limited" in result.text
    path = tmp_path / "partial.route"
    path.write_text(result.text, encoding="utf-8")
    assert {d.code for d in policylang.lint([str(path)]).diagnostics} == {"E109"}


def test_portkey_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config.strategy.default: 'nowhere' names no target"):
        import_portkey({"strategy": {"mode": "conditional", "conditions": [], "default": "nowhere"},
                        "targets": [{"name": "a", "provider": "openai", "override_params": {"model": "gpt-5.5"}}]})
    with pytest.raises(ConfigError, match=r"config.targets\[1\].weight"):
        import_portkey({"strategy": {"mode": "loadbalance"},
                        "targets": [{"provider": "openai", "override_params": {"model": "gpt-5.5"}},
                                    {"provider": "openai", "override_params": {"model": "gpt-5.5"}, "weight": "x"}]})
    bad = tmp_path / "bad.json"
    bad.write_text('{"strategy": ', encoding="utf-8")
    done = subprocess.run([POLICYC, "import", "portkey", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2 and "bad.json:1:14: not JSON" in done.stderr and "Traceback" not in done.stderr


# ---- nothing read is dropped: prices where LiteLLM's custom pricing puts them, every key named --------------


def test_litellm_prices_in_litellm_params_are_carried_over() -> None:
    """docs.litellm.ai/docs/proxy/custom_pricing puts per-token prices in litellm_params."""
    config = {"model_list": [
        {"model_name": "azure-model", "litellm_params": {
            "model": "azure/my-deployment", "api_key": "os.environ/AZURE_API_KEY",
            "input_cost_per_token": 0.000421, "output_cost_per_token": 0.000520},
         "model_info": {"max_input_tokens": 8_000, "max_output_tokens": 1_000}},
        {"model_name": "both", "litellm_params": {"model": "azure/other", "input_cost_per_token": 1e-6,
                                                  "output_cost_per_token": 2e-6},
         "model_info": {"input_cost_per_token": 3e-6, "output_cost_per_token": 2e-6, "max_input_tokens": 8_000,
                        "max_output_tokens": 1_000}}]}
    result = import_litellm(config, "priced")
    assert "input_per_mtok  = $421  # litellm_params.input_cost_per_token x 1,000,000" in result.text
    assert "output_per_mtok = $520  # litellm_params.output_cost_per_token x 1,000,000" in result.text
    assert "input_per_mtok  = $1  # litellm_params.input_cost_per_token" in result.text
    assert not any("azure_model: input_per_mtok" in w for w in result.warnings)
    assert any("model both: litellm_params.input_cost_per_token and model_info.input_cost_per_token differ" in w
               for w in result.warnings)
    assert not any("output_cost_per_token differ" in w for w in result.warnings)  # equal: nothing to say


UNCARRIED_LITELLM = {
    "router_settings.routing_strategy", "router_settings.num_retries", "router_settings.retry_policy",
    "router_settings.allowed_fails", "router_settings.cooldown_time", "router_settings.provider_budget_config",
    "router_settings.redis_host", "model_list[0].litellm_params.rpm", "model_list[0].litellm_params.tpm",
    "model_list[1].rpm", "model_list[1].tpm", "model_list[0].litellm_params.max_budget",
    "model_list[0].litellm_params.budget_duration", "model_list[1].litellm_params.weight",
    "model_list[2].litellm_params.temperature", "model_list[0].model_info.id", "litellm_settings.max_budget",
    "litellm_settings.success_callback", "general_settings.master_key", "general_settings.database_url",
}


def test_every_litellm_key_is_carried_over_or_named(tmp_path: Path) -> None:
    """Each key the production-shaped fixture holds that a policy cannot say is named, with its
    path, in a `# TODO` line of the policy and in a warning; the carried ones are in the policy."""
    config = DATA / "litellm_production.yaml"
    _, text, done = imported(tmp_path, "litellm", config)
    todos = "\n".join(line for line in text.splitlines() if line.startswith("# TODO"))
    warnings = "\n".join(line for line in done.stderr.splitlines() if line.startswith("warning: "))
    for path in sorted(UNCARRIED_LITELLM):
        assert path in todos, path
        assert path in warnings, path
    for carried in ("input_per_mtok  = $0.16  # litellm_params.input_cost_per_token", "latency         = 120s",
                    "latency         = 60s", "signal tag:", "fallback chat_default -> reasoning"):
        assert carried in text, carried
    for secret in ("sk-do-not-print-1234", "AZURE_API_KEY", "localhost:11434"):  # values never printed
        assert secret not in text and secret not in done.stderr


def test_unknown_keys_are_named_not_dropped() -> None:
    config = {"model_list": [{"model_name": "a", "future_key": 1, "litellm_params": {
        "model": "openai/gpt-5.5", "frobnicate": True}, "model_info": {"color": "blue"}}],
        "router_settings": {"some_future_setting": {"deep": [1, 2]}}, "brand_new_section": {"x": 1}}
    warnings = "\n".join(import_litellm(config).warnings)
    for path in ("model_list[0].future_key", "model_list[0].litellm_params.frobnicate",
                 "model_list[0].model_info.color", "router_settings.some_future_setting", "brand_new_section"):
        assert path in warnings, path
    assert "some_future_setting.deep" not in warnings  # the outermost key unread, not every key under it


def test_every_portkey_key_is_carried_over_or_named(tmp_path: Path) -> None:
    _, text, done = imported(tmp_path, "portkey", DATA / "portkey_production.json")
    for path in ("config.retry", "config.cache", "config.request_timeout", "config.targets[1].targets[0].retry",
                 "config.targets[0].targets[0].api_key", "config.targets[0].targets[2].override_params.temperature",
                 "config.targets[1].targets[0].override_params.max_tokens", "config.targets[1].targets[1].custom_host"):
        assert f"warning: {path}" in done.stderr or f", {path}" in done.stderr, path
        assert path in text, path
    assert "config.//" not in done.stderr  # the fixture's comment, JSON's stand-in for one
    assert "weight" not in done.stderr and "never-printed" not in done.stderr + text


@pytest.mark.parametrize(("kind", "text", "message"), [
    ("portkey", '{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "openai", "override_params": '
                '{"model": "gpt-5.5"}, "weight": NaN}]}', "config.targets[0].weight: nan is not a number"),
    ("portkey", '{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "openai", "override_params": '
                '{"model": "gpt-5.5"}, "weight": Infinity}]}', "config.targets[0].weight: inf is not a number"),
    ("portkey", '{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "openai", "override_params": '
                '{"model": "gpt-5.5"}, "weight": 1e308}]}', "config.targets[0].weight: 1.000E+308 is larger"),
    ("portkey", '{"retry": {"attempts": -1}, "provider": "openai", "override_params": {"model": "gpt-5.5"}}',
     "config.retry.attempts: expected a number of attempts >= 0 and <= 100, found -1"),
    ("portkey", '{"strategy": {"mode": "conditional", "conditions": [{"query": {"params.n": {"$gt": 1e300}}, '
                '"then": "a"}], "default": "a"}, "targets": [{"name": "a", "provider": "openai"}]}',
     "config.strategy.conditions[0].query.params.n.$gt: 1.000E+300 is larger"),
    ("portkey", '{"a": ' * 1_500 + "1" + "}" * 1_500, "nested"),
    ("portkey", '{"w": ' + "9" * 5_000 + "}", "a number too long to read"),
    ("litellm", "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-5.5\n"
                "router_settings:\n  num_retries: -2\n", "router_settings.num_retries: expected a number of retries"),
    ("litellm", "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-5.5\n"
                "router_settings:\n  num_retries: 1e308\n", "router_settings.num_retries: expected a number of retries "
                                                            ">= 0 and <= 100, found 1.000E+308"),
    ("litellm", "model_list:\n  - model_name: a\n    litellm_params:\n      model: x/y\n"
                "      input_cost_per_token: -0.000001\n", "model_list[0].litellm_params.input_cost_per_token: expected"),
    ("litellm", "model_list:\n  - model_name: a\n    litellm_params:\n      model: x/y\n      rpm: .nan\n",
     "model_list[0].litellm_params.rpm: nan is not a number"),
    ("litellm", "model_list:\n  - model_name: a\n    litellm_params:\n      model: x/y\n    model_info:\n"
                "      max_input_tokens: .inf\n", "model_list[0].model_info.max_input_tokens: inf is not a number"),
    ("litellm", "model_list:\n  - model_name: a\n    litellm_params:\n      model: x/y\n      weight: 1e308\n",
     "model_list[0].litellm_params.weight: expected a weight >= 0 and <= 1000000000, found 1.000E+308"),
    ("litellm", "".join("  " * i + f"k{i}:\n" for i in range(1_500)) + "  " * 1_500 + "1\n", "nested"),
    ("litellm", 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 8)) + "model_list: *a7\n",
     "more than 100,000 values"),
], ids=lambda v: v if len(v) < 12 else None)
def test_absurd_numbers_and_deep_configs_are_refused_with_the_path(tmp_path: Path, kind: str, text: str,
                                                                  message: str) -> None:
    config = tmp_path / ("config.json" if kind == "portkey" else "config.yaml")
    config.write_text(text, encoding="utf-8")
    done = subprocess.run([POLICYC, "import", kind, str(config)], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    for internal in ("Decimal(", "InvalidOperation", "RecursionError", "set_int_max_str_digits", "NoneType"):
        assert internal not in done.stderr


def test_deep_configs_from_python_are_refused_too() -> None:
    deep: dict[str, Any] = {"provider": "openai", "override_params": {"model": "gpt-5.5"}}
    for _ in range(1_500):
        deep = {"strategy": {"mode": "fallback"}, "targets": [deep]}
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        import_portkey(deep)
    with pytest.raises(ConfigError, match=r"model_list\[0\].model_info.max_input_tokens: nan"):
        import_litellm({"model_list": [{"model_name": "a", "litellm_params": {"model": "x/y"},
                                        "model_info": {"max_input_tokens": float("nan")}}]})


def test_config_errors_speak_the_configs_words_not_pythons() -> None:
    cases = [({"model_list": [{"model_name": "a", "litellm_params": {"model": "x/y"}, "model_info": [1]}]},
              "model_list[0].model_info: expected a mapping, found a list"),
             ({"model_list": [{"model_name": "a", "litellm_params": {"model": "x/y"}}], "router_settings": None,
               "litellm_settings": {"fallbacks": 3}}, "fallbacks: expected a list of {group: [groups]}, found a number"),
             ({"model_list": [{"model_name": "a", "litellm_params": {"model": "x/y", "timeout": {"s": 1}}}]},
              "model_list[0].litellm_params.timeout: expected a number of seconds, found a mapping"),
             ({"model_list": [{"model_name": "a", "litellm_params": "gpt"}]},
              "model_list[0].litellm_params: expected a mapping, found a string")]
    for config, message in cases:
        with pytest.raises(ConfigError) as raised:
            import_litellm(config)
        assert str(raised.value) == message
        assert not re.search(r"NoneType|\bdict\b|\bint\b|\bstr\b|Decimal\(", str(raised.value))


# ---- hostile configs: an answer or a ConfigError, never an exception of another kind ----------------------

_KEYS = ["model_list", "model_name", "litellm_params", "model", "model_info", "router_settings", "litellm_settings",
         "fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "default_fallbacks", "tags",
         "enable_tag_filtering", "input_cost_per_token", "output_cost_per_token", "max_input_tokens",
         "max_output_tokens", "max_tokens", "timeout", "rpm", "num_retries", "routing_strategy",
         "complexity_router_config", "tiers", "strategy", "mode", "targets", "weight", "provider", "virtual_key",
         "override_params", "name", "conditions", "query", "then", "default", "on_status_codes", "retry", "x"]
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**18), st.floats(allow_nan=True),
                     st.sampled_from([-0.0, 1e-300, 10**15, 0.1]),
                     st.sampled_from(["openai/gpt-5.5", "gpt-4o", "fallback", "loadbalance", "conditional", "a", "",
                                      "auto_router/complexity_router", "metadata.plan", "$eq", "SIMPLE", "default",
                                      'x" } route {', "\n", "os.environ/KEY"]))
_SHAPES = st.sampled_from([{"$and": []}, {"$or": [{"params.n": {"$gt": "a"}}]}, {"params.n": {"$in": []}},
                           {"metadata.x": {"$foo": 1}}, [None], [[1]], {"targets": 5}, [{"gpt-4o": ["x"]}],
                           {"strategy": {"mode": "conditional", "conditions": [], "default": "z"},
                            "targets": [{"name": "z", "provider": "p"}]}])
_VALUES = st.recursive(st.one_of(_SCALARS, _SHAPES), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEYS + ["$gt", "$in", "metadata.plan"]), inner,
                                                 max_size=5)), max_leaves=30)


@examples(0.5)
@given(config=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=6))
def test_hostile_configs_get_a_policy_or_a_config_error(config: dict[str, Any]) -> None:
    for importer in (import_litellm, import_portkey):
        try:
            result = importer(config)
        except ConfigError:
            continue
        assert result.text.startswith("#")  # rendered, and Draft.render parses what it writes


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*path, i))
    return found


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


FIXTURES_READ = [(import_litellm, yaml.safe_load(p.read_text(encoding="utf-8"))) for p in LITELLM] + \
    [(import_portkey, json.loads(p.read_text(encoding="utf-8"))) for p in PORTKEY]


@examples(1.0)
@given(data=st.data())
def test_mutated_fixtures_get_a_policy_or_a_config_error(data: st.DataObject) -> None:
    """Each documented shape with up to three of its values replaced by anything a YAML or JSON
    file can hold: the importer writes a policy that parses, or refuses with a ConfigError."""
    importer, config = data.draw(st.sampled_from(FIXTURES_READ))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(config)))
        config = _replaced(config, path, data.draw(_VALUES))
    try:
        result = importer(config)
    except ConfigError:
        return
    assert result.text.startswith("#")


@pytest.mark.parametrize(("importer", "config", "message"), [
    (import_portkey, {"strategy": {"mode": "conditional", "conditions": [{"query": {"$and": []}, "then": "a"}],
                                   "default": "a"}, "targets": [{"name": "a", "provider": "openai"}]},
     "config.strategy.conditions[0].query.$and: expected a non-empty list of queries"),
    (import_portkey, {"strategy": {"mode": "conditional", "conditions": 1.5, "default": "a"},
                      "targets": [{"name": "a", "provider": "openai"}]},
     "config.strategy.conditions: expected a list of {query, then}, found a number"),
    (import_litellm, {"model_list": [{"model_name": "a", "litellm_params": {"model": "openai/gpt-5.5"}}],
                      "router_settings": {"default_fallbacks": [{"a": 1}]}},
     "default_fallbacks: expected a list of model group names"),
])
def test_what_the_fuzzing_found_is_refused_with_the_path(importer: Any, config: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        importer(config)
    assert str(raised.value) == message


def test_what_the_fuzzing_found_is_written_as_the_language_spells_it() -> None:
    text = import_litellm({"model_list": [{"model_name": "a", "litellm_params": {"model": "x/y"}, "model_info": {
        "input_cost_per_token": -0.0, "output_cost_per_token": 0, "max_input_tokens": 10, "max_output_tokens": 5}}]}).text
    assert "input_per_mtok  = $0 " in text  # not $-0
    text = import_portkey({"strategy": {"mode": "conditional", "conditions": [
        {"query": {"params.t": {"$gt": 1e-7}}, "then": "a"}], "default": "b"}, "targets": [
        {"name": "a", "provider": "openai", "override_params": {"model": "gpt-5.5"}},
        {"name": "b", "provider": "openai", "override_params": {"model": "gpt-5.5"}}]}).text
    assert "param_t > 0.0000001" in text  # no exponent, which the language has not
