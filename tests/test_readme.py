"""The README's tour says what the tools print: every block of it is run, in order, in an empty
folder, and compared with the README.

The ```route block is written to desk.route; each `$ ` line of a ```console block runs in a
shell (with this environment's `policyc` first on PATH, standard error after standard output)
and must print the lines below it, where a `...` line stands for any lines; the ```pycon block
runs as a doctest in that folder, after the console blocks.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
TOUR = README[README.index("## A short tour"):]
TOUR = TOUR[: TOUR.index("\n## ", 1)]
BLOCKS = re.findall(r"```(route|console|pycon)\n(.*?)```", TOUR, re.S)


def commands(block: str) -> list[tuple[str, list[str]]]:
    """(command, the lines it prints) for each `$ ` line of a console block."""
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        else:
            found[-1][1].append(line)
    return found


def matches(expected: list[str], got: list[str]) -> bool:
    """`got` is `expected` with each `...` line standing for any lines (none included)."""
    pattern = "".join(".*?" if line == "..." else re.escape(line + "\n") for line in expected)
    return re.fullmatch(pattern, "".join(line + "\n" for line in got), re.S) is not None


def test_the_tour_has_its_blocks() -> None:
    assert [kind for kind, _ in BLOCKS] == ["route", "console", "console", "pycon"]


def test_the_tour_runs_as_the_readme_shows(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for kind, text in BLOCKS:
        if kind == "route":
            (tmp_path / "desk.route").write_text(text, encoding="utf-8")
        elif kind == "console":
            for command, expected in commands(text):
                done = subprocess.run(["sh", "-c", command + " 2>&1"], cwd=tmp_path, env=env,
                                      capture_output=True, text=True, timeout=120)
                got = done.stdout.splitlines()
                assert matches(expected, got), f"$ {command}\nREADME says:\n" + "\n".join(expected) + \
                    "\nit prints:\n" + "\n".join(got)
        else:
            sys.path.insert(0, str(tmp_path))
            cwd = os.getcwd()
            os.chdir(tmp_path)
            try:
                parser = doctest.DocTestParser()
                test = parser.get_doctest(text, {}, "README.md tour", "README.md", 0)
                runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
                runner.run(test)
                assert runner.failures == 0, "the README's Python example does not print what it shows"
            finally:
                os.chdir(cwd)
                sys.path.remove(str(tmp_path))
                sys.modules.pop("desk_policy", None)


@pytest.mark.parametrize(("expected", "got", "ok"), [
    (["a", "...", "z"], ["a", "b", "c", "z"], True),
    (["a", "...", "z"], ["a", "z"], True),
    (["a", "z"], ["a", "b", "z"], False),
    (["a"], ["a", "b"], False),
])
def test_the_comparison_is_exact_but_for_ellipses(expected: list[str], got: list[str], ok: bool) -> None:
    assert matches(expected, got) is ok
