"""Hostile inputs through the real `policyc` command: diagnostics and exit status, never a traceback.

Nearly every case runs the installed `policyc` script (next to the venv's Python) in a subprocess, so a
crash, a RecursionError or a hang shows up as it would for a user. Big inputs are generated in
`tmp_path`, never committed. Deeply nested but legal conditions must also decide, with the
compiled and the interpreted engine alike (section 5: both engines agree); `eval` refuses a
policy with errors, so a decision also proves that the file parsed and checked.
"""

from __future__ import annotations

import json
import pathlib
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from policylang.passes import check
from policylang.syntax.loader import read_top

POLICYC = pathlib.Path(sys.executable).parent / "policyc"
ENGINES = ("compiled", "interpreted")

MODEL = ('model m { id = "vendor/m", tier = 1, input_per_mtok = $1, output_per_mtok = $1, '
         "context = 10_000, max_output = 100, latency = 1s }")
MODEL2 = ('model m2 { id = "vendor/m2", tier = 2, input_per_mtok = $2, output_per_mtok = $2, '
          "context = 10_000, max_output = 100, latency = 2s }")


def policy(condition: str) -> str:
    """A valid policy whose one rule, on line 8, sends `condition` to m2; the default is m."""
    return "\n".join([
        "policy hostile",                    # 1
        "",                                  # 2
        "signal n: int in 0..10",            # 3
        "signal b: bool = false",            # 4
        MODEL,                               # 5
        MODEL2,                              # 6
        "route {",                           # 7
        f"  rule deep when {condition} -> m2",  # 8
        "  default -> m",                    # 9
        "}",
        "",
    ])


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(POLICYC), *args], capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def lint_json(path: pathlib.Path) -> tuple[int, list[dict]]:
    result = run("lint", "--format", "json", str(path))
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return result.returncode, json.loads(result.stdout)["diagnostics"]


def assert_lint_fails_with(path: pathlib.Path, code: str, line: int | None = None, *, text: bool = False) -> list[dict]:
    status, diagnostics = lint_json(path)
    assert status == 1
    assert diagnostics, "exit 1 without a diagnostic"
    assert code in {d["code"] for d in diagnostics}, [(d["code"], d["message"][:80]) for d in diagnostics]
    if line is not None:
        assert [d["line"] for d in diagnostics if d["code"] == code][0] == line
    if text:  # the text form (source excerpt and caret) must not crash either, and says the same
        result = run("lint", str(path))
        assert result.returncode == 1
        assert f"[{code}]" in result.stdout + result.stderr
    return diagnostics


def decisions(path: pathlib.Path, requests: list[dict], engine: str) -> list[dict]:
    path_jsonl = path.with_suffix(f".{engine}.jsonl")
    path_jsonl.write_text("".join(json.dumps(r) + "\n" for r in requests), encoding="utf-8")
    result = run("eval", str(path), "--requests", str(path_jsonl), "--engine", engine)
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def assert_both_engines_decide(path: pathlib.Path, cases: list[tuple[dict, str]]) -> None:
    """Each request gets its expected rule from both engines, with identical output lines."""
    requests = [request for request, _ in cases]
    with ThreadPoolExecutor(max_workers=2) as pool:
        compiled, interpreted = pool.map(lambda engine: decisions(path, requests, engine), ENGINES)
    assert compiled == interpreted
    assert [d["rule"] for d in compiled] == [rule for _, rule in cases]
    for decision, (_, rule) in zip(compiled, cases):
        assert decision["model"] == ("m2" if rule == "deep" else "m")


def write(tmp_path: pathlib.Path, text: str | bytes, name: str = "hostile.route") -> pathlib.Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_policyc_is_next_to_python() -> None:
    assert POLICYC.is_file()


# ---- files that are not policies at all -------------------------------------------------------


def test_empty_file(tmp_path) -> None:
    assert_lint_fails_with(write(tmp_path, ""), "E005", line=1, text=True)


def test_only_white_space_and_comments(tmp_path) -> None:
    assert_lint_fails_with(write(tmp_path, "\n\n   # nothing here\n\n"), "E005", text=True)


