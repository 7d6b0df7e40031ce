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
from hypothesis import given
from hypothesis import strategies as st

import policylang
from policylang.cli import main
from policylang.simulation import simulate
from policylang.jsontext import read_record
from policylang.simulation.traffic import deep_loads, shallow

from conftest import EXAMPLES, examples


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


HOSTILE = """
policy hostile
signal task: enum {a, b}
signal input_tokens: int in 0..1_000_000
outcome ok: bool = true
model m { id = "m", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 1_000_000, max_output = 100, latency = 1s }
model n { id = "n", tier = 2, input_per_mtok = $3, output_per_mtok = $4, context = 1_000_000, max_output = 100, latency = 2s }
cascade up { m -> n when not ok }
route {
  rule one when task == a -> up
  default -> n
}
"""


def _nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.slow  # 100,000-deep lines through both engines: ~10 s
def test_json_nested_deeper_than_python_parses_is_counted_not_a_traceback(tmp_path):
    """Python's `json` gives up (RecursionError) near 1,000 levels; DuckDB's parser has no limit.
    A deep line that is no JSON object is R002 at its line, a deep object is decided, and the
    lines after it are simulated, by both engines alike."""
    policy = policylang.loads(HOSTILE, "hostile.route")
    deep = 100_000
    lines = [
        '{"task": "b", "input_tokens": 1}',  # 1: n
        "[" * deep,  # 2: unterminated: R002
        '{"a":' * deep,  # 3: unterminated: R002
        _nested(deep),  # 4: well formed, but no object: R002
        '{"task": "b", "input_tokens": 2, "note": ' + '{"a": ' * deep + "1" + "}" * deep + "}",  # 5: n
        '{"task": ' + _nested(deep) + ', "input_tokens": 3}',  # 6: R002 at task
        '{"task": "a", "input_tokens": 4, "@outcomes": [{"ok": ' + _nested(deep) + "}]}",  # 7: R002 at ok
        '{"task": "a", "input_tokens": 5, "@outcomes": [' + _nested(deep) + "]}",  # 8: R002, not a list of objects
        '{"task": "a", "input_tokens": 6, "@outcomes": [{"ok": false}]}',  # 9: m, n
    ]
    # 10 on: around the depth where Python's parser stops, where a value it read can still be
    # too deep to show in an error message: R002 at task, R002 at ok, decided (n)
    for depth in range(900, 1100, 7):
        lines.append('{"task": ' + _nested(depth, "") + ', "input_tokens": 1}')
        lines.append('{"task": "a", "input_tokens": 1, "@outcomes": [{"ok": ' + _nested(depth, "") + "}]}")
        lines.append('{"task": "b", "input_tokens": 1, "x": ' + _nested(depth, '{"y": 1}') + "}")
    near = (len(lines) - 9) // 3
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = _both(policy, path)
    assert report["records"] == len(lines)
    assert report["errors"] == {"R002": {"count": 6 + 2 * near, "first": {"location": 2, "signal": None}}}
    assert report["valid"] == 3 + near
    assert report["models"]["n"]["tokens_in"] == 1 + 2 + 6 + near
    assert report["models"]["m"]["tokens_in"] == 6
    (tmp_path / "hostile.route").write_text(HOSTILE, encoding="utf-8")
    for engine in ("python", "duckdb"):
        result = CliRunner().invoke(main, ["simulate", str(tmp_path / "hostile.route"), str(path), "--engine", engine])
        assert result.exit_code == 1 and isinstance(result.exception, (SystemExit, type(None))), result.output
        assert f"{len(lines)} records" in result.output and "R002" in result.output


def _json_values():
    scalars = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=True)
               | st.text(max_size=6))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=25)


@examples()
@given(value=_json_values(), ascii_only=st.booleans(), cuts=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
    ["", "{", "}", "[", "]", ",", ":", '"', "\\", " ", "1", "-", ".", "e", "n", "t", "N", "I", "\x00", "\u00e9"])), max_size=3))
