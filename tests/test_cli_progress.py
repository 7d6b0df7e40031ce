"""`policyc lint` and `compile` on large files (a warning past `LARGE`, exit 2 past `TOO_LARGE`,
tested with small monkeypatched limits, not huge files) and their progress line: drawn on a
terminal (a pty), never when standard error is piped, and wiped before the results."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from policylang.cli import guards, main
from policylang.cli.progress import WIPE, TerminalProgress, progress_shown
from policylang.progress import report, reporting

RULES = 60


def policy(rules: int = RULES) -> str:
    """A policy with `rules` rules over one int signal (`rules` >= 1)."""
    lines = ["policy many", "", "signal n: int in 0..100_000", "",
             'model small { id = "v/small", tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, '
             "context = 100_000, max_output = 4_000, latency = 2s }",
             'model large { id = "v/large", tier = 3, input_per_mtok = $3, output_per_mtok = $15, '
             "context = 100_000, max_output = 4_000, latency = 8s }", "", "route {"]
    lines += [f"  rule r{i} when n == {i} -> large" for i in range(rules)]
    lines += ["  default -> small", "}", ""]
    return "\n".join(lines)


@pytest.fixture
def many(tmp_path: Path) -> Path:
    path = tmp_path / "many.route"
    path.write_text(policy(), encoding="utf-8")
    return path


# ---- sizes ------------------------------------------------------------------------------------


def test_a_large_file_is_said_so_and_checked(many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guards, "LARGE", 100)
    for command in (["lint", str(many)], ["compile", str(many)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output
        assert f"warning: {many} is " in result.stderr
        assert "over 1 KiB: checking it may take" in result.stderr
    lint = CliRunner().invoke(main, ["lint", "--format", "json", str(many)])
    assert lint.stdout.startswith("{") and "KiB" not in lint.stdout  # the JSON stays clean


def test_a_file_past_the_limit_is_refused(many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guards, "LARGE", 100)
    monkeypatch.setattr(guards, "TOO_LARGE", 1000)
    checked: list[object] = []
    monkeypatch.setattr("policylang.linting.check", lambda *a, **k: checked.append(a))
    for command in (["lint", str(many)], ["lint", "--format", "json", str(many)], ["compile", str(many)],
                    ["compile", str(many), "--target", "sql"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, (command, result.output)
        assert f"error: {many} is {guards.size_text(many.stat().st_size)}, over the 1 KiB policyc {command[0]}" \
            in result.stderr
        assert "several GiB of memory" in result.stderr
        assert result.stdout == ""
    assert checked == []  # refused before reading


def test_small_files_say_nothing(many: Path) -> None:
    result = CliRunner().invoke(main, ["lint", str(many)])
    assert result.exit_code == 0 and result.stderr == ""


def test_sizes_read_as_people_write_them() -> None:
    assert guards.size_text(12_900_000) == "12.3 MiB"
    assert guards.size_text(800 * 1024) == "800 KiB"
    assert guards.size_text(10) == "1 KiB"
    assert guards.LARGE < guards.TOO_LARGE


def test_an_unreadable_file_is_left_to_the_loader(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "missing.route")])
    assert result.exit_code == 2 and "cannot read" in result.stderr


# ---- progress ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Tty:
    def __init__(self) -> None:
        self.written: list[str] = []

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def test_nothing_is_drawn_in_the_first_second_then_the_count_in_place() -> None:
    clock, out = Clock(), Tty()
    progress = TerminalProgress(out, "big.route", clock=clock)  # type: ignore[arg-type]
    progress("rules", 10, 10_000)
    assert out.written == []
    clock.now = 1.5
    progress("rules", 4_211, 10_000)
    assert out.written == [WIPE + "checking big.route: 4,211/10,000 rules"]
    clock.now = 1.55
    progress("rules", 4_300, 10_000)  # within the interval: not redrawn
    assert len(out.written) == 1
    progress("rules", 10_000, 10_000)  # the last: drawn
    progress("budgets", 0, 0)  # a new stage: drawn
    assert out.written[1:] == [WIPE + "checking big.route: 10,000/10,000 rules", WIPE + "checking big.route: budgets"]
    progress.clear()
    assert out.written[-1] == WIPE
    progress.clear()  # once only
    assert out.written.count(WIPE) == 1


def test_a_long_first_stage_is_drawn_by_the_ticker() -> None:
    """Parsing a large file reports once, at its start: the ticker draws it once `DELAY` has
    passed, and only once."""
    clock, out = Clock(), Tty()
    progress = TerminalProgress(out, "big.route", clock=clock)  # type: ignore[arg-type]
    progress("parsing", 0, 0)
    progress.draw_latest()
    assert out.written == []
    clock.now = 1.2
    progress.draw_latest()
    progress.draw_latest()
    assert out.written == [WIPE + "checking big.route: parsing"]


def test_reports_reach_only_the_installed_reporter() -> None:
    heard: list[tuple[str, int, int]] = []
    report("rules", 1, 2)  # nobody listening: nothing happens
    with reporting(lambda *news: heard.append(news)):
        report("rules", 1, 2)
        with reporting(None):
            report("rules", 2, 2)
        report("budgets")
    report("rules", 3, 3)
    assert heard == [("rules", 1, 2), ("budgets", 0, 0)]


def test_lint_reports_each_rule(many: Path) -> None:
    heard: list[tuple[str, int, int]] = []
    from policylang import lint

    with reporting(lambda *news: heard.append(news)):
        lint([str(many)])
    stages = [stage for stage, _, _ in heard]
    assert stages[0] == "parsing" and "names and types" in stages and "budgets" in stages
    counted = [(done, total) for stage, done, total in heard if stage == "rules" and total]
    assert counted == [(i, RULES) for i in range(1, RULES + 1)]


def test_nothing_is_drawn_when_not_a_terminal(many: Path) -> None:
    with progress_shown("x", stream=sys.stdout):  # captured by pytest: not a terminal
        report("rules", 1, 1)


_RUN = textwrap.dedent("""
    import sys
    import policylang.cli.progress as progress
    progress.DELAY = 0.0  # draw from the first report: the test's policy is quick
    progress.INTERVAL = 0.0
    from policylang.cli import main
    main(sys.argv[1:], prog_name="policyc")
