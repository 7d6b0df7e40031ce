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
