"""`policyc fmt` and `policylang.format_source` (docs/cli.md, `policyc fmt`).

The formatter must never change meaning and must be idempotent: checked on every `.route` file
of the repository that parses, on every shared conformance case (read in place), and on random
policies of the property-test generators, with random comments sprinkled in. Meaning is the
parse tree and the checked policy (spans aside), the lint findings, and the decisions on random
requests; every comment must survive, in the same order. The layout rules of 9.1 are pinned by
small examples, and the command line by its exit statuses and output.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import subprocess
import sys
from typing import Any

import policygen as gen
import policygen_keyed as keyed
import policygen_measured as measured
import pytest
import strategies as requests
from click.testing import CliRunner
from conftest import ROOT, conformance_files, conformance_params, examples, needs_conformance
from hypothesis import given
from hypothesis import strategies as st

import policylang
from policylang.backends.python.support import RequestError
from policylang.cli import main
from policylang.ir.node import Node
from policylang.passes.pipeline import recursion_headroom
from policylang.policy import check_text
from policylang.source import Source
from policylang.syntax.grammar import parser
from policylang.syntax.parser import parse

REPOSITORY_FILES = sorted(p for p in ROOT.rglob("*.route") if ".venv" not in p.parts and ".git" not in p.parts)
FORMATTED = sorted([*ROOT.glob("examples/*.route"), *ROOT.glob("stdlib/*.route")])


SPANS_ASIDE = {"span", "route_span", "source_sha256"}
"""What may differ between a policy and its formatted text: where things are, and the hash."""


def shape(value: Any) -> Any:
    """A node as nested tuples without its spans: what two trees must share to mean the same."""
    if isinstance(value, Node):
        return (type(value).__name__, tuple((k, shape(getattr(value, k)))
                                            for k in type(value).model_fields if k not in SPANS_ASIDE))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # the IR's Model, a pydantic dataclass
        return (type(value).__name__, tuple((f.name, shape(getattr(value, f.name)))
                                            for f in dataclasses.fields(value) if f.name not in SPANS_ASIDE))
    if isinstance(value, (tuple, list)):
        return tuple(shape(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, shape(v)) for k, v in value.items()))
    return value


def comments(text: str) -> list[str]:
    """The comments of a policy text in order: `#` to the end of the line, outside tokens."""
    found, end = [], 0
    for token in [*parser().lex(text), None]:
        gap = text[end: token.start_pos if token is not None else len(text)]
        found += [c.rstrip() for c in re.findall(r"#[^\r\n]*", gap)]
        end = token.end_pos if token is not None else end
    return found


def tree(text: str) -> Any:
    parsed, diagnostics = parse(Source("<t>", text))
    assert parsed is not None, diagnostics
    return shape(parsed)


def parses(path: pathlib.Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False
    return parse(Source(str(path), text))[0] is not None


def assert_faithful(text: str) -> str:
    """Format `text`, and check what never changes: the tree, the comments, idempotence."""
    out = policylang.format_source(text)
    assert policylang.format_source(out) == out, "formatting twice changed the text:\n" + out
    with recursion_headroom():  # shape() recurses as deep as the conditions nest
        assert tree(out) == tree(text.replace("\r\n", "\n")), "the parse tree changed:\n" + out
    assert comments(out) == comments(text), "a comment was lost, added or reordered:\n" + out
    assert not re.search(r"\n\n\n", out) and out.endswith("\n") and not out.endswith("\n\n")
    assert all(line == line.rstrip() for line in out.splitlines())
    return out


# ---- every file there is ---------------------------------------------------------------------


def decodes(path: pathlib.Path) -> bool:
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("path", [p for p in REPOSITORY_FILES if decodes(p)],  # parsing waits for the test
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_repository_files_format_faithfully(path: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8")
    if parse(Source(str(path), text))[0] is None:  # a fixture of syntax errors: fmt refuses it
        with pytest.raises(policylang.PolicyError):
            policylang.format_source(text)
        return
    assert_faithful(text)


@pytest.mark.parametrize("path", conformance_params(), ids=lambda p: p.name)
def test_conformance_cases_format_faithfully(path: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8")
    if parse(Source(str(path), text))[0] is None:
        with pytest.raises(policylang.PolicyError):
            policylang.format_source(text)
        return
    assert_faithful(text)


def test_there_are_files_of_every_kind() -> None:
    assert len(FORMATTED) >= 6
    assert sum(parses(p) for p in REPOSITORY_FILES) >= 50


@needs_conformance
def test_the_shared_conformance_cases_are_read() -> None:
    assert len(conformance_files()) >= 10


@pytest.mark.parametrize("path", FORMATTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_and_stdlib_are_committed_formatted(path: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert policylang.format_source(text) == text, f"run policyc fmt {path.relative_to(ROOT)}"


@pytest.mark.parametrize("path", [*FORMATTED, *(p for p in conformance_files() if parses(p))],
                         ids=lambda p: p.name)
def test_the_checked_policy_and_its_findings_do_not_change(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8")
    # next to the original, so that relative imports resolve the same way
    before = check_text(text, str(path))
    after = check_text(policylang.format_source(text), str(path))
    assert findings(after) == findings(before)
    assert shape(after.policy) == shape(before.policy)


def findings(checked: Any) -> list[tuple[str, str]]:
    """Each finding's code and the words it points at (`rule r3`, `default ->`, `route {`).
    Messages and witnesses are left out: a message quotes the source, whose layout fmt changes,
    and of several witnesses the solver may find any (checking one text twice can differ)."""
    found = []
    for d in checked.diagnostics:
        words = checked.sources[d.span.file].text[d.span.start:].split()[:2]
        found.append((d.code, " ".join(words)))
    return sorted(found)


# ---- random policies ------------------------------------------------------------------------------

_TOKEN_GAP = re.compile(r"(?<=[\w)}\"])( )(?=[\w({$\"-])")


@st.composite
def commented(draw, text: str) -> str:
    """The text with comments put in at random: at the ends of lines, on lines of their own
    (blank lines around some), and in the middle of constructs (where a space was)."""
    lines = text.splitlines()
    out = []
    for n, line in enumerate(lines):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            out.append(f"# own line {n}")
        elif choice == 1:
            out += ["", f"  # indented, after a blank line {n}", ""]
        if draw(st.integers(0, 5)) == 0:
            spaces = [m.start() for m in _TOKEN_GAP.finditer(line)]
            if spaces:
                at = draw(st.sampled_from(spaces))
                line = f"{line[:at]} # inside {n}\n  {line[at + 1:]}"
        out.append(line + (f"   # end {n}" if choice in (2, 3) else ""))
    return "\n".join(out) + "\n"


def same_meaning(text: str, data: st.DataObject) -> None:
    """Formatting keeps the checked policy, the lint findings and every decision."""
    out = assert_faithful(text)
    before, after = check_text(text), check_text(out)
    assert findings(after) == findings(before)
    assert before.policy is not None and after.policy is not None
    assert shape(after.policy) == shape(before.policy)
    old, new = policylang.Policy(before), policylang.Policy(after)
    for _ in range(5):
        request = data.draw(requests.valid_requests(before.policy))
        assert decide(new, request) == decide(old, request), request


def decide(policy: policylang.Policy, request: dict[str, Any]) -> Any:
    try:
        decision = policy.decide(request, engine="interpreted")
    except RequestError as exc:
        return ("error", exc.code, exc.signal)
    return (decision.rule, decision.model, decision.steps, decision.caps, decision.reject)


@examples(0.5)
@given(policy=gen.any_policies(extras=True), data=st.data())
def test_random_policies_keep_their_meaning(policy: gen.GeneratedPolicy, data: st.DataObject) -> None:
    same_meaning(policy.text, data)


@examples(0.5)
@given(policy=measured.measured_policies(extras=True), data=st.data())
def test_random_money_and_duration_policies_keep_their_meaning(policy: gen.GeneratedPolicy, data: st.DataObject) -> None:
    same_meaning(policy.text, data)


@examples(0.3)
@given(policy=gen.enum_keyed_policies(), data=st.data())
def test_random_tenant_policies_keep_their_meaning(policy: gen.GeneratedPolicy, data: st.DataObject) -> None:
    same_meaning(policy.text, data)


@examples(0.5)
@given(data=st.data())
def test_comments_anywhere_survive_in_order(data: st.DataObject) -> None:
    policy = data.draw(st.one_of(gen.any_policies(extras=True), measured.measured_policies()))
    text = data.draw(commented(policy.text))
    assert_faithful(text)


@examples(0.3)
@given(policy=st.one_of(keyed.box_policies(), keyed.keyed_policies()), data=st.data())
def test_random_box_and_keyed_policies_keep_their_meaning(policy: gen.GeneratedPolicy, data: st.DataObject) -> None:
    same_meaning(policy.text, data)


# ---- the layout of section 9.1 -----------------------------------------------------------------------

MESSY = """\
# a policy written in a hurry
policy   messy
import "std/signals"
threshold   low = 0.7 # the bar
threshold very_low=0.3
signal task : enum { classify , draft,legal_review , }
model  fast { id="f" tier=1 input_per_mtok=$0.435 output_per_mtok=$0.87
  context=1_000_000 max_output=4_000 latency=1s }
