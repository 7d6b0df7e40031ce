"""Two policy shapes this project did not tune for (issue 14), each with hand-written baselines.

`EIGHT`: 8 rules over 7 signals of mixed kinds (two ints, a float, a bool, an enum, money and
a duration), each rule reading one or two of them. Its baselines are written here by hand:
`eight_validating` checks every signal in declaration order (exact type, then domain, then
default, as handwritten.py does) and then routes; `eight_lazy` trusts its caller and reads
each signal only when the first rule that tests it is reached.

The conjunctive tenant policy (`policies.conjunctive_tenant_policy`): its baseline is the
Python text an engineer's generator would write from the rule data
(`policies.conjunctive_tenant_rules`, never policylang's IR): a dict from each tenant to a
function holding the rules that name it, in order, with the tenant test dropped, each signal
read just before the first rule of that chain that tests it (without validation), or the
validated values passed in as arguments (with it: faster than reading them again by name).

Issue 25 point 6 (10,000 rules, and the import without a bytecode cache) is measured by
`benchmarks/scale_decide.py` with the conjunctive baseline below.
"""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal

from .policies import CONJUNCTIVE_TENANTS, FLAGS, TASKS, TIERS, conjunctive_tenant_rules
from .tenant_baselines import PRELUDE

EIGHT = """policy eight_signals

signal input_tokens:     int in 0..2_000_000
signal tool_count:       int in 0..100 = 0
signal risk:             float in 0.0..1.0 = 0.0
signal pii:              bool = false
signal task:             enum {classify, summarize, draft, code, legal} = draft
signal remaining_budget: money in $0..$1_000 = $100
signal deadline:         duration in 0s..600s = 30s

model small  { id = "vendor/small",  tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, context = 2_000_000, max_output = 4_000, latency = 1s }
model medium { id = "vendor/medium", tier = 2, input_per_mtok = $1,   output_per_mtok = $4,   context = 2_000_000, max_output = 4_000, latency = 3s }
model large  { id = "vendor/large",  tier = 3, input_per_mtok = $3,   output_per_mtok = $15,  context = 2_000_000, max_output = 4_000, latency = 6s }

route {
  rule pii_long when pii and input_tokens > 100_000               -> reject "PII input too long"
  rule broke    when remaining_budget < $0.5                      -> small
  rule legal    when task == legal                                -> large
  rule risky    when risk > 0.8                                   -> large
  rule tools    when tool_count > 4 and task in {code, draft}     -> medium
  rule urgent   when deadline < 2s                                -> small
  rule long     when input_tokens > 64_000                        -> medium
  rule cheap    when task in {classify, summarize} and risk < 0.3 -> small with max_output = 1_000
  default -> medium
}
"""


class RequestError(ValueError):
    def __init__(self, code: str, signal: str | None) -> None:
        super().__init__(code)
        self.code, self.signal = code, signal


# (rule, model, steps, max_output, reject), as the harness compares decisions
PII_LONG = ("pii_long", None, (), None, "PII input too long")
BROKE = ("broke", "small", ("small",), 4000, None)
LEGAL = ("legal", "large", ("large",), 4000, None)
RISKY = ("risky", "large", ("large",), 4000, None)
TOOLS = ("tools", "medium", ("medium",), 4000, None)
URGENT = ("urgent", "small", ("small",), 4000, None)
LONG = ("long", "medium", ("medium",), 4000, None)
CHEAP = ("cheap", "small", ("small",), 1000, None)
DEFAULT = ("default", "medium", ("medium",), 4000, None)

EIGHT_TASKS = frozenset({"classify", "summarize", "draft", "code", "legal"})
CODE_OR_DRAFT = frozenset({"code", "draft"})
CLASSIFY_OR_SUMMARIZE = frozenset({"classify", "summarize"})
MISSING = object()
HALF_DOLLAR = Decimal("0.5")


def _slow(signals, name, kind, low=None, high=None, members=None, default=MISSING):
    """Every case the inline fast paths leave: missing, wrong type, outside the domain, and
    the values that take a conversion (a float for money or a duration, read by its repr)."""
    value = signals.get(name, MISSING)
    if value is MISSING:
        if default is MISSING:
            raise RequestError("R001", name)
        return default
    if kind == "bool":
        if value.__class__ is not bool:
            raise RequestError("R002", name)
        return value
    if kind == "enum":
        if not isinstance(value, str):
            raise RequestError("R002", name)
        if value not in members:
            raise RequestError("R003", name)
        return value
    if value.__class__ is bool or not isinstance(value, (int, float, Decimal)) \
            or (kind == "int" and not isinstance(value, int)) or (kind != "money" and isinstance(value, Decimal)):
        raise RequestError("R002", name)
    if isinstance(value, float):
        if value != value or abs(value) == float("inf"):
            raise RequestError("R003", name)
        if kind != "float":
            value = Decimal(repr(value))  # money and durations are exact: a float reads as its repr
    elif isinstance(value, Decimal) and not value.is_finite():
        raise RequestError("R003", name)
    if not low <= value <= high:
        raise RequestError("R003", name)
    return value