def test_deep_loads_reads_what_json_loads_reads(value, ascii_only, cuts):
    """The parser of lines too deep for Python's `json` reads every text as `read_record` does
    through `json`: the same value (containers past `DEEP` kept empty), or a ValueError where it
    raises one (not JSON, NaN, a key twice...)."""
    text = json.dumps(value, ensure_ascii=ascii_only, indent=None if ascii_only else 1)
    for at, piece in cuts:  # a few edits: a character replaced, or one inserted
        at %= len(text) + 1
        text = text[:at] + piece + text[at + 1:] if piece and at % 2 else text[:at] + piece + text[at:]
    raw = text.encode("utf-8", "surrogatepass")
    try:
        want = read_record(raw)
    except ValueError:
        with pytest.raises(ValueError):
            deep_loads(raw)
        return
    assert repr(deep_loads(raw)) == repr(shallow(want))
    assert repr(deep_loads(raw, depth=10**6)) == repr(want)


@pytest.mark.slow  # a million-deep value: ~6 s
def test_deep_loads_has_no_depth_limit():
    assert deep_loads(_nested(200_000).encode()) == [[[[[]]]]]
    assert deep_loads(('{"a": ' * 200_000 + "null" + "}" * 200_000).encode()) == {"a": {"a": {"a": {"a": {}}}}}
    for broken in ("[" * 200_000, _nested(200_000) + "]", '{"a":' * 200_000, _nested(200_000, "1,"), "[1,]", '{"a": 1,}'):
        with pytest.raises(ValueError):
            deep_loads(broken.encode())


def test_a_csv_outcomes_cell_is_json_text_in_both_engines(tmp_path):
    """CSV has no nested values, so an `"@outcomes"` cell holds the list as JSON text: both
    engines climb on it (the duckdb engine once ignored the column, the python engine counted
    every such row as R002). An empty cell or `null` is absent; text that is no JSON, or no list
    of objects, is R002; an outcome is validated as in JSON lines."""
    policy = policylang.load(str(EXAMPLES / "support_desk.route"))
    rows = [
        ["classify", "300", '[{"confidence": 0.4}]'],  # 1: fast, mid (no outcome for mid: it stops)
        ["classify", "300", '[{"confidence": 0.4}, {"confidence": 0.3}]'],  # 2: fast, mid, frontier
        ["extract", "2000", '[{"confidence": 0.95}]'],  # 3: fast
        ["translate", "100", ""],  # 4: absent: fast
        ["translate", "100", "null"],  # 5: absent: fast
        ["format", "100", "abc"],  # 6: no JSON: R002
        ["format", "100", '{"confidence": 0.4}'],  # 7: no list: R002
        ["format", "100", '[{"confidence": null}]'],  # 8: the outcome's default: fast
        ["format", "100", '[{"typo": 1}]'],  # 9: R004 at typo
        ["format", "100", ' [{"valid": false, "tool_failures": 3}] '],  # 10: fast, mid
        ["legal_review", "1200", '[{"confidence": 0.1}]'],  # 11: high_stakes, no cascade: frontier
        ["format", "100", _nested(5_000, "")],  # 12: a list of lists: R002
    ]
    path = tmp_path / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "input_tokens", "@outcomes"])
        writer.writerows(rows)
    report = _both(policy, path)
    assert report["errors"] == {"R002": {"count": 3, "first": {"location": 6, "signal": None}},
                                "R004": {"count": 1, "first": {"location": 9, "signal": "typo"}}}
    assert report["valid"] == 8
    assert {r: v["hits"] for r, v in report["rules"].items() if v["hits"]} == {"cheap": 7, "high_stakes": 1}
    assert report["escalations"]["requests"] == 3
    assert [(e["from"], e["to"], e["count"]) for e in report["escalations"]["edges"]] == [
        ("fast", "mid", 3), ("mid", "frontier", 1)]
    assert {m: v["calls"] for m, v in report["models"].items()} == {"fast": 7, "mid": 3, "frontier": 2}


