"""`simulate` (section 9.3): both engines give the same report, field for field; its totals
equal a computation written out here; hostile traffic is counted or refused, never a traceback."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import policylang
from policylang.cli import main
from policylang.simulation import SimulationError, simulate

from conftest import EXAMPLES

MONTHLY = EXAMPLES / "simulate" / "monthly.route"


def _same(a, b):
    a, b = dict(a.as_dict()), dict(b.as_dict())
    a.pop("engine"), b.pop("engine")
    assert a == b


@pytest.fixture(scope="module")
def monthly():
    return policylang.load(str(MONTHLY))


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """5,000 records of the example's seeded traffic."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("traffic", EXAMPLES / "simulate" / "traffic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = tmp_path_factory.mktemp("traffic") / "month.jsonl"
    module.main(str(path), 5_000)
    return path


@pytest.mark.parametrize("down", [(), ("fast",), ("fast:rate_limited", "frontier")])
def test_engines_agree_on_the_example(monthly, month, down):
    reports = [simulate(monthly, month, baseline="frontier", by="task", down=down, engine=e) for e in ("duckdb", "python")]
    _same(*reports)


def test_totals_equal_an_independent_computation(monthly, month):
    """Written out from the prices of std/catalog, not with the code under test."""
    fast_in, fast_out = Decimal("0.435"), Decimal("0.87")  # deepseek_v4_pro, $ per million tokens
    gpt_in, gpt_out = Decimal("5"), Decimal("30")
    total = baseline = Decimal(0)
    hits = Counter()
    for line in month.read_text().splitlines():
        r = json.loads(line)
        tokens, out = r["input_tokens"], min(r["@output_tokens"], 4000)
        gpt = (tokens * gpt_in + out * gpt_out) / 1_000_000
        fast = (tokens * fast_in + out * fast_out) / 1_000_000
        baseline += gpt
        if r["task"] == "summarize":
            hits["summaries"] += 1
            total += fast + (gpt if r.get("@outcomes") == [{"valid": False}] else 0)
        elif r["task"] in ("classify", "extract", "translate"):
            hits["routine"] += 1
            total += fast
        else:
            hits["default"] += 1
            total += gpt
    for engine in ("duckdb", "python"):
        report = simulate(monthly, month, baseline="frontier", engine=engine)
        assert Decimal(report["cost"]["total"]) == total
        assert Decimal(report["cost"]["baseline"]) == baseline
        assert {r: v["hits"] for r, v in report["rules"].items() if v["hits"]} == dict(hits)
        saving = (baseline - total) / baseline
        assert abs(Decimal(report["cost"]["saving"]) - saving) < Decimal("0.00005")


