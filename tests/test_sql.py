"""The SQL target (section 12) against the interpreter: row for row, the same decisions, paths
and request errors, on random policies and boundary-heavy requests; the other dialects parse.

Requests reach DuckDB the way traffic does: as JSON lines (each value keeps its JSON sort, as
Python's `json` reads it) and as typed columns. The interpreter decides the same record, nulls
read as absent keys (`simulation.traffic.normalized`). A row the SQL reports as S001 (a value
it cannot hold exactly, section 12's documented limit) must really hold such a value.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import duckdb
import pytest
import sqlglot
from hypothesis import given
from hypothesis import strategies as st

import policylang
from policylang.backends.sql import DIALECTS, to_sql
from policylang.backends.sql.columns import Layout
from policylang.backends.sql.query import build
from policylang.simulation.traffic import normalized

import policygen
import policygen_measured
import strategies as gen
from conftest import EXAMPLES, example_files, examples

RANDOM_POLICIES = st.one_of(policygen.finite_policies(extras=True), policygen.float_policies(),
                            policygen_measured.measured_policies())


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, (bytes, tuple, frozenset, set)):
        return None
    raise TypeError


def json_line(request: Any) -> str:
    """A request as a traffic line; values JSON has no form for become nulls."""
    try:
        return json.dumps(request, default=_encode)
    except (TypeError, ValueError):
        return json.dumps({k: v for k, v in request.items() if isinstance(v, (int, float, str, bool))}
                          if isinstance(request, dict) else None)


def expected(policy: policylang.Policy, line: str) -> tuple:
    """What the interpreter gives for one traffic line, in the SQL's columns."""
    record = json.loads(line)
    if not isinstance(record, dict):
        return ("error", "R002", None)
    record = normalized({str(k): v for k, v in record.items()})
    outcomes = record.get("@outcomes")
    if outcomes is not None and not (isinstance(outcomes, list) and all(isinstance(o, dict) for o in outcomes)):
        return ("error", "R002", None)
    signals = {k: v for k, v in record.items() if not k.startswith("@")}
    try:
        decision = policy.decide(signals, engine="interpreted")
        path = policy.path(decision, outcomes or [], engine="interpreted")
    except policylang.RequestError as exc:
        return ("error", exc.code, exc.signal)
    d = decision.as_dict()
    return ("decision", d["rule"], d["model"], d["steps"], d["max_output"], d["caps"], d["reject"], path)


def sql_rows(policy: policylang.Policy, lines: list[str]) -> list[tuple]:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE lines (line VARCHAR, n INTEGER)")
    connection.executemany("INSERT INTO lines VALUES (?, ?)", [(line, i) for i, line in enumerate(lines)])
    query = build(policy.ir, Layout("json", {"n": "INTEGER"}), "(SELECT * FROM lines)").text
    rows = connection.execute(f"SELECT * FROM ({query}) ORDER BY n").fetchall()
    out = []
    for n, rule, model, steps, max_output, caps, reject, path, code, signal in rows:
        if code is not None:
            out.append(("error", code, signal))
        else:
            out.append(("decision", rule, model, steps, max_output, caps, reject, path))
    return out


def _unheld(value: Any) -> bool:
    """A value section 12 lets the SQL refuse (S001): more than 38 digits, an int past 2**53
    given for a float or past 10**20 for an amount, a float whose repr needs more than 18 places."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > 2**53
    if isinstance(value, float) and math.isfinite(value):
        text = Decimal(repr(value))
        return -int(text.as_tuple().exponent) > 18 or abs(value) >= 1e20
    if isinstance(value, list):
        return any(_unheld(v) for o in value if isinstance(o, dict) for v in o.values())
    return False


def assert_rows_agree(policy: policylang.Policy, lines: list[str]) -> int:
    """Every row equal to the interpreter's; returns how many rows were S001."""
    undecided = 0
    for line, got in zip(lines, sql_rows(policy, lines)):
        want = expected(policy, line)
        if got[:2] == ("error", "S001"):
            record = json.loads(line)
            assert isinstance(record, dict) and any(_unheld(v) for v in record.values()), (line, want)
            undecided += 1
            continue
        assert got == want, f"line {line}: sql {got}, interpreter {want}"
    return undecided