""")


def run_with_stderr_on_a_pty(*args: str, cwd: Path) -> tuple[int, str, bytes]:
    """Exit status, standard output (a pipe) and what reached the terminal on standard error."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-c", _RUN, *args], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=terminal, stdin=subprocess.DEVNULL)
    os.close(terminal)
    seen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            process.kill()
            raise AssertionError("no output from policyc for 60 s")
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out, _ = process.communicate(timeout=60)
    os.close(controller)
    return process.returncode, out.decode(), seen


def test_progress_is_drawn_on_a_terminal_and_wiped(many: Path) -> None:
    code, out, terminal = run_with_stderr_on_a_pty("lint", "--format", "json", many.name, cwd=many.parent)
    assert code == 0, terminal
    assert b"checking many.route: 1/60 rules" in terminal
    assert b"checking many.route: 60/60 rules" in terminal
    assert terminal.endswith(WIPE.encode())  # the line is gone when lint is done
    assert out.startswith("{") and "checking" not in out  # results on standard output, untouched


def test_compile_draws_progress_too(many: Path) -> None:
    code, out, terminal = run_with_stderr_on_a_pty("compile", many.name, cwd=many.parent)
    assert code == 0, terminal
    assert b"checking many.route: parsing" in terminal
    assert b"checking many.route: 60/60 rules" in terminal
    assert terminal.endswith(WIPE.encode())
    assert "def decide" in out and "checking" not in out


def test_no_progress_when_piped(many: Path) -> None:
    result = subprocess.run([sys.executable, "-c", _RUN, "lint", many.name], cwd=many.parent, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "\r" not in result.stdout and "checking" not in result.stdout
