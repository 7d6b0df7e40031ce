"""Syntax, name and type diagnostics (E001-E008, E101-E112), driven by fixture files.

Each `tests/fixtures/diagnostics/*.route` file states what checking it must report in `#`
comments on (or pointing at) the lines they are about, so that inserting a line anywhere keeps
every expectation true. The format, shared with `tests/fixtures/analysis/` (its parser is here,
`read_expectations`, and `test_analysis_fixtures.py` imports it):

    rule long when tokns > 10 -> m2          # expect: E101
    rule bad when tokns > 0.5s -> m3         # expect: E101, E103
    # expect-next-line: E003
    rule too_big when n > 9 -> reject "n is too big
    fallback a -> b on unavailable           # expect-one-of: E307 (a-b)
    fallback b -> a on timeout               # expect-one-of: E307 (a-b)
    rule late when n > 5 -> m                # expect: W201 related: early, "n > 3 ->"
    rule token when n > 3 -> a               # expect: E301 message: "$0.050001", "budget $0.05"
    rule chat when task == chat -> w         # expect: E303 help: "input_tokens"

and, in the leading comment block of a fixture, for a file it imports:

    # expect: E107 in lib/cycle_b.route at "import \\"./cycle_a.route\\""

- `# expect: CODE[, CODE...]` at the end of a line: a diagnostic with each code at that line.
  The directive may follow other comment text, so a comment line can carry one too
  (`# caf\\xe9  # expect: E008`). One directive per line.
- `# expect-next-line: ...` alone on a line: the same, for the line below it. For lines that
  cannot end in a comment: after an unterminated string, a `#` is part of the string.
- `# expect-one-of: CODE [(LABEL)]` on each candidate line: exactly one diagnostic with that
  code on one of the lines marked with the same code and label (no label: all the unlabelled
  markers of that code in the file form one group). One-of markers take no attributes.
- Attributes follow their code, separated by spaces (commas separate codes and values):
  `related: REF, ...` the diagnostic's related locations, exactly; a REF is the name a line
  declares (`rule NAME`, `model NAME`, `cascade NAME`, `signal NAME`, ...), `default` for the
  route's default, or a quoted text found on exactly one line (code, not comments) of that file.
  `message: "TEXT", ...` / `help: "TEXT", ...` texts that its message / its help contains.
  Strings are in double quotes, with `\\"` and `\\\\` for a quote and a backslash.
- File-level statements, only in the leading comment block (the `#` lines before anything else):
  `# expect: none` (a near miss: nothing to report), `# near-miss: CODE[, CODE...]` (it must not
  report CODE), and `# expect: CODE[, ...] in FILE at "TEXT"` for a diagnostic in an imported file
  (FILE relative to the fixture's folder), at the one line of FILE whose code contains TEXT. The
  files under `lib/` carry no expectations of their own: several fixtures import one lib file and
  expect different things of it.

The parser is strict: a comment that starts like a directive (`# expect...`, `# near-miss...`,
the old `# related:`/`# message:`/`# help:` lines) but does not parse, a directive inside a
string, a name or text that does not pick out exactly one line, all fail the test.

The test checks the fixture with `analyze=False` and compares the set of (code, file, line) of its
E0xx/E1xx diagnostics with the expected set exactly: nothing missing, nothing extra; then the
related locations, message and help texts the expectations state. Warnings and the analyses of
sections 6-7 (W2xx, E2xx, E3xx) are ignored, so valid fixtures stay valid as those checks arrive;
keep them boring anyway (a default, no overlapping rules). The codes come from the registry
(`policylang/codes.py`, `Code.is_front_end`), and every diagnostic of a code it flags `help`
must carry a help line.

Files under `fixtures/diagnostics/lib/` are imported by fixtures and are not fixtures.
Fixture names start with the code they are about (`e104_...`) or `ok_` for near misses.
"""

from __future__ import annotations

import functools
import json
import pathlib
import re
from collections.abc import Iterable, Sequence
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

FRONT_END = frozenset(c.code for c in CODES.values() if c.is_front_end) - {"E009"}
"""What these fixtures are about. E009 is a file that cannot be read, which no fixture can be
(tested in test_cli.py)."""
HELPED = frozenset(c.code for c in CODES.values() if c.help)


# ---- the expectation format -------------------------------------------------------------------

