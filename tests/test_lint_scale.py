"""Section 6 on a conjunctive tenant policy, the shape `benchmarks/` times at 1,000 rules.

Nine tenants, each with the same block of rules (a tenant test and one or two more tests:
thresholds on `input_tokens`, `tool_count` and `conversation_depth`, `pii`, `agentic`, a task
set, `user_tier`), with rules planted where the findings are known by construction:

- `_huge` is covered by one rule (`_long`), `_deep_tools` by two (`_agent`, `_manual`) and
  `_tools` by three (`_free`, `_pro`, `_ent`): W201 with covers of one, two and three;
- `_quiet`, on the even tenants, sends small what the default sends small anyway: W205;
- `shared_long` (`tenant in {..}` of three) is covered by the three tenants' `_long` rules, out
  of more than `_PAIR_SEARCH_LIMIT` rules that meet it (the greedy path); `shared_never` can
  never hold (W202);
- the default takes the rest, so there is no gap (no E204) and it fires (no W203).

The findings are asserted exactly, as (code, line); each W201's covering set is checked with the
solver alone (every box answer withheld, as in test_boxes_agree.py) to cover the rule, to need
each of its rules, and to be as small as the planted cover.
"""

from __future__ import annotations

import itertools

import z3

import policylang
from policylang.analysis.facts import Facts
from policylang.backends.python.interpreter import Interpreter
from policylang.passes import rules as rule_pass

TENANTS = [f"t{k:02d}" for k in range(9)]

HEADER = """policy scale

import "std/signals"

signal task: enum {classify, draft, summarize, extract, code, legal_review}
signal tenant: enum {%s}

model small  { id = "vendor/small",  tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, context = 1_000_000, max_output = 4_000, latency = 2s }
model medium { id = "vendor/medium", tier = 2, input_per_mtok = $1,   output_per_mtok = $4,   context = 1_000_000, max_output = 4_000, latency = 4s }
model large  { id = "vendor/large",  tier = 3, input_per_mtok = $3,   output_per_mtok = $15,  context = 1_000_000, max_output = 4_000, latency = 8s }

route {
  rule too_long when input_tokens > 900_000 -> reject "input too long"
"""

BLOCK = [  # (name, condition after the tenant test, target)
    ("long", "input_tokens > 64_000", "large"),
    ("pii", "pii", "medium"),
    ("legal", "task in {legal_review}", "large"),
    ("agent", "tool_count > 2 and agentic", "medium"),
    ("manual", "tool_count > 8 and not agentic", "large"),
    ("free", "tool_count > 2 and user_tier == free", "medium with max_output = 1_000"),
    ("pro", "tool_count > 2 and user_tier == pro", "large"),
    ("ent", "tool_count > 2 and user_tier == enterprise", "large with max_output = 2_000"),
    ("huge", "input_tokens > 128_000 and user_tier == pro", "medium"),  # W201 by long
    ("deep_tools", "tool_count > 8", "small with max_output = 500"),  # W201 by agent, manual
    ("tools", "tool_count > 4", "medium"),  # W201 by free, pro, ent
    ("quiet", "conversation_depth > 50", "small"),  # W205 (even tenants): the default decides the same
]

COVERS = {"huge": ["long"], "deep_tools": ["agent", "manual"], "tools": ["free", "pro", "ent"]}


def scale_policy(default: bool = True) -> str:
    lines = [HEADER % ", ".join(TENANTS)]
    for k, tenant in enumerate(TENANTS):
        for name, condition, target in BLOCK:
            if name == "quiet" and k % 2:
                continue
            lines.append(f"  rule {tenant}_{name} when tenant == {tenant} and {condition} -> {target}\n")
    lines.append("  rule shared_long when tenant in {t00, t01, t02} and input_tokens > 100_000 -> medium\n")
    lines.append("  rule shared_never when tenant in {t03, t04, t05} and conversation_depth > 50 "
                 "and conversation_depth < 5 -> medium\n")
    if default:
        lines.append("  default -> small\n")
    return "".join(lines) + "}\n"


def line_of(text: str) -> dict[str, int]:
    """Rule name -> its line."""
    return {row.split()[1]: n for n, row in enumerate(text.splitlines(), 1) if row.lstrip().startswith("rule ")}


def expected(text: str) -> set[tuple[str, int]]:
    lines = line_of(text)
    found = {("W201", lines[f"{t}_{name}"]) for t in TENANTS for name in COVERS}
    found |= {("W205", lines[f"{t}_quiet"]) for k, t in enumerate(TENANTS) if k % 2 == 0}
    found |= {("W201", lines["shared_long"]), ("W202", lines["shared_never"])}
    return found


def facts_of(text: str, *, warnings: bool = True) -> Facts:
    return Facts(policylang.loads(text, "scale.route", analyze=False).ir, None, Interpreter, warnings=warnings)


def solver_only(text: str) -> Facts:
    """The same policy's facts with every box answer withheld: the solver decides everything."""
    facts = facts_of(text)
    facts.exact = [None] * len(facts.rules)
    facts._firing_boxes.clear()
    return facts


def covers(facts: Facts, i: int, covering: list[int]) -> bool:
    return not facts.solver.satisfiable(facts.conditions[i], *(z3.Not(facts.conditions[j]) for j in covering))


