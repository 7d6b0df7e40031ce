"""Why a key of a LiteLLM or Portkey config is not carried over (the words of its TODO line),
and the range each numeric setting must fall in, by key name, whatever the importer makes of
it: a negative `num_retries` is refused even though retries become a TODO.

The keys named here are the ones the two projects' documentation shows (LiteLLM:
docs.litellm.ai/docs/proxy/configs, .../config_settings, .../custom_pricing, .../reliability,
.../tag_routing, .../users; Portkey: portkey.ai/docs/product/ai-gateway/configs and its pages on
fallbacks, load balancing, retries, caching, request timeouts and guardrails). A key named
nowhere gets the generic reason: not carried over, named so that nothing vanishes silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .draft import ConfigError, described
from .ledger import Entry, pattern


@dataclass(frozen=True)
class Range:
    """The values a numeric setting may take."""

    low: Decimal
    high: Decimal
    whole: bool = False
    low_open: bool = False
    what: str = "a number"

    def check(self, value: object, path: str) -> None:
        """Raises ConfigError naming `path` when `value` is not a number in the range."""
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{path}: expected {self.what}, found {described(value)}")
        try:
            number = Decimal(str(value).strip())
        except ArithmeticError:
            if isinstance(value, str):
                return  # a LiteLLM `os.environ/NAME` or a string the importer reads (or names) itself
            raise
        if not number.is_finite():
            raise ConfigError(f"{path}: {value!s} is not a number a router config can mean")
        if number < self.low or (self.low_open and number == self.low) or number > self.high:
            bound = f"{'>' if self.low_open else '>='} {_plain(self.low)} and <= {_plain(self.high)}"
            raise ConfigError(f"{path}: expected {self.what} {bound}, found {_plain(number)}")
        if self.whole and number != number.to_integral_value():
            raise ConfigError(f"{path}: expected a whole number, found {_plain(number)}")


def _plain(number: Decimal) -> str:
    """A number as a person writes it: 400, 0.5, 1E+308 for what is too long to write out."""
    if abs(number.adjusted()) > 15:
        return f"{number:.3E}"
    text = f"{number.normalize():f}"
    return text


D = Decimal
PRICE = Range(D(0), D(10), what="a price in US dollars per token (or second)")
COUNT = Range(D(0), D(10**12), whole=True, what="a whole number")
SECONDS = Range(D(0), D(86_400), low_open=True, what="a number of seconds")
NUMBERS: dict[str, Range] = {
    "input_cost_per_token": PRICE, "output_cost_per_token": PRICE, "input_cost_per_second": PRICE,
    "output_cost_per_second": PRICE, "cost_per_second": PRICE,
    "cache_read_input_token_cost": PRICE, "cache_creation_input_token_cost": PRICE,
    "max_input_tokens": Range(D(1), D(10**9), whole=True, what="a number of tokens"),
    "max_output_tokens": Range(D(1), D(10**9), whole=True, what="a number of tokens"),
    "max_tokens": Range(D(1), D(10**9), whole=True, what="a number of tokens"),
    "num_retries": Range(D(0), D(100), whole=True, what="a number of retries"),
    "retry_after": Range(D(0), D(86_400), what="a number of seconds"),
    "allowed_fails": COUNT, "rpm": COUNT, "tpm": COUNT, "max_parallel_requests": COUNT,
    "order": Range(D(0), D(10**6), whole=True, what="a priority"),
    "timeout": SECONDS, "request_timeout": SECONDS, "stream_timeout": SECONDS, "cooldown_time": Range(
        D(0), D(86_400), what="a number of seconds"),
    "max_budget": Range(D(0), D(10**12), what="an amount in US dollars"),
    "weight": Range(D(0), D(10**9), what="a weight"),
    "attempts": Range(D(0), D(100), whole=True, what="a number of attempts"),
    "max_age": COUNT,
}
"""The numeric settings of both configs by key name (Portkey's `weight` and `attempts` too)."""
NOT_NUMBERS = ("metadata", "query", "override_params", "environment_variables", "general_settings")
"""Keys under which a name above is the config's own data (a metadata field called `order`)."""


def check_numbers(entries: Mapping[str, Entry]) -> None:
    """Every numeric setting of the config in its range (`NUMBERS`), or ConfigError with its path."""
    for path, entry in entries.items():
        limits = NUMBERS.get(entry.key)
        if limits is None or any(f".{word}." in f".{path}." for word in NOT_NUMBERS):
            continue
        if entry.key == "max_tokens" and isinstance(entry.value, str):
            continue
        limits.check(entry.value, path)


# ---- LiteLLM ---------------------------------------------------------------------------------------------

CONNECTION = frozenset((
    "api_key api_base api_version organization api_type base_url custom_llm_provider aws_access_key_id "
    "aws_secret_access_key aws_session_token aws_region_name aws_role_name aws_bedrock_runtime_endpoint "
    "vertex_project vertex_location vertex_credentials azure_ad_token tenant_id client_id client_secret "
    "headers extra_headers use_in_pass_through litellm_credential_name input_cost_per_token_batches "
    "region_name").split())
"""Where and how LiteLLM calls a deployment: the endpoint and its credentials."""
CALL_PARAMETERS = frozenset((
    "temperature top_p max_tokens max_completion_tokens stop seed frequency_penalty presence_penalty "
    "response_format stream stream_timeout drop_params additional_drop_params max_retries "
    "reasoning_effort thinking merge_reasoning_content_in_choices mock_response").split())
LITELLM_REASONS: dict[str, str] = {
    "routing_strategy": "LiteLLM's routing strategy chooses among a group's deployments at run time (by "
                        "weight, load, usage or latency); the policy sends each request to the group's first "
                        "deployment and lets the others serve as its fallbacks",
    "routing_strategy_args": "the routing strategy's arguments act at run time; not carried over",
    "num_retries": "retries are not carried over: policylang.runtime's Retry(attempts=...) sets them "
                   "(attempts = num_retries + 1)",
    "retry_policy": "per-error retries are not carried over: policylang.runtime's Retry(on=...) sets them",
    "model_group_retry_policy": "per-group retries are not carried over: policylang.runtime's Retry sets "
                                "retries",
    "retry_after": "the wait before a retry is not carried over: policylang.runtime's Retry(base=, cap=) "
                   "sets it",
    "allowed_fails": "cooldowns are not carried over: policylang.runtime's Breaker takes a failing model out "
                     "of service",
    "allowed_fails_policy": "cooldowns are not carried over: policylang.runtime's Breaker takes a failing "
                            "model out of service",
    "cooldown_time": "cooldowns are not carried over: policylang.runtime's Breaker(cooldown=...) sets it",
    "disable_cooldowns": "cooldowns are not carried over: policylang.runtime's Breaker takes a failing model "
                         "out of service",
    "rpm": "a requests-per-minute limit is not carried over: a policy decides one request at a time "
           "(LiteLLM's usage-based routing reads it; a rate-limited model's fallback is `on rate_limited`)",
    "tpm": "a tokens-per-minute limit is not carried over: a policy decides one request at a time "
           "(LiteLLM's usage-based routing reads it; a rate-limited model's fallback is `on rate_limited`)",
    "max_parallel_requests": "a concurrency limit is not carried over: a policy decides one request at a time",
    "weight": "a deployment's weight in simple-shuffle is not carried over: the group's first deployment "
              "serves",
    "order": "a deployment's order is not carried over: the group's first deployment in model_list serves",
    "max_budget": "spend over time is not carried over: a policy's budget bounds one request's worst case "
                  "(write `budget cost <= $...` for that)",
    "budget_duration": "spend over time is not carried over: a policy's budget bounds one request's worst case",
    "provider_budget_config": "spend per provider over time is not carried over: a policy's budget bounds one "
                              "request's worst case",
    "input_cost_per_second": "a price per second is not carried over: a model's prices are per token",
    "output_cost_per_second": "a price per second is not carried over: a model's prices are per token",
    "cost_per_second": "a price per second is not carried over: a model's prices are per token",
    "model_group_alias": "model_group_alias (request names that stand for other groups) is not carried over; "
                         "add each alias to model_group's members with its group's rules",
    "enable_pre_call_checks": "LiteLLM's pre-call checks (context window, region) are not carried over; the "
                              "policy's rules on input_tokens and its invariants do that work",
    "default_max_parallel_requests": "a concurrency limit is not carried over: a policy decides one request "
                                     "at a time",
    "timeout": "a timeout is carried over only as the latency of a model std/catalog does not know (this one "
               "copies the catalog's); policylang.runtime's Router(timeout=...) sets one",
}
LITELLM_SECTIONS = {
    "general_settings": "the proxy server's own settings (keys, database, auth, alerting): not routing, "
                        "not carried over",
    "environment_variables": "the proxy's environment: not routing, not carried over",
    "litellm_settings": "a LiteLLM module setting (logging, callbacks, caching): not routing, not carried over",
    "router_settings": "a router setting policyc import does not carry over",
}


def litellm_reason(path: str) -> str:
    """Why the key at `path` of a LiteLLM config is not carried over."""
    shape = pattern(path)
    key = shape.rsplit(".", 1)[-1]
    section = shape.split(".", 1)[0].split("[", 1)[0]
    if section in ("general_settings", "environment_variables"):
        return LITELLM_SECTIONS[section]
    if key in LITELLM_REASONS:
        return LITELLM_REASONS[key]
    if key.startswith("redis_") or key in ("cache", "cache_params", "cache_responses"):
        return "shared state and caching for LiteLLM's proxies (Redis): not routing, not carried over"
    if shape.startswith("model_list[*].litellm_params."):
        if key in CONNECTION:
            return "where and how LiteLLM calls the deployment (endpoint, credentials): the app's client holds it"
        if key in CALL_PARAMETERS:
            return "a parameter LiteLLM sends with each call: not routing, not carried over"
        return "a litellm_params key policyc import does not carry over"
    if shape.startswith("model_list[*].model_info."):
        return "model_info that is not a price, a context window or an output cap: not carried over"
    if shape.startswith("model_list[*]."):
        return "a deployment key policyc import does not carry over"
    return LITELLM_SECTIONS.get(section, "a key policyc import does not know: not carried over")


# ---- Portkey ---------------------------------------------------------------------------------------------

PORTKEY_REASONS: dict[str, str] = {
    "api_key": "a credential: the app's Portkey client holds it",
    "custom_host": "where Portkey calls the provider: not routing, not carried over",
    "forward_headers": "headers Portkey forwards: not routing, not carried over",
    "retry": "retries are not carried over: policylang.runtime's Retry(attempts=, on=) sets them",
    "cache": "caching is not routing: not carried over",
    "request_timeout": "a timeout is not carried over: policylang.runtime's Router(timeout=...) and the models' "
                       "latency say it",
    "guardrails": "guardrails are not routing: not carried over",
    "input_guardrails": "guardrails are not routing: not carried over",
    "output_guardrails": "guardrails are not routing: not carried over",
    "before_request_hooks": "hooks are not routing: not carried over",
    "after_request_hooks": "hooks are not routing: not carried over",
    "weight": "a weight outside a loadbalance strategy means nothing to Portkey: not carried over",
    "on_status_codes": "on_status_codes outside a fallback strategy: not carried over",
    "metadata": "metadata the config attaches: not routing, not carried over",
    "strict_open_ai_compliance": "a response format setting: not routing, not carried over",
}


def portkey_reason(path: str) -> str:
    """Why the key at `path` of a Portkey config is not carried over."""
    shape = pattern(path)
    key = shape.rsplit(".", 1)[-1]
    if ".override_params." in f".{shape}":
        return "a parameter Portkey sends with each call: not routing, not carried over"
    if key in PORTKEY_REASONS:
        return PORTKEY_REASONS[key]
    if key.startswith(("aws_", "vertex_", "azure_", "openai_")):
        return "where and how Portkey calls the provider (credentials, region): not routing, not carried over"
    return "a key policyc import does not know: not carried over"
