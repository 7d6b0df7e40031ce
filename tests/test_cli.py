"""`policyc` end to end: every command's output and every exit status of docs/language.md section 9 and docs/cli.md.

Exit status: 0 fine; 1 the policy or a request failed; 2 usage or I/O error. Most cases run
in-process through click's CliRunner; a few run the installed `policyc` script in a subprocess
from a working directory outside the repository. No output anywhere may hold a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import policylang
from policylang.passes.pipeline import ANALYSES_WAIT

from support.cli import json_lines, run, run_script

MODELS = """
model small { id = "acme/small" tier = 1 input_per_mtok = $1 output_per_mtok = $2 context = 1_000 max_output = 100 latency = 1s }
model big   { id = "acme/big"   tier = 2 input_per_mtok = $3 output_per_mtok = $4 context = 1_000 max_output = 200 latency = 2s }
model huge  { id = "acme/huge"  tier = 3 input_per_mtok = $5 output_per_mtok = $6 context = 1_000 max_output = 300 latency = 3s }
"""

# Clean under every check of sections 5-7: a default, no covered or redundant rule, rising tiers.
CLEAN = (
    """policy demo

signal n: int in 0..100
signal tier: enum {free, pro} = free
outcome confidence: float in 0.0..1.0 = 1.0
"""
    + MODELS
    + """
cascade ladder {
  small -> big when confidence < 0.5
  big -> huge when confidence < 0.3
}

route {
  rule too_big when n > 90 -> reject "too big"
  rule pro when tier == pro -> big
  rule cheap when n < 10 -> ladder
  default -> small
}

test rejects_big {
  given { n = 95 }
  expect reject by too_big
}

test climbs_when_unsure {
  given { n = 5 }
  outcome { confidence = 0.1 }
  expect small by cheap then big then huge
}
"""
)

# E104 on line 8, column 23: an enum member that does not exist, with a suggestion.
BAD_MEMBER = (
    """policy bad
signal tier: enum {free, pro} = free
"""
    + MODELS
    + """route {
  rule a when tier == prp -> big
  default -> small
}
"""
)

# E101 on line 8, column 15: an unknown signal name, with a did-you-mean suggestion.
UNKNOWN_NAME = (
    """policy unknown
signal count: int in 0..10
"""
    + MODELS
    + """route {
  rule a when coutn > 5 -> big
  default -> small
}
"""
)

# Only a warning: rule b can never fire, rule a covers it (W201).
WARNING_ONLY = (
    """policy warns
signal n: int in 0..10
"""
    + MODELS
    + """route {
  rule a when n > 5 -> big
  rule b when n > 7 -> big
  default -> small
}
"""
)

ONE_TEST_FAILING = (
    """policy failing
signal n: int in 0..100
"""
    + MODELS
    + """route {
  rule large when n > 50 -> big
  default -> small
}

test large_goes_big {
  given { n = 60 }
  expect big by large
}

