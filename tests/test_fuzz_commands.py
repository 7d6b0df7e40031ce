"""Every `policyc` command on generated hostile inputs: no traceback, ever, and an exit status in
{0, 1, 2} (issue 22).

The commands run in process through click's CliRunner (a subprocess per call would cost a
second each; tests/test_hostile.py runs the real script on hand-picked cases). An exception
that escapes a command, a status outside {0, 1, 2}, or "Traceback" anywhere in what it prints
fails the test with the command line and the input that did it.

What is generated, on top of tests/test_fuzz_front_end.py (which checks the checker alone):

- requests and traffic, as bytes: JSON objects of the policy's signals whose values are
  hostile (null, huge, non-finite, of the wrong sort, nested thousands deep), then a slip
  (truncated, a byte that is not UTF-8, a key twice, a stray quote or bracket, a bare line
  end); through `eval --request(s)`, `explain`, `diff --traffic` and `simulate` with both
  engines, which must also agree with each other (the same report, or the same refusal);
- CSV traffic with ragged rows, open quotes, bytes that are not UTF-8, through both engines;
- policies: the examples mutated token by token (test_fuzz_front_end's `mutants`), truncated
  at any byte, nested at and past the 1,000-level limit, with huge literals and bytes that are
  not UTF-8, through every command that reads a policy;
- importer configs: the test configs mutated (truncated, a value made NaN, huge, of the wrong
  sort or nested deep, bytes not UTF-8), through `import litellm` and `import portkey`.

The dev profile runs a few examples of each (under ~20 s in all); the ci profile, in .ci/run,
runs 200 of each and the parts marked slow.
"""

from __future__ import annotations

import json
import pathlib
import re
import traceback
from collections.abc import Sequence
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from conftest import example_files, examples
from policylang.cli import main
from test_fuzz_front_end import mutants

STATUSES = (0, 1, 2)

POLICY = """\
policy fuzzed

threshold unsure = 0.6

signal n: int in 0..100
signal share: float in 0.0..1.0 = 0.5
signal spend: money in $0..$5 = $1
signal wait: duration in 0s..60s = 1s
signal urgent: bool = false
signal task: enum {a, b, c} = a
signal input_tokens: int in 0..100_000 = 10
outcome confidence: float in 0.0..1.0 = 1.0

model cheap { id = "v/cheap", tier = 1, input_per_mtok = $1, output_per_mtok = $2, context = 200_000, max_output = 100, latency = 1s }
model big   { id = "v/big",   tier = 2, input_per_mtok = $5, output_per_mtok = $9, context = 200_000, max_output = 100, latency = 2s }

cascade up { cheap -> big when confidence < unsure }
fallback cheap -> big on unavailable

route {
  rule urgent_big when urgent and not (task == c) -> big
  rule costly     when spend > $2 or n * 2 > 150   -> reject "too costly"
  rule climbing   when task in {a, b} and share < 0.9 -> up
  default -> cheap
}

test urgent_goes_big {
  given { n = 1  urgent = true }
  expect big by urgent_big
}
"""

VARIANT = POLICY.replace("share < 0.9", "share < 0.8").replace("n * 2 > 150", "n > 70")
"""A second version of the policy, for `diff`: two of its conditions moved."""

SIGNALS = ("n", "share", "spend", "wait", "urgent", "task", "input_tokens")


def policyc(args: Sequence[str], input: bytes | None = None) -> Result:
    """Run one command in process; fail on an escaped exception, a traceback in its output or
    a status outside {0, 1, 2}."""
    result = CliRunner().invoke(main, list(args), input=input)
    shown = " ".join(a if len(a) < 80 else a[:60] + "..." for a in args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"policyc {shown} raised {result.exception!r}:\n"
                             + "".join(traceback.format_exception(*result.exc_info))[-4000:])  # type: ignore[misc]
    output = result.stdout_bytes + result.stderr_bytes
    assert b"Traceback" not in output, f"policyc {shown}:\n{output[-3000:]!r}"
    assert result.exit_code in STATUSES, f"policyc {shown} exited {result.exit_code}:\n{output[-3000:]!r}"
    return result


