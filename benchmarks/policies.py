"""Generated policies for the benchmarks: tenant-keyed rule lists like large deployments write.

`tenant_policy(n)` has two global rules, then `n` rules over a 200-member `tenant` enum plus
numeric thresholds on `input_tokens` and `tool_count` (five per tenant, cycling through the
tenants as often as `n` needs), then a default. It lints clean. `tenant_rules(n)` gives the
same rules as data, for the hand-written baselines in `tenant_baselines.py`.
`conjunctive_tenant_policy(n)` has conjunctions instead: a tenant test and one or two more
tests per rule, seeded, with many rules per tenant, so many rules are covered (W201) and the
lint benchmark times the cover search.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TENANTS = 200
THRESHOLDS = (2_000, 8_000, 32_000, 64_000, 128_000)

HEADER = """policy tenants

import "std/signals"

signal tenant: enum {{{members}}}

model small  {{ id = "vendor/small",  tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, context = 1_000_000, max_output = 4_000, latency = 2s }}
model medium {{ id = "vendor/medium", tier = 2, input_per_mtok = $1,   output_per_mtok = $4,   context = 1_000_000, max_output = 4_000, latency = 4s }}
model large  {{ id = "vendor/large",  tier = 3, input_per_mtok = $3,   output_per_mtok = $15,  context = 1_000_000, max_output = 4_000, latency = 8s }}

budget cost <= $4