test small_goes_huge {
  given { n = 3 }
  expect huge by default
}
"""
)


# ---- lint ------------------------------------------------------------------------------------


def test_lint_clean_file_exits_0(write_route):
    path = write_route(CLEAN)
    result = run(["lint", path])
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings" in result.stdout


def test_lint_error_exits_1_and_names_the_code(write_route):
    path = write_route(BAD_MEMBER)
    result = run(["lint", path])
    assert result.exit_code == 1
    assert "E104" in result.output
    assert "1 error, 0 warnings in 1 file" in result.output  # singular, not "1 errors"


def test_lint_only_a_warning_exits_0(write_route):
    path = write_route(WARNING_ONLY)
    result = run(["lint", path])
    assert result.exit_code == 0, result.output
    assert "W201" in result.output
    assert "0 errors, 1 warning in 1 file" in result.output


def test_lint_deny_warnings_makes_a_warning_fail(write_route):
    path = write_route(WARNING_ONLY)
    result = run(["lint", "--deny-warnings", path])
    assert result.exit_code == 1, result.output
    assert "W201" in result.output


def test_lint_deny_warnings_on_a_clean_file_exits_0(write_route):
    path = write_route(CLEAN)
    assert run(["lint", "--deny-warnings", path]).exit_code == 0


def test_lint_missing_file_exits_2(tmp_path):
    result = run(["lint", tmp_path / "absent.route"])
    assert result.exit_code == 2
    assert "absent.route" in result.stderr


def test_lint_missing_file_among_good_ones_still_exits_2(write_route, tmp_path):
    good = write_route(CLEAN)
    result = run(["lint", good, tmp_path / "absent.route"])
    assert result.exit_code == 2


def test_lint_without_files_is_a_usage_error():
    assert run(["lint"]).exit_code == 2


def test_lint_unknown_format_is_a_usage_error(write_route):
    path = write_route(CLEAN)
    assert run(["lint", "--format", "xml", path]).exit_code == 2


def test_lint_several_files_reports_each(write_route):
    clean = write_route(CLEAN, "clean.route")
    bad = write_route(BAD_MEMBER, "bad.route")
    also_bad = write_route(BAD_MEMBER.replace("prp", "fre"), "also_bad.route")
    result = run(["lint", "--format", "json", clean, bad, also_bad])
    assert result.exit_code == 1
    files = [Path(d["file"]).name for d in json.loads(result.stdout)["diagnostics"]]
    assert sorted(files) == ["also_bad.route", "bad.route"]


def test_lint_several_clean_files_exit_0_and_count_them(write_route):
    first = write_route(CLEAN, "first.route")
    second = write_route(CLEAN.replace("policy demo", "policy other"), "second.route")
    result = run(["lint", first, second])
    assert result.exit_code == 0, result.output
    assert "in 2 files" in result.stdout


def test_lint_json_shape_and_fields(write_route, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_route(BAD_MEMBER, "bad.route")
    result = run(["lint", "--format", "json", "bad.route"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert list(document) == ["diagnostics", "notes"]
    assert document["notes"] == ["bad.route: " + ANALYSES_WAIT]  # why no W2xx/E3xx was looked for
    (d,) = document["diagnostics"]
    assert set(d) == {"code", "severity", "message", "file", "line", "column", "end_line", "end_column",
                      "related", "witness", "help"}
    assert d["code"] == "E104"
    assert d["severity"] == "error"
    assert d["file"] == "bad.route"
    assert (d["line"], d["column"]) == (8, 23)
    assert (d["end_line"], d["end_column"]) == (8, 26)  # the end is exclusive: 'prp' is 3 columns
    assert "prp" in d["message"]
    assert "pro" in d["help"]
    assert d["related"] == []
    assert d["witness"] is None


def test_lint_json_related_locations_have_their_own_fields(write_route):
    duplicate = CLEAN.replace("signal tier:", "signal n: bool = false\nsignal tier:")
    path = write_route(duplicate)
    result = run(["lint", "--format", "json", path])
    assert result.exit_code == 1
    (d,) = [d for d in json.loads(result.stdout)["diagnostics"] if d["code"] == "E102"]
    assert d["line"] == 4
    (related,) = d["related"]
    assert set(related) == {"message", "file", "line", "column", "end_line", "end_column"}
    assert related["line"] == 3
    assert related["file"] == d["file"]


def test_lint_json_of_a_clean_file_is_an_empty_list(write_route):
    result = run(["lint", "--format", "json", write_route(CLEAN)])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"diagnostics": [], "notes": []}


def test_lint_text_shows_location_source_line_caret_and_help(write_route, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_route(BAD_MEMBER, "bad.route")
    result = run(["lint", "bad.route"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any("bad.route:8:23" in line for line in lines)
    source_line = "  rule a when tier == prp -> big"
    (shown,) = [line for line in lines if line.endswith(source_line)]
    # the caret row sits under the source row, its carets exactly under 'prp'
    caret_row = lines[lines.index(shown) + 1]
    offset = len(shown) - len(source_line)
    assert caret_row[offset + source_line.index("prp"):].startswith("^^^")
    assert caret_row[: offset + source_line.index("prp")].strip(" |") == ""
    assert any("help:" in line and "pro" in line for line in lines)


def test_lint_text_unknown_name_suggests_the_close_one(write_route, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_route(UNKNOWN_NAME, "unknown.route")
    result = run(["lint", "unknown.route"])
    assert result.exit_code == 1
    assert "E101" in result.output
    assert "unknown.route:8:15" in result.output
    assert any("help:" in line and "count" in line for line in result.output.splitlines())
    assert "^^^^^" in result.output


def test_lint_json_unknown_name_has_help(write_route):
    result = run(["lint", "--format", "json", write_route(UNKNOWN_NAME)])
    assert result.exit_code == 1
    (d,) = json.loads(result.stdout)["diagnostics"]
    assert d["code"] == "E101"
    assert (d["line"], d["column"]) == (8, 15)
    assert "count" in d["help"]


# ---- compile ---------------------------------------------------------------------------------


def test_compile_writes_the_module(write_route, tmp_path):
    path = write_route(CLEAN)
    out = tmp_path / "demo_policy.py"
    result = run(["compile", path, "-o", out])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == policylang.load(str(path)).to_python()
    namespace: dict = {}
    exec(compile(out.read_text(encoding="utf-8"), str(out), "exec"), namespace)  # noqa: S102
    assert namespace["decide"]({"n": 95}).reject == "too big"


def test_compile_without_output_prints_the_module(write_route):
    path = write_route(CLEAN)
    result = run(["compile", path])
    assert result.exit_code == 0
    assert result.stdout == policylang.load(str(path)).to_python()


def test_compile_check_is_0_when_current(write_route, tmp_path):
    path = write_route(CLEAN)
    out = tmp_path / "demo_policy.py"
    assert run(["compile", path, "-o", out]).exit_code == 0
    result = run(["compile", path, "-o", out, "--check"])
    assert result.exit_code == 0, result.output


def test_compile_check_is_1_when_the_route_changed(write_route, tmp_path):
    path = write_route(CLEAN)
    out = tmp_path / "demo_policy.py"
    assert run(["compile", path, "-o", out]).exit_code == 0
    before = out.read_text(encoding="utf-8")
    path.write_text(CLEAN.replace('reject "too big"', 'reject "far too big"'), encoding="utf-8")
    result = run(["compile", path, "-o", out, "--check"])
    assert result.exit_code == 1
    assert out.read_text(encoding="utf-8") == before  # --check never writes


def test_compile_check_is_1_when_the_module_does_not_exist(write_route, tmp_path):
    path = write_route(CLEAN)
    out = tmp_path / "never_written.py"
    result = run(["compile", path, "-o", out, "--check"])
    assert result.exit_code == 1
    assert not out.exists()


def test_compile_check_without_output_is_a_usage_error(write_route):
    assert run(["compile", write_route(CLEAN), "--check"]).exit_code == 2


def test_compile_missing_file_exits_2(tmp_path):
    result = run(["compile", tmp_path / "absent.route", "-o", tmp_path / "out.py"])
    assert result.exit_code == 2
    assert not (tmp_path / "out.py").exists()


def test_compile_policy_with_errors_exits_1_writes_nothing(write_route, tmp_path):
    path = write_route(BAD_MEMBER)
    out = tmp_path / "bad_policy.py"
    result = run(["compile", path, "-o", out])
    assert result.exit_code == 1
    assert "E104" in result.stderr
    assert "E104" not in result.stdout
    assert not out.exists()


def test_compile_policy_with_errors_to_stdout_prints_no_module(write_route):
    result = run(["compile", write_route(BAD_MEMBER)])
    assert result.exit_code == 1
    assert "E104" in result.stderr
    assert "def decide" not in result.stdout


# ---- eval ------------------------------------------------------------------------------------


def test_eval_one_request(write_route):
    result = run(["eval", write_route(CLEAN), "--request", '{"n": 50}'])
    assert result.exit_code == 0, result.output
    assert json_lines(result.stdout) == [
        {"rule": "default", "model": "small", "steps": ["small"], "max_output": 100, "caps": [100], "reject": None}
    ]


def test_eval_rejection_and_cascade(write_route):
    path = write_route(CLEAN)
    rejected = json_lines(run(["eval", path, "--request", '{"n": 95}']).stdout)
    assert rejected == [{"rule": "too_big", "model": None, "steps": [], "max_output": None, "caps": [],
                         "reject": "too big"}]
    cascade = json_lines(run(["eval", path, "--request", '{"n": 5}']).stdout)
    assert cascade == [{"rule": "cheap", "model": "small", "steps": ["small", "big", "huge"], "max_output": 100,
                        "caps": [100, 200, 300], "reject": None}]


REQUESTS = [
    {"n": 50},
    {"n": 95},
    {"n": 5, "tier": "pro"},
    {"n": 5},
    {"n": 5, "@outcomes": [{"confidence": 0.1}]},
]


def test_eval_requests_file_gives_one_line_per_request(write_route, tmp_path):
    path = write_route(CLEAN)
    requests = tmp_path / "requests.jsonl"
    requests.write_text("\n".join(json.dumps(r) for r in REQUESTS) + "\n", encoding="utf-8")
    result = run(["eval", path, "--requests", requests])
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert [line["rule"] for line in lines] == ["default", "too_big", "pro", "cheap", "cheap"]
    assert lines[2]["model"] == "big"


def test_eval_requests_from_stdin(write_route):
    path = write_route(CLEAN)
    stdin = "\n".join(json.dumps(r) for r in REQUESTS) + "\n"
    result = run(["eval", path, "--requests", "-"], input=stdin)
    assert result.exit_code == 0, result.output
    assert [line["rule"] for line in json_lines(result.stdout)] == ["default", "too_big", "pro", "cheap", "cheap"]


def test_eval_both_engines_print_identical_lines(write_route, tmp_path):
    path = write_route(CLEAN)
    requests = tmp_path / "requests.jsonl"
    mixed = [*REQUESTS, {"n": 500}, {}, {"n": "7"}, {"n": 5, "@outcomes": [{"confidence": 0.1}, {"confidence": 0.2}]}]
    requests.write_text("\n".join(json.dumps(r) for r in mixed) + "\n", encoding="utf-8")
    compiled = run(["eval", path, "--requests", requests, "--engine", "compiled"])
    interpreted = run(["eval", path, "--requests", requests, "--engine", "interpreted"])
    assert compiled.stdout == interpreted.stdout
    assert compiled.exit_code == interpreted.exit_code == 1
    assert len(json_lines(compiled.stdout)) == len(mixed)


@pytest.mark.parametrize(
    ("outcomes", "path"),
    [
        ([], ["small"]),
        ([{"confidence": 0.1}], ["small", "big"]),  # no outcome for step 2: the climb stops there
        ([{"confidence": 0.1}, {"confidence": 0.1}], ["small", "big", "huge"]),
        ([{"confidence": 0.1}, {"confidence": 0.4}], ["small", "big"]),  # 0.4 is not < 0.3
        ([{"confidence": 0.9}, {"confidence": 0.1}], ["small"]),  # a good answer ends the climb
        ([{}, {"confidence": 0.1}], ["small"]),  # outcomes take their defaults
    ],
)
@pytest.mark.parametrize("engine", ["compiled", "interpreted"])
def test_eval_outcomes_give_the_path(write_route, outcomes, path, engine):
    request = json.dumps({"n": 5, "@outcomes": outcomes})
    result = run(["eval", write_route(CLEAN), "--request", request, "--engine", engine])
    assert result.exit_code == 0, result.output
    (line,) = json_lines(result.stdout)
    assert line["steps"] == ["small", "big", "huge"]
    assert line["path"] == path


def test_eval_without_outcomes_has_no_path(write_route):
    (line,) = json_lines(run(["eval", write_route(CLEAN), "--request", '{"n": 5}']).stdout)
    assert "path" not in line


def test_eval_rejected_request_with_outcomes_calls_nothing(write_route):
    request = json.dumps({"n": 95, "@outcomes": [{"confidence": 0.1}]})
    (line,) = json_lines(run(["eval", write_route(CLEAN), "--request", request]).stdout)
    assert line["reject"] == "too big"
    assert line["path"] == []


@pytest.mark.parametrize("engine", ["compiled", "interpreted"])
def test_eval_strict_makes_an_unknown_key_r004(write_route, engine):
    path = write_route(CLEAN)
    request = '{"n": 50, "colour": "red"}'
    lenient = run(["eval", path, "--request", request, "--engine", engine])
    assert lenient.exit_code == 0
    assert json_lines(lenient.stdout)[0]["rule"] == "default"
    strict = run(["eval", path, "--request", request, "--engine", engine, "--strict"])
    assert strict.exit_code == 1
    assert json_lines(strict.stdout) == [
        {"error": {"code": "R004", "signal": "colour", "message": json_lines(strict.stdout)[0]["error"]["message"]}}
    ]


def test_eval_strict_does_not_count_outcomes_key(write_route):
    request = json.dumps({"n": 5, "@outcomes": [{"confidence": 0.1}]})
    result = run(["eval", write_route(CLEAN), "--request", request, "--strict"])
    assert result.exit_code == 0, result.output
    assert json_lines(result.stdout)[0]["path"] == ["small", "big"]


@pytest.mark.parametrize(
    ("request_json", "code", "signal"),
    [
        ("{}", "R001", "n"),
        ('{"tier": "pro"}', "R001", "n"),
        ('{"n": "5"}', "R002", "n"),
        ('{"n": true}', "R002", "n"),
        ('{"n": 5.5}', "R002", "n"),
        ('{"n": 5, "tier": 1}', "R002", "tier"),
        ('{"n": 500}', "R003", "n"),
        ('{"n": -1}', "R003", "n"),
        ('{"n": 5, "tier": "gold"}', "R003", "tier"),
    ],
)
@pytest.mark.parametrize("engine", ["compiled", "interpreted"])
def test_eval_request_errors_give_error_lines_and_exit_1(write_route, request_json, code, signal, engine):
    result = run(["eval", write_route(CLEAN), "--request", request_json, "--engine", engine])
    assert result.exit_code == 1
    (line,) = json_lines(result.stdout)
    assert list(line) == ["error"]
    assert set(line["error"]) == {"code", "signal", "message"}
    assert line["error"]["code"] == code
    assert line["error"]["signal"] == signal
    assert line["error"]["message"]


def test_eval_first_signal_in_declaration_order_decides_the_error(write_route):
    (line,) = json_lines(run(["eval", write_route(CLEAN), "--request", '{"tier": "gold"}']).stdout)
    assert line["error"]["code"] == "R001"
    assert line["error"]["signal"] == "n"


def test_eval_bad_outcome_is_an_error_line(write_route):
    request = json.dumps({"n": 5, "@outcomes": [{"confidence": 7}]})
    result = run(["eval", write_route(CLEAN), "--request", request])
    assert result.exit_code == 1
    (line,) = json_lines(result.stdout)
    assert line["error"]["code"] == "R003"
    assert line["error"]["signal"] == "confidence"


def test_eval_one_bad_line_among_good_ones(write_route, tmp_path):
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"n": 50}\n{"n": \n{"n": 95}\n', encoding="utf-8")
    result = run(["eval", write_route(CLEAN), "--requests", requests])
    assert result.exit_code == 1
    lines = json_lines(result.stdout)
    assert len(lines) == 3
    assert lines[0]["rule"] == "default"
    assert list(lines[1]) == ["error"]
    assert set(lines[1]["error"]) == {"code", "signal", "message"}
    assert lines[1]["error"]["code"] in {"R001", "R002", "R003", "R004"}
    assert lines[2]["rule"] == "too_big"


@pytest.mark.parametrize("not_an_object", ["not json", "[1, 2]", '"n"', "42", "null"])
def test_eval_request_that_is_not_an_object_is_an_error_line(write_route, not_an_object):
    result = run(["eval", write_route(CLEAN), "--request", not_an_object])
    assert result.exit_code == 1
    (line,) = json_lines(result.stdout)
    assert list(line) == ["error"]


def test_eval_needs_exactly_one_of_request_and_requests(write_route, tmp_path):
    path = write_route(CLEAN)
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"n": 1}\n', encoding="utf-8")
    assert run(["eval", path]).exit_code == 2
    assert run(["eval", path, "--request", '{"n": 1}', "--requests", requests]).exit_code == 2


def test_eval_usage_errors_exit_2(write_route, tmp_path):
    path = write_route(CLEAN)
    assert run(["eval", tmp_path / "absent.route", "--request", '{"n": 1}']).exit_code == 2
    assert run(["eval", path, "--requests", tmp_path / "absent.jsonl"]).exit_code == 2
    assert run(["eval", path, "--request", '{"n": 1}', "--engine", "jit"]).exit_code == 2
    assert run(["eval", path, "--request"]).exit_code == 2


def test_eval_refuses_a_policy_with_errors(write_route):
    result = run(["eval", write_route(BAD_MEMBER), "--request", '{"tier": "pro"}'])
    assert result.exit_code == 1
    assert "E104" in result.stderr
    assert result.stdout.strip() == ""


# ---- test ------------------------------------------------------------------------------------


def test_test_passing_tests_exit_0(write_route):
    result = run(["test", write_route(CLEAN)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "2 passed, 0 failed"


def test_test_failing_test_says_what_was_expected_and_what_happened(write_route):
    result = run(["test", write_route(ONE_TEST_FAILING)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    (failure,) = [line for line in lines if "small_goes_huge" in line]
    assert "expected huge by default" in failure
    assert "small by default" in failure.split("expected huge by default", 1)[1]
    assert not any("large_goes_big" in line and "FAIL" in line for line in lines)


def test_test_failing_rule_expectation(write_route):
    text = CLEAN.replace("expect reject by too_big", "expect reject by pro")
    result = run(["test", write_route(text)])
    assert result.exit_code == 1
    (failure,) = [line for line in result.stdout.splitlines() if "rejects_big" in line]
    assert "expected reject by pro" in failure
    assert "reject by too_big" in failure.split("expected reject by pro", 1)[1]


def test_test_several_files_sum_up(write_route):
    first = write_route(CLEAN, "first.route")
    second = write_route(ONE_TEST_FAILING, "second.route")
    result = run(["test", first, second])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "3 passed, 1 failed"


def test_test_several_passing_files_exit_0(write_route):
    first = write_route(CLEAN, "first.route")
    second = write_route(CLEAN.replace("policy demo", "policy again"), "second.route")
    result = run(["test", first, second])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "4 passed, 0 failed"


def test_test_policy_with_errors_exits_1(write_route):
    result = run(["test", write_route(BAD_MEMBER)])
    assert result.exit_code == 1
    assert "E104" in result.stderr


def test_test_missing_file_exits_2(tmp_path):
    assert run(["test", tmp_path / "absent.route"]).exit_code == 2


def test_test_without_files_is_a_usage_error():
    assert run(["test"]).exit_code == 2


# ---- the group -------------------------------------------------------------------------------


def test_help_lists_the_commands():
    result = run(["--help"])
    assert result.exit_code == 0
    for command in ("lint", "compile", "eval", "test"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["lint", "compile", "eval", "test"])
def test_each_command_has_help(command):
    result = run([command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_version():
    result = run(["--version"])
    assert result.exit_code == 0
    assert policylang.__version__ in result.stdout


def test_unknown_command_is_a_usage_error():
    assert run(["frobnicate"]).exit_code == 2


# ---- the installed script, from outside the repository --------------------------------------


def test_script_version_and_help(tmp_path):
    version = run_script(["--version"], tmp_path)
    assert version.returncode == 0
    assert policylang.__version__ in version.stdout
    assert run_script(["--help"], tmp_path).returncode == 0


def test_script_lint_exit_codes(tmp_path):
    (tmp_path / "clean.route").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "bad.route").write_text(BAD_MEMBER, encoding="utf-8")
    assert run_script(["lint", "clean.route"], tmp_path).returncode == 0
    bad = run_script(["lint", "bad.route"], tmp_path)
    assert bad.returncode == 1
    assert "bad.route:8:23" in bad.stdout + bad.stderr
    assert run_script(["lint", "absent.route"], tmp_path).returncode == 2


def test_script_compile_check_round_trip(tmp_path):
    (tmp_path / "clean.route").write_text(CLEAN, encoding="utf-8")
    assert run_script(["compile", "clean.route", "-o", "clean_policy.py"], tmp_path).returncode == 0
    assert (tmp_path / "clean_policy.py").is_file()
    assert run_script(["compile", "clean.route", "-o", "clean_policy.py", "--check"], tmp_path).returncode == 0
    (tmp_path / "clean.route").write_text(CLEAN.replace("n > 90", "n > 80"), encoding="utf-8")
    assert run_script(["compile", "clean.route", "-o", "clean_policy.py", "--check"], tmp_path).returncode == 1
    assert run_script(["compile", "clean.route", "--check"], tmp_path).returncode == 2


def test_script_eval_from_stdin_and_test(tmp_path):
    (tmp_path / "clean.route").write_text(CLEAN, encoding="utf-8")
    stdin = '{"n": 50}\n{"n": 5, "@outcomes": [{"confidence": 0.1}]}\n'
    evaluated = run_script(["eval", "clean.route", "--requests", "-"], tmp_path, input=stdin)
    assert evaluated.returncode == 0, evaluated.stderr
    lines = json_lines(evaluated.stdout)
    assert lines[0]["model"] == "small"
    assert lines[1]["path"] == ["small", "big"]
    failed = run_script(["eval", "clean.route", "--request", "{}"], tmp_path)
    assert failed.returncode == 1
    assert json_lines(failed.stdout)[0]["error"]["code"] == "R001"
    tested = run_script(["test", "clean.route"], tmp_path)
    assert tested.returncode == 0
    assert tested.stdout.splitlines()[-1] == "2 passed, 0 failed"


def test_script_runs_outside_the_repository(tmp_path):
    # the script must not lean on the repository as its working directory
    repository = Path(policylang.__file__).resolve().parent.parent
    assert repository not in tmp_path.resolve().parents
    (tmp_path / "clean.route").write_text(CLEAN, encoding="utf-8")
    result = run_script(["lint", "--format", "json", "clean.route"], tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"diagnostics": [], "notes": []}
