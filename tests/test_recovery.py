"""Parser recovery: every error the parser can recover from is reported, each once (section 8).

One broken rule or declaration costs one diagnostic, at its own line; the declarations after
it are still checked; nothing is invented. Name and type errors are all reported in one run.
"""

from __future__ import annotations

import pytest

from policylang import PolicyError, loads
from policylang.passes import Checked, check
from policylang.syntax.loader import read_top

MODEL = ('model m { id = "vendor/m", tier = 1, input_per_mtok = $1, output_per_mtok = $1, '
         "context = 10_000, max_output = 100, latency = 1s }")
MODEL2 = ('model m2 { id = "vendor/m2", tier = 2, input_per_mtok = $2, output_per_mtok = $2, '
          "context = 10_000, max_output = 100, latency = 2s }")


def numbered(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def found(write_route, text: str) -> list[tuple[str, int]]:
    checked: Checked = check(*read_top(str(write_route(text))), analyze=False)
    return [(d.code, d.span.line) for d in checked.diagnostics]


def test_two_broken_rules_give_two_diagnostics(write_route) -> None:
    text = numbered(
        "policy two_broken",                # 1
        "signal n: int in 0..10",           # 2
        MODEL,                              # 3
        MODEL2,                             # 4
        "route {",                          # 5
        "  rule a when n > -> m2",          # 6  missing value
        "  rule fine when n == 1 -> m2",    # 7
        "  rule b when n < 3 m2",           # 8  missing '->'
        "  default -> m",                   # 9
        "}",
    )
    assert found(write_route, text) == [("E001", 6), ("E001", 8)]


def test_three_broken_rules_in_a_row(write_route) -> None:
    text = numbered(
        "policy three_broken",              # 1
        "signal n: int in 0..10",           # 2
        MODEL,                              # 3
        MODEL2,                             # 4
        "route {",                          # 5
        "  rule a when n > -> m2",          # 6
        "  rule b when (n < 3 -> m2",       # 7  unclosed parenthesis
        "  rule c when n == 2 m2",          # 8
        "  default -> m",                   # 9
        "}",
    )
    assert found(write_route, text) == [("E001", 6), ("E001", 7), ("E001", 8)]


def test_a_broken_rule_then_an_error_in_the_default(write_route) -> None:
    text = numbered(
        "policy broken_default",
        "signal n: int in 0..10",
        MODEL,
        "route {",
        "  rule a when n > -> m",   # 5
        "  default m",              # 6  missing '->'
        "}",
    )
    assert found(write_route, text) == [("E001", 5), ("E001", 6)]


def test_broken_signal_and_broken_model_are_both_reported(write_route) -> None:
    text = numbered(
        "policy two_declarations",                                          # 1
        "signal n: int in 0.. = 3",                                         # 2  missing bound
        "signal ok: bool = false",                                          # 3
        'model m { id = "vendor/m", tier = 1, input_per_mtok = $1,',        # 4
        "  output_per_mtok = $1, context = 10_000, max_output = , latency = 1s }",  # 5 missing value
        "route {",                                                          # 6
        "  default -> m",                                                   # 7
        "}",
    )
    assert found(write_route, text) == [("E001", 2), ("E001", 5)]


def test_broken_declarations_of_every_kind(write_route) -> None:
    text = numbered(
        "policy every_kind",                        # 1
        "threshold big = * 2",                      # 2  no value before '*'
        "signal n: int in 0..10",                   # 3
        "signal task enum {chat, code}",            # 4  missing ':'
        MODEL,                                      # 5
        "cascade c { m -> when n > 1 }",            # 6  missing target
        "fallback m -> on unavailable",             # 7  missing target
        "budget cost <= when n > 1",                # 8  missing bound
        "invariant i: model.tier >= 1",             # 9  missing 'require'
        "route {",                                  # 10
        "  default -> m",                           # 11
        "}",
        "test t { given { n = } expect m }",        # 13 missing value
    )
    codes_and_lines = found(write_route, text)
    assert [code for code, _ in codes_and_lines] == ["E001"] * 7
    assert [line for _, line in codes_and_lines] == [2, 4, 6, 7, 8, 9, 13]


def test_lexical_error_and_a_later_syntax_error(write_route) -> None:
    text = numbered(
        "policy lexical_then_syntax",       # 1
        "signal n: int in 0..10",           # 2
        MODEL,                              # 3
        MODEL2,                             # 4
        "route {",                          # 5
        "  rule a when n § 3 -> m2",        # 6  E002
        "  rule b when n > 4 -> m2",        # 7  fine
        "  rule c when n < 3 m2",           # 8  E001
        "  default -> m",                   # 9
        "}",
    )
    assert found(write_route, text) == [("E002", 6), ("E001", 8)]


def test_bad_literals_and_a_syntax_error_are_all_reported(write_route) -> None:
    text = numbered(
        "policy literals_then_syntax",      # 1
        "signal n: int in 0..10",           # 2
        MODEL,                              # 3
        MODEL2,                             # 4
        "threshold a = 1__0",               # 5  E004
        "threshold b = 5sec",               # 6  E004
        "route {",                          # 7
        '  rule r when n > 3 -> reject "a\\qb"',  # 8  E004
        "  rule s when n > -> m2",          # 9  E001
        "  default -> m",                   # 10
        "}",
    )
    assert found(write_route, text) == [("E004", 5), ("E004", 6), ("E004", 8), ("E001", 9)]


def test_unterminated_string_does_not_swallow_the_next_lines(write_route) -> None:
    text = numbered(
        "policy unterminated_then_more",    # 1
        "signal n: int in 0..10",           # 2
        MODEL,                              # 3
        "route {",                          # 4
        '  rule a when n > 3 -> reject "open',  # 5  E003
        "  rule b when n > -> m",           # 6  E001
        "  default -> m",                   # 7
        "}",
    )
    assert found(write_route, text) == [("E003", 5), ("E001", 6)]


def test_misplaced_defaults_and_a_syntax_error(write_route) -> None:
    text = numbered(
        "policy misplaced",                 # 1
        "signal n: int in 0..10",           # 2
        MODEL,                              # 3
        MODEL2,                             # 4
        "route {",                          # 5
        "  rule a when n > -> m2",          # 6  E001
        "  default -> m",                   # 7
        "  rule late when n > 3 -> m2",     # 8  E007
        "  default -> m2",                  # 9  E007
        "}",
    )
    assert found(write_route, text) == [("E001", 6), ("E007", 8), ("E007", 9)]


def test_nothing_resumes_after_an_unrecoverable_end(write_route) -> None:
    text = numbered(
        "policy truncated",
        "signal n: int in 0..10",
        MODEL,
        "route {",
        "  rule a when n > -> m",  # 5  E001
        "  rule b when n > 3 -> m",
    )
    assert found(write_route, text) == [("E001", 5), ("E005", 6)]


ALL_NAMES_AND_TYPES = numbered(
    "policy every_name_and_type_error",                 # 1
    'import "std/signals"',                             # 2
    "signal task: enum {chat, code, plan}",             # 3
    "signal limit: int in 0..100 = 200",                # 4  E108 default outside
    "outcome sure: float in 0.0..1.0 = 1.0",            # 5
    MODEL,                                              # 6
    'model half { id = "vendor/h", tier = 1 }',         # 7  E109
    MODEL.replace("model m ", "model extra ").replace("latency = 1s", "latency = 1s, speed = 1"),  # 8  E110
    "route {",                                          # 9
    "  rule r1 when input_tokns > 10       -> m2",      # 10 E101
    "  rule r2 when task == cdoe           -> m2",      # 11 E104
    "  rule r3 when input_tokens < 0.5s    -> m2",      # 12 E103
    "  rule r4 when sure < 0.5             -> m2",      # 13 E105
    "  rule r5 when task == chat           -> nosuch",  # 14 E101
    "  rule r6 when remaining_budget > 2   -> m2",      # 15 E103
    "  rule r7 when pii                    -> m2 with max_output = 500",  # 16 E111
    "  default -> m",                                   # 17
    "}",                                                # 18
    "threshold limit = 5",                              # 19 E102
    MODEL2,                                             # 20
)


def test_every_name_and_type_error_in_one_run(write_route) -> None:
    assert found(write_route, ALL_NAMES_AND_TYPES) == [
        ("E108", 4),
        ("E109", 7),
        ("E110", 8),
        ("E101", 10),
        ("E104", 11),
        ("E103", 12),
        ("E105", 13),
        ("E101", 14),
        ("E103", 15),
        ("E111", 16),
        ("E102", 19),
    ]


def test_the_public_api_reports_them_all_too() -> None:
    with pytest.raises(PolicyError) as caught:
        loads(ALL_NAMES_AND_TYPES)
    codes = sorted(d.code for d in caught.value.diagnostics)
    assert codes == sorted(["E108", "E109", "E110", "E101", "E104", "E103", "E105", "E101", "E103", "E111", "E102"])


def test_syntax_errors_hold_back_name_errors(write_route) -> None:
    # Name and type checks would only echo a broken tree: with a syntax error, only it is reported.
    text = numbered(
        "policy syntax_first",
        "signal n: int in 0..10",
        MODEL,
        "route {",
        "  rule a when nn > 3 -> m",  # 5  unknown name, not reported yet
        "  rule b when n > -> m",     # 6  E001
        "  default -> m",
        "}",
    )
    assert found(write_route, text) == [("E001", 6)]


def test_errors_in_an_imported_file_are_reported_there(write_route) -> None:
    write_route(numbered("policy lib", MODEL, "signal x int"), "lib/broken.route")
    main = write_route(numbered('policy uses_lib', 'import "./lib/broken.route" as lib', "route {", "  default -> lib.m", "}"))
    checked = check(*read_top(str(main)), analyze=False)
    assert [(d.code, d.span.line, d.span.file.replace("\\", "/").endswith("lib/broken.route")) for d in checked.diagnostics] == [
        ("E001", 3, True)
    ]