def test_the_policy_is_the_size_the_brief_asks() -> None:
    assert 60 <= len(line_of(scale_policy())) <= 120


def test_findings_exactly() -> None:
    text = scale_policy()
    found = {(d.code, d.span.line) for d in rule_pass.check_rules(facts_of(text))}
    assert found == expected(text)


def test_every_cover_covers_needs_each_rule_and_is_smallest() -> None:
    text = scale_policy()
    names = sorted(line_of(text), key=line_of(text).get)  # rule index -> name
    index = {line: i for i, line in enumerate(sorted(line_of(text).values()))}
    plain = solver_only(text)
    reported = [d for d in rule_pass.check_rules(facts_of(text)) if d.code == "W201"]
    assert len(reported) == len(COVERS) * len(TENANTS) + 1
    for d in reported:
        i = index[d.span.line]
        name, covering = names[i], [index[r.span.line] for r in d.related]
        assert covers(plain, i, covering), f"{name} is not covered by {[names[j] for j in covering]}"
        for j in covering:
            assert not covers(plain, i, [k for k in covering if k != j]), f"{name} does not need {names[j]}"
        smallest = 3 if name == "shared_long" else len(COVERS[name.split("_", 1)[1]])
        assert len(covering) == smallest, f"{name}: {[names[j] for j in covering]}, yet {smallest} suffice"
        for size in range(1, smallest):  # and no fewer of the rules above that meet it cover it
            assert not any(covers(plain, i, list(c)) for c in itertools.combinations(plain.earlier(i), size))


def test_the_solver_alone_finds_the_same() -> None:
    text = scale_policy()
    assert {(d.code, d.span.line) for d in rule_pass.check_rules(solver_only(text))} == expected(text)


def test_errors_only_skips_the_warnings_and_keeps_e204() -> None:
    text = scale_policy()
    assert rule_pass.check_rules(facts_of(text, warnings=False)) == []
    gap = scale_policy(default=False)  # the same rules on the same lines, and no default
    with_warnings = rule_pass.check_rules(facts_of(gap))
    errors_only = rule_pass.check_rules(facts_of(gap, warnings=False))
    e204 = [d for d in with_warnings if d.code == "E204"]
    assert [(d.code, d.span.line) for d in errors_only] == [(d.code, d.span.line) for d in e204]
    # a request no rule takes (W202's question before it may lead the solver to another one)
    policy = policylang.loads(gap, "scale.route", analyze=False)
    assert policy.interpreter.decide(errors_only[0].witness).rule is None
    # without a default, `_quiet` decides something the gap would not: no longer redundant
    warnings = {(d.code, d.span.line) for d in with_warnings if d.code != "E204"}
    assert warnings == {(code, line) for code, line in expected(text) if code != "W205"}


# ---- the benchmark shapes of issue 25 --------------------------------------------------------


def test_cascade_climbs_decided_edge_by_edge_are_the_solvers() -> None:
    """Where an edge reads only outcomes, a climb's next step is decided from the edge alone
    (`Facts.edge_holds`); the solver asked about the whole climb says the same at every step,
    and so does a climb whose edge also reads a signal (asked of the solver as before)."""
    from benchmarks import scale

    text = scale.cascade(60, 4)
    # one cascade whose first edge reads a signal too: the solver path
    first_edge = text.index("when confidence", text.index("cascade c0000 {"))
    text = text[:first_edge] + "when pii and confidence" + text[first_edge + len("when confidence"):]
    facts = facts_of(text)
    assert facts.edge_holds("c0000", 0) is None and facts.edge_holds("c0001", 0) is True
    climbed = 0
    for rule in facts.routed:
        climb = facts.climb(rule)
        for k in range(1, len(climb.steps)):
            by_solver = facts.solver.satisfiable(*climb.regions[k])
            assert climb.reachable[k] == by_solver, f"{rule.name} step {k}"
            climbed += by_solver
    assert climbed > 0


def test_the_meeting_index_and_a_scan_agree_on_every_shape() -> None:
    """The index compares a rule only with rules that can meet it, and drops none that do."""
    from benchmarks import scale
    from policylang.ir.boxes import disjoint

    for make in scale.SHAPES.values():
        facts = facts_of(make(80, 2))
        narrow = facts._narrow_hulls
        for i in range(len(facts.rules)):
            scan = [j for j in range(len(facts.rules))
                    if j != i and narrow[i] is not None and not disjoint(narrow[i], narrow[j])]
            assert facts.meeting(i) == scan


def test_a_check_puts_the_collector_back() -> None:
    """Checks run the collector rarely while any is running (threads included), and the last
    to end puts the thresholds back as they were."""
    import gc
    import threading

    from policylang.passes.pipeline import _rare_collection

    before = gc.get_threshold()
    inside: list[int] = []
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with _rare_collection():
            entered.set()
            leave.wait(5)
            inside.append(gc.get_threshold()[0])

    thread = threading.Thread(target=other)
    with _rare_collection():
        thread.start()
        entered.wait(5)
        inside.append(gc.get_threshold()[0])
    assert gc.get_threshold()[0] == 100_000  # the other check is still running
    leave.set()
    thread.join(5)
    assert inside == [100_000, 100_000]
    assert gc.get_threshold() == before
    facts_of(scale_policy())  # a whole check, too
    assert gc.get_threshold() == before