_CODE = re.compile(r"[EW]\d{3}$")
_DIRECTIVE = re.compile(r"#\s*(expect[\w-]*|near-miss[\w-]*)\s*(:?)")
_OLD_FORM = re.compile(r"#\s*(related|message|help)\s*:")
_TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<word>[A-Za-z0-9_][\w./-]*)|(?P<punct>[,:()]))')
_DECLARATION = r"\b(?:rule|model|cascade|signal|outcome|threshold|invariant|test)\s+{}(?![\w.])"
_ATTRIBUTES = ("related", "message", "help")


class MalformedExpectation(AssertionError):
    """A fixture's expectation comment that does not parse or does not pick out a line."""


@dataclass(frozen=True)
class Expected:
    """One expected diagnostic."""

    code: str
    file: str  # posix path relative to the fixture folder
    lines: frozenset[int]  # its 1-based line, or the candidates of an expect-one-of group
    related: frozenset[tuple[str, int]] | None = None  # (file, line) of each related location
    messages: tuple[str, ...] = ()
    helps: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = " or ".join(str(n) for n in sorted(self.lines))
        return f"{self.code} {self.file}:{where}"


@dataclass(frozen=True)
class Expectations:
    path: pathlib.Path
    expected: tuple[Expected, ...]
    none: bool
    near_misses: frozenset[str]

    @property
    def codes(self) -> set[str]:
        return {e.code for e in self.expected}


def split_comment(line: str) -> tuple[str, str | None]:
    """The line's code and its comment (None when there is none): the first `#` outside a string."""
    in_string, k = False, 0
    while k < len(line):
        char = line[k]
        if in_string and char == "\\":
            k += 2
            continue
        if char == '"':
            in_string = not in_string
        elif char == "#" and not in_string:
            return line[:k], line[k:]
        k += 1
    return line, None


def source_lines(path: pathlib.Path) -> list[str]:
    # bytes: an E008 fixture is not UTF-8
    return path.read_bytes().decode("utf-8", errors="replace").splitlines()


class _Tokens:
    def __init__(self, text: str, fail) -> None:
        self.fail, self.items, pos, text = fail, [], 0, text.rstrip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                fail(f"cannot read {text[pos:]!r}")
            self.items.append((match.lastgroup, match.group(match.lastgroup)))
            pos = match.end()
        self.pos = 0

    def peek(self, ahead: int = 0) -> tuple[str, str] | None:
        k = self.pos + ahead
        return self.items[k] if k < len(self.items) else None

    def at(self, text: str, ahead: int = 0) -> bool:
        item = self.peek(ahead)
        return item is not None and item[0] != "string" and item[1] == text

    def at_code(self, ahead: int = 0) -> bool:
        item = self.peek(ahead)
        return item is not None and item[0] == "word" and bool(_CODE.match(item[1]))

    def take(self, kind: str, what: str) -> str:
        item = self.peek()
        if item is None or item[0] != kind or (kind == "punct" and item[1] != what):
            self.fail(f"expected {what}, found {item[1] if item else 'the end'!r}")
        self.pos += 1
        return item[1] if kind != "string" else re.sub(r"\\(.)", r"\1", item[1][1:-1])

    def code(self) -> str:
        if not self.at_code():
            self.fail(f"expected a code like E101, found {self.peek()[1] if self.peek() else 'the end'!r}")
        self.pos += 1
        return self.items[self.pos - 1][1]

    def done(self) -> bool:
        return self.pos == len(self.items)


def _entries(tokens: _Tokens) -> list[tuple[str, dict[str, list[tuple[str, str]]]]]:
    """CODE attribute* (, CODE attribute*)*; an attribute is `KEY: VALUE, ...`."""
    entries = []
    while True:
        code, attributes = tokens.code(), {}
        while tokens.peek() and tokens.peek()[0] == "word" and tokens.at(":", 1):
            key = tokens.take("word", "an attribute")
            if key not in _ATTRIBUTES:
                tokens.fail(f"unknown attribute {key!r} (related, message, help)")
            if key in attributes:
                tokens.fail(f"{key} given twice for {code}")
            tokens.take("punct", ":")
            values = [_value(tokens, key)]
            while tokens.at(",") and not tokens.at_code(1):
                tokens.take("punct", ",")
                values.append(_value(tokens, key))
            attributes[key] = values
        entries.append((code, attributes))
        if not tokens.at(","):
            return entries
        tokens.take("punct", ",")