def test_the_csv_outcomes_repro_on_the_command_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('task,input_tokens,@outcomes\nclassify,300,"[{""confidence"": 0.4}]"\n', encoding="utf-8")
    outputs = []
    for engine in ("duckdb", "python"):
        result = CliRunner().invoke(main, ["simulate", str(EXAMPLES / "support_desk.route"), str(path),
                                           "--engine", engine, "--format", "json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        report.pop("engine")
        outputs.append(report)
    assert outputs[0] == outputs[1]
    assert outputs[0]["escalations"]["edges"] == [{"cascade": "standard", "from": "fast", "to": "mid", "count": 1}]


def test_latency_requests_is_a_count_like_every_other(defaulted, tmp_path):
    """Counts are JSON numbers, the latency figures decimal strings (docs/simulate.md)."""
    jsonl = _defaulted_files(tmp_path)[0]
    latency = _both(defaulted, jsonl)["latency"]
    assert latency["requests"] == 3 and (latency["mean"], latency["max"]) == ("1.667", "2")
    empty = tmp_path / "none.jsonl"
    empty.write_text('{"task": "c"}\n', encoding="utf-8")  # R003: no request made a call
    assert _both(defaulted, empty)["latency"] == {"requests": 0, "mean": None, "p50": None, "p95": None, "max": None}


def test_latency_percentiles_are_nearest_rank(tmp_path):
    """p is the smallest latency with at least ceil(p x n) requests at or below it: the ceiling,
    not the floor (a Decimal's // truncates, and once gave the rank below)."""
    policy = policylang.loads(DEFAULTED, "defaulted.route")
    path = tmp_path / "t.jsonl"
    # 3 requests at 1s (cheap), then 4 at 2s (big): n = 7, p50 rank ceil(3.5) = 4, p95 rank ceil(6.65) = 7
    path.write_text('{"task": "b"}\n' * 3 + '{"task": "a"}\n' * 4, encoding="utf-8")
    assert _both(policy, path)["latency"] == {"requests": 7, "mean": "1.571", "p50": "2", "p95": "2", "max": "2"}
    # 19 at 1s and 2 at 2s: n = 21, p50 rank 11 (1s), p95 rank ceil(19.95) = 20 (2s)
    path.write_text('{"task": "b"}\n' * 19 + '{"task": "a"}\n' * 2, encoding="utf-8")
    assert _both(policy, path)["latency"] == {"requests": 21, "mean": "1.095", "p50": "1", "p95": "2", "max": "2"}


@pytest.mark.parametrize("lines, said", [
    (['{"task": "b", "input_tokens": 1}'],
     ["1 record, 1 valid", "0 requests climbed", "note: 1 answered call had no @output_tokens: its output is"]),
    (['{"task": "a", "input_tokens": 1, "@outcomes": [{"ok": false}], "@output_tokens": 5}'],
     ["1 record, 1 valid", "1 request climbed"]),
    (['{"task": "a", "input_tokens": 1, "@outcomes": [{"ok": false}]}'] * 2,
     ["2 records, 2 valid", "2 requests climbed", "note: 4 answered calls had no @output_tokens: their output is"]),
])
def test_the_text_report_counts_in_the_singular_for_one(tmp_path, lines, said):
    from policylang.simulation import render_text

    policy = policylang.loads(HOSTILE, "hostile.route")
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for engine in ("duckdb", "python"):
        text = render_text(simulate(policy, path, engine=engine))
        for words in said:
            assert words in text, (engine, words, text)
        assert ("note:" in text) == (len(said) == 3)


# ---- lines DuckDB's reader or parser reads otherwise than Python's `json` (simulation/lines.py) ----

@pytest.fixture(scope="module")
def hostile():
    return policylang.loads(HOSTILE, "hostile.route")


GOOD = b'{"task": "b", "input_tokens": 1}'
"""The line before and after each doubtful one: decided by `default`, whatever the engine."""

DOUBTFUL = [  # (the line, what Python's `json` makes of it: an error code, or the rule that takes it)
    (b'{"task": "a", "input_tokens": 3,}', "R002"),  # a trailing comma, which DuckDB accepts
    (b'{"task": "a", "input_tokens": [1, ]}', "R002"),
    (b'{"task": "a", "input_tokens": 3, "@outcomes": [{"ok": false,}]}', "R002"),
    (b'{"task": "a\\ud800", "input_tokens": 3}', "R003"),  # a lone surrogate, which DuckDB refuses
    (b'{"task": "a", "input_tokens": 3, "note": "\\udc00"}', "one"),
    (b'{"task": "a", "input_tokens": 3, "note": "\\ud83d\\ude00"}', "one"),
    (b'{"task": "a", "input_tokens": 3, "task": "b"}', "R002"),  # a key twice: refused (Python keeps the last)
    (b'{"task": "b", "input_tokens": 3, "ta\\u0073k": "a"}', "R002"),  # the same key, spelled otherwise
    (b'{"task": "a", "input_tokens": 3, "@outcomes": [{"ok": true, "ok": 5}]}', "R002"),
    (b'{"task": "a", "input_tokens": NaN}', "R002"),
    (b'{"task": "a", "input_tokens": 3, "note": -Infinity}', "R002"),  # no JSON number, wherever it is
    (b'\xef\xbb\xbf{"task": "a", "input_tokens": 3}', "one"),  # a byte-order mark: Python's json skips it
    (b'{"task": "a", "input_tokens": 3, "note": "a\x1eb"}', "R002"),  # DuckDB's first delimiter
    (b'\x1e{"task": "a", "input_tokens": 3}', "R002"),
    (b'{"task": "a", "input_tokens": 3, "note": "\x7f\x00"}', "R002"),
    (b'{"task": "a", "input_tokens": 3, "note": "caf\xc3\xa9 \xe2\x82\xac"}', "one"),  # UTF-8, not doubtful
    (b'{"task": "a", "input_tokens": 99999999999999999999999}', "R003"),  # past any SQL integer
    (b'{"task": "a", "input_tokens": 3, "@output_tokens": 99999999999999999999}', "one"),  # past BIGINT
    (b'{"task": "a", "input_tokens": 3, "@output_tokens": -99999999999999999999999999999999999999999}', "R002"),
    (b'{"task": "a", "input_tokens": 3, "note": "\xff"}', "R002"),  # not UTF-8: Python reads the file
    (b'{"task": "a", "input_tokens": 3, "note": "\xed\xa0\x80"}', "R002"),  # a surrogate in UTF-8 bytes: not UTF-8
    (b'{"task": "a", "input_tokens": 3}\r{"task": "a", "input_tokens": 4}', "R002"),  # one line for Python
    (b'{"task": "a", "input_tokens": 3, "note": "x\ry"}', "R002"),
]


@pytest.mark.parametrize("line, taken", DOUBTFUL, ids=[repr(line[:40]) for line, _ in DOUBTFUL])
def test_a_doubtful_line_is_read_as_python_reads_it(hostile, tmp_path, line, taken):
    """Between two good lines, the line counts once, at line 2, as Python's `json` reads it."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(GOOD + b"\n" + line + b"\n" + GOOD + b"\n")
    report = _both(hostile, path)
    assert report["records"] == 3
    if taken.startswith("R"):
        assert list(report["errors"]) == [taken] and report["errors"][taken]["first"]["location"] == 2
        assert report["rules"]["default"]["hits"] == 2
    else:
        assert report["errors"] == {}
        assert report["rules"][taken]["hits"] == 1 + 2 * (taken == "default")


def test_doubt_is_per_line_and_the_rest_is_duckdbs(hostile, tmp_path):
    """Doubtful lines among many good ones: each counted where Python counts it, the locations
    of the lines after them unmoved (a lone carriage return would have moved them: the file
    is then Python's)."""
    path = tmp_path / "t.jsonl"
    body = [GOOD] * 50
    body[10] = b'{"task": "a", "input_tokens": 3,}'
    body[20] = b'{"task": "a", "input_tokens": 3, "task": "b"}'
    body[30] = b'{"task": "c", "input_tokens": 3}'
    path.write_bytes(b"\n".join(body) + b"\n")
    report = _both(hostile, path)
    assert report["records"] == 50
    assert report["errors"] == {"R002": {"count": 2, "first": {"location": 11, "signal": None}},  # 11 and 21
                                "R003": {"count": 1, "first": {"location": 31, "signal": "task"}}}
    assert report["rules"]["default"]["hits"] == 47


def test_a_file_holding_every_delimiter_is_read_by_python(hostile, tmp_path):
    from policylang.simulation.lines import CANDIDATES, delimiter

    path = tmp_path / "t.jsonl"
    path.write_bytes(GOOD + b"\n" + b'{"task": "a", "note": "' + CANDIDATES[:-1] + b'"}\n' + GOOD + b"\n")
    assert delimiter(path) == (CANDIDATES[-1:], None)
    path.write_bytes(GOOD + b"\n" + b'{"task": "a", "note": "' + CANDIDATES + b'"}\n' + GOOD + b"\n")
    assert delimiter(path) == (None, "every control character somewhere in it")
    report = _both(hostile, path)
    assert report["records"] == 3 and report["errors"]["R002"]["count"] == 1


def test_a_carriage_return_across_a_chunk_edge(tmp_path, monkeypatch):
    from policylang.simulation import lines

    monkeypatch.setattr(lines, "CHUNK", 4)
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a"\r\n:1}\r\n{}\r\n')  # "\r" ends a chunk, "\n" opens the next
    assert lines.delimiter(path) == (b"\x1e", None)
    path.write_bytes(b'{"a":1}\r{}\n')
    assert lines.delimiter(path) == (None, "a carriage return inside a line")
    path.write_bytes(b'{"a":1}\n{}\r')
    assert lines.delimiter(path) == (None, "a carriage return inside a line")


_EDITS = st.sampled_from([b",", b", ", b"\\ud800", b"\\udfff", b"\\u00e9", b"\\ud83d\\ude00", b"NaN", b"Infinity",
                          b"\xef\xbb\xbf", b"\x1e", b"\x00", b"\r", b"\t", b"\xc3\xa9", b"\xff", b"99999999999999999999",
                          b'"task": "a", ', b'"task": "b", ', b'"ok": false, ', b"}", b"]", b'"', b"\\"])


@examples(0.5)
@given(records=st.lists(st.fixed_dictionaries({"task": st.sampled_from(["a", "b", "c"])}, optional={
           "input_tokens": st.integers(-1, 10**20), "@output_tokens": st.integers(-1, 10**20),
           "@outcomes": st.lists(st.fixed_dictionaries({}, optional={"ok": st.booleans()}), max_size=2),
           "note": st.text(max_size=4)}), min_size=1, max_size=6),
       edits=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10**4), _EDITS), max_size=4))
