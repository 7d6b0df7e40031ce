"""`simulate` on inputs that once broke one engine or made the two disagree (issue 11): a
defaulted `input_tokens`, JSON nested too deep for Python's parser, CSV with an `"@outcomes"`
column. Both engines must give the same report, field for field, and never a traceback; the
counts are written out here from the policy, not computed by the code under test."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import policylang
from policylang.cli import main
from policylang.simulation import simulate


DEFAULTED = """
policy defaulted
signal input_tokens: int in 0..1_000_000 = 100
signal task: enum {a, b} = a
model cheap { id = "v/cheap", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 1_000_000, max_output = 10, latency = 1s }
model big { id = "v/big", tier = 2, input_per_mtok = $5, output_per_mtok = $10, context = 1_000_000, max_output = 10, latency = 2s }
route {
  rule small when task == b and input_tokens <= 500 -> cheap
  default -> big
}
"""


def _both(policy, path, **options) -> dict:
    reports = [simulate(policy, path, engine=e, **options).as_dict() for e in ("duckdb", "python")]
    for report in reports:
        report.pop("engine")
    assert reports[0] == reports[1]
    return reports[0]


@pytest.fixture(scope="module")
def defaulted():
    return policylang.loads(DEFAULTED, "defaulted.route")


def _defaulted_files(tmp_path):
    records = [{"task": "b"}, {"task": "a", "input_tokens": 700}, {}]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with open(tmp_path / "t.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "input_tokens"])
        writer.writerows([["b", ""], ["a", "700"], ["", ""]])
    pq.write_table(pa.table({"task": ["b", "a", None], "input_tokens": pa.array([None, 700, None], pa.int64())}),
                   tmp_path / "t.parquet")
    return [jsonl, tmp_path / "t.csv", tmp_path / "t.parquet"]


def test_a_defaulted_input_tokens_is_counted_at_its_default(defaulted, tmp_path):
    """A record without `input_tokens` is decided with its default, 100, as the interpreter does,
    and its calls count 100 input tokens (the python engine once raised KeyError here)."""
    assert defaulted.decide({"task": "b"}, engine="interpreted").rule == "small"
    for path in _defaulted_files(tmp_path):
        report = _both(defaulted, path, baseline="big", by="task")
        assert report["errors"] == {} and report["valid"] == 3, path
        assert {r: v["hits"] for r, v in report["rules"].items()} == {"small": 1, "default": 2}
        assert report["models"] == {
            "cheap": {"calls": 1, "answered": 1, "tokens_in": 100, "tokens_out": 10, "cost": "0.00012"},  # 100 x $1 + 10 x $2
            "big": {"calls": 2, "answered": 2, "tokens_in": 800, "tokens_out": 20, "cost": "0.0042"},  # 800 x $5 + 20 x $10
        }
        assert report["cost"]["baseline"] == "0.0048"  # 900 x $5 + 30 x $10
        assert report["by"]["groups"]["b"]["models"]["cheap"]["tokens_in"] == 100


def test_a_defaulted_input_tokens_on_the_command_line(defaulted, tmp_path):
    route = tmp_path / "defaulted.route"
    route.write_text(DEFAULTED, encoding="utf-8")
    jsonl = _defaulted_files(tmp_path)[0]
    outputs = []
    for engine in ("duckdb", "python"):
        result = CliRunner().invoke(main, ["simulate", str(route), str(jsonl), "--engine", engine, "--format", "json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        report.pop("engine")
        outputs.append(report)
    assert outputs[0] == outputs[1]
    assert outputs[0]["tokens"]["in"] == 900