def _value(tokens: _Tokens, key: str) -> tuple[str, str]:
    item = tokens.peek()
    if item is not None and item[0] == "string":
        return "text", tokens.take("string", "a string")
    if key == "related" and item is not None and item[0] == "word":
        return "name", tokens.take("word", "a name")
    tokens.fail(f"{key}: expected {'a name or ' if key == 'related' else ''}a quoted text")


def _find_line(lines: list[str], ref: tuple[str, str], fail) -> int:
    """The 1-based line a name or a text picks out; exactly one."""
    kind, value = ref
    code = [split_comment(line)[0] for line in lines]
    if kind == "text":
        hits = [n for n, text in enumerate(code, 1) if value in text]
    elif value == "default":
        hits = [n for n, text in enumerate(code, 1) if re.match(r"\s*default\b", text)]
    else:
        pattern = re.compile(_DECLARATION.format(re.escape(value)))
        hits = [n for n, text in enumerate(code, 1) if pattern.search(text)]
    if len(hits) != 1:
        shown = f'"{value}"' if kind == "text" else value
        fail(f"{shown} picks out {len(hits)} lines {hits}, not one")
    return hits[0]


def relative(file: str, folder: pathlib.Path = DIAGNOSTICS) -> str:
    """A diagnostic's file, relative to the fixture folder (absolute when outside it)."""
    path = pathlib.Path(file).resolve()
    try:
        return path.relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@functools.cache
def read_expectations(path: pathlib.Path, folder: pathlib.Path) -> Expectations:
    """The expectations a fixture states (see the module docstring); MalformedExpectation if any
    directive is malformed."""
    lines = source_lines(path)
    name = relative(str(path), folder)
    exact: list[tuple[str, str, int, dict, int]] = []  # (code, file, line, attributes, where)
    groups: dict[tuple[str, str | None], list[int]] = {}
    none, near, header = False, set(), True

    for number, line in enumerate(lines, 1):
        def fail(why: str, number: int = number) -> None:
            raise MalformedExpectation(f"{name}:{number}: {why}: {lines[number - 1].strip()!r}")

        header = header and line.startswith("#")
        code, comment = split_comment(line)
        if _DIRECTIVE.search(code):
            fail("an expectation inside a string is no comment; put `# expect-next-line:` above the line")
        if comment is None:
            continue
        whole = not code.strip()
        if whole and _OLD_FORM.match(comment):
            fail("related, message and help are attributes of their `# expect:` now")
        directive = _DIRECTIVE.search(comment)
        if directive is None:
            continue
        kind, colon = directive.group(1), directive.group(2)
        alone = whole and directive.start() == 0
        if kind not in ("expect", "expect-next-line", "expect-one-of", "near-miss"):
            fail(f"unknown directive `{kind}` (expect, expect-next-line, expect-one-of, near-miss)")
        if not colon:
            fail(f"`{kind}` needs a ':'")
        tokens = _Tokens(comment[directive.end():], fail)
        if kind == "expect" and tokens.at("none") and tokens.peek(1) is None:
            if not (alone and header):
                fail("`# expect: none` belongs to the leading comment block")
            none = True
        elif kind == "near-miss":
            if not (alone and header):
                fail("`# near-miss:` belongs to the leading comment block")
            near.add(tokens.code())
            while tokens.at(","):
                tokens.take("punct", ",")
                near.add(tokens.code())
            if not tokens.done():
                fail("expected a code or the end")
        elif kind == "expect" and alone:
            entries = _entries(tokens)
            if not (tokens.at("in") and header):
                fail("put `# expect:` at the end of the reported line, `# expect-next-line:` above it, "
                     "or `# expect: CODE in FILE at \"TEXT\"` in the leading comment block")
            tokens.take("word", "in")
            target = tokens.take("word", "a file")
            if not tokens.at("at"):
                fail('expected `at "TEXT"` after the file')
            tokens.take("word", "at")
            text = tokens.take("string", 'a quoted text')
            if not tokens.done():
                fail("unexpected text after the quoted text")
            other = folder / target
            if not other.is_file():
                fail(f"no file {target} in {folder.name}")
            target_lines = source_lines(other)
            at_line = _find_line(target_lines, ("text", text), fail)
            for code_, attributes in entries:
                exact.append((code_, relative(str(other), folder), at_line, attributes, number))
        elif kind in ("expect", "expect-next-line"):
            if kind == "expect-next-line":
                if not alone:
                    fail("`# expect-next-line:` stands alone on the line above the reported one")
                if number == len(lines) or not lines[number].strip() or _DIRECTIVE.match(lines[number].strip()):
                    fail("`# expect-next-line:` needs a line of policy below it")
            target = number + (kind == "expect-next-line")
            entries = _entries(tokens)
            if not tokens.done():
                fail(f"unexpected {tokens.peek()[1]!r}")
            for code_, attributes in entries:
                exact.append((code_, name, target, attributes, number))
        elif kind == "expect-one-of":
            if alone:
                fail("`# expect-one-of:` goes at the end of each candidate line")
            while True:
                code_, label = tokens.code(), None
                if tokens.at("("):
                    tokens.take("punct", "(")
                    label = tokens.take("word", "a group label")
                    tokens.take("punct", ")")
                if number in groups.setdefault((code_, label), []):
                    fail(f"{code_} twice in one group on one line")
                groups[(code_, label)].append(number)
                if not tokens.at(","):
                    break
                tokens.take("punct", ",")
            if not tokens.done():
                fail(f"unexpected {tokens.peek()[1]!r} (one-of markers take no attributes)")

    expected, seen = [], set()
    for code_, file, line, attributes, number in exact:
        def fail(why: str, number: int = number) -> None:
            raise MalformedExpectation(f"{name}:{number}: {why}: {lines[number - 1].strip()!r}")

        if (code_, file, line) in seen:
            fail(f"{code_} expected twice at {file}:{line}")
        seen.add((code_, file, line))
        related = None
        if "related" in attributes:
            file_lines = lines if file == name else source_lines(folder / file)
            related = frozenset((file, _find_line(file_lines, ref, fail)) for ref in attributes["related"])
            if len(related) != len(attributes["related"]):
                fail("two related references pick out one line")
        expected.append(Expected(code_, file, frozenset({line}), related,
                                 tuple(v for _, v in attributes.get("message", ())),
                                 tuple(v for _, v in attributes.get("help", ()))))
    for (code_, label), candidates in groups.items():
        if len(candidates) < 2:
            raise MalformedExpectation(f"{name}:{candidates[0]}: a one-of group of one line; use `# expect:`")
        expected.append(Expected(code_, name, frozenset(candidates)))

    if none == bool(expected):
        raise MalformedExpectation(f"{name}: give `# expect: none` or at least one expectation")
    codes = {e.code for e in expected}
    if near & codes:
        raise MalformedExpectation(f"{name}: a near miss for {sorted(near & codes)} expects it too")
    return Expectations(path, tuple(expected), none, frozenset(near))