def test_both_engines_read_edited_json_lines_alike(hostile, tmp_path_factory, records, edits):
    """Records written by `json.dumps`, then edited at random places with the text DuckDB's
    reader or parser and Python's `json` disagree on: the two reports are equal."""
    lines = [bytearray(json.dumps(r, ensure_ascii=False).encode("utf-8")) for r in records]
    for line, at, piece in edits:
        target = lines[line % len(lines)]
        at %= len(target) + 1
        target[at:at] = piece
    path = tmp_path_factory.mktemp("edited") / "t.jsonl"
    path.write_bytes(b"".join(bytes(line) + b"\n" for line in lines))
    report = _both(hostile, path)
    assert report["records"] <= len(lines)


def test_duckdbs_progress_bar_never_reaches_the_output(hostile, tmp_path, monkeypatch, capfd):
    """DuckDB draws its progress bar on standard output (into `--format json`) for a query that
    runs past `progress_bar_time`; the engine turns it off. Here, while the bar is on, every
    query but a SET runs as if it were long (that time at 0 ms), so a bar left on is drawn."""
    import duckdb

    connect = duckdb.connect

    class Eager:
        def __init__(self, connection):
            self.connection = connection
            connection.execute("SET enable_progress_bar = true")  # as outside pytest, which DuckDB leaves it off in

        def execute(self, sql, *args):
            on = self.connection.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0]
            if on and not sql.lstrip().upper().startswith("SET "):
                self.connection.execute("SET progress_bar_time = 0")
            return self.connection.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.connection, name)

    monkeypatch.setattr(duckdb, "connect", lambda *args, **kwargs: Eager(connect(*args, **kwargs)))
    path = tmp_path / "t.jsonl"
    path.write_bytes(GOOD + b"\n" + b'{"task": "a", "input_tokens": 3}\n' * 20_000)
    capfd.readouterr()
    report = _both(hostile, path)
    assert report["records"] == 20_001
    assert capfd.readouterr() == ("", "")


