"""Syntax, name and type diagnostics (E001-E008, E101-E112), driven by fixture files.

Each `tests/fixtures/diagnostics/*.route` file states what checking it must report, in `#`
comment lines at the very top of the file (before `policy`), one line per diagnostic:

    # expect: E101 line 12                      code and 1-based line, in the fixture itself
    # expect: E107 line 4 in lib/cycle_b.route   ... in a file the fixture imports
    # expect: none                               a near miss: no E0xx/E1xx diagnostic at all

The expectations live in the leading comment block, never at the end of a broken line (a `#`
inside an unterminated string is not a comment). The test checks the fixture with
`analyze=False` and compares the set of (code, line, file) of its E0xx/E1xx diagnostics with the
expected set exactly: nothing missing, nothing extra. Warnings and the analyses of sections 6-7
(W2xx, E2xx, E3xx) are ignored, so valid fixtures stay valid as those checks arrive; keep them
boring anyway (a default, no overlapping rules).

Files under `fixtures/diagnostics/lib/` are imported by fixtures and are not fixtures.
Fixture names start with the code they are about (`e104_...`) or `ok_` for near misses.
"""

from __future__ import annotations

import json
import pathlib
import re
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from policylang.cli import main as policyc
from policylang.codes import CODES
from policylang.passes import Checked, check
from policylang.syntax.loader import read_top

DIAGNOSTICS = FIXTURES / "diagnostics"
FIXTURE_FILES = sorted(DIAGNOSTICS.glob("*.route"))  # not lib/: those are only imported

_EXPECT = re.compile(r"#\s*expect:\s*(?:(none)|(E\d{3}) line (\d+)(?: in (\S+))?)\s*$")
_FRONT_END = re.compile(r"E[01]\d\d$")


@dataclass(frozen=True)
class Expectation:
    fixture: pathlib.Path
    found: frozenset[tuple[str, int, str]]  # (code, line, file relative to DIAGNOSTICS)
    none: bool


def expectations(path: pathlib.Path) -> Expectation:
    """The `# expect:` lines of the fixture's leading comment block."""
    found, none = set(), False
    # bytes: an E008 fixture is not UTF-8 past its header
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not line.startswith("#"):
            break
        match = _EXPECT.match(line)
        if match is None:
            assert not line.lstrip("# ").startswith("expect"), f"{path.name}: malformed expectation {line!r}"
            continue
        if match.group(1):
            none = True
        else:
            found.add((match.group(2), int(match.group(3)), match.group(4) or path.name))
    assert none != bool(found), f"{path.name}: give `# expect: none` or at least one `# expect: CODE line N`"
    return Expectation(path, frozenset(found), none)


def relative(file: str) -> str:
    return pathlib.Path(file).resolve().relative_to(DIAGNOSTICS.resolve()).as_posix()


def check_file(path: pathlib.Path) -> Checked:
    return check(*read_top(str(path)), analyze=False)


def front_end(checked: Checked) -> set[tuple[str, int, str]]:
    return {(d.code, d.span.line, relative(d.span.file)) for d in checked.diagnostics if _FRONT_END.match(d.code)}


def check_text(write_route, text: str, name: str = "policy.route") -> Checked:
    return check_file(write_route(text, name))


def only(checked: Checked, code: str):
    """The one diagnostic with `code`; fails when there is not exactly one."""
    found = [d for d in checked.diagnostics if d.code == code]
    assert len(found) == 1, [(d.code, d.span.line, d.message) for d in checked.diagnostics]
    return found[0]


MODEL = ('model m { id = "vendor/m", tier = 1, input_per_mtok = $1, output_per_mtok = $1, '
         "context = 10_000, max_output = 100, latency = 1s }")
MODEL2 = ('model m2 { id = "vendor/m2", tier = 2, input_per_mtok = $2, output_per_mtok = $2, '
          "context = 10_000, max_output = 100, latency = 2s }")


def policy(*lines: str) -> str:
    """A small policy: header on line 1, signals n and task on 3-4, models m, m2 on 5-6; `lines` from 7."""
    head = ["policy t", "", "signal n: int in 0..10", "signal task: enum {chat, code}", MODEL, MODEL2]
    return "\n".join(head + list(lines)) + "\n"


# ---- the fixtures ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_reports_exactly_what_it_expects(fixture: pathlib.Path) -> None:
    expected = expectations(fixture)
    checked = check_file(fixture)
    assert front_end(checked) == set(expected.found)
    if expected.found:
        assert checked.policy is None
        for d in checked.diagnostics:
            if _FRONT_END.match(d.code):
                assert d.severity.value == "error"
                assert d.message.strip()
    else:
        assert checked.policy is not None


