"""`policyc lint --format sarif`: SARIF 2.1.0 that GitHub code scanning accepts.

Every log is validated against the official OASIS schema vendored in tests/data (see its
README), then held to what GitHub reads: a `ruleId` on each result that `tool.driver.rules`
lists, a `ruleIndex` pointing at it, the level of the severity, 1-based regions, relative URIs.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator

from policylang.cli import main

SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"

MODELS = """
model small { id = "acme/small" tier = 1 input_per_mtok = $1 output_per_mtok = $2 context = 1_000 max_output = 100 latency = 1s }
model big   { id = "acme/big"   tier = 2 input_per_mtok = $3 output_per_mtok = $4 context = 1_000 max_output = 200 latency = 2s }
"""

CLEAN = (
    "policy clean\nsignal n: int in 0..100\n"
    + MODELS
    + """route {
  rule large when n > 50 -> big
  default -> small
}
"""
)

# E104 at line 7, columns 23-26 (end exclusive), with a did-you-mean help.
BAD_MEMBER = (
    "policy bad\nsignal tier: enum {free, pro} = free\n"
    + MODELS
    + """route {
  rule a when tier == prp -> big
  default -> small
}
"""
)

# E102 at line 3 with a related location at line 2.
DUPLICATE = (
    "policy dup\nsignal n: int in 0..100\nsignal n: int in 0..10\n"
    + MODELS
    + """route {
  rule large when n > 50 -> big
  default -> small
}
"""
)

# W201 only: rule b (line 8) can never fire, rule a covers it.
WARNING_ONLY = (
    "policy warns\nsignal n: int in 0..10\n"
    + MODELS
    + """route {
  rule a when n > 5 -> big
  rule b when n > 7 -> big
  default -> small
}
"""
)

LEVELS = {"error": "error", "warning": "warning"}


@lru_cache(maxsize=1)
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def lint(args: list, expect_exit: int) -> tuple[dict, dict]:
    """The SARIF log of `policyc lint --format sarif ARGS`, schema-checked, and the JSON findings."""
    runner = CliRunner()
    result = runner.invoke(main, ["lint", "--format", "sarif", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == expect_exit, result.output
    log = json.loads(result.stdout)  # stdout holds the log and nothing else
    errors = sorted(validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    as_json = runner.invoke(main, ["lint", "--format", "json", *map(str, args)])
    return log, json.loads(as_json.stdout)


def check_github_expectations(log: dict) -> None:
    """What GitHub code scanning reads from a log, beyond the schema."""
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "policyc"
    rules = driver.get("rules", [])
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)), "rule ids are unique"
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning"}
    for result in run["results"]:
        assert result["ruleId"] in ids
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in {"none", "note", "warning", "error"}
        assert result["message"]["text"].strip()
        assert result["locations"], "GitHub needs a location on every result"
        for location in [*result["locations"], *result.get("relatedLocations", [])]:
            physical = location["physicalLocation"]
            uri = physical["artifactLocation"]["uri"]
            assert_relative_uri(uri)
            region = physical["region"]
            assert region["startLine"] >= 1
            assert region["startColumn"] >= 1
            assert region.get("endLine", region["startLine"]) >= region["startLine"]
            if region.get("endLine", region["startLine"]) == region["startLine"] and "endColumn" in region:
                assert region["endColumn"] > region["startColumn"], "endColumn is one past the last column"


def assert_relative_uri(uri: str) -> None:
    """A relative URI reference: no scheme, no leading slash, forward slashes, nothing to escape."""
    assert not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri), f"{uri!r} has a scheme or a drive"
    assert not uri.startswith("/"), f"{uri!r} is an absolute path"
    assert "\\" not in uri
    assert not re.search(r"[\s\x00-\x1f\x7f\"<>^`{|}]", uri), f"{uri!r} holds characters a URI must escape"


def results_of(log: dict) -> list[dict]:
    return log["runs"][0]["results"]


def region_of(result: dict) -> dict:
    return result["locations"][0]["physicalLocation"]["region"]


def uri_of(result: dict) -> str:
    return result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Work in the temporary folder, so files are named relative to it, as in a repository checkout."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return name

    return write


def test_vendored_schema_is_the_official_one():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    assert {"run", "result", "region", "artifactLocation", "reportingDescriptor"} <= set(schema["definitions"])


def test_the_schema_rejects_what_github_would():
    # the validator is live: a result without a message, or a zero line, fails it
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "policyc"}}, "results": [
        {"ruleId": "E104", "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.route"},
                                                              "region": {"startLine": 0}}}]}]}]}
    messages = [e.message for e in validator().iter_errors(bad)]
    assert any("'message' is a required property" in m for m in messages)
    assert any("minimum of 1" in m for m in messages)


def test_clean_file_gives_an_empty_run(in_tmp):
    name = in_tmp(CLEAN, "clean.route")
    log, _ = lint([name], expect_exit=0)
    check_github_expectations(log)
    assert results_of(log) == []
    assert log["runs"][0]["tool"]["driver"].get("rules", []) == []


def test_error_result(in_tmp):
    name = in_tmp(BAD_MEMBER, "policies/bad.route")
    log, as_json = lint([name], expect_exit=1)
    check_github_expectations(log)
    (result,) = results_of(log)
    (finding,) = as_json["diagnostics"]
    assert result["ruleId"] == "E104"
    assert result["level"] == "error"
    assert uri_of(result) == "policies/bad.route"
    assert region_of(result)["startLine"] == finding["line"] == 7
    assert region_of(result)["startColumn"] == finding["column"] == 23
    assert region_of(result).get("endLine", 7) == finding["end_line"]
    assert region_of(result)["endColumn"] == finding["end_column"] == 26
    assert finding["message"] in result["message"]["text"]
    (rule,) = log["runs"][0]["tool"]["driver"]["rules"]
    assert rule["id"] == "E104"
    assert rule["defaultConfiguration"]["level"] == "error"


def test_warning_result(in_tmp):
    name = in_tmp(WARNING_ONLY, "warns.route")
    log, as_json = lint([name], expect_exit=0)
    check_github_expectations(log)
    (result,) = results_of(log)
    assert result["ruleId"] == "W201"
    assert result["level"] == "warning"
    assert region_of(result)["startLine"] == 8
    assert region_of(result)["startColumn"] == 3
    related = result["relatedLocations"]
    assert [r["physicalLocation"]["region"]["startLine"] for r in related] == [7]
    assert all(r["message"]["text"] for r in related)
    (rule,) = log["runs"][0]["tool"]["driver"]["rules"]
    assert rule["defaultConfiguration"]["level"] == "warning"


def test_warning_under_deny_warnings_exits_1_with_the_same_log(in_tmp):
    name = in_tmp(WARNING_ONLY, "warns.route")
    result = CliRunner().invoke(main, ["lint", "--format", "sarif", "--deny-warnings", name])
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert not list(validator().iter_errors(log))
    assert [r["level"] for r in results_of(log)] == ["warning"]


def test_related_locations(in_tmp):
    name = in_tmp(DUPLICATE, "dup.route")
    log, _ = lint([name], expect_exit=1)
    check_github_expectations(log)
    (result,) = [r for r in results_of(log) if r["ruleId"] == "E102"]
    assert region_of(result)["startLine"] == 3
    (related,) = result["relatedLocations"]
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "dup.route"
    assert related["physicalLocation"]["region"]["startLine"] == 2
    assert related["message"]["text"]


def test_levels_match_severities_across_files(in_tmp):
    names = [in_tmp(BAD_MEMBER, "bad.route"), in_tmp(WARNING_ONLY, "warns.route"), in_tmp(CLEAN, "clean.route")]
    log, as_json = lint(names, expect_exit=1)
    check_github_expectations(log)
    got = sorted((uri_of(r), r["ruleId"], r["level"], region_of(r)["startLine"]) for r in results_of(log))
    want = sorted((d["file"], d["code"], LEVELS[d["severity"]], d["line"]) for d in as_json["diagnostics"])
    assert got == want
    assert {uri for uri, *_ in got} == {"bad.route", "warns.route"}
    assert {(code, level) for _, code, level, _ in got} == {("E104", "error"), ("W201", "warning")}
    ids = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    assert sorted(ids) == ["E104", "W201"]


def test_one_rule_entry_for_a_code_seen_in_several_files(in_tmp):
    names = [in_tmp(BAD_MEMBER, "one.route"), in_tmp(BAD_MEMBER, "two.route")]
    log, _ = lint(names, expect_exit=1)
    check_github_expectations(log)
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == ["E104"]
    assert sorted(uri_of(r) for r in results_of(log)) == ["one.route", "two.route"]
    assert {r["ruleIndex"] for r in results_of(log)} == {0}


def test_syntax_error_result(in_tmp):
    name = in_tmp(CLEAN.replace("default -> small", "default -> "), "syntax.route")
    log, _ = lint([name], expect_exit=1)
    check_github_expectations(log)
    assert results_of(log)
    assert all(r["ruleId"].startswith("E0") for r in results_of(log))


def test_absolute_path_argument_gives_a_uri_github_can_place(in_tmp, tmp_path):
    # GitHub places a result by a URI relative to the checkout (the working directory in CI), or
    # by a file:// URI under it; a bare absolute path is neither
    in_tmp(BAD_MEMBER, "sub/bad.route")
    log, _ = lint([tmp_path / "sub" / "bad.route"], expect_exit=1)
    (result,) = results_of(log)
    uri = uri_of(result)
    assert uri == "sub/bad.route" or (
        uri.startswith("file:///") and unquote(uri).endswith("/sub/bad.route")
    ), f"{uri!r} is neither relative nor a file URI"


def test_file_name_with_a_space_is_percent_encoded(in_tmp):
    name = in_tmp(BAD_MEMBER, "my policies/bad one.route")
    log, _ = lint([name], expect_exit=1)
    check_github_expectations(log)
    (result,) = results_of(log)
    assert unquote(uri_of(result)) == "my policies/bad one.route"