def eight_validating(signals):
    """Validates the seven signals in declaration order, then routes."""
    if signals.__class__ is not dict:
        raise RequestError("R002", None)
    input_tokens = signals.get("input_tokens", MISSING)
    if not (input_tokens.__class__ is int and 0 <= input_tokens <= 2_000_000):
        input_tokens = _slow(signals, "input_tokens", "int", 0, 2_000_000)
    tool_count = signals.get("tool_count", 0)
    if not (tool_count.__class__ is int and 0 <= tool_count <= 100):
        tool_count = _slow(signals, "tool_count", "int", 0, 100, default=0)
    risk = signals.get("risk", 0.0)
    if not (risk.__class__ is float and 0.0 <= risk <= 1.0):  # NaN fails the range: the slow path says R003
        risk = _slow(signals, "risk", "float", 0.0, 1.0, default=0.0)
    pii = signals.get("pii", False)
    if pii.__class__ is not bool:
        pii = _slow(signals, "pii", "bool", default=False)
    task = signals.get("task", "draft")
    if not (task.__class__ is str and task in EIGHT_TASKS):
        task = _slow(signals, "task", "enum", members=EIGHT_TASKS, default="draft")
    remaining_budget = signals.get("remaining_budget", 100)
    if not (remaining_budget.__class__ is int and 0 <= remaining_budget <= 1_000):
        remaining_budget = _slow(signals, "remaining_budget", "money", 0, 1_000, default=100)
    deadline = signals.get("deadline", 30)
    if not (deadline.__class__ is int and 0 <= deadline <= 600):
        deadline = _slow(signals, "deadline", "duration", 0, 600, default=30)
    if pii and input_tokens > 100_000:
        return PII_LONG
    if remaining_budget < HALF_DOLLAR:
        return BROKE
    if task == "legal":
        return LEGAL
    if risk > 0.8:
        return RISKY
    if tool_count > 4 and task in CODE_OR_DRAFT:
        return TOOLS
    if deadline < 2:
        return URGENT
    if input_tokens > 64_000:
        return LONG
    if task in CLASSIFY_OR_SUMMARIZE and risk < 0.3:
        return CHEAP
    return DEFAULT


def eight_lazy(signals):
    """For callers whose signals are already typed and in their domains: each signal is read
    when the first rule that tests it is reached (input_tokens again at `long` after `pii`)."""
    if signals.get("pii", False) and signals["input_tokens"] > 100_000:
        return PII_LONG
    if signals.get("remaining_budget", 100) < 0.5:
        return BROKE
    task = signals.get("task", "draft")
    if task == "legal":
        return LEGAL
    risk = signals.get("risk", 0.0)
    if risk > 0.8:
        return RISKY
    if signals.get("tool_count", 0) > 4 and task in CODE_OR_DRAFT:
        return TOOLS
    if signals.get("deadline", 30) < 2:
        return URGENT
    if signals["input_tokens"] > 64_000:
        return LONG
    if task in CLASSIFY_OR_SUMMARIZE and risk < 0.3:
        return CHEAP
    return DEFAULT


def eight_requests(n: int = 2_000, seed: int = 5) -> list[dict]:
    """A seeded mix of valid requests that reaches every rule, optional signals often absent,
    money and durations as JSON gives them (ints and floats)."""
    rng = random.Random(seed)
    tasks = sorted(EIGHT_TASKS)
    requests = []
    for _ in range(n):
        r: dict = {"input_tokens": int(10 ** rng.uniform(1, 6))}
        if rng.random() < 0.4:
            r["tool_count"] = rng.randint(0, 8)
        if rng.random() < 0.5:
            r["risk"] = round(rng.random(), 3)
        if rng.random() < 0.3:
            r["pii"] = rng.random() < 0.2
        if rng.random() < 0.8:
            r["task"] = rng.choice(tasks)
        if rng.random() < 0.3:
            r["remaining_budget"] = rng.randint(0, 40) if rng.random() < 0.6 else round(rng.uniform(0, 40), 2)
        if rng.random() < 0.3:
            r["deadline"] = rng.randint(0, 120) if rng.random() < 0.7 else round(rng.uniform(0, 120), 1)
        requests.append(r)
    return requests


# ---- the conjunctive tenant policy, hand-written from its rule data ------------------------------

