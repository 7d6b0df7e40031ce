"""The pre-commit hooks (.pre-commit-hooks.yaml), run by pre-commit itself with `try-repo` on a
throwaway git repository: they pass on good policies and fail on a broken or unformatted one.
The hook environment installs policylang from this checkout (its dependencies from PyPI), once
per test session. The GitHub action and the GitLab snippet are checked for their shape."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, example_files

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def _throwaway(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).write_text(text, encoding="utf-8")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)
    return repo


def _try_repo(repo: Path, hook: str, files: list[str], home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never")
    return subprocess.run([*PRE_COMMIT, "try-repo", str(ROOT), hook, "--files", *files], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow  # pre-commit builds the hook's environment: ~20 s
def test_policyc_lint_passes_on_the_examples_and_fails_on_a_broken_policy(tmp_path: Path, pre_commit_home: Path) -> None:
    examples = {p.name: p.read_text(encoding="utf-8") for p in example_files()}
    broken = examples["support_desk.route"].replace("-> frontier\n", "-> frontiers\n", 1)
    repo = _throwaway(tmp_path, {**examples, "broken.route": broken})
    good = _try_repo(repo, "policyc-lint", sorted(examples), pre_commit_home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "policyc lint" in good.stdout and "Passed" in good.stdout
    bad = _try_repo(repo, "policyc-lint", ["broken.route"], pre_commit_home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout and "error[E101]: unknown model or cascade 'frontiers'" in bad.stdout


@pytest.mark.slow  # pre-commit builds the hook's environment: ~20 s
def test_policyc_fmt_fails_on_an_unformatted_policy_and_formats_it(tmp_path: Path, pre_commit_home: Path) -> None:
    good = (ROOT / "examples" / "support_desk.route").read_text(encoding="utf-8")
    messy = good.replace("rule pii_onprem   when", "rule pii_onprem when")
    repo = _throwaway(tmp_path, {"good.route": good, "messy.route": messy})
    assert _try_repo(repo, "policyc-fmt", ["good.route"], pre_commit_home).returncode == 0
    done = _try_repo(repo, "policyc-fmt", ["messy.route"], pre_commit_home)
    assert done.returncode == 1 and "files were modified by this hook" in done.stdout
    assert (repo / "messy.route").read_text(encoding="utf-8") == good


def test_the_hooks_file_names_both_hooks() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"]: h["entry"] for h in hooks} == {"policyc-lint": "policyc lint", "policyc-fmt": "policyc fmt"}
    assert all(h["language"] == "python" and h["files"] == r"\.route$" for h in hooks)


def test_the_action_lints_with_sarif_and_diffs_pull_requests() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert "policyc lint --format sarif" in scripts and "policyc diff --format markdown" in scripts
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif") for step in steps)
    diff = next(step for step in steps if "policyc diff" in step.get("run", ""))
    assert "pull_request" in diff["if"]
    for step in steps:  # inputs reach the scripts through env, never pasted into the shell text
        assert "${{ inputs." not in step.get("run", "")


def test_the_gitlab_snippet_in_the_docs_is_yaml_that_runs_policyc() -> None:
    docs = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    block = docs.split("```yaml\n# .gitlab-ci.yml", 1)[1].split("```", 1)[0]
    jobs = yaml.safe_load(block)
    script = "\n".join(line for job in jobs.values() if isinstance(job, dict) for line in job.get("script", []))
    assert "policyc lint --format sarif" in script or "policyc lint" in script
    assert shutil.which("git")
