"""The example policies in examples/: clean under every check, tested, and compiled faithfully.

Each example is run through the installed `policyc` script in a subprocess, from a temporary
working directory, as a user would run it (lint's JSON form runs in process, beside it); the compiled module is then checked against the
interpreter on every test block's request.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import types
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

import policylang
from policylang.cli import main

from conftest import example_files

EXAMPLES = example_files()
POLICYC = pathlib.Path(sys.executable).parent / "policyc"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def policyc(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(POLICYC), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_there_are_at_least_four_examples():
    assert len(EXAMPLES) >= 4, [path.name for path in EXAMPLES]


def test_policyc_is_installed_next_to_python():
    assert POLICYC.exists(), f"no policyc script next to {sys.executable}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_lints_clean(path: pathlib.Path, tmp_path: pathlib.Path):
    text = policyc("lint", "--deny-warnings", str(path), cwd=tmp_path)
    assert text.returncode == 0, text.stdout + text.stderr
    assert not re.search(r"\b(error|warning)\[?[EW]\d{3}", text.stdout + text.stderr), text.stdout
    as_json = CliRunner().invoke(main, ["lint", "--deny-warnings", "--format", "json", str(path)])  # in process
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["diagnostics"] == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_tests_pass(path: pathlib.Path, tmp_path: pathlib.Path):
    run = policyc("test", str(path), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    last = run.stdout.strip().splitlines()[-1]
    match = SUMMARY.match(last)
    assert match, f"last line is not a summary: {last!r}"
    passed, failed = int(match[1]), int(match[2])
    assert failed == 0, run.stdout
    assert passed >= 4, f"{path.name} has only {passed} test blocks"


def _request(policy: policylang.Policy, pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """A test block's values as an app sends them: a duration as its seconds."""
    durations = {signal.name for signal in policy.ir.signals if signal.type.kind == "duration"}
    request = {}
    for name, value in pairs:
        if name in durations and isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        request[name] = value
    return request


def _fields(decision: Any) -> tuple[Any, ...]:
    return (decision.rule, decision.model, list(decision.steps), decision.max_output, decision.reject)


def _standalone(policy: policylang.Policy) -> types.ModuleType:
    module = types.ModuleType(f"compiled_{policy.name}")
    exec(compile(policy.to_python(), f"<compiled {policy.name}>", "exec"), module.__dict__)  # noqa: S102
    return module


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_compiled_module_decides_like_the_interpreter(path: pathlib.Path):
    policy = policylang.load(str(path))
    module = _standalone(policy)
    interpreter = policy.interpreter
    assert len(policy.ir.tests) >= 4
    for test in policy.ir.tests:
        request = _request(policy, test.given)
        compiled = module.decide(request)
        interpreted = interpreter.decide(request)
        assert _fields(compiled) == _fields(interpreted), test.name
        if test.outcomes is None or compiled.model is None:
            continue
        # The climb under the test's outcomes, step by step, in both engines.
        observed = _request(policy, test.outcomes)
        for step in range(len(compiled.steps) - 1):
            here_compiled = module.escalate(compiled, step, observed)
            here_interpreted = interpreter.escalate(interpreted, step, observed)
            assert here_compiled == here_interpreted, test.name
            if here_compiled is None:
                break