def test_only_the_word_policy(tmp_path) -> None:
    diagnostics = assert_lint_fails_with(write(tmp_path, "policy"), "E005", line=1, text=True)
    assert len(diagnostics) == 1


def test_random_binary_bytes(tmp_path) -> None:
    data = bytes([0xFF, 0xFE, 0x00, 0x80]) + random.Random(20260522).randbytes(64 * 1024)
    diagnostics = assert_lint_fails_with(write(tmp_path, data), "E008", line=1, text=True)
    assert [d["code"] for d in diagnostics] == ["E008"]


def test_binary_after_a_valid_start(tmp_path) -> None:
    data = policy("n > 3").encode() + b"\n# \xc3\x28 broken sequence\n"
    diagnostics = assert_lint_fails_with(write(tmp_path, data), "E008", line=12, text=True)
    assert [d["code"] for d in diagnostics] == ["E008"]


def test_nul_bytes_in_utf8_text(tmp_path) -> None:
    text = policy("n > 3").replace("  default -> m", "  default\x00 -> m\x00")
    diagnostics = assert_lint_fails_with(write(tmp_path, text), "E002", line=9, text=True)
    assert {d["code"] for d in diagnostics} == {"E002"}


@pytest.mark.slow  # a 200,000-character line through error recovery: ~3 s
def test_a_long_line_of_garbage(tmp_path) -> None:
    garbage = "".join(random.Random(7).choice("@%^&~`!?§¤\\|;:'") for _ in range(200_000))
    text = policy("n > 3").replace("route {", garbage + "\nroute {")
    diagnostics = assert_lint_fails_with(write(tmp_path, text), "E002", line=7)
    assert {d["code"] for d in diagnostics} <= {"E001", "E002"}
    assert len(diagnostics) < 1_000  # recovery skips to the next declaration, not one per character


def test_a_line_of_garbage_words(tmp_path) -> None:
    words = " ".join(random.Random(3).choice(["when", "->", "{", "}", "rule", "1__0", "$", "..", '"x"', "with"])
                     for _ in range(20_000))
    text = policy("n > 3").replace("route {", "route {\n" + words)
    status, diagnostics = lint_json(write(tmp_path, text))
    assert status == 1 and diagnostics
    assert {d["code"][:2] for d in diagnostics} == {"E0"}


def test_a_2mb_comment_line_in_a_valid_policy(tmp_path) -> None:
    text = "# " + "x" * 2_000_000 + "\n" + policy("n > 3")
    result = run("lint", str(write(tmp_path, text)))
    assert result.returncode == 0, result.stdout[-2000:]


@pytest.mark.slow  # a 2 MB string through every analysis: ~5 s
def test_a_2mb_string(tmp_path) -> None:
    text = policy("n > 3").replace("-> m2", '-> reject "' + "y" * 2_000_000 + '"', 1)
    status, diagnostics = lint_json(write(tmp_path, text))
    assert status == 0, diagnostics


# ---- deep but legal nesting: parses and decides with both engines -----------------------------


def test_300_nested_parentheses(tmp_path) -> None:
    path = write(tmp_path, policy("(" * 300 + "n > 3" + ")" * 300))
    assert_both_engines_decide(path, [({"n": 4}, "deep"), ({"n": 3}, "default")])


def test_300_nested_nots(tmp_path) -> None:
    path = write(tmp_path, policy("(not " * 300 + "b" + ")" * 300))  # an even count: the same as b
    assert_both_engines_decide(path, [({"n": 1, "b": True}, "deep"), ({"n": 1, "b": False}, "default")])


def test_301_nested_nots(tmp_path) -> None:
    path = write(tmp_path, policy("(not " * 301 + "b" + ")" * 301))  # odd: not b
    assert_both_engines_decide(path, [({"n": 1, "b": True}, "default"), ({"n": 1, "b": False}, "deep")])


