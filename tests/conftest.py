"""Shared paths and helpers for the test suite."""

from __future__ import annotations

import pathlib

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles: `dev` (the default) is quick, for the edit-test loop; `ci` is the deep run
# that .ci/run uses (`python -m pytest --hypothesis-profile=ci`, 200 examples to dev's 12). A property asks for a share of
# the active profile's examples with `examples(...)`, so one switch scales every property.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("dev", max_examples=12, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=_QUIET)
settings.load_profile("dev")


def examples(share: float = 1.0) -> settings:
    """Settings for a property: `share` of the active profile's examples (at least 10)."""
    return settings(max_examples=max(10, round(settings.default.max_examples * share)))

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "cases"
"""The shared conformance cases, read in place (never copied): beside the repository on the
machines that have them, absent from a clone anywhere else."""
CONFORMANCE_ABSENT = (f"the shared conformance cases are not beside this clone ({CONFORMANCE} is absent); "
                      ".ci/run runs them where they are")
needs_conformance = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason=CONFORMANCE_ABSENT)
"""A test that reads the shared conformance cases: skipped, with the reason, where they are absent."""


def example_files() -> list[pathlib.Path]:
    return sorted(EXAMPLES.glob("*.route"))


def conformance_files() -> list[pathlib.Path]:
    """The shared conformance cases, or none where they are absent."""
    return sorted(CONFORMANCE.glob("*.route")) if CONFORMANCE.is_dir() else []


def conformance_params() -> list:
    """`conformance_files()` for `pytest.mark.parametrize`: where the cases are absent, one
    parameter that skips with the reason (an empty parameter set would skip without one)."""
    files = conformance_files()
    return files or [pytest.param(None, id="conformance-absent", marks=pytest.mark.skip(reason=CONFORMANCE_ABSENT))]


@pytest.fixture
def write_route(tmp_path):
    """Write policy text to a file in a temporary folder and return its path."""

    def write(text: str, name: str = "policy.route") -> pathlib.Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files in tests/golden/ from what the code makes now")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """Whether `--update-golden` was given: golden tests then rewrite their files (support.golden)."""
    return bool(request.config.getoption("--update-golden"))