@st.composite
def traffic(draw, policy: policylang.Policy) -> list[str]:
    """Requests valid, faulty and missing signals; a third with `@outcomes`."""
    drawn = gen.for_policy(policy.ir)
    requests = draw(st.lists(drawn.some_requests, min_size=1, max_size=12))
    lines = []
    for request in requests:
        if draw(st.integers(0, 2)) == 0 and isinstance(request, dict):
            request = {**request, "@outcomes": draw(drawn.outcome_lists)}
        lines.append(json_line(request))
    return lines


@examples(0.5)
@given(generated=RANDOM_POLICIES, data=st.data())
def test_duckdb_rows_equal_the_interpreter_on_random_policies(generated, data):
    policy = policylang.loads(generated.text, "gen.route", analyze=False)
    lines = data.draw(traffic(policy), label="traffic")
    assert_rows_agree(policy, lines)


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.stem)
@examples(0.25)
@given(data=st.data())
def test_duckdb_rows_equal_the_interpreter_on_the_examples(path, data):
    policy = _example(path)
    assert_rows_agree(policy, data.draw(traffic(policy), label="traffic"))


_examples_loaded: dict[str, policylang.Policy] = {}


def _example(path) -> policylang.Policy:
    if str(path) not in _examples_loaded:
        _examples_loaded[str(path)] = policylang.load(str(path), analyze=False)
    return _examples_loaded[str(path)]


BOUNDARIES = """
policy bounds
signal n: int in 0..10
signal f: float in -1.0..1.0 = 0.0
signal g: float = 0.0
signal spend: money in $0.10..$0.30 = $0.20
signal wait: duration in 500ms..2s = 1s
signal tier: enum {free, pro} = free
signal vip: bool = false
outcome q: float in 0.0..1.0 = 1.0
model a { id = "a", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 100, max_output = 10, latency = 1s }
model b { id = "b", tier = 2, input_per_mtok = $3, output_per_mtok = $4, context = 100, max_output = 20, latency = 2s }
cascade up { a -> b when q < 0.5 }
route {
  rule sum   when f + g > 0.3                   -> a
  rule cheap when spend == $0.10 and tier == pro -> b with max_output = 5
  rule slow  when wait * 2 >= 3s or n < 2.5     -> reject "it's; DROP TABLE requests; --"
  rule mixed when g < n and not vip             -> up
  default -> up
}
"""


@pytest.mark.parametrize("record", [
    {"n": 1, "f": 0.1, "g": 0.2},  # 0.1 + 0.2 is exactly 0.3: not above it
    {"n": 1, "f": 0.1, "g": 0.2000000000000001},
    {"n": 3, "spend": 0.1, "tier": "pro"},  # exactly $0.10
    {"n": 3, "spend": 0.30000000000000004},  # one ulp past $0.30: R003
    {"n": 3, "wait": 1.5},
    {"n": 3, "wait": 1.4999999999999998},
    {"n": 2},
    {"n": 3, "g": 2.9999999999999996},
    {"n": 3, "g": 5e-324, "@outcomes": [{"q": 0.49999999999999994}]},
    {"n": True}, {"n": 3.0}, {"n": "3"}, {"n": 11}, {}, {"n": 3, "f": float("nan")},
    {"n": 3, "tier": "PRO"}, {"n": 3, "@outcomes": [{"q": 2}]}, {"n": 3, "@outcomes": [{"typo": 1}]},
    {"n": 3, "@outcomes": "no"}, {"n": 3, "@outcomes": [None]}, {"n": None}, {"n": 3, "vip": None},
    {"n": 10**30}, {"n": 3, "g": 10**30},
])
def test_boundaries(record):
    policy = policylang.loads(BOUNDARIES, "bounds.route", analyze=False)
    assert_rows_agree(policy, [json.dumps(record)])