def test_300_nested_alternating_and_or(tmp_path) -> None:
    # (b and (b or (b and ... b))) is b; with (n > 5) innermost it depends on both
    condition = "".join("(b and " if i % 2 == 0 else "(b or " for i in range(300)) + "n > 5" + ")" * 300
    path = write(tmp_path, policy(condition))
    assert_both_engines_decide(path, [({"n": 6, "b": True}, "deep"), ({"n": 1, "b": True}, "deep"),
                                      ({"n": 6, "b": False}, "default")])


def test_300_nested_negations_in_arithmetic(tmp_path) -> None:
    path = write(tmp_path, policy("n > " + "(-" * 300 + "n" + ")" * 300 + " + 4"))  # even: n > n + 4
    assert_both_engines_decide(path, [({"n": 10}, "default")])


@pytest.mark.slow  # parses and compiles a 100,000-term sum twice: ~15 s alone
def test_a_100000_term_sum(tmp_path) -> None:
    path = write(tmp_path, policy(" + ".join(["n"] * 100_000) + " >= 100_000"))
    assert_both_engines_decide(path, [({"n": 1}, "deep"), ({"n": 0}, "default")])


# ---- too deep: E006, not a RecursionError ------------------------------------------------------


def test_50000_nested_parentheses(tmp_path) -> None:
    diagnostics = assert_lint_fails_with(write(tmp_path, policy("(" * 50_000 + "n > 3" + ")" * 50_000)), "E006", line=8)
    assert [d["code"] for d in diagnostics] == ["E006"]


def test_50000_unclosed_parentheses(tmp_path) -> None:
    diagnostics = assert_lint_fails_with(write(tmp_path, policy("(" * 50_000 + "n > 3")), "E006", line=8)
    assert [d["code"] for d in diagnostics] == ["E006"]


def test_30000_chained_nots(tmp_path) -> None:
    diagnostics = assert_lint_fails_with(write(tmp_path, policy("not " * 30_000 + "b")), "E006", line=8)
    assert [d["code"] for d in diagnostics] == ["E006"]


def test_30000_chained_unary_minus(tmp_path) -> None:
    diagnostics = assert_lint_fails_with(write(tmp_path, policy("n > " + "-" * 30_000 + "n")), "E006", line=8)
    assert [d["code"] for d in diagnostics] == ["E006"]


def test_deep_nesting_in_a_threshold(tmp_path) -> None:
    text = policy("n > 3") + "threshold t = " + "(" * 5_000 + "1" + ")" * 5_000 + "\n"
    assert_lint_fails_with(write(tmp_path, text), "E006", line=11)


# E006 is "more than 1,000 levels" of nesting, whichever construct nests: parentheses, `not`,
# unary minus. Checked in process: these inputs are small.


def front_end_codes(path: pathlib.Path) -> list[str]:
    checked = check(*read_top(str(path)), analyze=False)
    return [d.code for d in checked.diagnostics if d.code[:2] in ("E0", "E1")]


@pytest.mark.parametrize(
    "nest",
    [
        pytest.param(lambda k: "(" * k + "n > 3" + ")" * k, id="parentheses"),
        pytest.param(lambda k: "not " * k + "b", id="not"),
        pytest.param(lambda k: "n > " + "-" * k + "n", id="unary-minus"),
        pytest.param(lambda k: "(not " * k + "b" + ")" * k, id="parenthesised-not"),
    ],
)
def test_nesting_limit_is_1000_levels(tmp_path, nest) -> None:
    assert front_end_codes(write(tmp_path, policy(nest(1_000)), "at_limit.route")) == []
    assert front_end_codes(write(tmp_path, policy(nest(1_010)), "over_limit.route")) == ["E006"]


# ---- what lint admits, every command handles (issue 22) ----------------------------------------
#
# The front end admits 1,000 levels of nesting (E006 past that, above); every command after it
# must handle what it admits. Chosen: no lower limit, the code is depth-safe (docs/choices.md).

DEEP_CONDITIONS = {
    "999-nots": ("not " * 999 + "b", [({"n": 1, "b": True}, "default"), ({"n": 1, "b": False}, "deep")]),
    "999-and-or": ("".join("(b and " if i % 2 == 0 else "(not b or " for i in range(999)) + "n > 5" + ")" * 999,
                   [({"n": 6, "b": True}, "deep"), ({"n": 1, "b": True}, "default"), ({"n": 6, "b": False}, "default")]),
}


