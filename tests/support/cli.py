"""Running `policyc` from a test: in-process (`run`) or as the installed script (`run_script`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from policylang.cli import main

POLICYC = Path(sys.executable).parent / "policyc"
"""The `policyc` script installed beside this interpreter."""


def run(args: list[str], input: str | None = None) -> Result:
    """Invoke policyc in-process; any exception other than SystemExit is a bug, and so is a traceback."""
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"policyc {args} raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output
    assert "Traceback" not in result.stderr
    return result


def run_script(args: list[str], cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed policyc script in a subprocess (never from the repository)."""
    completed = subprocess.run(
        [str(POLICYC), *map(str, args)], cwd=cwd, input=input, capture_output=True, text=True, timeout=120,
    )
    assert "Traceback" not in completed.stdout
    assert "Traceback" not in completed.stderr
    return completed


def json_lines(text: str) -> list[dict[str, Any]]:
    """Each non-blank line of `text` parsed as a JSON object (what `--format jsonl` prints)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
