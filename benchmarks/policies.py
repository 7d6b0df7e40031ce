"""Generated policies for the benchmarks: tenant-keyed rule lists like large deployments write.

`tenant_policy(n)` has two global rules, then `n` rules over a 200-member `tenant` enum plus
numeric thresholds on `input_tokens` and `tool_count` (five per tenant, cycling through the
tenants as often as `n` needs), then a default. It lints clean. `tenant_rules(n)` gives the
same rules as data, for the hand-written baselines in `tenant_baselines.py`.
`conjunctive_tenant_policy(n)` has conjunctions instead: a tenant test and one or two more
tests per rule, seeded, with many rules per tenant, so many rules are covered (W201) and the
lint benchmark times the cover search; `conjunctive_tenant_rules(n)` gives its rules as data, for
the hand-written baseline in `shapes.py`.
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


@dataclass(frozen=True)
class Test:
    """One conjunct beside the tenant test: `signal op value` for a threshold (op `>`, `>=`,
    `<`), `signal == value` for the user tier, `signal in value` for a task set, and for a
    bool `signal` alone (value True) or `not signal` (value False)."""

    signal: str
    op: str  # ">", ">=", "<", "==", "in", "bool"
    value: object

    def route_text(self) -> str:
        if self.op == "bool":
            return self.signal if self.value else f"not {self.signal}"
        if self.op == "in":
            return f"{self.signal} in {{" + ", ".join(self.value) + "}"  # type: ignore[arg-type]
        if self.op == "==":
            return f"{self.signal} == {self.value}"
        return f"{self.signal} {self.op} {self.value:_}"


@dataclass(frozen=True)
class ConjunctiveRule:
    name: str
    tenants: tuple[str, ...]  # one: `tenant == t`; three: `tenant in {..}`
    tests: tuple[Test, ...]
    target: str
    cap: int | None

    def route_text(self) -> str:
        tenant = f"tenant == {self.tenants[0]}" if len(self.tenants) == 1 else \
            "tenant in {" + ", ".join(self.tenants) + "}"
        cap = f" with max_output = {self.cap:_}" if self.cap else ""
        return f"  rule {self.name} when {' and '.join([tenant, *(t.route_text() for t in self.tests)])} -> " \
               f"{self.target}{cap}"


def _conjunctive_extra(rng: random.Random, kind: str) -> Test:
    """One test beside the tenant's: a threshold (mostly from below), a bool, a task set or a
    user tier."""
    if kind in NUMERIC:
        op = rng.choice(('>', '>', '>=', '<'))
        return Test(kind, op, rng.choice(NUMERIC[kind]))
    if kind == "flag":
        flag = rng.choice(FLAGS)
        return Test(flag, "bool", rng.random() < 0.7)
    if kind == "task":
        return Test("task", "in", tuple(sorted(rng.sample(TASKS, rng.randint(1, 3)))))
    return Test("user_tier", "==", rng.choice(TIERS))


def conjunctive_tenant_rules(n: int, seed: int = 3) -> list[ConjunctiveRule]:
    """The rules of `conjunctive_tenant_policy(n, seed)` as data, for hand-written baselines."""
    rng = random.Random(seed)
    tenants = [f"t{i:03d}" for i in range(CONJUNCTIVE_TENANTS)]
    rules = []
    for i in range(n):
        if rng.random() < 0.3:
            keys = tuple(sorted(rng.sample(tenants, 3)))
        else:
            keys = (rng.choice(tenants),)
        kinds = rng.sample(EXTRA_KINDS, rng.choice((1, 2, 2, 2)))
        extras = tuple(_conjunctive_extra(rng, kind) for kind in kinds)
        target = rng.choice(("small", "medium", "medium", "large"))
        cap = rng.choice((500, 1_000, 2_000)) if rng.random() < 0.2 else None
        rules.append(ConjunctiveRule(f"r{i:04d}", keys, extras, target, cap))
    return rules


def conjunctive_tenant_policy(n: int, seed: int = 3) -> str:
    """`n` rules after the two global ones, each a conjunction of a tenant test (`tenant ==
    tNNN` of 30 tenants, or one rule in three or so `tenant in {..}` of three) with one or
    two tests of different signals: a threshold on `input_tokens`, `conversation_depth` or
    `tool_count`, a bool (`pii`, `agentic`, ...), `task in {..}`, `user_tier == ..`; targets
    and caps vary; then a default. Deterministic for a seed. Many rules per tenant, as in
    deployments that grew by hand: at 1,000 rules about 600 are covered by rules above them
    (W201, most by several) and a few are redundant (W205); there is no error, so it compiles."""
    tenants = [f"t{i:03d}" for i in range(CONJUNCTIVE_TENANTS)]
    header = HEADER.format(members=", ".join(tenants)).replace(
        "signal tenant:", "signal task: enum {" + ", ".join(TASKS) + "}\nsignal tenant:")
    lines = [header.rstrip("\n"), *(r.route_text() for r in conjunctive_tenant_rules(n, seed))]
    return "\n".join(lines) + "\n  default -> small\n}\n"
