"""The analyses of sections 6 and 7 (W201-W206, E204, E301-E308), driven by fixture files.

Each `tests/fixtures/analysis/*.route` file states what checking it must report, in `#` comment
lines at the very top of the file (before `policy`):

    # expect: W201 line 17                 a diagnostic with this code at this 1-based line
    # expect: E307 line 16 or 17           ... at any one of these lines (one diagnostic)
    # expect: none                         no diagnostic at all
    # near-miss: E301                      the fixture is a near miss for E301: it must not report it
    # related: W201 line 17 -> 14, 15      the lines of that diagnostic's related locations, exactly
    # message: E301 line 28: $0.050001     text that diagnostic's message contains
    # help: E303 line 22: input_tokens     text that diagnostic's help contains

Unlike `test_diagnostics.py`, every diagnostic counts: the set of (code, line) that full checking
reports must be exactly the expected set, so each fixture is also a regression test against false
warnings. On top of that, for every fixture:

- a diagnostic that claims a request exists (E204, E301-E304) carries a witness, and the witness,
  decided by the interpreter, fires the rule at the diagnostic's line (no rule at all for E204) and
  climbs one step per `@outcomes` entry;
- W201 lists its covering rules as related locations, and the diagnostics that know a fix
  (W201, W202, E204, W205, E301-E304) give a `help`;
- E301 and E302 messages name the budget and, unless the cost is unbounded, break the worst case
  down by step (`a→b $0.012 + c→d $0.056 + d $0.056`, `slow 9s`).

Fixture names start with the code they are about (`w201_...`) or `ok_` for near misses.
"""

from __future__ import annotations

import functools
import pathlib
import re
from dataclasses import dataclass, field

import pytest

import policylang
from conftest import FIXTURES
from policylang.passes import Checked, check
from policylang.syntax.loader import read_top

ANALYSIS = FIXTURES / "analysis"
FIXTURE_FILES = sorted(ANALYSIS.glob("*.route"))  # not lib/: those are only imported

CODES = ("W201", "W202", "W203", "E204", "W205", "W206",
         "E301", "E302", "E303", "E304", "E305", "W306", "E307", "E308")
WITNESSED = {"E204", "E301", "E302", "E303", "E304"}
HELPED = {"W201", "W202", "E204", "W205", "E301", "E302", "E303", "E304"}

_CODE = r"([EW]\d{3})"
_EXPECT = re.compile(rf"#\s*expect:\s*(?:(none)|{_CODE} line (\d+(?: or \d+)*))\s*$")
_NEAR_MISS = re.compile(rf"#\s*near-miss:\s*{_CODE}\s*$")
_RELATED = re.compile(rf"#\s*related:\s*{_CODE} line (\d+) ->\s*(\d+(?:,\s*\d+)*)\s*$")
_TEXT = re.compile(rf"#\s*(message|help):\s*{_CODE} line (\d+): (.+?)\s*$")
_KEYWORDS = ("expect", "near-miss", "related", "message", "help")

_MONEY_BREAKDOWN = re.compile(r"\([^()]*?\S+ \$\d[\d.]*(?: \+ \S+ \$\d[\d.]*)*")
_TIME_BREAKDOWN = re.compile(r"\([^()]*?\S+ \d[\d.]*m?s(?: \+ \S+ \d[\d.]*m?s)*\)")


@dataclass(frozen=True)
class Fixture:
    path: pathlib.Path
    expected: tuple[tuple[str, frozenset[int]], ...]  # (code, acceptable lines), one per diagnostic
    none: bool
    near_misses: frozenset[str]
    related: tuple[tuple[str, int, frozenset[int]], ...] = ()
    texts: tuple[tuple[str, str, int, str], ...] = field(default=())  # (message|help, code, line, text)

    @property
    def codes(self) -> set[str]:
        return {code for code, _ in self.expected}


@functools.cache
def fixture(path: pathlib.Path) -> Fixture:
    """The header of a fixture: its leading comment block."""
    expected, none, near, related, texts = [], False, set(), [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if match := _EXPECT.match(line):
            if match.group(1):
                none = True
            else:
                lines = frozenset(int(n) for n in match.group(3).split(" or "))
                expected.append((match.group(2), lines))
        elif match := _NEAR_MISS.match(line):
            near.add(match.group(1))
        elif match := _RELATED.match(line):
            related.append((match.group(1), int(match.group(2)),
                            frozenset(int(n) for n in match.group(3).split(","))))
        elif match := _TEXT.match(line):
            texts.append((match.group(1), match.group(2), int(match.group(3)), match.group(4)))
        else:
            assert not line.lstrip("# ").startswith(_KEYWORDS), f"{path.name}: malformed header line {line!r}"
    assert none != bool(expected), f"{path.name}: give `# expect: none` or at least one `# expect: CODE line N`"
    codes = {code for code, _ in expected}
    assert not near & codes, f"{path.name}: a near miss for {sorted(near & codes)} expects it too"
    for code, line, _ in related:
        assert any(c == code and line in lines for c, lines in expected), f"{path.name}: related for no expect"
    for _, code, line, _ in texts:
        assert any(c == code and line in lines for c, lines in expected), f"{path.name}: text for no expect"
    return Fixture(path, tuple(expected), none, frozenset(near), tuple(related), tuple(texts))


@functools.cache
def checked(path: pathlib.Path) -> Checked:
    return check(*read_top(str(path)))


def matches(found: set[tuple[str, int]], expected: tuple[tuple[str, frozenset[int]], ...]) -> bool:
    """Whether each found (code, line) pairs off with its own expectation, none left over."""
    if len(found) != len(expected):
        return False

    def assign(remaining: list[tuple[str, int]], free: tuple[tuple[str, frozenset[int]], ...]) -> bool:
        if not remaining:
            return True
        code, line = remaining[0]
        for k, (want, lines) in enumerate(free):
            if want == code and line in lines and assign(remaining[1:], free[:k] + free[k + 1:]):
                return True
        return False

    return assign(sorted(found), expected)


def at(diagnostics, code: str, line: int) -> list:
    return [d for d in diagnostics if d.code == code and d.span.line == line]


def shown(diagnostics) -> list[tuple[str, int, str]]:
    return [(d.code, d.span.line, d.message) for d in diagnostics]


# ---- the fixtures ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_reports_exactly_what_it_expects(path: pathlib.Path) -> None:
    want = fixture(path)
    diagnostics = checked(path).diagnostics
    found = {(d.code, d.span.line) for d in diagnostics}
    assert matches(found, want.expected), (
        f"expected {sorted((c, sorted(ls)) for c, ls in want.expected)}, got {shown(diagnostics)}")
    for d in diagnostics:
        assert pathlib.Path(d.span.file).resolve() == path.resolve(), (d.code, d.span.file)
        assert d.message.strip()


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_related_locations_and_texts(path: pathlib.Path) -> None:
    want = fixture(path)
    diagnostics = checked(path).diagnostics
    for code, line, lines in want.related:
        got = [frozenset(r.span.line for r in d.related) for d in at(diagnostics, code, line)]
        assert lines in got, f"{code} line {line}: related lines {[sorted(g) for g in got]}, not {sorted(lines)}"
    for kind, code, line, text in want.texts:
        got = [getattr(d, kind) or "" for d in at(diagnostics, code, line)]
        assert any(text in g for g in got), f"{code} line {line}: no {kind} contains {text!r}: {got}"


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
        assert not any(line.startswith("# expect:") for line in path.read_text().splitlines()), path.name