def directives(path: pathlib.Path) -> list[int]:
    """The lines of a file that carry anything like an expectation directive."""
    found = []
    for number, line in enumerate(source_lines(path), 1):
        code, comment = split_comment(line)
        if _DIRECTIVE.search(code) or (comment and (_DIRECTIVE.search(comment) or _OLD_FORM.match(comment))):
            found.append(number)
    return found


def matches(found: Iterable[tuple[str, str, int]], expected: Sequence[Expected]) -> bool:
    """Whether each found (code, file, line) pairs off with its own expectation, none left over."""
    found = sorted(set(found))
    if len(found) != len(expected):
        return False

    def assign(remaining: list[tuple[str, str, int]], free: tuple[Expected, ...]) -> bool:
        if not remaining:
            return True
        code, file, line = remaining[0]
        for k, want in enumerate(free):
            if (want.code, want.file) == (code, file) and line in want.lines \
                    and assign(remaining[1:], free[:k] + free[k + 1:]):
                return True
        return False

    return assign(found, tuple(expected))


def unmet_attributes(diagnostics, expected: Sequence[Expected], folder: pathlib.Path) -> list[str]:
    """What the diagnostics at each expectation's line lack of its related, message and help."""
    problems = []
    for want in expected:
        if len(want.lines) != 1:
            continue
        (line,) = want.lines
        here = [d for d in diagnostics
                if d.code == want.code and d.span.line == line and relative(d.span.file, folder) == want.file]
        if want.related is not None:
            got = [frozenset((relative(r.span.file, folder), r.span.line) for r in d.related) for d in here]
            if want.related not in got:
                problems.append(f"{want}: related {[sorted(g) for g in got]}, not {sorted(want.related)}")
        for kind, texts in (("message", want.messages), ("help", want.helps)):
            got = [getattr(d, kind) or "" for d in here]
            problems += [f"{want}: no {kind} contains {text!r}: {got}" for text in texts
                         if not any(text in g for g in got)]
    return problems


