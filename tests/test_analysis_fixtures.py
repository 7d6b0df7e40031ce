"""The analyses of sections 6 and 7 (W201-W206, E204, E301-E308), driven by fixture files.

Each `tests/fixtures/analysis/*.route` file states what checking it must report in `#` comments
on the lines they are about, in the format of `tests/fixtures/diagnostics/` (the full grammar is
in the docstring of `test_diagnostics.py`, whose parser this module shares), so that inserting a
line anywhere keeps every expectation true:

    rule band when n in 5..12 -> m             # expect: W201 related: n5, n6, n7
    rule chatty when n > 5 -> m                # expect: W205 related: late, default
    rule token when lane == token -> a         # expect: E301 message: "$0.050001", "budget $0.05"
    rule chat when task == chat -> w           # expect: E301 help: "input_tokens", E303
    fallback a -> b on unavailable             # expect-one-of: E307 (a-b)
    fallback b -> a on timeout                 # expect-one-of: E307 (a-b)

- `# expect: CODE[, CODE...]` at the end of the reported line, `# expect-next-line: ...` alone on
  the line above it; `# expect-one-of: CODE (LABEL)` on each candidate line: exactly one
  diagnostic with that code on one of the lines with that marker;
- `related: REF, ...` the lines of that diagnostic's related locations, exactly, each named by
  the name it declares (`rule r1`), `default`, or a quoted text on exactly one line;
  `message: "TEXT", ...` / `help: "TEXT", ...` text that its message / its help contains;
- in the leading comment block only: `# expect: none` (no diagnostic at all) and
  `# near-miss: CODE` (the fixture is a near miss for CODE: it must not report it).

A malformed or unknown directive fails the test. Unlike `test_diagnostics.py`, every diagnostic
counts: the set of (code, line) that full checking reports must be exactly the expected set, so
each fixture is also a regression test against false warnings. On top of that, for every fixture,
following the registry (`policylang/codes.py`), from which every set of codes here is derived:

- a diagnostic of a code flagged `witness` (a claim that a request exists: E204, E301-E304)
  carries a witness, and the witness, decided by the interpreter, fires the rule at the
  diagnostic's line (no rule at all for E204) and climbs one step per `@outcomes` entry;
- a diagnostic of a code flagged `help` gives a `help`;
- W201 lists its covering rules as related locations;
- E301 and E302 messages name the budget and, unless the cost is unbounded, break the worst case
  down by step (`a→b $0.012 + c→d $0.056 + d $0.056`, `slow 9s`).

Fixture names start with the code they are about (`w201_...`) or `ok_` for near misses.
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest

import policylang
from conftest import FIXTURES
from policylang.codes import ANALYSIS_CODES
from policylang.passes import Checked, check
from policylang.syntax.loader import read_top
from test_diagnostics import (Expectations, directives, insert_near_top, matches, read_expectations,
                              relative, shown, unmet_attributes)

ANALYSIS = FIXTURES / "analysis"
FIXTURE_FILES = sorted(ANALYSIS.glob("*.route"))  # not lib/: those are only imported

CODES = tuple(c.code for c in ANALYSIS_CODES)
WITNESSED = frozenset(c.code for c in ANALYSIS_CODES if c.witness)
HELPED = frozenset(c.code for c in ANALYSIS_CODES if c.help)

_MONEY_BREAKDOWN = re.compile(r"\([^()]*?\S+ \$\d[\d.]*(?: \+ \S+ \$\d[\d.]*)*")
_TIME_BREAKDOWN = re.compile(r"\([^()]*?\S+ \d[\d.]*m?s(?: \+ \S+ \d[\d.]*m?s)*\)")


def fixture(path: pathlib.Path, folder: pathlib.Path = ANALYSIS) -> Expectations:
    """What the fixture expects (see the module docstring)."""
    return read_expectations(path, folder)


@functools.cache
def checked(path: pathlib.Path) -> Checked:
    return check(*read_top(str(path)))


def assert_fixture_holds(path: pathlib.Path, folder: pathlib.Path = ANALYSIS) -> None:
    want = fixture(path, folder)
    diagnostics = checked(path).diagnostics
    found = {(d.code, relative(d.span.file, folder), d.span.line) for d in diagnostics}
    assert matches(found, want.expected), f"expected {[str(e) for e in want.expected]}, got {shown(diagnostics)}"
    for d in diagnostics:
        assert pathlib.Path(d.span.file).resolve() == path.resolve(), (d.code, d.span.file)
        assert d.message.strip()
    assert unmet_attributes(diagnostics, want.expected, folder) == []


# ---- the fixtures ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_reports_exactly_what_it_expects(path: pathlib.Path) -> None:
    assert_fixture_holds(path)  # the codes and lines, related locations, message and help texts


@pytest.mark.parametrize("name", ["w205_later_rules.route", "e301_cent_over.route", "e307_fallback_loops.route"])
def test_expectations_survive_an_inserted_line(tmp_path, name: str) -> None:
    original = ANALYSIS / name
    copy, moved = insert_near_top(original, tmp_path)
    before = {(e.code, n) for e in fixture(original).expected for n in e.lines}
    after = {(e.code, n) for e in fixture(copy, tmp_path).expected for n in e.lines}
    assert after == {(code, n + 2 if n >= moved else n) for code, n in before}  # absolute numbers would break
    assert_fixture_holds(copy, tmp_path)


@functools.cache
def interpreter_policy(path: pathlib.Path) -> policylang.Policy:
    # `load`, not `loads`: `loads` resolves relative imports from the working directory
    return policylang.load(str(path), analyze=False)


def rules_by_line(path: pathlib.Path) -> dict[int, str]:
    policy = checked(path).policy
    assert policy is not None
    route = [*policy.rules, *([policy.default] if policy.default is not None else [])]
    return {rule.span.line: rule.name for rule in route}


WITNESS_FIXTURES = [p for p in FIXTURE_FILES if fixture(p).codes & WITNESSED]


@pytest.mark.parametrize("path", WITNESS_FIXTURES, ids=lambda p: p.stem)
def test_witnesses_replay_through_the_interpreter(path: pathlib.Path) -> None:
    diagnostics = [d for d in checked(path).diagnostics if d.code in WITNESSED]
    assert diagnostics
    policy = interpreter_policy(path)
    rules = rules_by_line(path)
    for d in diagnostics:
        assert isinstance(d.witness, dict) and d.witness, f"{d.code} line {d.span.line}: no witness"
        request = {k: v for k, v in d.witness.items() if not k.startswith("@")}
        decision = policy.decide(request, engine="interpreted")
        if d.code == "E204":
            assert decision.rule is None, (d.witness, decision)
            continue
        assert decision.rule == rules[d.span.line], (d.code, d.span.line, d.witness, decision)
        outcomes = d.witness.get("@outcomes", [])
        path_taken = policy.path(decision, outcomes, engine="interpreted")
        assert len(path_taken) == len(outcomes) + 1, (d.code, d.span.line, d.witness, path_taken)
        if d.code == "E303":  # the input really is too long for a model the message names
            named = [m for m in checked(path).policy.models if f"'{m.name}'" in d.message]
            assert named, f"E303 line {d.span.line} names no model: {d.message}"
            assert d.witness["input_tokens"] > min(m.context for m in named), (d.message, d.witness)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_messages_help_and_related_are_there(path: pathlib.Path) -> None:
    for d in checked(path).diagnostics:
        where = f"{d.code} line {d.span.line}"
        if d.code in HELPED:
            assert d.help and d.help.strip(), f"{where}: no help"
        if d.code == "W201":
            assert d.related, f"{where}: the covering rules are not listed"
            assert all(r.span.line < d.span.line for r in d.related), f"{where}: a cover below the rule"
        if d.code == "E301":
            assert re.search(r"budget \$\d", d.message), f"{where}: the budget is not named: {d.message}"
            if "no upper limit" in d.message:
                assert d.help and "input_tokens" in d.help, f"{where}: no hint how to bound input_tokens"
            else:
                assert _MONEY_BREAKDOWN.search(d.message), f"{where}: no per-step breakdown: {d.message}"
        if d.code == "E302":
            assert re.search(r"budget \d[\d.]*m?s", d.message), f"{where}: the budget is not named: {d.message}"
            assert _TIME_BREAKDOWN.search(d.message), f"{where}: no per-step breakdown: {d.message}"
        if d.code == "E303" and "no upper limit" in d.message:
            assert d.help and "input_tokens" in d.help, f"{where}: no hint how to bound input_tokens"


# ---- coverage of the codes --------------------------------------------------------------------


def test_every_analysis_code_has_a_fixture_and_a_near_miss() -> None:
    reported = {code for p in FIXTURE_FILES for code in fixture(p).codes}
    near = {code for p in FIXTURE_FILES for code in fixture(p).near_misses}
    assert set(CODES) - reported == set(), "codes no fixture reports"
    assert set(CODES) - near == set(), "codes no fixture is a near miss for"


def test_fixture_names_say_what_they_are() -> None:
    for path in FIXTURE_FILES:
        want = fixture(path)
        if path.name.startswith("ok_"):
            assert want.near_misses, f"{path.name}: say which code it is a near miss for"
        else:
            prefix = path.name.split("_")[0].upper()
            assert prefix in want.codes, f"{path.name}: named for {prefix} but does not expect it"


def test_imported_files_are_not_fixtures() -> None:
    imported = sorted((ANALYSIS / "lib").glob("*.route"))
    assert not set(imported) & set(FIXTURE_FILES)
    for path in imported:
        assert directives(path) == [], path.name
