"""The README's test command passes on a clone anywhere: the tests that read the shared
conformance cases (`../shared/conformance`, outside the repository) skip with a reason where
they are absent, and run where they are. Checked by running pytest on conftest.py and two
tests that use it, in a temporary tree with and without the shared cases beside it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

USES = '''
import pytest
from conftest import conformance_files, conformance_params, needs_conformance


@pytest.mark.parametrize("path", conformance_params(), ids=lambda p: p.name)
def test_each_case(path):
    assert path.read_text(encoding="utf-8").startswith("policy")


@needs_conformance
def test_the_cases_are_there():
    assert len(conformance_files()) == 2
'''


def run(tmp_path: Path, with_cases: bool) -> subprocess.CompletedProcess[str]:
    tests = tmp_path / "clone" / "tests"
    tests.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    (tests / "test_uses_conformance.py").write_text(USES, encoding="utf-8")
    if with_cases:
        cases = tmp_path / "shared" / "conformance" / "cases"
        cases.mkdir(parents=True)
        for name in ("a", "b"):
            (cases / f"{name}.route").write_text(f"policy {name}\n", encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-rs",
                           "-q", str(tests)], cwd=tmp_path / "clone", capture_output=True, text=True, timeout=120)


def test_without_the_shared_cases_their_tests_skip_with_the_reason(tmp_path: Path) -> None:
    done = run(tmp_path, with_cases=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 skipped" in done.stdout and "passed" not in done.stdout and "failed" not in done.stdout
    assert done.stdout.count("the shared conformance cases are not beside this clone") == 2
    assert ".ci/run runs them where they are" in done.stdout


def test_with_the_shared_cases_their_tests_run(tmp_path: Path) -> None:
    done = run(tmp_path, with_cases=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout and "skipped" not in done.stdout
