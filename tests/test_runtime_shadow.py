"""Shadows and canaries cost nothing in the live path (section 15), under the stress test's
workload: the support desk's seeded tickets, each with its own fault plan, retries and
breakers on, every run logged.

The same tickets are served in the same order by a plain Router, by one with `shadow=[...]`
candidates (one that differs, one whose enum refuses some requests, one whose `decide`
raises), and by a `Split` whose two arms decide alike: the answers, paths, attempts and costs,
and the log records (less the fields that name the run, the arm and the shadows) are identical,
record by record. A candidate that raises never reaches the app: its failure is written into
its own log entry. Under eight threads, every run with shadows still passes the stress test's
oracle.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import types
from fractions import Fraction

import pytest

import policylang
from policylang import runtime
from conftest import EXAMPLES
from test_runtime_stress import RETRY, check_log, in_threads, make_call, record_outcome, serve_one

RUNS = 2_000
VARYING = {"run_id", "time", "latency", "ttft", "arm", "shadow"}  # differ between two runs of one ticket


@pytest.fixture(scope="module")
def source():
    return (EXAMPLES / "support_desk.route").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def desk(source):
    return policylang.loads(source, str(EXAMPLES / "support_desk.route"))


@pytest.fixture(scope="module")
def candidates(source, desk):
    """A candidate that sends the default to the frontier model; one that knows fewer tasks
    (its decide refuses some requests, R003); a compiled module whose decide raises."""
    cheaper = policylang.loads(source.replace("policy support_desk", "policy desk_next")
                               .replace("  default -> mid", "  default -> frontier"),
                               str(EXAMPLES / "desk_next.route"))
    narrow = policylang.loads(source.replace("policy support_desk", "policy desk_narrow")
                              .replace(", plan, code,", ", code,"),
                              str(EXAMPLES / "desk_narrow.route"))
    broken = types.ModuleType("desk_broken")
    broken.__dict__.update({k: v for k, v in vars(desk.compiled).items() if not k.startswith("__")})

    def decide(signals, *args, **kwargs):
        raise ZeroDivisionError("the candidate is broken")

    broken.decide = decide
    broken.POLICY_NAME = "desk_broken"
    return [cheaper, narrow, broken]


def serve_all(router, log, path):
    """Every ticket, in order, one at a time: (what each run returned or raised, its log records)."""
    ends = []
    for index in range(RUNS):
        signals, ended, attempts = serve_one(router.run, index)
        ends.append((type(ended).__name__, getattr(ended, "answer", None), tuple(getattr(ended, "path", ())),
                     Fraction(ended.cost) if isinstance(ended, runtime.Result) else None,
                     [(a.step, a.model, a.error, a.retry, a.answered, a.cost, a.max_output) for a in attempts]))
    log.close()
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return ends, records


def live(record):
    """A record less the fields that differ between two runs of the same ticket."""
    kept = {k: v for k, v in record.items() if k not in VARYING}
    if "attempts" in kept:
        kept["attempts"] = [{k: v for k, v in a.items() if k not in VARYING} for a in kept["attempts"]]
    return kept


def baseline(desk, tmp_path):
    path = tmp_path / "plain.jsonl"
    log = runtime.JsonlLog(path)
    return serve_all(make_router(desk, log), log, path)


def test_shadows_change_nothing_in_the_live_path(desk, candidates, tmp_path):
    plain_ends, plain_records = baseline(desk, tmp_path)
    path = tmp_path / "shadowed.jsonl"
    log = runtime.JsonlLog(path)
    ends, records = serve_all(make_router(desk, log, shadow=candidates), log, path)
    assert ends == plain_ends  # same answers, paths, attempts and exact costs, run by run
    assert len(records) == len(plain_records) and len(records) >= RUNS
    assert [live(r) for r in records] == [live(r) for r in plain_records]
    ended = [r for r in records if r["event"] == "end"]
    assert all("shadow" not in r for r in plain_records)
    kinds = {"answered": 0, "refused": 0, "raised": 0}
    for record in ended:
        next_, narrow, broken = record["shadow"]
        signals = {k: v for k, v in record["signals"].items() if k != "ticket"}
        expected = candidates[0].decide(signals)
        assert (next_["policy"], next_["rule"], next_["decision"]) == ("desk_next", expected.rule, expected.as_dict())
        assert broken["policy"] == "desk_broken" and broken["rule"] is None
        assert broken["error"] == {"type": "ZeroDivisionError", "message": "the candidate is broken"}
        kinds["raised"] += 1
        if narrow["rule"] is None:
            assert narrow["error"]["code"] == "R003" and signals["task"] == "plan"
            kinds["refused"] += 1
        else:
            kinds["answered"] += 1
    assert kinds["refused"] > 100 and kinds["answered"] > 1_000 and kinds["raised"] == RUNS


def make_router(policy, log, **extra):
    """The stress test's router (its options, its seeded rng, its clock of 0.1 ms a reading),
    with `extra` options."""
    readings = itertools.count()
    return runtime.Router(policy, make_call(), assess=lambda answer, signals: answer.raw, log=log, retry=RETRY,
                          breaker=runtime.Breaker(failures=40, window=0.5, cooldown=0.01),
                          clock=lambda: next(readings) * 0.0001, sleep=lambda seconds: None,
                          asleep=lambda seconds: None, rng=random.Random(5), **extra)


def test_a_split_between_policies_that_decide_alike_changes_nothing_live(source, desk, tmp_path):
    """A canary whose arms decide alike serves exactly what the plain policy serves; only the
    record's `arm` (and which policy it names) tells the arms apart."""
    plain_ends, plain_records = baseline(desk, tmp_path)
    twin = policylang.loads(source.replace("policy support_desk", "policy desk_twin"),
                            str(EXAMPLES / "desk_twin.route"))
    path = tmp_path / "split.jsonl"
    log = runtime.JsonlLog(path)
    ends, records = serve_all(make_router(runtime.Split({desk: 3, twin: 1}, key="ticket"), log), log, path)
    assert ends == plain_ends

    def named(record):
        return {k: v for k, v in live(record).items() if k not in ("policy", "policy_sha256")}

    assert [named(r) for r in records] == [named(r) for r in plain_records]
    arms = [r["arm"] for r in records if r["event"] == "end"]
    assert set(arms) == {"support_desk", "desk_twin"} and 300 <= arms.count("desk_twin") <= 700
    assert all(r["policy"] == r["arm"] for r in records if r["event"] == "end")


