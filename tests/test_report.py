"""policyc report (section 15): the numbers against an independent computation on both engines,
the engines against each other (hypothesis), bad inputs, the CLI's exit statuses."""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.report_logs import DESK, router_records, write
from policylang import loads
from policylang.cli import main
from policylang.monitoring import ReportError, report

pytest.importorskip("duckdb")

ENGINES = ("python", "duckdb")


def _shadow_and_arm(record: dict[str, Any], rng: random.Random) -> None:
    if record.get("rule") is not None:
        record["shadow"] = [{"policy": "candidate", "policy_sha256": "0" * 64,
                             "rule": record["rule"] if rng.random() < 0.8 else "default", "decision": None}]
    record["arm"] = rng.choice(["a", "b"])


@pytest.fixture(scope="module")
def logged() -> list[dict[str, Any]]:
    return router_records(900, seed=5, extra=_shadow_and_arm)


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory, logged: list[dict[str, Any]]) -> Path:
    return write(tmp_path_factory.mktemp("logs") / "decisions.jsonl", logged)


# ---- the independent computation --------------------------------------------------------------


def q(value: Decimal, places: int) -> str:
    text = format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN).normalize(), "f")
    return "0" if Decimal(text) == 0 else text


def nearest(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent * len(ordered) / 100)) - 1]