def shown(diagnostics) -> list[tuple[str, str, int, str]]:
    return [(d.code, pathlib.Path(d.span.file).name, d.span.line, d.message) for d in diagnostics]


def insert_near_top(path: pathlib.Path, into: pathlib.Path) -> tuple[pathlib.Path, int]:
    """A copy of the fixture in `into` with a blank line and a comment line inserted after its
    `policy` line; and the number of the first line that moved."""
    lines = path.read_bytes().split(b"\n")
    after = next(k for k, line in enumerate(lines, 1) if line.startswith(b"policy "))
    lines[after:after] = [b"", b"# a line inserted by the test: the expectations still hold"]
    copy = into / path.name
    copy.write_bytes(b"\n".join(lines))
    return copy, after + 1


# ---- checking the fixtures --------------------------------------------------------------------


def expectations(path: pathlib.Path, folder: pathlib.Path = DIAGNOSTICS) -> Expectations:
    return read_expectations(path, folder)


def check_file(path: pathlib.Path) -> Checked:
    return check(*read_top(str(path)), analyze=False)


def front_end(checked: Checked, folder: pathlib.Path = DIAGNOSTICS) -> set[tuple[str, str, int]]:
    return {(d.code, relative(d.span.file, folder), d.span.line) for d in checked.diagnostics if d.code in FRONT_END}


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


def assert_fixture_holds(path: pathlib.Path, folder: pathlib.Path = DIAGNOSTICS) -> Checked:
    want = expectations(path, folder)
    checked = check_file(path)
    reported = [d for d in checked.diagnostics if d.code in FRONT_END]
    assert matches(front_end(checked, folder), want.expected), (
        f"expected {[str(e) for e in want.expected]}, got {shown(reported)}")
    assert unmet_attributes(reported, want.expected, folder) == []
    if want.expected:
        assert checked.policy is None
    else:
        assert checked.policy is not None
    for d in reported:
        assert d.severity.value == "error"
        assert d.message.strip()
        if d.code in HELPED:
            assert d.help and d.help.strip(), f"{d.code} line {d.span.line}: the registry says it has help"
    return checked


# ---- the fixtures ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_reports_exactly_what_it_expects(fixture: pathlib.Path) -> None:
    assert_fixture_holds(fixture)


@pytest.mark.parametrize("name", ["e003_unterminated_string.route", "e104_unknown_member.route"])
def test_expectations_survive_an_inserted_line(tmp_path, name: str) -> None:
    original = DIAGNOSTICS / name
    copy, moved = insert_near_top(original, tmp_path)
    before = {(e.code, n) for e in expectations(original).expected for n in e.lines}
    after = {(e.code, n) for e in expectations(copy, tmp_path).expected for n in e.lines}
    assert after == {(code, n + 2 if n >= moved else n) for code, n in before}  # absolute numbers would break
    assert_fixture_holds(copy, tmp_path)


def _with_expectations(header: str, r1: str, r2: str) -> str:
    """A small policy with `header` above it and `r1`, `r2` after its rules r1 and r2 (lines 8, 9)."""
    body = policy("route {", f"  rule r1 when n > 3 -> m2{r1}", f"  rule r2 when n > 5 -> m2{r2}", "  default -> m", "}")
    return (header + "\n" if header else "") + body