DEFAULTS = {"input_tokens": None, "conversation_depth": 0, "tool_count": 0, "task": None, "user_tier": "free",
            **{flag: False for flag in FLAGS}}
"""The signals the conjunctive rules test and their defaults (std/signals; None: required)."""
CHAIN_ARGUMENTS = ("input_tokens", "conversation_depth", "tool_count", "pii", "agentic", "external_comms",
                   "irreversible", "compliance_sensitive", "financial", "task", "user_tier")

CONJUNCTIVE_VALIDATE = '''
    if signals.__class__ is not dict:
        raise RequestError("R002", None)
    input_tokens = signals.get("input_tokens", MISSING)
    if not (input_tokens.__class__ is int and 0 <= input_tokens <= 10_000_000):
        input_tokens = _slow(signals, "input_tokens", "int", 0, 10_000_000)
    v = signals.get("document_count", 0)
    if not (v.__class__ is int and 0 <= v <= 100_000):
        _slow(signals, "document_count", "int", 0, 100_000, default=0)
    conversation_depth = signals.get("conversation_depth", 0)
    if not (conversation_depth.__class__ is int and 0 <= conversation_depth <= 1_000_000):
        conversation_depth = _slow(signals, "conversation_depth", "int", 0, 1_000_000, default=0)
    tool_count = signals.get("tool_count", 0)
    if not (tool_count.__class__ is int and 0 <= tool_count <= 1_000):
        tool_count = _slow(signals, "tool_count", "int", 0, 1_000, default=0)
    v = signals.get("step_count", 1)
    if not (v.__class__ is int and 0 <= v <= 1_000):
        _slow(signals, "step_count", "int", 0, 1_000, default=1)
    v = signals.get("step", "execute")
    if not (v.__class__ is str and v in STEPS):
        _slow(signals, "step", "enum", members=STEPS, default="execute")
    agentic = signals.get("agentic", False)
    if agentic.__class__ is not bool:
        agentic = _slow(signals, "agentic", "bool", default=False)
    external_comms = signals.get("external_comms", False)
    if external_comms.__class__ is not bool:
        external_comms = _slow(signals, "external_comms", "bool", default=False)
    irreversible = signals.get("irreversible", False)
    if irreversible.__class__ is not bool:
        irreversible = _slow(signals, "irreversible", "bool", default=False)
    compliance_sensitive = signals.get("compliance_sensitive", False)
    if compliance_sensitive.__class__ is not bool:
        compliance_sensitive = _slow(signals, "compliance_sensitive", "bool", default=False)
    pii = signals.get("pii", False)
    if pii.__class__ is not bool:
        pii = _slow(signals, "pii", "bool", default=False)
    financial = signals.get("financial", False)
    if financial.__class__ is not bool:
        financial = _slow(signals, "financial", "bool", default=False)
    if signals.get("sync", True).__class__ is not bool:
        _slow(signals, "sync", "bool", default=True)
    user_tier = signals.get("user_tier", "free")
    if not (user_tier.__class__ is str and user_tier in TIERS):
        user_tier = _slow(signals, "user_tier", "enum", members=TIERS, default="free")
    v = signals.get("remaining_budget", 1_000_000)
    if not (v.__class__ is int and 0 <= v <= 1_000_000):
        _slow(signals, "remaining_budget", "money", 0, 1_000_000, default=1_000_000)
    task = signals.get("task", MISSING)
    if not (task.__class__ is str and task in TASKS):
        task = _slow(signals, "task", "enum", members=TASKS)
    tenant = signals.get("tenant", MISSING)
    if not (tenant.__class__ is str and tenant in TENANTS):
        tenant = _slow(signals, "tenant", "enum", members=TENANTS)
    if input_tokens > 900_000:
        return TOO_LONG
    if pii and input_tokens > 200_000:
        return PII_LARGE
    return CHAINS.get(tenant, _none)(input_tokens, conversation_depth, tool_count, pii, agentic, external_comms,
                                     irreversible, compliance_sensitive, financial, task, user_tier)
'''

CONJUNCTIVE_TRUSTING = '''
    input_tokens = signals["input_tokens"]
    if input_tokens > 900_000:
        return TOO_LONG
    if input_tokens > 200_000 and signals.get("pii", False):
        return PII_LARGE
    return CHAINS.get(signals["tenant"], _none)(signals, input_tokens)
'''


def _read(signal: str) -> str:
    default = DEFAULTS[signal]
    return f'signals["{signal}"]' if default is None else f'signals.get("{signal}", {default!r})'


def _python_test(test, sets: dict[tuple[str, ...], str]) -> str:
    if test.op == "bool":
        return test.signal if test.value else f"not {test.signal}"
    if test.op == "in":
        return f"{test.signal} in {sets.setdefault(test.value, f'S{len(sets)}')}"
    if test.op == "==":
        return f"{test.signal} == {test.value!r}"
    return f"{test.signal} {test.op} {test.value}"


