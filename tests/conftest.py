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
"""The shared conformance cases, read in place (never copied); absent on some machines."""


def example_files() -> list[pathlib.Path]:
    return sorted(EXAMPLES.glob("*.route"))


def conformance_files() -> list[pathlib.Path]:
    return sorted(CONFORMANCE.glob("*.route")) if CONFORMANCE.is_dir() else []


@pytest.fixture
def write_route(tmp_path):
    """Write policy text to a file in a temporary folder and return its path."""

    def write(text: str, name: str = "policy.route") -> pathlib.Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
