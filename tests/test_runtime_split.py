"""Canaries and shadows (section 15): `runtime.Split` picks a policy per request by a stable
hash of a signal (the same in every process), logs the arm; `shadow=` policies decide each
request for the log only and never reach the app."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import policylang
from policylang import runtime
from policylang.runtime.split import share
from runtime_support import SHOP, Scripted

CANDIDATE = SHOP.replace("policy shop", "policy shop_next").replace("default -> big", "default -> huge")
STRICT = SHOP.replace("policy shop", "policy shop_strict").replace("signal task: enum {chat, code, legal}",
                                                                    "signal task: enum {chat, legal}")


@pytest.fixture(scope="module")
def shop():
    return policylang.loads(SHOP, "shop.route")


@pytest.fixture(scope="module")
def candidate():
    return policylang.loads(CANDIDATE, "shop_next.route")


def records(path):
    return [r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if r["event"] == "end"]


def test_the_same_key_gets_the_same_arm_in_every_process():
    values = ["user-1", "user-42", 7, {"org": "acme"}, "é"]
    here = [share(v) for v in values]
    script = ("import json, sys; from policylang.runtime.split import share; "
              "print(json.dumps([share(v) for v in json.loads(sys.argv[1])]))")
    there = json.loads(subprocess.run([sys.executable, "-c", script, json.dumps(values)], capture_output=True,
                                      text=True, check=True).stdout)
    assert here == there and all(0 <= v < 1 for v in here)


def test_a_split_serves_each_arm_by_its_weight_and_logs_it(shop, candidate, tmp_path):
    split = runtime.Split({shop: 9, candidate: 1}, key="input_tokens")
    log = runtime.JsonlLog(tmp_path / "decisions.jsonl")
    router = runtime.Router(split, Scripted(), log=log, retry=None, breaker=None)
    served = {}
    for tokens in range(1, 2001):
        result = router.run({"task": "code", "input_tokens": tokens}, "x")
        served[tokens] = result.path
    log.close()
    canary = sum(1 for path in served.values() if path == ("huge",))
    assert 150 <= canary <= 250  # 10% of 2,000, give or take
    again = runtime.Router(runtime.Split({shop: 9, candidate: 1}, key="input_tokens"), Scripted(), retry=None,
                           breaker=None)
    assert all(again.run({"task": "code", "input_tokens": t}, "x").path == served[t] for t in range(1, 200))
    logged = records(tmp_path / "decisions.jsonl")
    assert {r["arm"] for r in logged} == {"shop", "shop_next"}
    assert all((r["arm"] == "shop_next") == (r["path"] == ["huge"]) for r in logged)
    assert split.pick({"task": "code"})[1] == "shop"  # no key: the first arm


def test_a_split_refuses_bad_weights(shop):
    for weight in (0, -1, float("nan"), True, "1"):
        with pytest.raises((ValueError, TypeError)):
            runtime.Split({shop: weight}, key="task")
    with pytest.raises(ValueError):
        runtime.Split({}, key="task")


def test_shadows_decide_for_the_log_and_never_reach_the_app(shop, candidate, tmp_path):
    strict = policylang.loads(STRICT, "shop_strict.route")
    log = runtime.JsonlLog(tmp_path / "decisions.jsonl")
    router = runtime.Router(shop, Scripted(), log=log, retry=None, breaker=None, shadow=[candidate, strict])
    assert router.run({"task": "code", "input_tokens": 100}, "x").path == ("big",)
    with pytest.raises(runtime.Rejected):
        router.run({"task": "code", "input_tokens": 95_000}, "x")
    log.close()
    answered, rejected = records(tmp_path / "decisions.jsonl")
    live, broken = answered["shadow"]
    assert (live["policy"], live["rule"], live["decision"]["model"]) == ("shop_next", "default", "huge")
    assert live["policy_sha256"] == candidate.ir.source_sha256
    assert broken["policy"] == "shop_strict" and broken["rule"] is None and broken["error"]["code"] == "R003"
    assert rejected["shadow"][0]["rule"] == "too_large"
    assert "arm" not in answered