def test_records_only_reads_the_wanted_locations_of_every_format(tmp_path):
    from policylang.simulation.traffic import records

    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"a": 1}\n\n{"a": 3}\n{"a": 4}\n' + "{broken\n")
    assert list(records(jsonl, only={1, 4})) == [(1, {"a": 1}), (4, {"a": 4})]
    assert list(records(jsonl, only=set())) == []
    assert [at for at, _ in records(jsonl)] == [1, 3, 4, 5]  # the blank line is no record
    broken = dict(records(jsonl, only={5}))[5]
    assert type(broken).__name__ == "Broken"
    table = pa.table({"a": [10, 20, 30]})
    pq.write_table(table, tmp_path / "t.parquet")
    assert list(records(tmp_path / "t.parquet", only={2})) == [(2, {"a": 20})]
    (tmp_path / "t.csv").write_text("a\n1\n2\n3\n")
    assert [at for at, _ in records(tmp_path / "t.csv", only={1, 3})] == [1, 3]


# ---- broken files: both engines give the same report, or refuse the file in the same words ----

BROKEN_FILES = {  # name -> the file's bytes (issue 22: DuckDB refused a ragged CSV, Python read part of it)
    "short-row.csv": b"task,input_tokens\na,1\nb\nb,2\n",
    "long-row.csv": b"task,input_tokens\na,1\nb,2,3\nb,2\n",
    "trailing-commas.csv": b"task,input_tokens\na,1,\nb,2,\n",  # DuckDB drops them; so does Python
    "one-trailing-comma.csv": b"task,input_tokens\na,1,\nb,2\n",
    "one-column-trailing-comma.csv": b"task\n,\n",  # found by test_fuzz_commands
    "open-quote.csv": b'task,input_tokens\na,1\n"b,2\nb,2\n',
    "text-after-quote.csv": b'task,input_tokens\na,1\n"b"x,2\nb,2\n',
    "not-utf8.csv": b"task,input_tokens\na,1\nb\xff,2\nb,2\n",
    "not-utf8-header.csv": b"ta\xffsk,input_tokens\na,1\n",
    "column-twice.csv": b"task,task,input_tokens\na,b,1\n",
    "blank-lines.csv": b"task,input_tokens\n\na,1\n\n\nb,2\n",
    "one-column-blank-lines.csv": b"task\na\n\nb\n\n",  # found by test_fuzz_commands: one empty cell each
    "byte-order-mark.csv": b"\xef\xbb\xbftask,input_tokens\na,1\n",
    "quoted-newline.csv": b'task,input_tokens\na,1\n"b\nc",2\nb,2\n',
    "crlf.csv": b"task,input_tokens\r\na,1\r\nb,2\r\n",
    "no-final-newline.csv": b"task,input_tokens\na,1\nb,2",
    "truncated.csv": b'task,input_tokens,@outcomes\na,1,"[{""ok"": fal',
    "huge-numbers.csv": b"task,input_tokens\na,1e309\na,1" + b"0" * 400 + b"\na,NaN\na,-0\n",
    "outcomes-key-twice.csv": b'task,input_tokens,@outcomes\na,1,"[{""ok"": true, ""ok"": false}]"\nb,2,\n',
    "outcomes-nan.csv": b'task,input_tokens,@outcomes\na,1,"[{""ok"": NaN}]"\nb,2,\n',
    "nul-byte.csv": b"task,input_tokens\na\x00,1\nb,2\n",
    "header-only.csv": b"task,input_tokens\n",
    "empty.csv": b"",
    "not-utf8.jsonl": b'{"task": "a", "input_tokens": 1}\n{"task": "b\xff", "input_tokens": 1}\n{"task": "b", "input_tokens": 2}\n',
    "truncated.jsonl": b'{"task": "a", "input_tokens": 1}\n{"task": "b", "inpu',
    "key-twice.jsonl": b'{"task": "a", "input_tokens": 1, "task": "b"}\n{"task": "b", "input_tokens": 2}\n',
    "huge-numbers.jsonl": b'{"task": "a", "input_tokens": 1e309}\n{"task": "a", "input_tokens": 1' + b"0" * 5000
                          + b'}\n{"task": "a", "input_tokens": 1e308}\n{"task": "b", "input_tokens": -1E400}\n',
    "non-finite.jsonl": b'{"task": "a", "input_tokens": NaN}\n{"task": "a", "input_tokens": 1, "@outcomes": [{"ok": Infinity}]}\n',
    "deep.jsonl": b'{"task": "a", "input_tokens": ' + b"[" * 3000 + b"]" * 3000 + b"}\n" + GOOD + b"\n",
    "wrong-types.jsonl": b'{"task": null, "input_tokens": "1"}\n{"task": 1, "input_tokens": true}\n[]\n"a"\n{"task": "a", "input_tokens": 1, "@outcomes": {"ok": true}}\n',
    "binary.jsonl": bytes(range(256)) * 4,
    # found by test_fuzz_commands: DuckDB's arg_min skipped the first error's null signal
    "first-error-names-no-signal.jsonl": b'{"task": "a", "input_tokens": 1, "@outcomes": "x"}\n'
                                         b'{"task": [[null]], "input_tokens": 1, "@outcomes": []}\n',
}