model big = fast { tier = 3, max_output = 8_000 }
model mid = fast { tier = 2 }
cascade up { fast->mid when confidence<low mid->big when confidence < very_low or not valid }
fallback fast->mid on unavailable , rate_limited
fallback mid -> big on unavailable



route {
  rule legal when task==legal_review->big with max_output=2_000
  rule quick when task == classify and input_tokens <= 8_000 -> fast
  default->up
}
test t { given { task = draft, input_tokens = 1_000 } outcome { confidence = 0.5 } expect fast by default then mid }
"""

TIDY = """\
# a policy written in a hurry
policy messy
import "std/signals"
threshold low      = 0.7  # the bar
threshold very_low = 0.3
signal task: enum {classify, draft, legal_review}
model fast {
  id              = "f"
  tier            = 1
  input_per_mtok  = $0.435
  output_per_mtok = $0.87
  context         = 1_000_000
  max_output      = 4_000
  latency         = 1s
}
model big = fast {
  tier       = 3
  max_output = 8_000
}
model mid = fast { tier = 2 }
cascade up {
  fast -> mid when confidence < low
  mid  -> big when confidence < very_low or not valid
}
fallback fast -> mid on unavailable, rate_limited
fallback mid  -> big on unavailable

route {
  rule legal when task == legal_review                       -> big with max_output = 2_000
  rule quick when task == classify and input_tokens <= 8_000 -> fast
  default -> up
}
test t {
  given {
    task         = draft
    input_tokens = 1_000
  }
  outcome { confidence = 0.5 }
  expect fast by default then mid
}
"""


def test_the_canonical_layout() -> None:
    assert policylang.format_source(MESSY) == TIDY
    assert policylang.format_source(TIDY) == TIDY


def test_literals_keep_their_written_form() -> None:
    text = ('policy p\nthreshold a = 8_000\nthreshold b = 1_000.250\nthreshold c = $0.50\n'
            'threshold d = 1_500ms\nthreshold e = -0.0\nthreshold f = - 3\nthreshold g = (7)\n'
            'route { rule r when a > 1 -> reject "a \\"quoted\\" # reason\\n" }\n')
    out = policylang.format_source(text)
    for written in ("8_000", "1_000.250", "$0.50", "1_500ms", "-0.0", "-3", "(7)",
                    '"a \\"quoted\\" # reason\\n"'):
        assert written in out, written


def test_parentheses_are_kept_and_redundant_flattening_is_the_parsers() -> None:
    text = "policy p\nsignal a: int\nsignal b: bool\nroute {\n  rule r when (a > 1 or b) and not (b) -> reject \"x\"\n  default -> reject \"y\"\n}\n"
    assert "when (a > 1 or b) and not (b)" in policylang.format_source(text)
    flattened = text.replace("(a > 1 or b) and not (b)", "(a > 1 or b) or b")
    assert "when a > 1 or b or b" in policylang.format_source(flattened)


def test_long_conditions_break_before_and_or_with_four_more_spaces() -> None:
    condition = " and ".join(f"signal_number_{n} > {n}" for n in range(6))
    signals = "".join(f"signal signal_number_{n}: int\n" for n in range(6))
    text = f"policy p\n{signals}budget cost <= $1 when {condition}\nroute {{\n  rule long when {condition} -> reject \"x\"\n  rule short when signal_number_0 > 1 -> reject \"y\"\n}}\n"
    out = assert_faithful(text)
    lines = out.splitlines()
    start = lines.index("route {")
    assert lines[start + 1] == "  rule long  when signal_number_0 > 0"
    assert lines[start + 2] == "      and signal_number_1 > 1"
    assert lines[start + 6].startswith("      and signal_number_5 > 5") and lines[start + 6].endswith('-> reject "x"')
    # the short rule's arrow is where the broken rule's last line puts it
    assert lines[start + 7].index("->") == lines[start + 6].index("->")
    assert "budget cost <= $1 when signal_number_0 > 0\n    and signal_number_1 > 1" in out
    assert all(len(line) <= 100 for line in lines)


def test_a_condition_in_its_own_parentheses_breaks_inside_them() -> None:
    condition = "(" + " or ".join(f"signal_number_{n} > {n}" for n in range(8)) + ")"
    signals = "".join(f"signal signal_number_{n}: int\n" for n in range(8))
    out = assert_faithful(f"policy p\n{signals}route {{\n  rule r when {condition} -> reject \"x\"\n}}\n")
    assert "  rule r when (signal_number_0 > 0\n      or signal_number_1 > 1" in out
    assert "or signal_number_7 > 7) -> reject" in out


def test_rules_align_at_when_and_at_the_arrow_the_default_stands_apart() -> None:
    text = 'policy p\nsignal a: int\nroute {\n rule x when a > 1 -> reject "1"\n rule longer_name when a > 100000 -> reject "2"\n default -> reject "3"\n}\n'
    assert policylang.format_source(text).splitlines()[3:6] == [
        '  rule x           when a > 1      -> reject "1"',
        '  rule longer_name when a > 100000 -> reject "2"',
        '  default -> reject "3"',
    ]


def test_at_most_one_blank_line_and_none_at_the_edges_of_a_block() -> None:
    text = 'policy p\n\n\n\nsignal a: int\nroute {\n\n\n  rule x when a > 1 -> reject "1"\n\n\n\n  rule y when a > 2 -> reject "2"\n\n}\n\n\n'
    assert policylang.format_source(text) == (
        'policy p\n\nsignal a: int\nroute {\n  rule x when a > 1 -> reject "1"\n\n'
        '  rule y when a > 2 -> reject "2"\n}\n')


COMMENTED = """\
policy p  # the header
# before a
signal a: int  # end of a
signal b: int in 0..10  # end of b
route {  # after the brace
  # before x
  rule x when a > 1 and # inside x
    b < 3 -> reject "1"
  rule y when a > 2 -> reject "2"  # end of y
  # last in the block
}  # after the block
# at the end
"""


def test_comments_stay_where_they_were() -> None:
    assert policylang.format_source(COMMENTED) == """\