def test_typed_columns_equal_the_interpreter():
    """Canonical columns (BIGINT, DOUBLE, DECIMAL, VARCHAR, a list of structs) and a missing one."""
    policy = policylang.loads(BOUNDARIES, "bounds.route", analyze=False)
    connection = duckdb.connect()
    connection.execute("""CREATE TABLE requests AS SELECT * FROM (VALUES
        (1, 0.1, 0.2, 0.10::DECIMAL(38, 18), 'pro', NULL::BOOLEAN, [{'q': 0.4}]),
        (3, 0.5, 0.5, 0.10::DECIMAL(38, 18), 'pro', TRUE, [{'q': 0.4}]),
        (5, 0.0, 0.0, NULL, NULL, FALSE, [{'q': 0.4}]),
        (NULL, 0.0, 0.0, NULL, NULL, FALSE, NULL),
        (12, 0.0, 0.0, NULL, NULL, FALSE, NULL)
    ) t(n, f, g, spend, tier, vip, "@outcomes")""")
    columns = dict(connection.execute("SELECT column_name, column_type FROM (DESCRIBE requests)").fetchall())
    rows = connection.execute(to_sql(policy.ir, columns=columns)).fetchall()
    for row in rows:
        n, f, g, spend, tier, vip, outcomes = row[:7]
        record = normalized({"n": n, "f": f, "g": g, "spend": spend, "tier": tier, "vip": vip, "@outcomes": outcomes})
        signals = {k: v for k, v in record.items() if not k.startswith("@")}
        try:
            decision = policy.decide(signals, engine="interpreted")
            want = (decision.rule, decision.model, list(decision.steps), decision.max_output, list(decision.caps),
                    decision.reject, policy.path(decision, record.get("@outcomes") or []), None, None)
        except policylang.RequestError as exc:
            want = (None,) * 7 + (exc.code, exc.signal)
        assert tuple(row[7:]) == want, row


def test_quoting_keeps_policy_text_out_of_the_sql():
    policy = policylang.loads(BOUNDARIES, "bounds.route", analyze=False)
    text = to_sql(policy.ir)
    assert "'it''s; DROP TABLE requests; --'" in text
    for dialect in DIALECTS[1:]:
        parsed = sqlglot.parse(to_sql(policy.ir, dialect=dialect), read=dialect)
        assert len(parsed) == 1 and parsed[0].key == "select", dialect  # one statement: nothing ran away


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.stem)
def test_every_dialect_parses(path, dialect):
    text = to_sql(_example(path).ir, dialect=dialect, table="logs.requests")
    assert sqlglot.parse_one(text, read=dialect) is not None


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.stem)
def test_the_sql_is_the_same_from_a_fresh_load(path):
    """Deterministic output: a policy loaded again gives the same text, in DuckDB's dialect and
    translated (one translated dialect stands for all: sqlglot's output is a function of its input)."""
    again = policylang.load(str(path), analyze=False)
    for dialect in ("duckdb", "spark"):
        assert to_sql(_example(path).ir, dialect=dialect) == to_sql(again.ir, dialect=dialect), dialect


@pytest.mark.parametrize("dialect", ["spark", "trino", "bigquery"])
def test_list_indexes_past_the_end_are_null(dialect):
    """The query reads each step's outcome whether `"@outcomes"` is that long or not, which
    DuckDB answers with NULL; Spark (ANSI mode), Trino and BigQuery fail on a plain subscript, so
    every index must be their NULL-past-the-end form (try_element_at, element_at, SAFE_OFFSET)."""
    from sqlglot import exp

    text = to_sql(_example(EXAMPLES / "support_desk.route").ir, dialect=dialect)
    brackets = list(sqlglot.parse_one(text, read=dialect).find_all(exp.Bracket))
    assert brackets and all(b.args.get("safe") for b in brackets)
    assert {"spark": "TRY_ELEMENT_AT(`@outcomes`, 2)", "trino": 'ELEMENT_AT("@outcomes", 2)',
            "bigquery": "`@outcomes`[SAFE_OFFSET(1)]"}[dialect] in text


def test_compile_target_sql_cli(tmp_path):
    from click.testing import CliRunner

    from policylang.cli import main

    route = tmp_path / "bounds.route"
    route.write_text(BOUNDARIES, encoding="utf-8")
    out = tmp_path / "q.sql"
    result = CliRunner().invoke(main, ["compile", str(route), "--target", "sql", "--dialect", "trino", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("WITH")
    result = CliRunner().invoke(main, ["compile", str(route), "--target", "sql", "--dialect", "nosuch"])
    assert result.exit_code == 2 and "unknown --dialect nosuch" in result.output