@pytest.mark.parametrize("name", list(BROKEN_FILES))
def test_both_engines_agree_on_a_broken_file(hostile, tmp_path, name):
    """The same report field for field, or the same refusal (a SimulationError, at a line), never
    a traceback; for CSV, what DuckDB cannot read the python engine reads or refuses."""
    from policylang.simulation import SimulationError

    path = tmp_path / name
    path.write_bytes(BROKEN_FILES[name])
    answers = []
    for engine in ("duckdb", "python"):
        try:
            report = simulate(hostile, path, engine=engine).as_dict()
            report.pop("engine")
            answers.append(report)
        except SimulationError as exc:
            answers.append(str(exc))
    assert answers[0] == answers[1], name
    if isinstance(answers[0], str):
        assert name in {"open-quote.csv", "text-after-quote.csv", "not-utf8-header.csv", "column-twice.csv",
                        "truncated.csv"}, answers[0]
        assert f"{path}: line " in answers[0]


def test_a_broken_csv_is_refused_where_it_breaks(hostile, tmp_path):
    from policylang.simulation import SimulationError

    said = {}
    for name in ("open-quote.csv", "text-after-quote.csv", "not-utf8-header.csv", "column-twice.csv"):
        path = tmp_path / name
        path.write_bytes(BROKEN_FILES[name])
        with pytest.raises(SimulationError) as refused:
            simulate(hostile, path, engine="python")
        said[name] = str(refused.value).removeprefix(f"{path}: ")
    assert said == {
        "open-quote.csv": "line 3: record 2 is not CSV (a quote is never closed), so where the records after it "
                          "start is unknown",
        "text-after-quote.csv": "line 3: record 2 is not CSV (text after a closing quote), so where the records "
                                "after it start is unknown",
        "not-utf8-header.csv": "line 1: the header is not UTF-8 text",
        "column-twice.csv": "line 1: the header names the column 'task' twice",
    }


