"""Hand-written code for the tenant policies, the way an engineer writes it without policylang.

Nobody types 1,000 rules, so this module writes the Python text an engineer would: a flat
if-chain in rule order, and a tenant-indexed version (a dict from each tenant to a function
holding its own rules). Each comes validating (the sixteen declared signals, exact type
first, as in handwritten.py) and unvalidated. The texts are built from `policies.tenant_rules`,
never from policylang, so the baseline is independent of the compiler it measures.
"""

from __future__ import annotations

from collections import defaultdict

from .policies import TENANTS, tenant_rules

PRELUDE = '''
from decimal import Decimal

class RequestError(ValueError):
    def __init__(self, code, signal):
        super().__init__(code)
        self.code, self.signal = code, signal

MISSING = object()
STEPS = frozenset({"plan", "execute", "final"})
TIERS = frozenset({"free", "pro", "enterprise"})
TENANTS = frozenset(%(tenants)r)

def _slow(signals, name, kind, low=None, high=None, members=None, default=MISSING):
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
    if value.__class__ is bool or not isinstance(value, (int, float, Decimal)) or (kind == "int" and not isinstance(value, int)):
        raise RequestError("R002", name)
    value = Decimal(repr(value)) if isinstance(value, float) else value
    if isinstance(value, Decimal) and not value.is_finite():  # NaN, sNaN (which no comparison takes), infinities
        raise RequestError("R003", name)
    if not low <= value <= high:
        raise RequestError("R003", name)
    return value
'''

VALIDATE = '''
    if signals.__class__ is not dict:
        raise RequestError("R002", None)
    input_tokens = signals.get("input_tokens", MISSING)
    if not (input_tokens.__class__ is int and 0 <= input_tokens <= 10_000_000):
        input_tokens = _slow(signals, "input_tokens", "int", 0, 10_000_000)
    v = signals.get("document_count", 0)
    if not (v.__class__ is int and 0 <= v <= 100_000):
        _slow(signals, "document_count", "int", 0, 100_000, default=0)
    v = signals.get("conversation_depth", 0)
    if not (v.__class__ is int and 0 <= v <= 1_000_000):
        _slow(signals, "conversation_depth", "int", 0, 1_000_000, default=0)
    tool_count = signals.get("tool_count", 0)
    if not (tool_count.__class__ is int and 0 <= tool_count <= 1_000):
        tool_count = _slow(signals, "tool_count", "int", 0, 1_000, default=0)
    v = signals.get("step_count", 1)
    if not (v.__class__ is int and 0 <= v <= 1_000):
        _slow(signals, "step_count", "int", 0, 1_000, default=1)
    v = signals.get("step", "execute")
    if not (v.__class__ is str and v in STEPS):
        _slow(signals, "step", "enum", members=STEPS, default="execute")
    if signals.get("agentic", False).__class__ is not bool:
        _slow(signals, "agentic", "bool", default=False)
    if signals.get("external_comms", False).__class__ is not bool:
        _slow(signals, "external_comms", "bool", default=False)
    if signals.get("irreversible", False).__class__ is not bool:
        _slow(signals, "irreversible", "bool", default=False)
    if signals.get("compliance_sensitive", False).__class__ is not bool:
        _slow(signals, "compliance_sensitive", "bool", default=False)
    pii = signals.get("pii", False)
    if pii.__class__ is not bool:
        pii = _slow(signals, "pii", "bool", default=False)
    if signals.get("financial", False).__class__ is not bool:
        _slow(signals, "financial", "bool", default=False)
    if signals.get("sync", True).__class__ is not bool:
        _slow(signals, "sync", "bool", default=True)
    user_tier = signals.get("user_tier", "free")
    if not (user_tier.__class__ is str and user_tier in TIERS):
        user_tier = _slow(signals, "user_tier", "enum", members=TIERS, default="free")
    v = signals.get("remaining_budget", 1_000_000)
    if not (v.__class__ is int and 0 <= v <= 1_000_000):
        _slow(signals, "remaining_budget", "money", 0, 1_000_000, default=1_000_000)
    tenant = signals.get("tenant", MISSING)
    if not (tenant.__class__ is str and tenant in TENANTS):
        tenant = _slow(signals, "tenant", "enum", members=TENANTS)
'''

TRUSTING = '''
    input_tokens = signals["input_tokens"]
    tenant = signals["tenant"]
    tool_count = signals.get("tool_count", 0)
    pii = signals.get("pii", False)
    user_tier = signals.get("user_tier", "free")
'''

GLOBALS = '''
    if input_tokens > 900_000:
        return TOO_LONG
    if pii and input_tokens > 200_000:
        return PII_LARGE
'''


def _test(rule) -> str:
    if rule.test == "tokens":
        return f"input_tokens > {rule.value}"
    if rule.test == "tools":
        return f"tool_count > {rule.value}"
    return f"user_tier == {rule.value!r}"


def _decisions(rules) -> str:
    lines = ['TOO_LONG = ("too_long", None, (), None, "input too long")',
             'PII_LARGE = ("pii_large", None, (), None, "PII input too large")',
             'DEFAULT = ("default", "small", ("small",), 4000, None)']
    for i, r in enumerate(rules):
        lines.append(f"D{i} = ({r.name!r}, {r.target!r}, ({r.target!r},), {r.cap or 4000}, None)")
    return "\n".join(lines) + "\n"


def flat(n: int, validate: bool) -> str:
    rules = tenant_rules(n)
    body = [f"    if tenant == {r.tenant!r} and {_test(r)}:\n        return D{i}" for i, r in enumerate(rules)]
    tenants = tuple(f"t{i:03d}" for i in range(TENANTS))
    return (PRELUDE % {"tenants": tenants} + _decisions(rules) + "\n\ndef decide(signals):"
            + (VALIDATE if validate else TRUSTING) + GLOBALS + "\n".join(body) + "\n    return DEFAULT\n")


def indexed(n: int, validate: bool) -> str:
    rules = tenant_rules(n)
    by_tenant = defaultdict(list)
    for i, r in enumerate(rules):
        by_tenant[r.tenant].append((i, r))
    functions = []
    for tenant, members in by_tenant.items():
        lines = [f"def _{tenant}(input_tokens, tool_count, user_tier):"]
        for i, r in members:
            lines.append(f"    if {_test(r)}:\n        return D{i}")
        lines.append("    return DEFAULT")
        functions.append("\n".join(lines))
    tenants = tuple(f"t{i:03d}" for i in range(TENANTS))
    chains = "CHAINS = {" + ", ".join(f"{t!r}: _{t}" for t in by_tenant) + "}\n"
    return (PRELUDE % {"tenants": tenants} + _decisions(rules) + "\n\n" + "\n\n".join(functions) + "\n\n"
            + chains + "\n_none = lambda input_tokens, tool_count, user_tier: DEFAULT\n\ndef decide(signals):"
            + (VALIDATE if validate else TRUSTING) + GLOBALS
            + "    return CHAINS.get(tenant, _none)(input_tokens, tool_count, user_tier)\n")


def load(text: str):
    namespace: dict = {}
    exec(compile(text, "<hand-written tenant policy>", "exec"), namespace)  # noqa: S102
    return namespace["decide"]