@pytest.mark.parametrize("name", list(DEEP_CONDITIONS))
def test_what_lint_admits_every_command_handles(tmp_path, name) -> None:
    """999 chained `not` once passed lint, then crashed compile, eval, explain and simulate with
    a RecursionError in ir/boxes.py."""
    condition, cases = DEEP_CONDITIONS[name]
    path = write(tmp_path, policy(condition))
    assert lint_json(path) == (0, [])
    assert_both_engines_decide(path, cases)
    request = json.dumps(cases[0][0])
    assert run("compile", str(path), "-o", str(tmp_path / "deep.py")).returncode == 0
    explained = run("explain", str(path), "--request", request, "--format", "json")
    assert explained.returncode == 0 and json.loads(explained.stdout)["decision"]["rule"] == cases[0][1]
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_text("".join(json.dumps(r) + "\n" for r, _ in cases), encoding="utf-8")
    reports = []
    for engine in ("duckdb", "python"):
        result = run("simulate", str(path), str(traffic), "--engine", engine, "--format", "json")
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(result.stdout)
        reports.append({k: v for k, v in report.items() if k != "engine"})
    assert reports[0] == reports[1]
    assert {rule: v["hits"] for rule, v in reports[0]["rules"].items() if v["hits"]} == \
        {rule: sum(1 for _, r in cases if r == rule) for _, rule in cases}
    other = write(tmp_path, policy(condition).replace("-> m2", "-> m"), "other.route")
    assert run("diff", str(path), str(other), "--traffic", str(traffic)).returncode == 1
    for args in (["graph", str(path)], ["fmt", "--check", str(path)], ["test", str(path)],
                 ["compile", str(path), "--target", "sql"]):
        assert run(*args).returncode in (0, 1), args


# ---- requests: every command reads a record the same way (issue 22) ---------------------------


def requests_policy(tmp_path: pathlib.Path) -> pathlib.Path:
    text = policy("n > 3").replace("signal b: bool = false", "signal b: bool = false\nsignal c: money in $0..$5 = $1")
    return write(tmp_path, text, "requests.route")


def test_a_request_nested_3000_deep_is_a_request_error_everywhere(tmp_path) -> None:
    """Once a RecursionError in eval, explain, eval --requests and diff --traffic."""
    path = requests_policy(tmp_path)
    deep = '{"n": ' + "[" * 3000 + "]" * 3000 + "}"
    for args in (["eval", str(path), "--request", deep], ["explain", str(path), "--request", deep]):
        result = run(*args)
        assert result.returncode == 1 and "must be a whole number, got a list" in result.stdout, result.stdout[-500:]
    lines = write(tmp_path, '{"n": 4}\n' + deep + "\n" + '{"n": 1}\n', "deep.jsonl")
    result = run("eval", str(path), "--requests", str(lines))
    assert result.returncode == 1
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("rule") or o["error"]["code"] for o in outputs] == ["deep", "R002", "default"]
    other = write(tmp_path, policy("n > 4"), "other.route")
    result = run("diff", str(path), str(other), "--traffic", str(lines), "--format", "json")
    assert result.returncode in (0, 1) and json.loads(result.stdout)["traffic"]["records"] == 3


BAD_LINES = [  # (a line of a requests file, what its error message says)
    (b'{"n": 2, "b": tru\xff}', 'is not UTF-8 text (byte 0xff at column 18)'),
    (b'{"n": 2, "n": 5}', 'holds the key "n" twice'),
    (b'{"n": 2, "@outcomes": [{"confidence": 1, "confidence": 2}]}', 'holds the key "confidence" twice in an object of @outcomes'),
    (b'{"n": NaN}', "holds NaN, which is no JSON number"),
    (b'{"n": 2, "c": -Infinity}', "holds -Infinity, which is no JSON number"),
    (b'{"n": 2, "c": 1e400}', 'holds a number too large for JSON at key "c"'),
    (b'{"n": 1' + b"0" * 5000 + b"}", "holds a number of more than 4,300 digits"),
    (b'{"n": 2,', "is not JSON: expecting property name enclosed in double quotes at column 9"),
    (b"[1, 2]", "is not a JSON object but a list"),
]