@pytest.mark.parametrize("header, r1, r2, why", [
    ("# expect: E101 line 8", "", "", "at the end of the reported line"),
    ("# related: W201 line 9 -> 8", "", "  # expect: W201", "attributes of their"),
    ("", "  # expect: E10", "", "expected a code"),
    ("", "  # expect E101", "", "needs a ':'"),
    ("", "  # expect-one: E101", "", "unknown directive"),
    ("", "  # expect: E101 relatd: r2", "", "unknown attribute"),
    ("", "", "  # expect: W201 related: r3", "picks out 0 lines"),
    ("", "", '  # expect: W201 related: "n >"', "picks out 2 lines"),
    ("", "  # expect: W201 message: $1", "", "cannot read"),
    ("", "  # expect: E101, E101", "", "expected twice"),
    ("", "  # expect-one-of: E101", "", "one-of group of one line"),
    ("", "  # expect-one-of: E101 message: \"x\"", "  # expect-one-of: E101", "take no attributes"),
    ("", "  # expect: none", "", "leading comment block"),
    ("", "  # near-miss: E101", "  # expect: E101", "leading comment block"),
    ("# expect: E101", "", "", "at the end of the reported line"),
    ("# expect: E101 in lib/nosuch.route at \"x\"", "", "", "no file lib/nosuch.route"),
    ("# expect: none", "  # expect: E101", "", "give `# expect: none`"),
    ("# near-miss: E101", "  # expect: E101", "", "a near miss for"),
    ("", ' -> reject "open # expect: E003', "", "inside a string"),
])
def test_malformed_expectations_fail(tmp_path, header: str, r1: str, r2: str, why: str) -> None:
    path = tmp_path / "fixture.route"
    path.write_text(_with_expectations(header, r1, r2), encoding="utf-8")
    with pytest.raises(MalformedExpectation, match=re.escape(why)):
        read_expectations(path, tmp_path)


def test_well_formed_expectations_read(tmp_path) -> None:
    text = policy("route {", "  rule r1 when n > 3 -> m2  # prose  # expect:E101,W201 related: r2, \"default ->\" "
                  'message: "a \\"b\\"", "c" help: "d"',
                  "  rule r2 when n > 5 -> m2  # expect-one-of: E102 (x)", "  # expect-next-line: W202, W205",
                  "  default -> m  # expect-one-of: E102 (x)", "}")
    path = tmp_path / "fixture.route"
    path.write_text("# near-miss: E301, E302\n" + text, encoding="utf-8")
    got = read_expectations(path, tmp_path)
    assert set(got.expected) == {
        Expected("E101", "fixture.route", frozenset({9})),
        Expected("W201", "fixture.route", frozenset({9}), frozenset({("fixture.route", 10), ("fixture.route", 12)}),
                 ('a "b"', "c"), ("d",)),
        Expected("W202", "fixture.route", frozenset({12})), Expected("W205", "fixture.route", frozenset({12})),
        Expected("E102", "fixture.route", frozenset({10, 12})),
    }
    assert got.near_misses == {"E301", "E302"} and not got.none


def test_every_syntax_name_and_type_code_has_a_fixture() -> None:
    covered = {code for fixture in FIXTURE_FILES for code in expectations(fixture).codes}
    assert FRONT_END - covered == set()
    assert FRONT_END >= {f"E00{i}" for i in range(1, 9)} | {f"E1{i:02d}" for i in range(1, 13)}


def test_there_are_near_misses() -> None:
    near_misses = [f for f in FIXTURE_FILES if expectations(f).none]
    assert len(near_misses) >= 10


def test_imported_files_are_not_fixtures() -> None:
    imported = sorted((DIAGNOSTICS / "lib").glob("*.route"))
    assert imported and not set(imported) & set(FIXTURE_FILES)
    for path in imported:  # what a fixture expects of a lib file, it says itself (`in FILE at`)
        assert directives(path) == [], path.name


@pytest.mark.parametrize(
    "fixture", [f for f in FIXTURE_FILES if expectations(f).expected], ids=lambda p: p.stem
)
def test_lint_json_agrees_and_exits_1(fixture: pathlib.Path) -> None:
    result = CliRunner().invoke(policyc, ["lint", "--format", "json", str(fixture)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    got = {(d["code"], relative(d["file"]), d["line"]) for d in payload["diagnostics"] if d["code"] in FRONT_END}
    assert matches(got, expectations(fixture).expected), got
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
    assert [d for d in checked.diagnostics if CODES[d.code].is_front_end] == []


def test_non_ascii_text_in_strings_and_comments_is_fine(write_route) -> None:
    text = policy("# café ünïcödé ✓", "route {", '  rule a when n > 3 -> reject "trop grand — désolé"', "  default -> m", "}")
    checked = check_text(write_route, text)
    assert [d.code for d in checked.diagnostics if CODES[d.code].is_front_end] == []


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
    assert [x.code for x in checked.diagnostics if CODES[x.code].is_front_end] == ["E104"]