def conjunctive_indexed(n: int, validate: bool) -> str:
    """The tenant-indexed hand-written module for `conjunctive_tenant_policy(n)`."""
    rules = conjunctive_tenant_rules(n)
    by_tenant = defaultdict(list)
    for i, r in enumerate(rules):
        for tenant in r.tenants:
            by_tenant[tenant].append((i, r))
    sets: dict[tuple[str, ...], str] = {}
    functions = []
    parameters = ", ".join(CHAIN_ARGUMENTS) if validate else "signals, input_tokens"
    for tenant, members in sorted(by_tenant.items()):
        lines, read = [f"def _{tenant}({parameters}):"], {"input_tokens"}
        for i, r in members:
            for test in r.tests:
                if test.signal not in read and not validate:
                    read.add(test.signal)
                    lines.append(f"    {test.signal} = {_read(test.signal)}")
            lines.append(f"    if {' and '.join(_python_test(t, sets) for t in r.tests)}:\n        return D{i}")
        lines.append("    return DEFAULT")
        functions.append("\n".join(lines))
    decisions = ['TOO_LONG = ("too_long", None, (), None, "input too long")',
                 'PII_LARGE = ("pii_large", None, (), None, "PII input too large")',
                 'DEFAULT = ("default", "small", ("small",), 4000, None)']
    decisions += [f"D{i} = ({r.name!r}, {r.target!r}, ({r.target!r},), {r.cap or 4000}, None)"
                  for i, r in enumerate(rules)]
    constants = [f"{name} = frozenset({set(members)!r})" for members, name in sets.items()]
    constants.append(f"TASKS = frozenset({set(TASKS)!r})")
    chains = "CHAINS = {" + ", ".join(f"{t!r}: _{t}" for t in sorted(by_tenant)) + "}\n"
    tenants = tuple(f"t{i:03d}" for i in range(CONJUNCTIVE_TENANTS))
    assert set(TIERS) == {"free", "pro", "enterprise"}  # the prelude's TIERS
    return (PRELUDE % {"tenants": tenants} + "\n".join(decisions + constants) + "\n\n" + "\n\n".join(functions)
            + "\n\n" + chains + f"\n_none = lambda {parameters}: DEFAULT\n\ndef decide(signals):"
            + (CONJUNCTIVE_VALIDATE if validate else CONJUNCTIVE_TRUSTING))


def conjunctive_requests(n: int = 2_000, seed: int = 13) -> list[dict]:
    """A seeded mix of valid requests for the conjunctive tenant policy: every tenant, the
    tested signals often absent (their defaults), a few that the global rules reject."""
    rng = random.Random(seed)
    requests = []
    for _ in range(n):
        r: dict = {"tenant": f"t{rng.randrange(CONJUNCTIVE_TENANTS):03d}", "task": rng.choice(TASKS),
                   "input_tokens": int(10 ** rng.uniform(1, 6))}
        if rng.random() < 0.5:
            r["conversation_depth"] = rng.randint(0, 60)
        if rng.random() < 0.5:
            r["tool_count"] = rng.randint(0, 10)
        for flag in FLAGS:
            if rng.random() < 0.3:
                r[flag] = rng.random() < 0.3
        if rng.random() < 0.5:
            r["user_tier"] = rng.choice(TIERS)
        requests.append(r)
    return requests


# ---- the suite -------------------------------------------------------------------------------

GOAL_COMPILED = 1.2
GOAL_INTERPRETER, AIM_INTERPRETER = 5.0, 3.0
GOAL_IMPORT_MS = 50.0


def _goal_row(what: str, candidate: float, baseline: float | None, goal: float | None, aim: float | None = None) -> str:
    """One row of the goals table: a time in ms against a goal in ms when there is no
    baseline, else the ratio of two times in ns against a goal (and an aim); a time with no
    goal is only reported."""
    if goal is None:
        return f"| {what} | {candidate:,.1f} ms | | | none: reported | |"
    if baseline is None:
        met = "yes" if candidate <= goal else "**no**"
        return f"| {what} | {candidate:,.1f} ms | | | ≤ {goal:g} ms | {met} |"
    ratio = candidate / baseline
    met = "yes" if ratio <= goal else "**no**"
    if aim is not None and ratio <= goal:
        met += " (aim met)" if ratio <= aim else f" (aim {aim:g} not met)"
    goal_text = f"≤ {goal:g}" + (f", aim {aim:g}" if aim is not None else "")
    return f"| {what} | {candidate:,.0f} ns | {baseline:,.0f} ns | {ratio:.2f} | {goal_text} | {met} |"