@pytest.mark.parametrize("line, said", BAD_LINES, ids=[said[:30] for _, said in BAD_LINES])
def test_one_bad_line_is_that_records_error_in_every_command(tmp_path, line, said) -> None:
    """eval --requests and diff --traffic once refused the whole file for one byte that is not
    UTF-8, where simulate counted one request error; duplicate keys were accepted silently.
    Now all three report the record, at its line, and go on with the rest."""
    path = requests_policy(tmp_path)
    lines = write(tmp_path, b'{"n": 4}\n\n' + line + b'\n{"n": 1}\n', "requests.jsonl")
    result = run("eval", str(path), "--requests", str(lines))
    assert result.returncode == 1
    outputs = [json.loads(text) for text in result.stdout.splitlines()]
    assert outputs[0]["rule"] == "deep" and outputs[2]["rule"] == "default"
    error = outputs[1]["error"]
    assert error["code"] == "R002" and error["message"].startswith("line 3 ") and said in error["message"], error
    other = write(tmp_path, policy("n > 4"), "other.route")
    result = run("diff", str(path), str(other), "--traffic", str(lines), "--format", "json")
    traffic = json.loads(result.stdout)["traffic"]
    assert (traffic["records"], traffic["not_requests"]) == (3, 1)
    assert traffic["first_not_request"]["line"] == 3 and said in traffic["first_not_request"]["message"]
    for engine in ("duckdb", "python"):
        result = run("simulate", str(path), str(lines), "--engine", engine, "--format", "json")
        report = json.loads(result.stdout)
        assert result.returncode == 1 and report["records"] == 3 and report["valid"] == 2
        assert report["errors"] == {"R002": {"count": 1, "first": {"location": 3, "signal": None}}}


WRONG_VALUES = [  # (a request, the words its error message ends with)
    ('{"n": null}', "signal 'n' must be a whole number, got null"),
    ('{"n": "3"}', "signal 'n' must be a whole number, got \"3\""),
    ('{"n": true}', "signal 'n' must be a whole number, got true"),
    ('{"n": 1e308}', "signal 'n' must be a whole number, got 1e308"),
    ('{"n": [1]}', "signal 'n' must be a whole number, got a list"),
    ('{"n": {"a": 1}}', "signal 'n' must be a whole number, got an object"),
    ('{"n": 1' + "0" * 400 + "}", "signal 'n' must be in 0..10, got a number of about 401 digits"),
    ('{"n": 1, "c": 1e308}', "signal 'c' must be in $0..$5, got 1e308"),
    ('{"n": 1, "c": null}', "signal 'c' must be an amount of money (a number of dollars), got null"),
]


@pytest.mark.parametrize("request_, said", WRONG_VALUES, ids=[said[-24:] for _, said in WRONG_VALUES])
def test_a_wrong_value_is_said_in_json_words_never_pythons(tmp_path, request_, said) -> None:
    """Once 'got NoneType None', 'got str '3'', "got Decimal('1E+308')"."""
    path = requests_policy(tmp_path)
    for engine in ENGINES:
        result = run("eval", str(path), "--engine", engine, "--request", request_)
        assert result.returncode == 1
        assert json.loads(result.stdout)["error"]["message"] == said


def test_a_csv_that_is_not_utf8_is_one_request_error_in_both_engines(tmp_path) -> None:
    """Once a UnicodeDecodeError under `simulate --engine python`; DuckDB refused the file."""
    path = requests_policy(tmp_path)
    traffic = write(tmp_path, b"n,b\n4,true\n2,caf\xe9\n1,false\n", "latin1.csv")
    reports = []
    for engine in ("duckdb", "python"):
        result = run("simulate", str(path), str(traffic), "--engine", engine, "--format", "json")
        assert result.returncode == 1, result.stderr
        reports.append({k: v for k, v in json.loads(result.stdout).items() if k != "engine"})
    assert reports[0] == reports[1]
    assert (reports[0]["records"], reports[0]["valid"]) == (3, 2)
    assert reports[0]["errors"] == {"R002": {"count": 1, "first": {"location": 2, "signal": None}}}