route {{
  rule too_long   when input_tokens > 900_000                -> reject "input too long"
  rule pii_large  when pii and input_tokens > 200_000        -> reject "PII input too large"
"""


@dataclass(frozen=True)
class TenantRule:
    name: str
    tenant: str
    test: str  # "tokens", "tools", "tier"
    value: object  # the threshold, or the user_tier member
    target: str
    cap: int | None

    def route_text(self) -> str:
        if self.test == "tokens":
            condition = f"input_tokens > {self.value:_}"
        elif self.test == "tools":
            condition = f"tool_count > {self.value}"
        else:
            condition = f"user_tier == {self.value}"
        cap = f" with max_output = {self.cap:_}" if self.cap else ""
        return f"  rule {self.name} when tenant == {self.tenant} and {condition} -> {self.target}{cap}"


def tenant_rules(n: int) -> list[TenantRule]:
    rules = []
    for i in range(n):
        t, k = divmod(i, 5)
        tenant = f"t{t % TENANTS:03d}"
        round_ = t // TENANTS  # past 200 tenants, later rules get other thresholds
        long_at = THRESHOLDS[(t + round_) % len(THRESHOLDS)]
        name = f"{tenant}_{round_}_{k}"
        rules.append([
            TenantRule(f"{name}_long", tenant, "tokens", long_at, "large", None),
            TenantRule(f"{name}_tools", tenant, "tools", 3 + round_, "medium", None),
            TenantRule(f"{name}_ent", tenant, "tier", "enterprise", "large", 2_000),
            TenantRule(f"{name}_mid", tenant, "tokens", long_at // 4, "medium", None),
            TenantRule(f"{name}_rest", tenant, "tier", "pro", "medium", 1_000),
        ][k])
    return rules


def tenant_policy(n: int) -> str:
    """A policy of `n` tenant rules after two global ones, and a default."""
    members = ", ".join(f"t{i:03d}" for i in range(TENANTS))
    body = "\n".join(r.route_text() for r in tenant_rules(n))
    return HEADER.format(members=members) + body + "\n  default -> small\n}\n"


def arithmetic_policy(n: int, signals: int) -> str:
    """`n` rules over `signals` int signals, one in three comparing a sum of two signals (which
    only the solver decides; the rest are one-signal tests the exact boxes decide)."""
    names = [f"s{i:02d}" for i in range(signals)]
    lines = ["policy arithmetic", ""]
    lines += [f"signal {name}: int in 0..1_000" for name in names]
    lines += ["signal input_tokens: int in 0..100_000", "",
              'model small { id = "vendor/small", tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, '
              "context = 1_000_000, max_output = 1_000, latency = 1s }",
              'model large { id = "vendor/large", tier = 2, input_per_mtok = $3, output_per_mtok = $15, '
              "context = 1_000_000, max_output = 1_000, latency = 4s }", "", "budget cost <= $1", "", "route {"]
    for i in range(n):
        a, b = names[i % signals], names[(i * 7 + 3) % signals]
        threshold = 100 + (i * 37) % 800
        target = "large" if i % 2 else "small"
        if i % 3 == 0 and a != b:
            condition = f"{a} + {b} > {threshold * 2} and input_tokens > {i * 97 % 90_000}"
        else:
            condition = f"{a} > {threshold} and {b} <= {1_000 - threshold // 2}"
        lines.append(f"  rule r{i:04d} when {condition} -> {target}")
    lines += ["  default -> small", "}", ""]
    return "\n".join(lines)


CONJUNCTIVE_TENANTS = 30
TASKS = ("classify", "draft", "summarize", "extract", "code", "legal_review")
FLAGS = ("pii", "agentic", "external_comms", "irreversible", "compliance_sensitive", "financial")
TIERS = ("free", "pro", "enterprise")
NUMERIC = {"input_tokens": (2_000, 8_000, 32_000, 64_000, 128_000),
           "conversation_depth": (5, 10, 20, 50), "tool_count": (1, 2, 4, 8)}
EXTRA_KINDS = (*NUMERIC, "flag", "task", "tier")


def _conjunctive_extra(rng: random.Random, kind: str) -> str:
    """One test beside the tenant's: a threshold (mostly from below), a bool, a task set or a
    user tier."""
    if kind in NUMERIC:
        return f"{kind} {rng.choice(('>', '>', '>=', '<'))} {rng.choice(NUMERIC[kind]):_}"
    if kind == "flag":
        flag = rng.choice(FLAGS)
        return flag if rng.random() < 0.7 else f"not {flag}"
    if kind == "task":
        return "task in {" + ", ".join(sorted(rng.sample(TASKS, rng.randint(1, 3)))) + "}"
    return f"user_tier == {rng.choice(TIERS)}"


def conjunctive_tenant_policy(n: int, seed: int = 3) -> str:
    """`n` rules after the two global ones, each a conjunction of a tenant test (`tenant ==
    tNNN` of 30 tenants, or one rule in three or so `tenant in {..}` of three) with one or
    two tests of different signals: a threshold on `input_tokens`, `conversation_depth` or
    `tool_count`, a bool (`pii`, `agentic`, ...), `task in {..}`, `user_tier == ..`; targets
    and caps vary; then a default. Deterministic for a seed. Many rules per tenant, as in
    deployments that grew by hand: at 1,000 rules about 600 are covered by rules above them
    (W201, most by several) and a few are redundant (W205); there is no error, so it compiles."""
    rng = random.Random(seed)
    tenants = [f"t{i:03d}" for i in range(CONJUNCTIVE_TENANTS)]
    header = HEADER.format(members=", ".join(tenants)).replace(
        "signal tenant:", "signal task: enum {" + ", ".join(TASKS) + "}\nsignal tenant:")
    lines = [header.rstrip("\n")]
    for i in range(n):
        if rng.random() < 0.3:
            tenant = "tenant in {" + ", ".join(sorted(rng.sample(tenants, 3))) + "}"
        else:
            tenant = f"tenant == {rng.choice(tenants)}"
        kinds = rng.sample(EXTRA_KINDS, rng.choice((1, 2, 2, 2)))
        extras = [_conjunctive_extra(rng, kind) for kind in kinds]
        target = rng.choice(("small", "medium", "medium", "large"))
        cap = f" with max_output = {rng.choice((500, 1_000, 2_000)):_}" if rng.random() < 0.2 else ""
        lines.append(f"  rule r{i:04d} when {' and '.join([tenant, *extras])} -> {target}{cap}")
    return "\n".join(lines) + "\n  default -> small\n}\n"