policy p  # the header
# before a
signal a: int           # end of a
signal b: int in 0..10  # end of b
route {  # after the brace
  # before x
  # inside x
  rule x when a > 1 and b < 3 -> reject "1"
  rule y when a > 2           -> reject "2"  # end of y
  # last in the block
}  # after the block
# at the end
"""


def test_a_comment_inside_a_one_line_block_opens_it() -> None:
    text = "policy p\nsignal a: int\nmodel m = n { max_output = 5 # the cap\n}\ntest t { given { a = 1 # one\n } expect reject }\n"
    out = assert_faithful(text)
    assert "model m = n {\n  max_output = 5  # the cap\n}" in out
    assert "  given {\n    a = 1  # one\n  }" in out


def test_an_outcome_block_that_is_empty_is_kept() -> None:
    # `outcome {}` observes the defaults after every step; no outcome block observes nothing
    out = assert_faithful("policy p\ntest t { outcome { } expect m }\ntest u { expect m }\n")
    assert "outcome {}" in out and out.count("outcome") == 1


def test_windows_line_ends_become_newlines() -> None:
    assert policylang.format_source("policy p\r\nsignal a: int\r\n") == "policy p\nsignal a: int\n"


def test_a_text_that_does_not_parse_raises_with_its_diagnostics() -> None:
    with pytest.raises(policylang.PolicyError) as caught:
        policylang.format_source("policy p\nroute { rule when -> }\n", "bad.route")
    assert caught.value.diagnostics and all(d.code.startswith("E0") for d in caught.value.diagnostics)


@pytest.mark.parametrize("condition", [
    "(" * 300 + "a > 1" + ")" * 300,
    "not " * 999 + "a > 1",  # as deep as the parser allows
    "(" * 400 + "a > 1" + "".join(f" {'and' if n % 2 else 'or'} b)" for n in range(400)),
    "-(" * 490 + "a" + ")" * 490 + " > 1",
], ids=["parentheses", "nots", "and-or", "negations"])
def test_deep_nesting_and_hostile_strings_format(condition: str) -> None:
    out = assert_faithful(f'policy p\nsignal a: int\nsignal b: bool\nroute {{\n  rule r when {condition} -> reject "\\\\ # }} {{"\n}}\n')
    assert '-> reject "\\\\ # } {"' in out


# ---- the command line ----------------------------------------------------------------------------

UNFORMATTED = "policy p\nsignal a:int\nroute { rule r when a>1 -> reject \"x\" default -> reject \"y\" }\n"


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input)


def test_fmt_rewrites_files_that_change(write_route) -> None:
    messy, tidy = write_route(UNFORMATTED, "messy.route"), write_route(TIDY, "tidy.route")
    result = run("fmt", str(messy), str(tidy))
    assert result.exit_code == 0, result.output
    assert messy.read_text() == policylang.format_source(UNFORMATTED)
    assert tidy.read_text() == TIDY
    assert f"reformatted {messy}" in result.output and str(tidy) not in result.output
    assert "1 file reformatted, 1 file already formatted" in result.output


def test_fmt_check_exits_1_on_an_unformatted_file_and_0_on_a_formatted_one(write_route) -> None:
    messy, tidy = write_route(UNFORMATTED, "messy.route"), write_route(TIDY, "tidy.route")
    result = run("fmt", "--check", str(messy), str(tidy))
    assert result.exit_code == 1
    assert f"would reformat {messy}" in result.output
    assert messy.read_text() == UNFORMATTED, "--check changed the file"
    assert run("fmt", "--check", str(tidy)).exit_code == 0


def test_fmt_diff_prints_a_unified_diff_and_writes_nothing(write_route) -> None:
    messy = write_route(UNFORMATTED, "messy.route")
    result = run("fmt", "--diff", str(messy))
    assert result.exit_code == 0
    assert f"--- {messy}\n+++ {messy}\n" in result.stdout
    assert "-signal a:int\n" in result.stdout and "+signal a: int\n" in result.stdout
    assert messy.read_text() == UNFORMATTED
    assert run("fmt", "--diff", "--check", str(messy)).exit_code == 1


def test_fmt_reads_standard_input_and_writes_standard_output() -> None:
    result = run("fmt", "-", input=UNFORMATTED)
    assert result.exit_code == 0
    assert result.stdout == policylang.format_source(UNFORMATTED)
    assert run("fmt", "--check", "-", input=UNFORMATTED).exit_code == 1
    assert run("fmt", "--check", "-", input=TIDY).exit_code == 0


def test_fmt_leaves_a_file_with_a_syntax_error_untouched(write_route) -> None:
    broken = write_route("policy p\nroute { rule r when -> x }\n", "broken.route")
    tidy = write_route(UNFORMATTED, "fine.route")
    result = run("fmt", str(broken), str(tidy))
    assert result.exit_code == 1
    assert broken.read_text() == "policy p\nroute { rule r when -> x }\n"
    assert "error[E001]" in result.output and "broken.route:2:" in result.output
    assert tidy.read_text() == policylang.format_source(UNFORMATTED), "the other files are formatted"
    assert "could not be formatted" in result.output


def test_fmt_on_a_file_that_cannot_be_read_exits_2(tmp_path: pathlib.Path) -> None:
    result = run("fmt", str(tmp_path / "missing.route"))
    assert result.exit_code == 2 and "error: cannot read" in result.output and "Traceback" not in result.output


def test_fmt_check_passes_on_the_committed_examples_in_a_real_process() -> None:
    policyc = pathlib.Path(sys.executable).parent / "policyc"
    done = subprocess.run([str(policyc), "fmt", "--check", *map(str, FORMATTED)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(FORMATTED)} files already formatted" in done.stderr