def test_every_syntax_name_and_type_code_has_a_fixture() -> None:
    codes = {code for code in CODES if _FRONT_END.match(code)} - {"E009"}  # E009: a file that cannot be read, tested in test_cli.py
    covered = {code for fixture in FIXTURE_FILES for code, _, _ in expectations(fixture).found}
    assert codes - covered == set()
    assert codes >= {f"E00{i}" for i in range(1, 9)} | {f"E1{i:02d}" for i in range(1, 13)}


def test_there_are_near_misses() -> None:
    near_misses = [f for f in FIXTURE_FILES if expectations(f).none]
    assert len(near_misses) >= 10


def test_imported_files_are_not_fixtures() -> None:
    imported = sorted((DIAGNOSTICS / "lib").glob("*.route"))
    assert imported and not set(imported) & set(FIXTURE_FILES)
    for path in imported:
        assert not any(line.startswith("# expect:") for line in path.read_text().splitlines()), path.name


@pytest.mark.parametrize(
    "fixture", [f for f in FIXTURE_FILES if expectations(f).found], ids=lambda p: p.stem
)
def test_lint_json_agrees_and_exits_1(fixture: pathlib.Path) -> None:
    result = CliRunner().invoke(policyc, ["lint", "--format", "json", str(fixture)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    got = {(d["code"], d["line"], relative(d["file"])) for d in payload["diagnostics"] if _FRONT_END.match(d["code"])}
    assert got == set(expectations(fixture).found)
    for d in payload["diagnostics"]:
        assert {"code", "severity", "message", "file", "line", "column", "end_line", "end_column",
                "related", "witness"} <= set(d)


# ---- message quality: syntax ------------------------------------------------------------------


def test_missing_value_names_a_value_and_points_at_the_arrow(write_route) -> None:
    checked = check_text(write_route, policy("route {", "  rule a when n > -> m", "  default -> m", "}"))
    d = only(checked, "E001")
    assert (d.span.line, d.span.column) == (8, 19)  # the '->'
    assert "value" in d.message
    assert "'->'" in d.message  # what was found
    assert len(checked.diagnostics) == 1


def test_missing_arrow_says_arrow_after_the_condition(write_route) -> None:
    checked = check_text(write_route, policy("route {", "  rule b when n < 3 m2", "  default -> m", "}"))
    d = only(checked, "E001")
    assert (d.span.line, d.span.column) == (8, 21)  # the 'm2' where '->' belongs
    assert "'->'" in d.message
    assert "condition" in d.message
    assert "m2" in d.message
    assert len(checked.diagnostics) == 1


def test_keyword_as_a_name_says_keywords_are_reserved(write_route) -> None:
    checked = check_text(write_route, policy("route {", "  rule default when n > 3 -> m2", "  default -> m", "}"))
    d = checked.diagnostics[0]
    assert d.code == "E001" and (d.span.line, d.span.column) == (8, 8)
    assert "name" in d.message and "keyword" in d.message


def test_missing_header_asks_for_policy(write_route) -> None:
    checked = check_text(write_route, "signal n: int\nroute {\n  default -> m\n}\n")
    d = checked.diagnostics[0]
    assert d.code == "E001" and (d.span.line, d.span.column) == (1, 1)
    assert "policy" in d.message


def test_unexpected_character_is_named_with_its_code_point(write_route) -> None:
    checked = check_text(write_route, policy("route {", "  rule a when n @ 3 -> m2", "  default -> m", "}"))
    d = only(checked, "E002")
    assert (d.span.line, d.span.column) == (8, 17)
    assert "@" in d.message and "U+0040" in d.message
    assert len(checked.diagnostics) == 1


def test_unknown_escape_points_at_the_escape(write_route) -> None:
    checked = check_text(write_route, policy("route {", '  rule a when n > 3 -> reject "ab\\qc"', "  default -> m", "}"))
    d = only(checked, "E004")
    assert (d.span.line, d.span.column) == (8, 34)  # the backslash
    assert "\\q" in d.message


@pytest.mark.parametrize("literal", ["1__0", "8000_", "5sec", "1_.5", "$1__0", "2hours"])
def test_bad_number_literals(write_route, literal: str) -> None:
    checked = check_text(write_route, policy(f"threshold t = {literal}", "route {", "  default -> m", "}"))
    assert {d.code for d in checked.diagnostics} <= {"E004", "E001"}
    d = checked.diagnostics[0]
    assert d.code == "E004", [(x.code, x.message) for x in checked.diagnostics]
    assert (d.span.line, d.span.column) == (7, 15)


def test_unterminated_string_at_its_quote(write_route) -> None:
    checked = check_text(write_route, policy("route {", '  rule a when n > 3 -> reject "open', "  default -> m", "}"))
    d = only(checked, "E003")
    assert (d.span.line, d.span.column) == (8, 31)
    assert len(checked.diagnostics) == 1


def test_end_of_file_is_e005_and_says_what_was_expected(write_route) -> None:
    checked = check_text(write_route, policy("route {", "  rule a when n > 3 ->"))
    d = only(checked, "E005")
    assert d.span.line == 8
    assert "end of the file" in d.message or "end of file" in d.message
    assert "name" in d.message or "reject" in d.message  # a target was expected


def test_nesting_too_deep_points_at_the_first_parenthesis_too_many(write_route) -> None:
    text = policy("route {", "  rule a when " + "(" * 1_001 + "n > 3" + ")" * 1_001 + " -> m2", "  default -> m", "}")
    d = only(check_text(write_route, text), "E006")
    assert (d.span.line, d.span.column) == (8, 15 + 1_000)  # the 1,001st '('
    assert "1,000" in d.message or "1000" in d.message


def test_rule_after_default_says_so(write_route) -> None:
    d = only(check_text(write_route, policy("route {", "  default -> m", "  rule late when n > 3 -> m2", "}")), "E007")
    assert (d.span.line, d.span.column) == (9, 3)
    assert "default" in d.message


def test_not_utf8_names_the_byte(tmp_path) -> None:
    path = tmp_path / "latin1.route"
    path.write_bytes(b"policy latin1\n# caf\xe9\n")
    d = only(check_file(path), "E008")
    assert (d.span.line, d.span.column) == (2, 6)
    assert "0xe9" in d.message.lower()


def test_utf8_byte_order_mark_is_accepted(tmp_path) -> None:
    path = tmp_path / "bom.route"
    path.write_bytes(b"\xef\xbb\xbf" + policy("route {", "  default -> m", "}").encode())
    checked = check_file(path)
    assert [d for d in checked.diagnostics if _FRONT_END.match(d.code)] == []


def test_non_ascii_text_in_strings_and_comments_is_fine(write_route) -> None:
    text = policy("# café ünïcödé ✓", "route {", '  rule a when n > 3 -> reject "trop grand — désolé"', "  default -> m", "}")
    checked = check_text(write_route, text)
    assert [d.code for d in checked.diagnostics if _FRONT_END.match(d.code)] == []


def test_non_ascii_character_outside_a_string_is_e002_at_its_column(write_route) -> None:
    checked = check_text(write_route, policy("route {", "  rule a when n ≥ 3 -> m2", "  default -> m", "}"))
    d = only(checked, "E002")
    assert (d.span.line, d.span.column) == (8, 17)  # columns count characters, not bytes
    assert "≥" in d.message


# ---- message quality: names and types ---------------------------------------------------------

# Several errors at once, so that each message can be checked in one run (as in section 8).
NAMES = policy(
    "signal tokens: int in 0..1_000",                # 7
    "outcome confidence: float in 0.0..1.0 = 1.0",   # 8
    "route {",                                       # 9
    "  rule r1 when tokns > 10        -> m2",        # 10
    "  rule r2 when task == cdoe      -> m2",        # 11
    "  rule r3 when tokens < 0.5s     -> m2",        # 12
    "  rule r4 when confidence < 0.5  -> m2",        # 13
    "  rule r5 when task == chat      -> m3",        # 14
    "  default -> m",                                # 15
    "}",
)


def test_unknown_name_suggests_the_close_one(write_route) -> None:
    checked = check_text(write_route, NAMES)
    unknown = {d.span.line: d for d in checked.diagnostics if d.code == "E101"}
    assert set(unknown) == {10, 14}
    assert unknown[10].span.column == 16
    assert "tokns" in unknown[10].message
    assert unknown[10].help is not None and "tokens" in unknown[10].help
    assert unknown[14].span.column == 37
    assert unknown[14].help is not None and ("'m'" in unknown[14].help or "'m2'" in unknown[14].help)


def test_unknown_enum_member_suggests_the_member(write_route) -> None:
    checked = check_text(write_route, NAMES)
    d = only(checked, "E104")
    assert (d.span.line, d.span.column) == (11, 24)
    assert "cdoe" in d.message
    assert d.help is not None and "code" in d.help


def test_kind_mismatch_and_outcome_messages(write_route) -> None:
    checked = check_text(write_route, NAMES)
    mismatch = only(checked, "E103")
    assert (mismatch.span.line, mismatch.span.column) == (12, 25)  # the '0.5s'
    assert "duration" in mismatch.message
    outcome = only(checked, "E105")
    assert (outcome.span.line, outcome.span.column) == (13, 16)
    assert "confidence" in outcome.message and "outcome" in outcome.message


def test_money_against_a_number_suggests_a_dollar_sign(write_route) -> None:
    text = policy('import "std/signals"', "route {", "  rule rich when remaining_budget > 2 -> m2", "  default -> m", "}")
    d = only(check_text(write_route, text), "E103")
    assert (d.span.line, d.span.column) == (9, 37)
    assert d.help is not None and "$2" in d.help


def test_unknown_member_in_a_set_and_in_a_test(write_route) -> None:
    text = policy(
        "route {",
        "  rule r when task in {chat, cdoe} -> m2",
        "  default -> m",
        "}",
        "test t {",
        "  given { task = chta }",
        "  expect m2",
        "}",
    )
    found = {d.span.line: d for d in check_text(write_route, text).diagnostics if d.code == "E104"}
    assert set(found) == {8, 12}
    assert "code" in found[8].help and "chat" in found[12].help


def test_unknown_field_lists_the_fields(write_route) -> None:
    text = policy("invariant fast: require model.latnecy <= 1s", "route {", "  default -> m", "}")
    d = only(check_text(write_route, text), "E110")
    assert d.span.line == 7
    assert "latnecy" in d.message
    assert d.help is not None and "latency" in d.help


def test_cap_above_max_output_names_the_model_and_limit(write_route) -> None:
    text = policy("route {", "  rule r when n > 3 -> m2 with max_output = 101", "  default -> m", "}")
    d = only(check_text(write_route, text), "E111")
    assert (d.span.line, d.span.column) == (8, 45)
    assert "m2" in d.message and "100" in d.message


def test_missing_fields_are_named(write_route) -> None:
    text = policy('model bare { id = "vendor/bare", tier = 1 }', "route {", "  default -> bare", "}")
    d = only(check_text(write_route, text), "E109")
    assert d.span.line == 7
    for name in ("input_per_mtok", "output_per_mtok", "context", "max_output", "latency"):
        assert name in d.message


def test_std_import_typo_suggests_the_module(write_route) -> None:
    text = policy('import "std/signal"', "route {", "  default -> m", "}")
    d = only(check_text(write_route, text), "E106")
    assert (d.span.line, d.span.column) == (7, 8)
    assert d.help is not None and "std/signals" in d.help


def test_a_signal_clash_with_an_import_is_reported_once(write_route) -> None:
    # Signals are one namespace whatever the alias, so an alias cannot fix this clash:
    # one diagnostic, and it must not advise an alias.
    for import_line in ('import "std/signals"', 'import "std/signals" as sig'):
        text = "\n".join(["policy t", import_line, "signal input_tokens: int in 0..10", MODEL,
                          "route {", "  default -> m", "}"])
        d = only(check_text(write_route, text), "E102")
        assert "input_tokens" in d.message
        assert d.help is None or "alias" not in d.help


def test_diagnostics_name_their_file(write_route) -> None:
    path = write_route(NAMES, "named.route")
    checked = check_file(path)
    assert checked.diagnostics
    assert {pathlib.Path(d.span.file).name for d in checked.diagnostics} == {"named.route"}


def test_a_bare_name_compared_with_an_enum_is_a_member(write_route) -> None:
    # Section 4: a bare identifier compared with an enum-typed operand "is a member of that
    # enum, never a declared name". So in `task == other`, 'other' is read as a member of
    # task's enum, and it is not one: E104 at 'other', not a kind mismatch claiming that
    # nothing compared is an enum.
    text = policy("signal other: enum {chat, code}", "route {", "  rule a when task == other -> m2",
                  "  default -> m", "}")
    checked = check_text(write_route, text)
    d = only(checked, "E104")
    assert (d.span.line, d.span.column) == (9, 23)
    assert "other" in d.message
    assert [x.code for x in checked.diagnostics if _FRONT_END.match(x.code)] == ["E104"]
