"""What a command imports: `import policylang` and `policyc lint` load only what they use (issue
25's floor: pre-commit runs lint as a new process on every commit). The assertions are on the
modules a fresh child process has loaded, never on times; times are benchmarks/scale.py's."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from policylang.cli import main
from policylang.cli.common import COMMANDS

SMALL = """policy small

signal task: enum {classify, draft}

model cheap  { id = "vendor/cheap",  tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, context = 100_000, max_output = 4_000, latency = 2s }
model strong { id = "vendor/strong", tier = 3, input_per_mtok = $3, output_per_mtok = $15, context = 100_000, max_output = 4_000, latency = 8s }

route {
  rule drafts when task == draft -> strong
  default -> cheap
}
"""

NEVER_FOR_LINT = ("jinja2", "duckdb", "pyarrow", "pygls", "aiohttp", "uvicorn", "yaml",
                  "policylang.backends.python.codegen", "policylang.backends.sql", "policylang.simulation",
                  "policylang.gateway", "policylang.lsp", "policylang.runtime", "policylang.importers",
                  "policylang.authoring", "policylang.cli.simulate", "policylang.cli.serve",
                  "policylang.cli.report", "policylang.cli.review", "policylang.cli.authoring",
                  "policylang.cli.importing", "policylang.cli.editor")
"""What `policyc lint` has no use for: the code generator and Jinja2, the simulator and DuckDB,
the gateway, the language server, the importers, the other commands' modules."""


def loaded_by(code: str, cwd: Path | None = None) -> set[str]:
    """The modules a new Python process has loaded after running `code`."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def policyc(*args: str) -> str:
    """Python code that runs `policyc ARGS` and carries on whatever the exit status."""
    return textwrap.dedent(f"""
        import contextlib, io, sys
        from policylang.cli import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                main({list(args)!r}, prog_name="policyc")
            except SystemExit:
                pass
    """)


def under(modules: set[str], *names: str) -> set[str]:
    """The loaded modules that are one of `names` or inside one."""
    return {m for m in modules if any(m == n or m.startswith(n + ".") for n in names)}


def test_import_policylang_loads_nothing_heavy() -> None:
    modules = loaded_by("import policylang")
    assert under(modules, "pydantic", "lark", "z3", "jinja2", "duckdb", "click") == set()
    assert under(modules, "policylang") == {"policylang", "policylang._version"}


def test_public_names_still_import() -> None:
    modules = loaded_by("from policylang import load, Policy, PolicyError, Decision, lint, format_source\n"
                        "import policylang\nassert policylang.Policy is Policy and callable(policylang.loads)")
    assert "policylang.policy" in modules
    assert under(modules, "jinja2", "duckdb", "policylang.backends.python.codegen", "policylang.simulation") == set()


def test_unknown_attribute_is_an_attribute_error() -> None:
    import policylang

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        policylang.nothing_here  # noqa: B018
    assert set(policylang.__all__) <= set(dir(policylang))
    assert sorted(policylang.__all__) == sorted(["__version__", *policylang._HOMES])
    for name in policylang.__all__:
        assert getattr(policylang, name) is not None


def test_lint_of_a_small_policy_loads_only_the_checker(tmp_path: Path) -> None:
    (tmp_path / "small.route").write_text(SMALL, encoding="utf-8")
    modules = loaded_by(policyc("lint", "small.route"), cwd=tmp_path)
    assert "policylang.passes.analyses" in modules  # it did check the policy
    assert under(modules, *NEVER_FOR_LINT) == set()


def test_lint_as_json_loads_no_more(tmp_path: Path) -> None:
    (tmp_path / "small.route").write_text(SMALL, encoding="utf-8")
    modules = loaded_by(policyc("lint", "--format", "json", "small.route"), cwd=tmp_path)
    assert under(modules, *NEVER_FOR_LINT) == set()


def test_the_solver_loads_only_to_analyse(tmp_path: Path) -> None:
    (tmp_path / "small.route").write_text(SMALL, encoding="utf-8")
    (tmp_path / "broken.route").write_text(SMALL.replace("-> strong", "-> "), encoding="utf-8")
    assert "z3" not in loaded_by(policyc("lint", "broken.route"), cwd=tmp_path)  # syntax error: no analyses
    assert "z3" not in loaded_by(policyc("fmt", "--check", "small.route"), cwd=tmp_path)
    assert "z3" not in loaded_by("import policylang\npolicylang.load('small.route', analyze=False)", cwd=tmp_path)


ARITHMETIC = SMALL.replace("signal task: enum {classify, draft}", "signal a: int in 0..100\nsignal b: int in 0..100") \
    .replace("when task == draft", "when a + b > 3 and a + b < 2")
"""A condition the boxes cannot decide (a sum of two signals): only the solver says it never holds."""


def test_lint_loads_the_solver_only_for_a_question_the_boxes_leave(tmp_path: Path) -> None:
    """A policy whose conditions are all boxes is checked without z3 (issue 25's floor); one
    with arithmetic loads it, and the solver's finding is still there."""
    (tmp_path / "small.route").write_text(SMALL, encoding="utf-8")
    (tmp_path / "sums.route").write_text(ARITHMETIC, encoding="utf-8")
    boxes = loaded_by(policyc("lint", "small.route"), cwd=tmp_path)
    assert "policylang.passes.analyses" in boxes  # the analyses ran
    assert under(boxes, "z3", "policylang.analysis.quick", "policylang.analysis.linear") == set()
    assert "policylang.backends.python.interpreter" not in boxes  # no witness to replay
    sums = loaded_by(policyc("lint", "sums.route"), cwd=tmp_path)
    assert "z3" in sums
    result = subprocess.run([sys.executable, "-m", "policylang.cli", "lint", "--format", "json", "sums.route"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [d["code"] for d in json.loads(result.stdout)["diagnostics"]] == ["W202"]


def test_compile_loads_the_generator(tmp_path: Path) -> None:
    """The other side of the assertions above: a command that compiles does load Jinja2."""
    (tmp_path / "small.route").write_text(SMALL, encoding="utf-8")
    modules = loaded_by(policyc("compile", "small.route"), cwd=tmp_path)
    assert {"jinja2", "policylang.backends.python.codegen"} <= modules
    assert under(modules, "duckdb", "policylang.simulation", "policylang.cli.simulate") == set()


def test_help_imports_no_command_module() -> None:
    code = policyc("--help") + "\n"
    modules = loaded_by(code)
    command_modules = {lazy.module for lazy in COMMANDS.values()}
    assert modules & command_modules == set()
    assert under(modules, "pydantic", "lark", "z3", "jinja2") == set()


def test_help_lists_every_command_as_the_commands_say() -> None:
    result = subprocess.run([sys.executable, "-m", "policylang.cli", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == sorted(COMMANDS)
    main.load_all()
    assert set(main.commands) == set(COMMANDS)
    assert "lint      Run every check on FILES and report what they find." in result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_says_what_each_command_says(name: str) -> None:
    """The help line `policyc --help` shows before a module is imported is the one the command
    itself gives, at every width click may shorten it to."""
    main.load_all()
    real = main.commands[name]
    stand_in = COMMANDS[name].stand_in(name)
    assert real.callback is not None and real.callback.__module__ == COMMANDS[name].module
    for limit in (20, 45, 60, 74, 120, 400):
        assert stand_in.get_short_help_str(limit) == real.get_short_help_str(limit), limit
