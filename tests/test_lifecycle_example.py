"""The lifecycle example (README, "Watch it in production"; examples/lifecycle/): every
command of the README's block runs, in order, in an empty folder, and prints what the README
shows (the mechanism of test_readme.py: a `...` line stands for any lines). The logs the script
writes are checked here too, from their records: a shadow entry on every run, and the drift the
alert catches computed independently of `policyc report`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import policylang
from conftest import ROOT
from test_readme import README, commands, matches

SECTION = README[README.index("## Watch it in production"):]
SECTION = SECTION[: SECTION.index("\n## ", 1)]
BLOCKS = re.findall(r"```console\n(.*?)```", SECTION, re.S)


def run_block(folder: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    (folder / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    for command, expected in commands(BLOCKS[0]):
        done = subprocess.run(["sh", "-c", command + " 2>&1"], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=120)
        got = done.stdout.splitlines()
        assert matches(expected, got), f"$ {command}\nREADME says:\n" + "\n".join(expected) + \
            "\nit prints:\n" + "\n".join(got)


def ends(path: Path) -> list[dict]:
    return [r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if r["event"] == "end"]


def escalation(records: list[dict], task: str) -> float:
    """Served summaries whose path climbed, over served summaries (docs/report.md)."""
    served = [r for r in records if r["signals"]["task"] == task and r["path"]]
    return sum(1 for r in served if len(r["path"]) > 1) / len(served)


@pytest.mark.slow  # generates two weeks of logs and reports on them (~5 s)
def test_the_readme_walks_the_lifecycle_as_it_shows(tmp_path: Path) -> None:
    assert len(BLOCKS) == 1 and "--alert" in BLOCKS[0] and "exit status 1" in BLOCKS[0]
    run_block(tmp_path)
    before, after = ends(tmp_path / "before.jsonl"), ends(tmp_path / "after.jsonl")
    assert len(before) == len(after) == 2_000
    candidate = policylang.load(str(ROOT / "examples" / "lifecycle" / "desk_next.route"))
    for record in before + after:
        (shadow,) = record["shadow"]
        assert shadow["policy"] == "desk_next" and shadow["rule"] == candidate.decide(record["signals"]).rule
    assert escalation(before, "summarize") < 0.2 < escalation(after, "summarize")
    for task in ("classify", "extract"):  # the update touched summaries only
        assert abs(escalation(before, task) - escalation(after, task)) < 0.05
    assert "0.608791" in BLOCKS[0] and f"{escalation(after, 'summarize'):.6f}" == "0.608791"


def test_the_example_policies_lint_clean_and_pass_their_tests() -> None:
    from click.testing import CliRunner

    from policylang.cli import main

    files = [str(ROOT / "examples" / "lifecycle" / name) for name in ("desk.route", "desk_next.route")]
    linted = CliRunner().invoke(main, ["lint", *files])
    assert linted.exit_code == 0 and "0 errors, 0 warnings in 2 files" in linted.output, linted.output
    tested = CliRunner().invoke(main, ["test", *files])
    assert tested.exit_code == 0 and "2 passed, 0 failed" in tested.output, tested.output