def test_a_record_of_a_csv_that_is_no_request_is_counted_and_the_rest_read(hostile, tmp_path):
    """A row longer than the header, or with a byte that is not UTF-8, is its own R002; a short
    row is read with its missing cells empty (absent), as DuckDB pads it."""
    for name, code, signal in [("long-row.csv", "R002", None), ("not-utf8.csv", "R002", None),
                               ("short-row.csv", "R001", "input_tokens")]:
        path = tmp_path / name
        path.write_bytes(BROKEN_FILES[name])
        report = _both(hostile, path)
        assert report["records"] == 3 and report["valid"] == 2, name
        assert report["errors"] == {code: {"count": 1, "first": {"location": 2, "signal": signal}}}, name


def test_the_default_engine_is_python_for_json_lines_and_duckdb_for_csv_and_parquet(tmp_path):
    """`auto`, the default of `simulate` and `policyc simulate`, picks the engine measured faster
    on each format (docs/simulate.md, benchmarks/RESULTS.md), and the report names it."""
    policy = policylang.loads(DEFAULTED, "defaulted.route")
    rows = [{"task": "b", "input_tokens": 100}, {"task": "a", "input_tokens": 900}]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "t.csv").write_text("task,input_tokens\nb,100\na,900\n", encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    picked = {name: simulate(policy, tmp_path / name).as_dict()["engine"] for name in ("t.jsonl", "t.csv", "t.parquet")}
    assert picked == {"t.jsonl": "python", "t.csv": "duckdb", "t.parquet": "duckdb"}
    (tmp_path / "p.route").write_text(DEFAULTED, encoding="utf-8")
    for name, engine in picked.items():
        said = CliRunner().invoke(main, ["simulate", str(tmp_path / "p.route"), str(tmp_path / name)])
        assert said.exit_code == 0 and said.output.startswith(f"defaulted on {name} ({engine} engine)"), said.output
    assert simulate(policy, tmp_path / "t.jsonl", engine="duckdb").as_dict()["engine"] == "duckdb"
