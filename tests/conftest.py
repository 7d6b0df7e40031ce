"""Shared paths and helpers for the test suite."""

from __future__ import annotations

import pathlib

import pytest

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