@pytest.mark.slow  # writes and simulates a month of traffic: ~10 s
def test_the_seeds_case_lands_near_3200(monthly, tmp_path):
    """$10,000 a month on GPT-5.5 lands near $3,200 with 70% on DeepSeek V4 Pro."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("traffic", EXAMPLES / "simulate" / "traffic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = tmp_path / "month.jsonl"
    module.main(str(path))
    report = simulate(monthly, path, baseline="frontier")
    assert Decimal("9800") < Decimal(report["cost"]["baseline"]) < Decimal("10200")
    assert Decimal("3100") < Decimal(report["cost"]["total"]) < Decimal("3400")


HOSTILE = """
policy hostile
signal task: enum {a, b}
signal input_tokens: int in 0..1_000_000
signal score: float in 0.0..1.0 = 0.5
outcome ok: bool = true
model m { id = "m", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 1_000_000, max_output = 100, latency = 1s }
model n { id = "n", tier = 2, input_per_mtok = $3, output_per_mtok = $4, context = 1_000_000, max_output = 100, latency = 2s }
cascade up { m -> n when not ok }
fallback m -> n on unavailable
route {
  rule big when input_tokens > 500_000 -> reject "too big"
  rule one when task == a -> up
  default -> n
}
"""


@pytest.fixture(scope="module")
def hostile():
    return policylang.loads(HOSTILE, "hostile.route")


def _both(policy, path, **options):
    reports = [simulate(policy, path, engine=e, **options) for e in ("duckdb", "python")]
    _same(*reports)
    return reports[0]


@pytest.mark.slow  # a 50 MB line among the hostile ones, through both engines: ~6 s
def test_hostile_json_lines(hostile, tmp_path):
    path = tmp_path / "t.jsonl"
    lines = [
        '{"task": "a", "input_tokens": 10}',
        "{broken",
        "",
        json.dumps({"task": "b", "input_tokens": 5, "note": "x" * (50 * 1024 * 1024)}),  # a 50 MB line
        '[1, 2]',
        '{"task": "a", "input_tokens": "10"}',  # wrong type
        '{"task": "c", "input_tokens": 10}',  # not a member
        '{"input_tokens": 10}',  # missing
        '{"task": "a", "input_tokens": 10, "@outcomes": [{"ok": false}]}',
        '{"task": "a", "input_tokens": 10, "@outcomes": [{"ok": 1}]}',  # a bad outcome
        '{"task": "a", "input_tokens": 10, "@outcomes": 3}',
        '{"task": "a", "input_tokens": 10, "@output_tokens": -1}',
        '{"task": "b", "input_tokens": 900000}',
        '{"task": "a", "input_tokens": 10} trailing',
        '{"task": "a", "input_tokens": null, "score": NaN}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = _both(hostile, path, down=["m"])
    assert report["records"] == 14
    # the last line holds NaN, which is no JSON number: not a request (R002), as in every command
    assert report["errors"]["R002"]["count"] == 8
    assert report["errors"]["R002"]["first"] == {"location": 2, "signal": None}
    assert report["errors"]["R003"] == {"count": 1, "first": {"location": 7, "signal": "task"}}
    assert report["errors"]["R001"] == {"count": 1, "first": {"location": 8, "signal": "task"}}
    assert report["valid"] == 4 and report["rejected"] == 1
    assert report["fallbacks"] == [{"model": "m", "error": "unavailable", "fallback": "n", "count": 2}]


def test_hostile_csv_and_parquet(hostile, tmp_path):
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "score"])  # no input_tokens column: every record is R001
        writer.writerow(["a", "0.5"])
        writer.writerow(["b", ""])
    report = _both(hostile, path)
    assert report["errors"] == {"R001": {"count": 2, "first": {"location": 1, "signal": "input_tokens"}}}
    table = pa.table({"task": ["a", "b", None, "a"], "input_tokens": ["1", "2", "3", "4"],  # strings: R002
                      "score": [0.1, 0.2, 0.3, 2.0]})
    pq.write_table(table, tmp_path / "t.parquet")
    report = _both(hostile, tmp_path / "t.parquet")
    assert report["errors"]["R002"]["count"] == 3 and report["errors"]["R001"]["count"] == 1
    good = pa.table({"task": ["a", "b"], "input_tokens": pa.array([1, 2], pa.int32()),
                     "@outcomes": [[{"ok": False}], None], "@output_tokens": [7, None]})
    pq.write_table(good, tmp_path / "good.parquet")
    report = _both(hostile, tmp_path / "good.parquet", baseline="m", by="task")
    assert report["errors"] == {} and report["escalations"]["requests"] == 1
    assert report["by"]["groups"]["a"]["escalations"]["rate"] == "1.0000"


def test_refusals_are_clear(hostile, tmp_path):
    (tmp_path / "x.parquet").write_text("not parquet")
    for engine in ("duckdb", "python"):
        with pytest.raises(SimulationError, match="x.parquet"):
            simulate(hostile, tmp_path / "x.parquet", engine=engine)
    with pytest.raises(SimulationError, match="unknown traffic format"):
        simulate(hostile, tmp_path / "x.txt")
    with pytest.raises(SimulationError, match="no model 'zz'"):
        simulate(hostile, tmp_path / "x.parquet", down=["zz"])
    with pytest.raises(SimulationError, match="not an enum or bool signal"):
        simulate(hostile, tmp_path / "x.parquet", by="score")


def test_cli_formats(tmp_path, month):
    runner = CliRunner()
    result = runner.invoke(main, ["simulate", str(MONTHLY), str(month), "--baseline", "frontier", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["records"] == 5_000
    result = runner.invoke(main, ["simulate", str(MONTHLY), str(month), "--by", "task", "--baseline", "frontier",
                                  "--format", "html", "-o", str(tmp_path / "r.html")])
    page = (tmp_path / "r.html").read_text()
    assert result.exit_code == 0 and "<svg" in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    result = runner.invoke(main, ["simulate", str(MONTHLY), str(month), "--engine", "python"])
    assert result.exit_code == 0 and "rules" in result.output and "escalations" in result.output
    result = runner.invoke(main, ["simulate", str(MONTHLY), str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_import_policylang_loads_no_optional_dependency():
    import subprocess
    import sys

    code = "import sys, policylang; policylang.simulate; print(sorted(m for m in ('duckdb', 'sqlglot', 'pyarrow') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_records_sql_cannot_hold_exactly_are_decided_by_the_python_engine(tmp_path) -> None:
    """An int of 40 digits in an unbounded signal is S001 for the SQL back end (no DECIMAL holds
    it); simulate's duckdb engine hands such records to the python engine, so both reports agree."""
    from policylang import simulate as simulate_policy

    text = """policy wide
signal n: int
model m { id = "v/m", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 10, max_output = 4, latency = 1s }
model b { id = "v/b", tier = 2, input_per_mtok = $2, output_per_mtok = $2, context = 10, max_output = 4, latency = 1s }
route {
  rule big when n > 5 -> b
  default -> m
}
"""
    policy = policylang.loads(text, "wide.route")
    traffic = tmp_path / "wide.jsonl"
    traffic.write_text("".join(json.dumps({"n": n}) + "\n" for n in (1, 10**39, 7, -(10**40), 3)), encoding="utf-8")
    reports = {engine: {k: v for k, v in simulate_policy(policy, str(traffic), engine=engine).as_dict().items()
                        if k != "engine"} for engine in ("duckdb", "python")}
    assert reports["duckdb"] == reports["python"]
    assert reports["duckdb"]["errors"] == {}
    assert reports["python"]["requests"] == 5
