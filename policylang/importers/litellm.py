"""`policyc import litellm`: a LiteLLM proxy config (`config.yaml`) as a `.route` policy.

What the config means, per LiteLLM's documentation (the pages each part follows are named):

- `model_list` (docs.litellm.ai/docs/proxy/configs): each entry is a deployment of the model
  group `model_name`, calling `litellm_params.model`; `model_info` may give
  `input_cost_per_token`, `output_cost_per_token` (US dollars), `max_input_tokens` (the context
  window) and `max_output_tokens` (or the older `max_tokens`). The prices may instead be in
  `litellm_params`, where docs.litellm.ai/docs/proxy/custom_pricing puts them (that one wins
  when both are given, with a TODO when they differ). A request names its group with
  `model`: here the enum signal `model_group`. A model whose id is in std/catalog copies it.
- `fallbacks`, `default_fallbacks`, `context_window_fallbacks`, `content_policy_fallbacks` in
  `router_settings` or `litellm_settings` (docs.litellm.ai/docs/proxy/reliability): lists of
  `{group: [group, ...]}`, tried in order. A provider failure follows `fallbacks` (the policy's
  `fallback` on unavailable, rate_limited, timeout, server_error, and content_filtered unless
  the group has `content_policy_fallbacks`, which take that error); a request larger than the
  model's context window goes to the first of its `context_window_fallbacks` whose window fits
  (rules on `input_tokens`), and is rejected when none does, as LiteLLM fails it.
- `enable_tag_filtering` with `litellm_params.tags` (docs.litellm.ai/docs/proxy/tag_routing):
  a request's tag picks the deployments carrying it, else those tagged `default`; an untagged
  request gets the `default` deployments, else any. Here the enum signal `tag` (`none` for an
  untagged request): one tag per request.
- `model: auto_router/complexity_router` with `complexity_router_config.tiers`
  (LiteLLM's complexity router README): the tier LiteLLM scores from the prompt is the enum
  signal `complexity`, which the app passes; each tier routes to its group.

Where LiteLLM chooses at run time (several deployments for one request: its load balancing),
the policy sends the request to the first and lets the others serve as its fallbacks, and says
so in a TODO. Every other key of the config is named in a TODO line saying why it is not
carried over (`reasons.litellm_reason`), and every number is checked first (`ledger.survey`,
`reasons.check_numbers`). Nothing from the config is executed or evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .draft import (TOKENS_LIMIT, CatalogModel, ConfigError, Draft, DraftModel, Imported, Names, Rule, catalog, described,
                    identifier, money, quoted)
from .ledger import Ledger, survey
from .reasons import LITELLM_REASONS, check_numbers, litellm_reason

PROVIDER_ERRORS = ("unavailable", "rate_limited", "timeout", "server_error")
COMPLEXITY_ROUTER = "auto_router/complexity_router"
DEFAULT_TIERS = ("SIMPLE", "MEDIUM", "COMPLEX", "REASONING")
FALLBACK_KEYS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
SECTIONS = ("litellm_settings", "router_settings")


@dataclass
class Deployment:
    index: int
    group: str
    model: str
    tags: tuple[str, ...]
    info: Mapping[str, Any]
    params: Mapping[str, Any]
    name: str = ""

    @property
    def where(self) -> str:
        return f"model_list[{self.index}]"


@dataclass
class _State:
    draft: Draft
    deployments: list[Deployment]
    groups: dict[str, list[Deployment]] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    """Group name -> its member of `model_group`."""
    contexts: dict[str, int] = field(default_factory=dict)
    """Model name -> its context window, where known."""
    tags: dict[str, str] = field(default_factory=dict)
    """Request tag -> its member of `tag`."""
    rule_names: Names = field(default_factory=Names)
    settings: Mapping[str, Any] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=lambda: Ledger({}))

    def use_setting(self, key: str) -> None:
        """`key` of router_settings and litellm_settings (wherever given) is carried over."""
        self.ledger.use(*(f"{section}.{key}" for section in SECTIONS))


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, found {described(value)}")
    return value


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: expected a number, found {described(value)}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: expected a number, found {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ConfigError(f"{where}: expected a number >= 0, found {value!r}")
    return number


def _count(value: Any, where: str) -> int:
    number = _number(value, where)
    if number != number.to_integral_value() or number <= 0:
        raise ConfigError(f"{where}: expected a whole number of tokens > 0, found {value!r}")
    return int(number)


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """router_settings over litellm_settings (both may carry the fallbacks)."""
    merged: dict[str, Any] = {}
    for section in SECTIONS:
        merged.update(_mapping(config.get(section), section))
    return merged


def _fallback_lists(settings: Mapping[str, Any], key: str) -> dict[str, list[str]]:
    value = settings.get(key)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of {{group: [groups]}}, found {described(value)}")
    lists: dict[str, list[str]] = {}
    for i, entry in enumerate(value):
        for group, targets in _mapping(entry, f"{key}[{i}]").items():
            if isinstance(targets, str):
                targets = [targets]
            if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                raise ConfigError(f"{key}[{i}].{group}: expected a list of model group names")
            lists.setdefault(str(group), []).extend(targets)
    return lists


def import_litellm(config: Any, name: str = "litellm", source: str | None = None) -> Imported:
    """The policy a LiteLLM proxy config describes (see the module docstring), and a warning
    for each thing it could not carry over (each also a `# TODO` line of the policy).
    Raises ConfigError, naming the key, for a config that is not a LiteLLM config."""
    config = _mapping(config, "the config")
    found = survey(config)
    check_numbers(found)
    entries = config.get("model_list")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("model_list: expected a non-empty list of deployments (LiteLLM's proxy config)")
    settings = _settings(config)
    draft = Draft(identifier(name, "p"), [
        f"Imported by `policyc import litellm` from {source or name}, a LiteLLM proxy config.",
        "Requests: model_group is the request's `model`; input_tokens its size; see each signal.",
    ])
    state = _State(draft, [], settings=settings, ledger=Ledger(found))
    state.ledger.open(*SECTIONS, "general_settings", "environment_variables")
    for i, entry in enumerate(entries):
        entry = _mapping(entry, f"model_list[{i}]")
        group = entry.get("model_name")
        params = _mapping(entry.get("litellm_params"), f"model_list[{i}].litellm_params")
        model = params.get("model")
        if not isinstance(group, str) or not group:
            raise ConfigError(f"model_list[{i}].model_name: expected the group's name")
        if not isinstance(model, str) or not model:
            raise ConfigError(f"model_list[{i}].litellm_params.model: expected the model to call")
        tags = params.get("tags") or ()
        if isinstance(tags, str):
            tags = (tags,)
        if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
            raise ConfigError(f"model_list[{i}].litellm_params.tags: expected a list of tags")
        deployment = Deployment(i, group, model, tuple(tags), _mapping(entry.get("model_info"),
                                f"model_list[{i}].model_info"), params)
        state.ledger.use(f"model_list[{i}].model_name", f"model_list[{i}].litellm_params.model")
        state.ledger.open(f"model_list[{i}].litellm_params", f"model_list[{i}].model_info")
        state.deployments.append(deployment)
        state.groups.setdefault(group, []).append(deployment)

    _signals(state, settings)
    routers = {g: ds for g, ds in state.groups.items() if ds[0].model.startswith("auto_router/")}
    _models(state, settings, routers)
    _fallbacks(state, settings, routers)
    for group, deployments in state.groups.items():
        if group in routers:
            _router_rules(state, group, deployments[0])
        else:
            _group_rules(state, group, deployments, settings)
    state.ledger.report(draft, litellm_reason)
    return Imported(draft.render(), list(draft.todos))


# ---- signals and models -------------------------------------------------------------------------------


def _signals(state: _State, settings: Mapping[str, Any]) -> None:
    draft, names = state.draft, Names()
    for group in state.groups:
        state.members[group] = names.new(group, "g")
    members = ", ".join(state.members.values())
    renamed = [f"{m} is {g!r}" for g, m in state.members.items() if m != g]
    draft.signals.append(("model_group", f"enum {{{members}}}",
                          "the model group the request names" + (f" ({'; '.join(renamed)})" if renamed else "")))
    draft.signals.append(("input_tokens", f"int in 0..{TOKENS_LIMIT:_}", "the request's input size"))
    tagged = sorted({t for d in state.deployments for t in d.tags if t != "default"},
                    key=lambda t: min(d.index for d in state.deployments if t in d.tags))
    filtering = bool(settings.get("enable_tag_filtering")) or any(
        bool(_mapping(d.info, "").get("enable_tag_filtering")) for d in state.deployments)
    state.use_setting("enable_tag_filtering")
    state.ledger.use(*(f"{d.where}.model_info.enable_tag_filtering" for d in state.deployments))
    if tagged and filtering:
        state.ledger.use(*(f"{d.where}.litellm_params.tags" for d in state.deployments))
        tag_names = Names()
        tag_names.taken.add("none")
        state.tags = {t: tag_names.new(t, "t") for t in tagged}
        draft.signals.append(("tag", "enum {none, " + ", ".join(state.tags.values()) + "} = none",
                              "the request's tag (LiteLLM's `tags`, one per request); none: untagged"))
    elif tagged:
        state.draft.todo("deployments carry tags but enable_tag_filtering is off, so LiteLLM ignores them "
                         "for routing, and so does this policy")
        state.ledger.note(*(f"{d.where}.litellm_params.tags" for d in state.deployments))
    else:  # only `default` tags: what an untagged request gets anyway
        state.ledger.use(*(f"{d.where}.litellm_params.tags" for d in state.deployments))
    routers = [d for d in state.deployments if d.model.startswith(COMPLEXITY_ROUTER)]
    if routers:
        tiers = _tiers(routers[0])
        draft.signals.append(("complexity", "enum {" + ", ".join(t for t, _ in tiers) + f"}} = {tiers[0][0]}",
                              "the tier LiteLLM's complexity router scores from the prompt; the app passes it"))


def _tiers(router: Deployment) -> list[tuple[str, str]]:
    """(member of `complexity`, the group it routes to) of a complexity router, in tier order."""
    where = f"{router.where}.litellm_params.complexity_router_config"
    config = _mapping(router.params.get("complexity_router_config"), where)
    tiers = _mapping(config.get("tiers"), f"{where}.tiers")
    if not tiers:
        raise ConfigError(f"{where}.tiers: expected the group each tier routes to")
    ordered = sorted(tiers, key=lambda t: DEFAULT_TIERS.index(t.upper()) if t.upper() in DEFAULT_TIERS else 99)
    found = []
    for tier in ordered:
        target = tiers[tier]
        if isinstance(target, list):
            target = target[0] if target else None
        if isinstance(target, Mapping):
            target = target.get("model_name") or target.get("model")
        if not isinstance(target, str):
            raise ConfigError(f"{where}.tiers.{tier}: expected a model group name")
        found.append((identifier(tier.lower(), "tier"), target))
    return found


def _models(state: _State, settings: Mapping[str, Any], routers: Mapping[str, list[Deployment]]) -> None:
    draft, names, known = state.draft, Names(), catalog()
    timeout_key = "timeout" if "timeout" in settings else "request_timeout"
    timeout = settings.get(timeout_key)
    for group, deployments in state.groups.items():
        if group in routers:
            continue
        for n, d in enumerate(deployments):
            suffix = "_".join(d.tags) if len(deployments) > 1 and d.tags else (str(n + 1) if n else "")
            d.name = names.new(f"{group}_{suffix}" if suffix else group, "m")
            state.rule_names.taken.add(d.name)
            own = "timeout" in d.params
            model = _model(state, d, known, d.params["timeout"] if own else timeout)
            if "latency" in model.fields and own:
                state.ledger.use(f"{d.where}.litellm_params.timeout")
            elif "latency" in model.fields and timeout is not None:
                state.use_setting(timeout_key)
            draft.models.append(model)
    if timeout is not None and not any(f"{s}.{timeout_key}" in state.ledger.used for s in SECTIONS):
        state.ledger.note(*(f"{s}.{timeout_key}" for s in SECTIONS))
        draft.todo(f"{timeout_key}: every model copies its latency from std/catalog, so the configured timeout "
                   "is not carried over (policylang.runtime's Router(timeout=...) sets one)")


def _model(state: _State, d: Deployment, known: Mapping[str, CatalogModel], timeout: Any) -> DraftModel:
    info, where = d.info, f"{d.where}.model_info"
    model = DraftModel(d.name, d.model, origin=f"{d.where}: {d.group} -> {d.model}")
    entry = known.get(d.model)
    base = entry.name if entry is not None else None
    if base is not None:
        model.base = base
    else:
        model.fields["id"] = quoted(d.model)
        model.fields["tier"] = "1"
        model.notes["tier"] = "TODO: LiteLLM has no capability rank; cascades use it (W306)"
    prices = (("input_per_mtok", "input_cost_per_token"), ("output_per_mtok", "output_cost_per_token"))
    for field_name, key in prices:
        given = [(section, source[key]) for section, source in (("litellm_params", d.params), ("model_info", info))
                 if key in source]
        for section, value in given:
            state.ledger.use(f"{d.where}.{section}.{key}")
            _number(value, f"{d.where}.{section}.{key}")
        if given:
            section, value = given[0]
            model.fields[field_name] = money(_number(value, f"{d.where}.{section}.{key}") * 1_000_000)
            model.notes[field_name] = f"{section}.{key} x 1,000,000"
            if len(given) == 2 and _number(given[1][1], "") != _number(value, ""):
                state.draft.todo(f"model {d.name}: litellm_params.{key} and model_info.{key} differ; the policy "
                                 "takes litellm_params's, the price LiteLLM's custom pricing charges the call")
        elif base is None:
            model.missing.append(f"{field_name}: the config gives no {key} (litellm_params or model_info) "
                                 f"for {d.model}")
    if "max_input_tokens" in info:
        state.ledger.use(f"{where}.max_input_tokens")
        model.fields["context"] = f"{_count(info['max_input_tokens'], f'{where}.max_input_tokens'):_}"
    elif base is None:
        model.missing.append(f"context: the config gives no model_info.max_input_tokens for {d.model}")
    out_key = "max_output_tokens" if "max_output_tokens" in info else "max_tokens" if "max_tokens" in info else None
    if out_key is not None:
        state.ledger.use(f"{where}.max_output_tokens", f"{where}.max_tokens")  # max_tokens: the older name
        model.fields["max_output"] = f"{_count(info[out_key], f'{where}.{out_key}'):_}"
    elif base is None:
        model.missing.append(f"max_output: the config gives no model_info.max_output_tokens for {d.model}")
    if base is None:
        if timeout is not None:
            seconds = _number(timeout, f"{d.where}.litellm_params.timeout")
            model.fields["latency"] = f"{seconds.normalize():f}s"
            model.notes["latency"] = "the configured timeout: a call takes at most this long"
        else:
            model.fields["latency"] = "60s"
            model.notes["latency"] = "TODO: the config gives no latency or timeout; latency budgets use it"
    if d.tags:
        model.fields["tags"] = "{" + ", ".join(identifier(t, "t") for t in d.tags) + "}"
    for missing in model.missing:
        state.draft.todo(f"model {d.name}: {missing}")
    context = info.get("max_input_tokens")
    if context is not None:
        state.contexts[d.name] = _count(context, f"{where}.max_input_tokens")
    elif entry is not None:
        state.contexts[d.name] = entry.context
    return model


# ---- which deployment a request gets ---------------------------------------------------------------------


def _candidates(state: _State, deployments: list[Deployment], tag: str | None) -> list[Deployment]:
    """The deployments LiteLLM chooses among for a request with this tag (None: untagged)."""
    if not state.tags:
        return deployments
    defaults = [d for d in deployments if "default" in d.tags]
    if tag is None:
        return defaults or deployments
    return [d for d in deployments if tag in d.tags] or defaults


def primary(state: _State, group: str) -> Deployment | None:
    """The deployment an untagged request to `group` gets first (the one fallbacks reach)."""
    deployments = state.groups.get(group)
    if not deployments or deployments[0].model.startswith("auto_router/"):
        return None
    return _candidates(state, deployments, None)[0]


def _group_rules(state: _State, group: str, deployments: list[Deployment], settings: Mapping[str, Any]) -> None:
    member = state.members[group]
    is_group = f"model_group == {member}"
    untagged = _candidates(state, deployments, None)
    catch_all = untagged[0]
    for tag, tag_member in state.tags.items():
        chosen = _candidates(state, deployments, tag)
        if not chosen:
            name = state.rule_names.new(f"for_{member}_{tag_member}_unserved")
            state.draft.rules.append(Rule(name, f"{is_group} and tag == {tag_member}",
                                          f"reject {quoted(f'no deployment of {group} serves tag {tag}')}",
                                          note=f"LiteLLM finds no deployment of {group} for tag {tag!r}"))
            continue
        if chosen[0] is catch_all:
            continue  # decided as an untagged request is: the group's last rule says it
        _choose(state, group, chosen, f"{is_group} and tag == {tag_member}", f"for_{member}_{tag_member}", settings)
    _choose(state, group, untagged, is_group, f"for_{member}", settings)


def _choose(state: _State, group: str, chosen: list[Deployment], condition: str, base: str,
            settings: Mapping[str, Any]) -> None:
    """The rules that send requests matching `condition` to the first of `chosen`: first the
    context-window fallbacks and the rejection of what no window fits, then the rule itself."""
    target = chosen[0]
    if len(chosen) > 1:
        strategy = settings.get("routing_strategy", "simple-shuffle")
        others = ", ".join(d.name for d in chosen[1:])
        serve = "serves as its fallback" if len(chosen) == 2 else "serve as its fallbacks"
        state.draft.todo(f"{group}: LiteLLM's {strategy} routing chooses among {target.name}, {others} at run "
                         f"time; this policy sends those requests to {target.name}, and {others} {serve}")
    _context_rules(state, group, target, condition, base)
    state.draft.rules.append(Rule(state.rule_names.new(base), condition, target.name))


def _context_rules(state: _State, group: str, target: Deployment, condition: str, base: str) -> None:
    context = state.contexts.get(target.name)
    if context is None or context >= TOKENS_LIMIT:
        return
    fallbacks = _fallback_lists(state.settings, "context_window_fallbacks").get(group, [])
    too_large = f"{condition} and input_tokens > {context:_}"
    for other in fallbacks:
        chosen = primary(state, other)
        if chosen is None:
            state.draft.todo(f"context_window_fallbacks of {group}: {other!r} is no model group of model_list")
            continue
        window = state.contexts.get(chosen.name)
        if window is None or window <= context:
            continue  # it cannot take what did not fit: LiteLLM's call to it would fail too
        name = state.rule_names.new(f"{base}_long_{chosen.name}")
        state.draft.rules.append(Rule(name, f"{too_large} and input_tokens <= {window:_}", chosen.name,
                                      note=f"context_window_fallbacks: {group} -> {other}"))
    name = state.rule_names.new(f"{base}_too_large")
    state.draft.rules.append(Rule(name, too_large, f"reject {quoted(f'input larger than the context window of {target.name}')}",
                                  note="LiteLLM fails a request larger than the context window"))


def _router_rules(state: _State, group: str, router: Deployment) -> None:
    member = state.members[group]
    if not router.model.startswith(COMPLEXITY_ROUTER):
        state.draft.todo(f"{router.where}: {router.model} routes by what it reads in the prompt, which a policy "
                         f"cannot; requests to {group} are rejected until a rule says where they go")
        state.ledger.note(f"{router.where}.litellm_params")
        state.draft.rules.append(Rule(state.rule_names.new(f"for_{member}"), f"model_group == {member}",
                                      f"reject {quoted(f'{router.model} is not carried over')}"))
        return
    state.ledger.use(f"{router.where}.litellm_params.complexity_router_config.tiers")
    for tier, target_group in _tiers(router):
        chosen = primary(state, target_group)
        if chosen is None:
            raise ConfigError(f"{router.where}.litellm_params.complexity_router_config.tiers: "
                              f"{target_group!r} is no model group of model_list")
        condition = f"model_group == {member} and complexity == {tier}"
        _context_rules(state, group, chosen, condition, f"for_{member}_{tier}")
        state.draft.rules.append(Rule(state.rule_names.new(f"for_{member}_{tier}"), condition, chosen.name))


# ---- fallbacks ------------------------------------------------------------------------------------------------


def _fallbacks(state: _State, settings: Mapping[str, Any], routers: Mapping[str, list[Deployment]]) -> None:
    draft = state.draft
    for key in (*FALLBACK_KEYS, "default_fallbacks"):
        state.use_setting(key)
    generic = _fallback_lists(settings, "fallbacks")
    content = _fallback_lists(settings, "content_policy_fallbacks")
    default = settings.get("default_fallbacks") or []
    if isinstance(default, str):
        default = [default]
    if not isinstance(default, list) or not all(isinstance(g, str) for g in default):
        raise ConfigError("default_fallbacks: expected a list of model group names")
    chains: list[tuple[list[str], tuple[str, ...], str]] = []
    for group, deployments in state.groups.items():
        if group in routers:
            continue
        last = deployments[-1]
        if not state.tags and len(deployments) > 1:  # a failed deployment's retry goes to another one
            for here, after in zip(deployments, deployments[1:]):
                draft.fallback(here.name, after.name, PROVIDER_ERRORS, f"another deployment of {group}")
        own = generic.get(group, list(default))
        errors = PROVIDER_ERRORS + (() if group in content else ("content_filtered",))
        for key, targets, errs in (("fallbacks", own, errors), ("content_policy_fallbacks", content.get(group, []),
                                                                 ("content_filtered",))):
            if not targets:
                continue
            first = primary(state, targets[0])
            if first is None:
                draft.todo(f"{key} of {group}: {targets[0]!r} is no model group of model_list")
                continue
            for d in deployments:
                # inside a group, provider errors go to the next deployment first
                mine = errs if d is last or state.tags else tuple(e for e in errs if e == "content_filtered")
                if mine:
                    draft.fallback(d.name, first.name, mine, f"{key}: {group} -> {targets[0]}")
            chains.append(([group, *targets], errs, key))
    for groups, errs, key in chains:  # then the rest of each list, where a model's own list allows
        for one, two in zip(groups[1:], groups[2:]):
            a, b = primary(state, one), primary(state, two)
            if a is None or b is None:
                draft.todo(f"{key} of {groups[0]}: {(one if a is None else two)!r} is no model group of model_list")
                continue
            own_list = (generic.get(one) or list(default)) if key == "fallbacks" else content.get(one)
            if not [g for g in own_list or () if g != one]:
                draft.todo(f"{key}: requests to {one} itself fall back to {two} here too; LiteLLM tries {two} "
                           f"only for {groups[0]}'s requests (a policy's fallback belongs to the model)")
            draft.fallback(a.name, b.name, errs, f"{key}: {groups[0]} -> ... -> {two}")
    for groups, errs, key in chains:
        last_group = groups[-1]
        onward = (generic.get(last_group) or list(default)) if key == "fallbacks" else content.get(last_group)
        onward = [g for g in onward or () if g != last_group]
        if onward and last_group != groups[0]:
            draft.todo(f"{key}: when {groups[0]}'s fallbacks all fail, LiteLLM fails the request; here "
                       f"{last_group}'s own fallbacks ({', '.join(onward)}) go on serving it")
    for group in generic:
        if group not in state.groups:
            draft.todo(f"fallbacks: {group!r} is no model group of model_list")