def test_with_shadows_every_run_still_passes_the_oracle_under_threads(desk, candidates, tmp_path):
    path = tmp_path / "decisions.jsonl"
    log = runtime.JsonlLog(path)
    router = make_router(desk, log, shadow=candidates)
    outcomes, lock = {}, threading.Lock()
    in_threads(lambda index: record_outcome(desk, outcomes, lock, *serve_one(router.run, index)), RUNS)
    log.close()
    assert len(outcomes) == RUNS
    check_log(desk, path, outcomes)
    ended = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert all(len(r["shadow"]) == 3 for r in ended if r["event"] == "end")


# ---- policyc serve --shadow (the gateway, section 14) --------------------------------------------


@pytest.mark.slow  # two policyc serve processes (~5 s)
def test_serve_shadow_logs_each_candidate_and_leaves_the_answer_alone(tmp_path):
    """The openai SDK against `policyc serve --shadow`: the same answer, rule, path and cost
    as without the candidates; the log holds each candidate's decision (a candidate that
    refuses the request says so in its own entry)."""
    import openai

    from policylang.runtime.localserver import LocalServer
    from test_gateway_support import DESK, Serve, read_records, write_config

    (tmp_path / "next.route").write_text(DESK.replace("policy desk", "policy desk_next")
                                         .replace("  default -> fast", "  default -> big"))
    (tmp_path / "narrow.route").write_text(DESK.replace("policy desk", "policy desk_narrow")
                                           .replace("enum {chat, code, legal} = code", "enum {chat, legal} = chat"))
    seen = {}
    with LocalServer() as upstream:
        upstream.reply("fast", "hello from fast", prompt_tokens=12, completion_tokens=5)
        for name, extra in (("plain", ()), ("shadowed", ("--shadow", str(tmp_path / "next.route"),
                                                          "--shadow", str(tmp_path / "narrow.route")))):
            folder = tmp_path / name
            folder.mkdir()
            config = write_config(folder, upstream.url)
            with Serve(config, *extra) as gateway:
                sdk = openai.OpenAI(base_url=gateway.url, api_key="unused", max_retries=0, timeout=20)
                raw = sdk.chat.completions.with_raw_response.create(
                    model="desk", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-task": "code"})
                answer = raw.parse()
                seen[name] = (answer.choices[0].message.content, answer.model, raw.headers["x-policylang-rule"],
                              raw.headers["x-policylang-path"], raw.headers["x-policylang-cost"])
            seen[name + " log"] = read_records(folder / "decisions.jsonl")
    assert seen["shadowed"] == seen["plain"] == ("hello from fast", "mock/fast", "default", "fast", "0.000022")
    (plain,), (shadowed,) = seen["plain log"], seen["shadowed log"]
    assert "shadow" not in plain and (shadowed["rule"], shadowed["path"], shadowed["cost"]) == (
        plain["rule"], plain["path"], plain["cost"])
    next_, narrow = shadowed["shadow"]
    assert (next_["policy"], next_["rule"], next_["decision"]["model"]) == ("desk_next", "default", "big")
    assert narrow["policy"] == "desk_narrow" and narrow["rule"] is None and narrow["error"]["code"] == "R003"


def test_serve_shadow_refuses_a_broken_candidate_and_a_config_without_a_log(tmp_path):
    from click.testing import CliRunner

    from policylang.cli import main
    from test_gateway_support import DESK, UPSTREAM_KEY, write_config

    (tmp_path / "broken.route").write_text(DESK.replace("-> big", "-> nowhere"))
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    env = {"GATEWAY_TEST_UPSTREAM_KEY": UPSTREAM_KEY}
    broken = CliRunner().invoke(main, ["serve", str(config), "--shadow", str(tmp_path / "broken.route")], env=env)
    assert broken.exit_code == 1 and "--shadow" in broken.output and "nowhere" in broken.output
    assert "Traceback" not in broken.output
    (tmp_path / "next.route").write_text(DESK.replace("policy desk", "policy desk_next"))
    unlogged = write_config(tmp_path, "http://127.0.0.1:9/v1", log=False)
    refused = CliRunner().invoke(main, ["serve", str(unlogged), "--shadow", str(tmp_path / "next.route")], env=env)
    assert refused.exit_code == 2 and "[log]" in refused.output