@pytest.fixture(scope="module")
def policies(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    folder = tmp_path_factory.mktemp("policies")
    (folder / "fuzzed.route").write_text(POLICY, encoding="utf-8")
    (folder / "variant.route").write_text(VARIANT, encoding="utf-8")
    assert policyc(["lint", str(folder / "fuzzed.route")]).exit_code == 0
    return folder / "fuzzed.route", folder / "variant.route"


# ---- hostile values, requests and traffic ---------------------------------------------------------

NUMBERS = ("0", "-0", "1", "-1", "99", "101", "0.5", "1e308", "-1e308", "1e309", "-1E400", "1e-400", "NaN",
           "Infinity", "-Infinity", "1" + "0" * 400, "1" + "0" * 5000, "0.1e1", "1.0", "2.5e-3")
SCALARS = ("null", "true", "false", '"a"', '"c"', '""', '"\\u0000"', '"\\ud800"', '"a\\"b"', *NUMBERS)


@st.composite
def values(draw: st.DrawFn) -> str:
    """A JSON value's text, hostile: a scalar of any sort, or one nested in lists or objects,
    sometimes thousands deep."""
    text = draw(st.sampled_from(SCALARS))
    depth = draw(st.sampled_from((0, 0, 0, 1, 2, 5, 999, 3000)))
    for _ in range(depth if depth < 50 else 1):
        text = draw(st.sampled_from(("[{}]", '{{"k": {}}}', "[{}, 1]"))).format(text)
    if depth >= 50:
        text = "[" * depth + text + "]" * depth
    return text


@st.composite
def request_lines(draw: st.DrawFn) -> bytes:
    """One line of a requests file: an object of some signals (and maybe `@outcomes`,
    `@output_tokens`), each value hostile or plain, then perhaps a slip."""
    keys = draw(st.lists(st.sampled_from((*SIGNALS, "unknown", "@outcomes", "@output_tokens")), max_size=5))
    parts = []
    for key in keys:
        if key == "@outcomes":
            value = "[" + ", ".join(f'{{"confidence": {v}}}' for v in draw(st.lists(values(), max_size=2))) + "]"
            value = draw(st.sampled_from((value, "[]", "{}", '"x"', "[1]", '[{"confidence": 0.1, "confidence": 0.9}]')))
        else:
            value = draw(st.one_of(values(), st.sampled_from(("1", "0.5", '"b"', "true"))))
        parts.append(f"{json.dumps(key)}: {value}")
    line = ("{" + ", ".join(parts) + "}").encode("utf-8")
    slip = draw(st.integers(0, 7))
    at = draw(st.integers(0, len(line)))
    if slip == 1:
        line = line[:at]  # truncated
    elif slip == 2:
        line = line[:at] + draw(st.sampled_from((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x1e"))) + line[at:]
    elif slip == 3:
        line = line[:at] + draw(st.sampled_from((b'"', b"{", b"]", b",", b"\r", b":"))) + line[at:]
    elif slip == 4 and parts:
        line = line[:-1] + b", " + parts[0].encode("utf-8") + b"}"  # a key twice
    elif slip == 5:
        line = draw(st.sampled_from((b"[]", b"null", b'"x"', b"1", b"\xef\xbb\xbf{}", b" ", b"{}")))
    return line


@st.composite
def traffic(draw: st.DrawFn) -> bytes:
    """A JSON lines file of a few hostile lines, perhaps cut short."""
    body = b"\n".join(draw(st.lists(request_lines(), min_size=1, max_size=6)))
    return body if draw(st.booleans()) else body + b"\n"


def _simulate_both(policy: pathlib.Path, path: pathlib.Path) -> None:
    """Both engines: each without a traceback, and the same report or the same refusal."""
    answers = []
    for engine in ("duckdb", "python"):
        result = policyc(["simulate", str(policy), str(path), "--engine", engine, "--format", "json"])
        if result.exit_code == 2:
            answers.append(("refused", result.stderr))
        else:
            report = json.loads(result.stdout)
            report.pop("engine")
            answers.append(("report", report))
    assert answers[0] == answers[1], path.read_bytes()[:2000]


@examples(0.5)
@given(data=traffic())
def test_every_command_that_reads_requests_survives_hostile_traffic(policies, tmp_path_factory, data: bytes) -> None:
    policy, variant = policies
    path = tmp_path_factory.mktemp("traffic") / "traffic.jsonl"
    path.write_bytes(data)
    lines = [line for line in data.split(b"\n") if line.strip(b" \t\r")]
    evaluated = policyc(["eval", str(policy), "--requests", str(path)])
    assert len(evaluated.stdout.splitlines()) == len(lines) or b"\r" in data  # one answer per line, whatever it holds
    policyc(["diff", str(policy), str(variant), "--traffic", str(path), "--format", "json"])
    _simulate_both(policy, path)
    for line in lines[:2]:
        request = line.decode("utf-8", "surrogateescape")  # as a shell hands Python an argument
        for engine in ("compiled", "interpreted"):
            policyc(["eval", str(policy), "--request", request, "--engine", engine])
        policyc(["explain", str(policy), "--request", request, "--all"])
        policyc(["explain", str(policy), "--request", request, "--format", "json"])


CELLS = ("", "a", "b", "1", "-1", "0.5", "1e309", "NaN", "true", "x y", '"q"', '"open', 'a"b', "\xff", "1" + "0" * 400,
         '[{"confidence": 0.1}]', '[{"confidence": NaN}]', '[{"confidence": 1, "confidence": 2}]', "[" * 2000)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A CSV file of traffic: a header of signal names (perhaps one twice, perhaps `@outcomes`),
    rows of hostile cells, some ragged, quoted or not, perhaps cut short."""
    header = draw(st.lists(st.sampled_from((*SIGNALS, "@outcomes", "unknown")), min_size=1, max_size=5))
    rows = [",".join(header)]
    for _ in range(draw(st.integers(0, 5))):
        width = len(header) + draw(st.sampled_from((0, 0, 0, -1, 1)))
        cells = []
        for _ in range(max(width, 0)):
            cell = draw(st.sampled_from(CELLS))
            quoted = draw(st.booleans()) or "," in cell or '"' in cell
            cells.append('"' + cell.replace('"', '""') + '"' if quoted and draw(st.integers(0, 9)) else cell)
        rows.append(",".join(cells))
    text = draw(st.sampled_from(("\n", "\r\n"))).join(rows) + "\n"
    data = text.encode("utf-8", "surrogateescape").replace("\xff".encode("utf-8"), b"\xff")  # a byte, not U+00FF
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return data


@examples(0.5)
@given(data=csv_files())
def test_both_simulate_engines_agree_on_hostile_csv(policies, tmp_path_factory, data: bytes) -> None:
    policy, _ = policies
    path = tmp_path_factory.mktemp("csv") / "traffic.csv"
    path.write_bytes(data)
    _simulate_both(policy, path)


# ---- hostile policies -------------------------------------------------------------------------------


def _every_policy_command(path: pathlib.Path, tmp: pathlib.Path, other: pathlib.Path) -> None:
    """Every command that reads a policy, on `path`."""
    lint = policyc(["lint", str(path), "--format", "json"])
    policyc(["lint", str(path)])
    policyc(["fmt", "--check", str(path)])
    policyc(["fmt", "--diff", str(path)])
    policyc(["graph", str(path)])
    policyc(["test", str(path)])
    compiled = policyc(["compile", str(path), "-o", str(tmp / "out.py"), "--no-bytecode"])
    if lint.exit_code == 0:  # what lint admits, every command handles: nothing refused for depth
        assert compiled.exit_code == 0, compiled.output[-2000:]
    if compiled.exit_code != 0:
        return  # the commands below refuse a policy with errors as compile did (tested above)
    policyc(["compile", str(path), "--target", "sql"])
    for request in ('{"task": "a", "input_tokens": 5}', "{}", '{"n": 1e400}'):
        policyc(["eval", str(path), "--request", request, "--engine", "interpreted"])
        policyc(["explain", str(path), "--request", request, "--all"])
    policyc(["diff", str(other), str(path)])
    traffic = tmp / "traffic.jsonl"
    traffic.write_bytes(b'{"task": "a", "input_tokens": 5}\n{}\n{"n": NaN}\n')
    _simulate_both(path, traffic)


@examples(0.25)
@given(text=mutants())
def test_every_policy_command_survives_a_mutated_example(policies, tmp_path_factory, text: str) -> None:
    policy, _ = policies
    tmp = tmp_path_factory.mktemp("mutant")
    path = tmp / "mutant.route"
    path.write_text(text, encoding="utf-8")
    _every_policy_command(path, tmp, policy)


def _hostile_policy(kind: str, k: int) -> bytes:
    deep = {
        "not": lambda: "not " * k + "urgent",
        "parentheses": lambda: "(" * k + "urgent" + ")" * k,
        "minus": lambda: "n > " + "-" * k + "n",
        "and-or": lambda: "".join("(urgent and " if i % 2 else "(not urgent or " for i in range(k)) + "n > 5" + ")" * k,
    }
    if kind in deep:
        return POLICY.replace("urgent and not (task == c)", deep[kind]()).encode("utf-8")
    if kind == "huge-literal":
        return POLICY.replace("threshold unsure = 0.6", "threshold unsure = 0." + "6" * k).replace(
            "0..100", "0..1" + "0" * k).encode("utf-8")
    if kind == "not-utf8":
        data = POLICY.encode("utf-8")
        return data[:k % len(data)] + b"\xff\xfe" + data[k % len(data):]
    assert kind == "truncated"
    return POLICY.encode("utf-8")[:k % len(POLICY)]


HOSTILE_POLICIES = [("not", 999), ("not", 1_001), ("parentheses", 1_000), ("minus", 999), ("and-or", 999),
                    ("and-or", 1_001), ("huge-literal", 5_000), ("not-utf8", 1_000), ("truncated", 777)]


@pytest.mark.parametrize("kind, k", HOSTILE_POLICIES[:3])
def test_every_policy_command_survives_a_hostile_policy(policies, tmp_path, kind: str, k: int) -> None:
    path = tmp_path / "hostile.route"
    path.write_bytes(_hostile_policy(kind, k))
    _every_policy_command(path, tmp_path, policies[0])


@pytest.mark.slow  # every command on each of six more hostile policies: ~15 s (999 levels of and/or: 12 s)
@pytest.mark.parametrize("kind, k", HOSTILE_POLICIES[3:])
def test_every_policy_command_survives_a_hostile_policy_slow(policies, tmp_path, kind: str, k: int) -> None:
    path = tmp_path / "hostile.route"
    path.write_bytes(_hostile_policy(kind, k))
    _every_policy_command(path, tmp_path, policies[0])


@pytest.mark.parametrize("example", example_files(), ids=lambda p: p.name)
def test_every_policy_command_survives_a_truncated_example(policies, tmp_path, example: pathlib.Path) -> None:
    data = example.read_bytes()
    for cut in range(37, len(data), max(1, len(data) // 7)):
        (tmp_path / "cut").mkdir(exist_ok=True)
        path = tmp_path / "cut" / example.name
        path.write_bytes(data[:cut])
        _every_policy_command(path, tmp_path / "cut", policies[0])


# ---- hostile importer configs ------------------------------------------------------------------------

CONFIGS = pathlib.Path(__file__).resolve().parent / "data" / "importers"
_NUMBER = re.compile(rb"(?<![\w.])[0-9]+(\.[0-9]+)?(?![\w.])")


def _configs() -> list[pathlib.Path]:
    return sorted(p for p in CONFIGS.glob("*") if p.suffix in (".yaml", ".yml", ".json"))


@st.composite
def configs(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(importer, file name, bytes): a test config with one or two hostile edits."""
    path = draw(st.sampled_from(_configs()))
    data = path.read_bytes()
    for _ in range(draw(st.integers(1, 2))):
        edit = draw(st.integers(0, 4))
        numbers = list(_NUMBER.finditer(data))
        if edit == 0 and numbers:  # a number made hostile
            found = draw(st.sampled_from(numbers))
            value = draw(st.sampled_from((b"NaN", b".nan", b"Infinity", b".inf", b"-1", b"1e400", b"1" + b"0" * 400,
                                          b"null", b'"x"', b"[]", b"{}", b"true")))
            data = data[:found.start()] + value + data[found.end():]
        elif edit == 1:
            data = data[:draw(st.integers(0, len(data)))]  # truncated
        elif edit == 2:
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.sampled_from((b"\xff", b"\x00", b":", b"{", b"- ", b"\t", b'"'))) + data[at:]
        elif edit == 3:  # a value nested deep
            depth = draw(st.sampled_from((50, 1_500)))  # PyYAML takes ~1 s to refuse 1,500 levels, 5 s for 5,000
            nested = b"[" * depth + b"1" + b"]" * depth
            data = data + (b"\nextra: " + nested + b"\n" if path.suffix != ".json" else b"")
            if path.suffix == ".json":
                data = b'{"deep": ' + nested + b', "rest": ' + data + b"}"
        else:
            data = draw(st.sampled_from((b"", b"[]", b"null", b"42", b"- a\n- b\n", b"\xff\xfe", b"{")))
    importer = "portkey" if path.name.startswith("portkey") else "litellm"
    return importer, path.name, data


@examples(0.5)
@given(config=configs())
def test_import_survives_a_hostile_config(tmp_path_factory, config: tuple[str, str, bytes]) -> None:
    importer, name, data = config
    tmp = tmp_path_factory.mktemp("config")
    path = tmp / name
    path.write_bytes(data)
    if policyc(["import", importer, str(path)]).exit_code != 2:  # a policy came out: write it and lint it
        policyc(["import", importer, str(path), "-o", str(tmp / "imported.route")])


def test_the_harness_fails_on_a_traceback(monkeypatch, policies) -> None:
    """The harness itself: an exception escaping a command fails it (the fuzz tests above would
    otherwise pass on anything)."""
    import policylang.cli.check as check

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("deep")

    monkeypatch.setattr(check, "evaluate_line", broken)
    with pytest.raises(AssertionError, match="RecursionError"):
        policyc(["eval", str(policies[0]), "--request", "{}"])