def expected(records: list[dict[str, Any]], success: str) -> dict[str, Any]:
    """Every checked figure, computed here from the Router's records without policylang."""
    ends = [r for r in records if r.get("event") != "start"]
    by_rule: dict[Any, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    models: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0, "answered": 0, "errors": Counter(),
                                                             "cost": Decimal(0)})
    edges: Counter[tuple[str, str]] = Counter()
    fallbacks: Counter[tuple[str, str]] = Counter()
    paths: dict[tuple[str, ...], list[Any]] = defaultdict(lambda: [0, Decimal(0), [], []])
    total = Decimal(0)
    successes = 0
    seconds = []
    escalated = served = 0
    for r in ends:
        cost = Decimal(r["cost"])
        total += cost
        by_rule[r["rule"]][0] += 1
        by_rule[r["rule"]][1] += cost
        path = tuple(r["path"])
        served += bool(path)
        escalated += len(path) > 1
        for a, b in zip(path, path[1:]):
            edges[(a, b)] += 1
        attempts = r["attempts"]
        for i, a in enumerate(attempts):
            if a["skipped"] is None:
                m = models[a["model"]]
                m["calls"] += 1
                if a["error"] is None:
                    m["answered"] += 1
                    m["cost"] += Decimal(a["cost"])
                else:
                    m["errors"][a["error"]] += 1
            if a["error"] is not None and i + 1 < len(attempts) and attempts[i + 1]["step"] == a["step"] \
                    and attempts[i + 1]["model"] != a["model"]:
                fallbacks[(a["model"], a["error"])] += 1
        answered = [a for a in attempts if a["error"] is None and a["skipped"] is None]
        final = (answered[-1]["outcomes"] or {}) if answered else {}
        p = paths[path]
        p[0] += 1
        p[1] += cost
        if "confidence" in final:
            p[2].append(final["confidence"])
        if "valid" in final:
            p[3].append(final["valid"])
        successes += final.get(success) is True
        if r["end"] in ("answered", "incomplete"):
            seconds.append(float(r["seconds"]))
    n = len(ends)
    return {
        "requests": n,
        "rules": {rule: (c, q(s, 20)) for rule, (c, s) in by_rule.items()},
        "models": {m: (v["calls"], v["answered"], dict(v["errors"]), q(v["cost"], 20)) for m, v in models.items()},
        "edges": dict(edges),
        "fallbacks": dict(fallbacks),
        "escalation_rate": float(round(Fraction(escalated, served), 6)),
        "total": q(total, 20),
        "per_1000": q(total * 1000 / n, 6),
        "cost_per_success": q(total / successes, 9),
        "latency": (len(seconds), nearest(seconds, 50), nearest(seconds, 95), nearest(seconds, 99)),
        "paths": {path: (c, q(s, 20), float(round(sum(map(Fraction, conf), Fraction(0)) / len(conf), 6)) if conf else None,
                         float(round(Fraction(sum(valid), len(valid)), 6)) if valid else None)
                  for path, (c, s, conf, valid) in paths.items()},
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_numbers_equal_an_independent_computation(engine: str, logged: list[dict[str, Any]], log_file: Path) -> None:
    want = expected(logged, "valid")
    got = report([str(log_file)], engine=engine, success="valid")
    assert got["requests"] == want["requests"] == 900
    assert {r["rule"]: (r["requests"], r["cost"]) for r in got["rules"]} == want["rules"]
    assert {m["model"]: (m["calls"], m["answered"], m["errors"], m["cost"]) for m in got["models"]} == want["models"]
    assert {(e["from"], e["to"]): e["count"] for e in got["escalation"]["edges"]} == want["edges"]
    assert {(f["model"], f["error"]): f["count"] for f in got["fallbacks"]} == want["fallbacks"]
    assert got["escalation"]["rate"] == want["escalation_rate"]
    assert got["cost"]["total"] == want["total"]
    assert got["cost"]["per_1000_requests"] == want["per_1000"]
    assert got["cost"]["cost_per_success"] == want["cost_per_success"]
    lat = got["latency"]
    assert (lat["requests"], lat["p50"], lat["p95"], lat["p99"]) == want["latency"]
    for row in got["paths"]:
        count, cost, confidence, valid = want["paths"][tuple(row["path"])]
        assert (row["requests"], row["cost"]) == (count, cost)
        assert row["outcomes"].get("confidence", {}).get("mean") == confidence
        assert row["outcomes"].get("valid", {}).get("rate") == valid
    assert got["unfinished_runs"] == 0
    assert got["skipped"]["start_records"] == sum(r.get("event") == "start" for r in logged) > 800
    assert want["edges"] and want["fallbacks"]  # the workload exercises both


@pytest.mark.parametrize("engine", ENGINES)
def test_groups_buckets_arms_and_shadow(engine: str, logged: list[dict[str, Any]], log_file: Path) -> None:
    ends = [r for r in logged if r.get("event") != "start"]
    got = report([str(log_file)], engine=engine, by="task", every="1h", shadow=True)
    tasks = Counter(r["signals"]["task"] for r in ends)
    assert {g["value"]: g["requests"] for g in got["groups"]} == dict(tasks)
    hours = Counter(r["time"][:13] for r in ends)
    assert {b["start"][:13]: b["requests"] for b in got["buckets"]} == dict(hours)
    for g in got["groups"]:
        mine = [r for r in ends if r["signals"]["task"] == g["value"]]
        assert g["cost"] == q(sum((Decimal(r["cost"]) for r in mine), Decimal(0)), 20)
    arms = report([str(log_file)], engine=engine, by="arm")
    assert {g["value"]: g["requests"] for g in arms["groups"]} == dict(Counter(r["arm"] for r in ends))
    (shadow,) = got["shadow"]
    pairs = Counter((r["rule"], r["shadow"][0]["rule"]) for r in ends if "shadow" in r)
    assert {(c["live"], c["candidate"]): c["count"] for c in shadow["matrix"]} == dict(pairs)
    same = sum(n for (a, b), n in pairs.items() if a == b)
    assert shadow["agreement"] == float(round(Fraction(same, sum(pairs.values())), 6))


def test_engines_agree_on_the_options(log_file: Path) -> None:
    policy = loads(DESK, "desk.route")
    for options in ({"by": "task", "every": "1h", "success": "valid"}, {"by": "user_tier", "since": "2026-12-08T00:30",
                    "until": "2026-12-08T01:10"}, {"policy": policy, "by": "policy"}, {"every": "1d", "by": "arm"}):
        python, duck = (report([str(log_file)], engine=e, **options) for e in ENGINES)  # type: ignore[arg-type]
        python.pop("engine"), duck.pop("engine")
        assert python == duck


# ---- both engines on hostile logs (hypothesis) ----------------------------------------------------

BASE = router_records(40, seed=11, extra=_shadow_and_arm)
DESK_POLICY = loads(DESK, "desk.route")


def _mutations() -> st.SearchStrategy[bytes]:
    def mutate(index: int, how: int, value: Any, pick: int) -> bytes:
        record = json.loads(json.dumps(BASE[index % len(BASE)]))
        text: str
        if how == 0:
            text = json.dumps(record)
        elif how == 1:  # a field of the wrong sort, or gone
            field = ["time", "policy", "rule", "end", "path", "cost", "seconds", "attempts", "signals", "arm",
                     "shadow", "event", "run_id"][pick % 13]
            if value is None:
                record.pop(field, None)
            else:
                record[field] = value
            text = json.dumps(record)
        elif how == 2 and record.get("attempts"):  # an attempt's field of the wrong sort
            attempt = record["attempts"][0]
            field = ["model", "step", "error", "skipped", "cost", "ttft", "outcomes"][pick % 7]
            attempt[field] = value
            text = json.dumps(record)
        elif how == 3:  # a key twice
            text = json.dumps(record)
            text = text[:-1] + ', "cost": "1", "rule": "dup"}'
        elif how == 4:  # an outcome of another sort
            for attempt in record.get("attempts", []):
                if attempt.get("outcomes"):
                    attempt["outcomes"]["confidence"] = value
            text = json.dumps(record)
        elif how == 5:
            text = ["not json", "[1, 2]", '"text"', "{}", '{"event": "start"}', "   ", '{"a": NaN}',
                    '{"time": "2026-12-08T00:00:00Z", "end": "answered",}'][pick % 8]
        else:
            return json.dumps(record).encode()[:-3] + b"\xff\xfe}"
        return text.encode("utf-8", "surrogatepass")
    values = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                       st.text(max_size=5), st.sampled_from(["0.1", "1e400", "2026-12-08T00:00:00+01:00",
                                                              "2026-02-30T00:00:00Z", "12.0000000000000000000001"]),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    return st.builds(mutate, st.integers(0, 39), st.integers(0, 6), values, st.integers(0, 1000))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(lines=st.lists(_mutations(), min_size=1, max_size=25), by=st.sampled_from([None, "task", "arm", "user_tier"]),
       since=st.sampled_from([None, "2026-12-08T00:02"]), with_policy=st.booleans())
def test_engines_agree_on_any_log(tmp_path: Path, lines: list[bytes], by: str | None, since: str | None,
                                  with_policy: bool) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    policy = DESK_POLICY if with_policy else None
    reports = []
    for engine in ENGINES:
        try:
            got: Any = report([str(path)], engine=engine, by=by, every="1h", success="valid", since=since,
                              policy=policy)
            got.pop("engine")
        except ReportError as exc:
            got = str(exc)
        reports.append(got)
    assert reports[0] == reports[1]


# ---- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_problems_are_counted_with_their_first_location(engine: str, tmp_path: Path, logged: list[dict[str, Any]]) -> None:
    good = [json.dumps(r).encode() for r in logged[:20]]
    lines = good[:3] + [b"not json", b"[1]", b'{"time": "x"}', b"\xff\xfe", b""] + good[3:] + [b'{"policy": "desk"}']
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    got = report([str(path)], engine=engine)
    problems = {p["reason"]: (p["count"], p["first"]) for p in got["skipped"]["problems"]}
    assert problems["not JSON"] == (1, f"{path}:4")
    assert problems["not a JSON object"] == (1, f"{path}:5")
    assert problems['no ISO time with a zone in "time"'] == (1, f"{path}:6")
    assert problems["not UTF-8 text"] == (1, f"{path}:7")
    assert problems['no "time"'] == (1, f"{path}:{len(lines)}")
    assert got["requests"] == sum(r.get("event") != "start" for r in logged[:20])
    assert any("not UTF-8" in note and f"{path}:7" in note for note in got["notes"])


@pytest.mark.parametrize("engine", ENGINES)
def test_an_older_version_is_noted(engine: str, tmp_path: Path, logged: list[dict[str, Any]]) -> None:
    old = []
    for record in logged[:40]:
        record = json.loads(json.dumps(record))
        if record.get("event") != "start":
            record["policy_sha256"] = "f" * 64
            record["signals"]["tier"] = record["signals"].pop("user_tier", "free")  # renamed since
        old.append(record)
    path = write(tmp_path / "old.jsonl", old)
    got = report([str(path)], engine=engine, policy=loads(DESK, "desk.route"), by="user_tier")
    assert any("another version of policy desk" in n and f"{path}:2" in n for n in got["notes"])
    assert any("signal 'tier'" in n and "renamed" in n for n in got["notes"])
    assert [g["value"] for g in got["groups"]] == [None]


@pytest.mark.parametrize("engine", ENGINES)
def test_mixed_policies_are_refused_unless_chosen(engine: str, tmp_path: Path, logged: list[dict[str, Any]]) -> None:
    records = [json.loads(json.dumps(r)) for r in logged[:40]]
    for record in records[20:]:
        record["policy"] = "other"
    path = write(tmp_path / "mixed.jsonl", records)
    with pytest.raises(ReportError, match=r"2 policies \(desk: 10 record\(s\), first at .*:2; other: 10 record\(s\), "
                                          r"first at .*:22\)"):
        report([str(path)], engine=engine)
    chosen = report([str(path)], engine=engine, policy=loads(DESK, "desk.route"))
    assert chosen["requests"] == 10 and chosen["skipped"]["other_policy"] == 10
    assert {g["value"]: g["requests"] for g in report([str(path)], engine=engine, by="policy")["groups"]} == {
        "desk": 10, "other": 10}


@pytest.mark.parametrize("engine", ENGINES)
def test_an_empty_window_and_an_empty_file(engine: str, tmp_path: Path, log_file: Path) -> None:
    got = report([str(log_file)], engine=engine, since="2030-01-01", every="1h", alerts=["escalation_rate > 0.1"])
    assert got["requests"] == 0 and got["skipped"]["outside_window"] == 900
    assert got["latency"] is None and got["buckets"] == [] and got["escalation"]["rate"] is None
    assert got["alerts"][0]["fired"] is False
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert report([str(empty)], engine=engine)["records"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_unfinished_runs(engine: str, tmp_path: Path, logged: list[dict[str, Any]]) -> None:
    records = [r for r in logged[:30]] + [{"event": "start", "run_id": "killed", "time": "2026-12-08T05:00:00Z"}]
    got = report([str(write(tmp_path / "killed.jsonl", records))], engine=engine)
    assert got["unfinished_runs"] == 1
    assert any("start record and no end record" in n for n in got["notes"])


def test_drift_flags_the_model_update(tmp_path: Path) -> None:
    before = write(tmp_path / "before.jsonl", router_records(1500, seed=3))
    after = write(tmp_path / "after.jsonl", router_records(1500, seed=4, drift_after=0))
    same = write(tmp_path / "same.jsonl", router_records(1500, seed=5))
    for engine in ENGINES:
        got = report([str(after)], engine=engine, compare_to=[str(before)], by="task")
        rates = {r["rate"]: r for r in got["drift"]["rates"]}
        assert rates["escalation_rate"]["significant"] and rates["escalation_rate"]["difference"] > 0
        low, high = rates["escalation_rate"]["ci95"]
        assert low <= rates["escalation_rate"]["difference"] <= high
        assert got["drift"]["rule_mix"]["p_value"] > 0.001  # the traffic's mix did not move
        calm = report([str(same)], engine=engine, compare_to=[str(before)])
        assert not {r["rate"]: r for r in calm["drift"]["rates"]}["escalation_rate"]["significant"]
    window = report([str(before)], engine="python", since="2026-12-08T01:30", baseline_window="..2026-12-08T01:30")
    assert window["drift"]["before"]["requests"] + window["requests"] == 1500


def test_too_few_requests_say_so(tmp_path: Path) -> None:
    path = write(tmp_path / "few.jsonl", router_records(20, seed=9))
    got = report([str(path)], every="1h", compare_to=[str(path)], engine="python")
    assert all(b["too_few"] and b["escalation_rate"] is None for b in got["buckets"])
    assert all(r["ci95"] is None and not r["significant"] and "too few" in r["why"] for r in got["drift"]["rates"])


def test_shadow_candidate_cost(tmp_path: Path, logged: list[dict[str, Any]]) -> None:
    candidate = loads(DESK.replace("policy desk", "policy candidate"), "candidate.route")
    path = write(tmp_path / "shadow.jsonl", logged[:200])
    got = report([str(path)], shadow=True, candidates=[candidate], engine="python")
    (entry,) = got["shadow"]
    cost = entry["cost"]
    assert cost["requests"] == entry["requests"] > 0
    assert Decimal(cost["estimated_cost"]) > 0 and Decimal(cost["live_cost"]) > 0


# ---- the command line --------------------------------------------------------------------------


def test_cli_exit_statuses(log_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["report", str(log_file), "--by", "task", "--alert", "escalation_rate{task=classify} > 0.2",
                                  "--format", "json"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["alerts"][0]["fired"] is True
    result = runner.invoke(main, ["report", str(log_file), "--by", "task", "--alert", "escalation_rate{task=classify} > 0.9"])
    assert result.exit_code == 0, result.output
    for args, message in ((["nope.jsonl"], "no such file"), ([str(log_file), "--alert", "x > y"], "expected METRIC"),
                          ([str(log_file), "--every", "2w"], "--every 2w"), ([str(log_file), "--since", "yesterday"], "--since"),
                          ([str(tmp_path / "*.jsonl")], "no file matches"), ([str(log_file), "--engine", "python",
                                                                               "--success", "valid", "--policy", "missing.route"],
                                                                              "missing.route")):
        result = runner.invoke(main, ["report", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_html_is_one_escaped_page(tmp_path: Path, logged: list[dict[str, Any]]) -> None:
    records = [json.loads(json.dumps(r)) for r in logged[:60]]
    for record in records:
        if record.get("event") != "start":
            record["rule"] = "<script>alert(1)</script>"
            record["signals"]["task"] = "<b>x</b>"
    path = write(tmp_path / "evil.jsonl", records)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(path), "--by", "task", "--every", "1h", "--format", "html", "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>x</b>" not in page
    assert "<svg" in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


# ---- formats, globs, time to first token, the engine choice --------------------------------------


def test_parquet_and_globs_give_the_same_figures(tmp_path: Path, logged: list[dict[str, Any]], log_file: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    ends = [json.loads(json.dumps(r)) for r in logged if r.get("event") != "start"]
    for record in ends:
        record.pop("decision", None), record.pop("error", None)
    parquet = tmp_path / "decisions.parquet"
    pq.write_table(pa.Table.from_pylist(ends), str(parquet))
    first, second = tmp_path / "a-1.jsonl", tmp_path / "a-2.jsonl"
    write(first, logged[:500])
    write(second, logged[500:])
    whole = report([str(log_file)], engine="python", by="task")
    for engine in ENGINES:
        for logs in ([str(parquet)], [str(tmp_path / "a-*.jsonl")]):
            got = report(logs, engine=engine, by="task")
            for key in ("requests", "rules", "models", "escalation", "cost", "latency", "paths", "groups", "errors"):
                assert got[key] == whole[key], (engine, logs, key)
    got = report([str(tmp_path / "a-*.jsonl")], engine="duckdb", by="task")
    assert got["logs"] == [str(first), str(second)]


@pytest.mark.parametrize("engine", ENGINES)
def test_time_to_first_token(engine: str, tmp_path: Path, logged: list[dict[str, Any]]) -> None:
    records = [json.loads(json.dumps(r)) for r in logged[:200]]
    ttfts = []
    for index, record in enumerate(records):
        for attempt in record.get("attempts", []):
            attempt["ttft"] = round(0.05 + (index * 37 % 101) / 100, 2)
            ttfts.append(attempt["ttft"])
    got = report([str(write(tmp_path / "stream.jsonl", records))], engine=engine)["ttft"]
    assert (got["requests"], got["p50"], got["p95"], got["p99"]) == (
        len(ttfts), nearest(ttfts, 50), nearest(ttfts, 95), nearest(ttfts, 99))


def test_auto_is_python_without_duckdb(monkeypatch: pytest.MonkeyPatch, log_file: Path) -> None:
    import sys

    from policylang.monitoring import choose_engine

    assert choose_engine("auto", [Path("a.jsonl"), Path("b.parquet")]) == "duckdb"
    assert choose_engine("auto", [log_file]) == "python"  # as fast, and less memory (benchmarks/RESULTS.md)
    monkeypatch.setitem(sys.modules, "duckdb", None)
    assert choose_engine("auto", [Path("b.parquet")]) == "python"
    assert report([str(log_file)])["engine"] == "python"
    with pytest.raises(ReportError, match="needs DuckDB"):
        report([str(log_file)], engine="duckdb")


PARQUET_MUTATIONS = (
    lambda r: r,
    lambda r: r.update(time="2026-12-08 00:00:00"),
    lambda r: r.update(time="2026-12-08T00:00:00+02:00"),
    lambda r: r.update(cost="1.0000000000000000000001"),
    lambda r: r.update(cost="-1"),
    lambda r: r.update(cost=None),
    lambda r: r.update(seconds=-1.0),
    lambda r: r.update(seconds=float("inf")),
    lambda r: r.update(seconds=None),
    lambda r: r.update(end="sideways"),
    lambda r: r.update(policy=None),
    lambda r: r.update(path=None),
    lambda r: r.update(attempts=None),
    lambda r: r.update(event="start", run_id=None),
    lambda r: r.update(event="end"),
    lambda r: r.update(event="other"),
    lambda r: r.update(rule=None),
    lambda r: [a.update(cost=None) for a in r["attempts"] or []],
    lambda r: [a.update(model=None) for a in r["attempts"] or []],
    lambda r: [a.update(outcomes={"confidence": float("nan"), "valid": None}) for a in r["attempts"] or []],
    lambda r: [a.update(ttft=0.25) for a in r["attempts"] or []],
    lambda r: r["signals"].update(task=None),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(picks=st.lists(st.tuples(st.integers(0, 39), st.integers(0, len(PARQUET_MUTATIONS) - 1)), min_size=1, max_size=20),
       by=st.sampled_from([None, "task", "arm"]))
def test_engines_agree_on_any_parquet_log(tmp_path: Path, picks: list[tuple[int, int]], by: str | None) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    ends = [r for r in BASE if r.get("event") != "start"]
    rows = []
    for index, how in picks:
        record = json.loads(json.dumps(ends[index % len(ends)]))
        record.pop("decision", None), record.pop("error", None)
        for attempt in record["attempts"]:
            attempt.setdefault("ttft", None)
            attempt["outcomes"] = attempt["outcomes"] or {"confidence": None, "valid": None}
        PARQUET_MUTATIONS[how](record)
        rows.append(record)
    path = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pylist(rows), str(path))
    reports = []
    for engine in ENGINES:
        try:
            got: Any = report([str(path)], engine=engine, by=by, every="1h", success="valid")
            got.pop("engine")
        except ReportError as exc:
            got = str(exc)
        reports.append(got)
    assert reports[0] == reports[1]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.one_of(st.binary(max_size=60), _mutations()), max_size=8), engine=st.sampled_from(ENGINES))
def test_the_command_survives_hostile_bytes(tmp_path: Path, data: list[bytes], engine: str) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(data))
    for fmt in ("json", "html", "text"):
        result = CliRunner().invoke(main, ["report", str(path), "--engine", engine, "--by", "task", "--every", "1h",
                                           "--format", fmt])
        assert result.exit_code in (0, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_a_real_router_with_a_shadow_and_a_split(tmp_path: Path) -> None:
    from policylang import runtime

    live = loads(DESK, "desk.route")
    candidate = loads(DESK.replace("policy desk", "policy cheaper").replace(
        "rule legal     when task == legal          -> frontier", "rule legal     when task == legal          -> ladder"),
        "cheaper.route")
    records = router_records(400, seed=21, shadow=[candidate])
    ends = [r for r in records if r.get("event") != "start"]
    path = write(tmp_path / "shadowed.jsonl", records)
    for engine in ENGINES:
        got = report([str(path)], engine=engine, shadow=True, candidates=[candidate] if engine == "python" else [])
        (entry,) = got["shadow"]
        pairs = Counter((r["rule"], r["shadow"][0]["rule"]) for r in ends)
        assert {(c["live"], c["candidate"]): c["count"] for c in entry["matrix"]} == dict(pairs)
        assert entry["agreement"] == 1.0  # the candidate keeps every rule name; only legal's target moves
        if engine == "python":
            legal = [r for r in ends if r["rule"] == "legal"]
            assert legal and Decimal(entry["cost"]["estimated_cost"]) != Decimal(entry["cost"]["live_cost"])
    split = runtime.Split({live: 1, candidate: 1}, key="task")
    canary = write(tmp_path / "canary.jsonl", router_records(400, seed=22, policy=split))
    arms = Counter(r["arm"] for r in json.loads("[" + ",".join(canary.read_text().split("\n")[:-1]) + "]")
                   if r.get("event") != "start")
    with pytest.raises(ReportError, match="2 policies"):
        report([str(canary)], engine="duckdb")
    for engine in ENGINES:
        got = report([str(canary)], engine=engine, by="arm")
        assert {g["value"]: g["requests"] for g in got["groups"]} == dict(arms) and set(arms) == {"desk", "cheaper"}
        (other,) = got["comparison"]["groups"]
        assert got["comparison"]["reference"] == "cheaper" and other["value"] == "desk"
        by_rate = {r["rate"]: r for r in other["rates"]}
        mine = {g["value"]: g for g in got["groups"]}
        assert by_rate["escalation_rate"]["before"]["count"] == mine["cheaper"]["escalated"]
        assert by_rate["escalation_rate"]["after"]["of"] == mine["desk"]["served"]
        for g in got["groups"]:
            low, high = g["ci95"]["escalation_rate"]
            assert low <= g["escalation_rate"] <= high
