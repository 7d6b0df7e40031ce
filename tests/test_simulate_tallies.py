"""The python engine of `simulate` serves each distinct decision once and counts records per
(group, walk) with ints, pricing once at the end. These tests would fail if its caches were
keyed on too little (the rule alone, outcomes without their types, without the signals a
cascade reads, across runs with another `--down`) or if outputs above a cap were cut wrongly:
every count below is written out by hand from the policy, not computed by the code under test.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

import policylang
from policylang.simulation import simulate

POLICY = """
policy cache
signal task: enum {a, b, c}
signal input_tokens: int in 0..1_000_000
signal score: float in 0.0..1.0 = 0.5
outcome ok: bool = true
model m { id = "v/m", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 1_000_000, max_output = 100, latency = 1s }
model n { id = "v/n", tier = 2, input_per_mtok = $3, output_per_mtok = $4, context = 1_000_000, max_output = 50, latency = 2s }
model z { id = "v/z", tier = 3, input_per_mtok = $5, output_per_mtok = $6, context = 1_000_000, max_output = 80, latency = 4s }
cascade up {
  m -> n when not ok or score > 0.8
  n -> z when not ok
}
fallback m -> z on unavailable
route {
  rule one when task == a -> up
  rule two when task == b -> m with max_output = 70
  default -> n
}
"""

# Line by line, what each record does (caps: rule one m 100, n 50, z 80; rule two m and z 70;
# default n 50). Lines 2, 3, 6 and 7 are one rule with other outcomes; 3 and 4 the same
# outcomes with another score, which the cascade's first edge reads; 6 and 7 are 1 and 0,
# equal to true and false as keys but no bools (R002, at the outcome `ok`).
RECORDS = [
    {"task": "a", "input_tokens": 11, "@output_tokens": 60},  # 1: m
    {"task": "a", "input_tokens": 12, "@output_tokens": 60, "@outcomes": [{"ok": False}]},  # 2: m, n
    {"task": "a", "input_tokens": 13, "@output_tokens": 60, "@outcomes": [{"ok": True}]},  # 3: m
    {"task": "a", "input_tokens": 14, "score": 0.9, "@output_tokens": 60, "@outcomes": [{"ok": True}]},  # 4: m, n
    {"task": "a", "input_tokens": 15, "score": 0.9, "@output_tokens": 60,
     "@outcomes": [{"ok": True}, {"ok": False}]},  # 5: m, n, z
    {"task": "a", "input_tokens": 16, "@outcomes": [{"ok": 1}]},  # 6: R002
    {"task": "a", "input_tokens": 17, "@outcomes": [{"ok": 0}]},  # 7: R002
    {"task": "a", "input_tokens": 18, "@output_tokens": 120, "@outcomes": [{"ok": False}]},  # 8: m (100), n (50)
    {"task": "b", "input_tokens": 19, "@output_tokens": 90},  # 9: m (70)
    {"task": "b", "input_tokens": 20},  # 10: m at its cap, 70
    {"task": "c", "input_tokens": 21, "@output_tokens": 40},  # 11: n
    {"task": "a", "input_tokens": 22, "score": 0.9, "@output_tokens": 60, "@outcomes": [{"ok": True}]},  # 12: as 4
    {"task": "a", "input_tokens": 23, "@output_tokens": 95},  # 13: m (95, under its cap 100 but over z's 80)
]


@pytest.fixture(scope="module")
def policy():
    return policylang.loads(POLICY, "cache.route")


@pytest.fixture(scope="module")
def traffic(tmp_path_factory):
    path = tmp_path_factory.mktemp("tallies") / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    return path


def _report(policy, path, engine, **options):
    return simulate(policy, path, engine=engine, baseline="z", **options).as_dict()


NO_DOWN = {
    # m: lines 1-5, 8, 12, 13 (rule one) and 9, 10 (rule two)
    "m": {"calls": 10, "answered": 10, "tokens_in": 11 + 12 + 13 + 14 + 15 + 18 + 22 + 23 + 19 + 20,
          "tokens_out": 60 * 6 + 100 + 95 + 70 + 70, "cost": "0.001557"},  # 167 x $1 + 695 x $2
    # n: climbs of lines 2, 4, 5, 8, 12, and line 11
    "n": {"calls": 6, "answered": 6, "tokens_in": 12 + 14 + 15 + 18 + 22 + 21, "tokens_out": 50 * 5 + 40,
          "cost": "0.001466"},  # 102 x $3 + 290 x $4
    "z": {"calls": 1, "answered": 1, "tokens_in": 15, "tokens_out": 60, "cost": "0.000435"},
}
M_DOWN = {
    # every call to m fails; z serves its step (rule one's cap 80, rule two's 70), and line 5's top step
    "m": {"calls": 10, "answered": 0, "tokens_in": 0, "tokens_out": 0, "cost": "0"},
    "n": NO_DOWN["n"],
    "z": {"calls": 11, "answered": 11, "tokens_in": 167 + 15, "tokens_out": 60 * 6 + 80 + 80 + 70 + 70 + 60,
          "cost": "0.00523"},  # 182 x $5 + 720 x $6
}
EDGES = [{"cascade": "up", "from": "m", "to": "n", "count": 5}, {"cascade": "up", "from": "n", "to": "z", "count": 1}]


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_walks_are_keyed_by_outcomes_their_types_the_signals_read_and_down(policy, traffic, engine):
    # the same policy object, runs one after another: nothing of one run's --down may leak into the next
    for down, models, total, fallbacks in (
            ((), NO_DOWN, "0.003458", []),
            (("m",), M_DOWN, "0.006696", [{"model": "m", "error": "unavailable", "fallback": "z", "count": 10}]),
            ((), NO_DOWN, "0.003458", [])):
        report = _report(policy, traffic, engine, down=down)
        assert report["errors"] == {"R002": {"count": 2, "first": {"location": 6, "signal": "ok"}}}
        assert report["valid"] == 11 and report["unserved"] == 0 and report["rejected"] == 0
        assert {r: v["hits"] for r, v in report["rules"].items()} == {"one": 8, "two": 2, "default": 1}
        assert report["models"] == models
        assert report["escalations"]["requests"] == 5 and report["escalations"]["edges"] == EDGES
        assert report["fallbacks"] == fallbacks
        assert report["cost"]["total"] == total
        assert Decimal(total) == sum(Decimal(m["cost"]) for m in models.values())
        # the baseline, one call to z (cap 80) per valid request: outputs 60 x 6, 80 x 3 (120, 90
        # and 95 cut), 80 (none given), 40
        assert report["cost"]["baseline"] == "0.00526"  # 188 x $5 + 720 x $6
        assert report["tokens"]["output_at_cap"] == 1  # line 10, one answered call


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_groups_count_their_own_walks(policy, traffic, engine):
    report = _report(policy, traffic, engine, by="task", down=("m",))
    groups = report["by"]["groups"]
    assert groups["a"]["models"]["z"]["tokens_out"] == 60 * 6 + 80 + 80 + 60  # lines 1-5, 12, 8, 13; line 5 twice
    assert groups["a"]["models"]["n"]["tokens_out"] == 50 * 5
    assert groups["b"]["models"]["z"] == {"calls": 2, "answered": 2, "tokens_in": 39, "tokens_out": 140,
                                          "cost": "0.001035"}  # 39 x $5 + 140 x $6
    assert groups["c"]["models"] == {"n": {"calls": 1, "answered": 1, "tokens_in": 21, "tokens_out": 40,
                                           "cost": "0.000223"}}  # 21 x $3 + 40 x $4
    assert groups["b"]["cost"]["baseline"] == "0.001155"  # 39 x $5 + (80 + 80) x $6
    assert [f["count"] for f in groups["a"]["fallbacks"]] == [8]


def test_climbs_without_end_are_counted_right_past_the_cache(policy, tmp_path):
    """A score the cascade reads, different on every record, makes every climb a new key: more
    of them than the cache keeps (so that memory stays flat), and the counts still come out right."""
    path = tmp_path / "many.jsonl"
    n = 20_000
    scores = [0.5 + i / (2 * n) for i in range(n)]  # 0.5 up to 1.0, all distinct: above 0.8 climbs
    with open(path, "w", encoding="utf-8") as out:
        for score in scores:
            out.write(json.dumps({"task": "a", "input_tokens": 1, "score": score, "@output_tokens": 1,
                                  "@outcomes": [{"ok": True}]}) + "\n")
    climbing = sum(1 for score in scores if score > 0.8)
    assert 7_000 < climbing < 9_000
    report = simulate(policy, path, engine="python")
    assert report["models"]["m"]["calls"] == n
    assert report["models"]["n"]["calls"] == climbing == report["escalations"]["requests"]
