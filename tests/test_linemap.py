"""The line map of a generated module (backends/python/linemap.py): every line of a rule's
code leads back to that rule and its line in the .route file, and so does the line a traceback
stops at inside `decide`."""

from __future__ import annotations

from pathlib import Path

import pytest

import policylang
from benchmarks.policies import conjunctive_tenant_policy, tenant_policy
from conftest import example_files
from policylang.backends.python.linemap import line_map, origin_of


def _policies() -> list[tuple[str, policylang.Policy]]:
    loaded = [(p.stem, policylang.load(str(p), analyze=False)) for p in example_files()]
    loaded += [("tenants", policylang.loads(tenant_policy(60), analyze=False)),  # a dispatch with chains
               ("conjunctive", policylang.loads(conjunctive_tenant_policy(30), analyze=False))]
    return loaded


@pytest.mark.parametrize(("name", "policy"), _policies(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_rule_block_maps_back_to_its_rule(name: str, policy: policylang.Policy) -> None:
    source = policy.to_python()
    lines = source.splitlines()
    origins = line_map(source)
    declared = {r.name: r.span.line for r in policy.ir.route}
    rules = [o for o in origins if o.kind == "rule"]
    assert {o.name for o in rules} == set(declared), name  # every rule is written, each maps back
    for origin in rules:
        assert origin.line == declared[origin.name]
        assert origin.first < origin.last  # the comment, then at least its return
        end = lines[origin.last - 1].strip()
        assert end.startswith("return ") or ": return " in end, (origin, end)
        for line in range(origin.first, origin.last + 1):
            assert origin_of(source, line, origins) == origin
    edges = {f"{c.name}: {e.source} -> {e.target}": e.span.line for c in policy.ir.cascades for e in c.edges}
    assert {o.name: o.line for o in origins if o.kind == "edge"} == edges
    assert origin_of(source, 1, origins) is None  # the module's header belongs to no rule


def test_a_traceback_in_decide_names_the_rule() -> None:
    policy = policylang.load(str(Path(__file__).resolve().parent.parent / "examples" / "support_desk.route"),
                             analyze=False)
    source = policy.to_python()
    with pytest.raises(TypeError) as caught:  # a trusted request of the wrong type fails in the rule's test
        policy.decide({"input_tokens": "many", "task": "code"}, validate=False)
    frame = caught.traceback[-1]
    assert str(frame.path).endswith(f"<policy {policy.name}>")  # a line of the compiled module
    origin = origin_of(source, frame.lineno + 1)  # pytest's lineno is 0-based
    assert origin is not None and origin.kind == "rule"
    first = policy.ir.route[0]
    assert (origin.name, origin.line) == (first.name, first.span.line)