# ---- the language server ------------------------------------------------------------------------


def _lsp_exchange(requests: list[dict]) -> list[dict]:
    """Send `policyc lsp` an initialize, the requests, shutdown and exit; its answers by id."""
    def frame(message: dict) -> bytes:
        body = json.dumps(message).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    messages = [{"jsonrpc": "2.0", "id": 0, "method": "initialize",
                 "params": {"processId": None, "rootUri": None, "capabilities": {}}},
                {"jsonrpc": "2.0", "method": "initialized", "params": {}},
                *requests,
                {"jsonrpc": "2.0", "id": 999, "method": "shutdown"}, {"jsonrpc": "2.0", "method": "exit"}]
    done = subprocess.run([str(POLICYC), "lsp"], input=b"".join(frame(m) for m in messages), capture_output=True,
                          timeout=120)
    answers, data = [], done.stdout
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
        answers.append(json.loads(rest[:length]))
        data = rest[length:]
    return [a for a in answers if "id" in a]


def test_lsp_requests_on_a_document_never_opened_answer_null_without_a_traceback(tmp_path) -> None:
    """Once error -32603 with the server's traceback in `data`."""
    document = {"uri": (tmp_path / "never_opened.route").as_uri()}
    at = {"line": 0, "character": 0}
    asked = {
        "textDocument/hover": {"textDocument": document, "position": at},
        "textDocument/definition": {"textDocument": document, "position": at},
        "textDocument/references": {"textDocument": document, "position": at, "context": {"includeDeclaration": True}},
        "textDocument/completion": {"textDocument": document, "position": at},
        "textDocument/documentSymbol": {"textDocument": document},
        "textDocument/formatting": {"textDocument": document, "options": {"tabSize": 2, "insertSpaces": True}},
    }
    requests = [{"jsonrpc": "2.0", "id": i, "method": method, "params": params}
                for i, (method, params) in enumerate(asked.items(), start=1)]
    answers = {a["id"]: a for a in _lsp_exchange(requests)}
    results = {method: answers[i].get("result", answers[i].get("error")) for i, method in enumerate(asked, start=1)}
    assert results == {"textDocument/hover": None, "textDocument/definition": [], "textDocument/references": [],
                       "textDocument/completion": {"isIncomplete": False, "items": []},
                       "textDocument/documentSymbol": [], "textDocument/formatting": None}
    assert answers[999] == {"id": 999, "jsonrpc": "2.0", "result": None}


def test_a_lone_surrogate_escape_in_a_request_is_printed_as_its_escape(tmp_path) -> None:
    """`"\\ud800"` is valid JSON for a string no UTF-8 can hold: messages and reports once
    crashed printing it (found by tests/test_fuzz_commands.py)."""
    path = requests_policy(tmp_path)
    result = run("explain", str(path), "--request", '{"n": "\\ud800\\u0007"}')
    assert result.returncode == 1 and 'got "\\ud800\\u0007"' in result.stdout
    result = run("eval", str(path), "--strict", "--request", '{"n": 1, "\\ud800": 1}')
    assert result.returncode == 1 and json.loads(result.stdout)["error"]["message"] == \
        "unknown signal '\\ud800' (strict mode)"
    traffic = write(tmp_path, '{"n": 4, "@outcomes": [{"\\ud800": 1}]}\n', "surrogate.jsonl")
    cascading = write(tmp_path, policy("n > 3").replace("signal b: bool = false", "signal b: bool = false\n"
                      "outcome ok: bool = true\ncascade up { m -> m2 when not ok }").replace("3 -> m2", "3 -> up"),
                      "cascading.route")
    for engine in ("duckdb", "python"):
        result = run("simulate", str(cascading), str(traffic), "--engine", engine)
        assert result.returncode == 1 and "R004" in result.stdout and "\\ud800" in result.stdout, result.stderr
