"""The generated Python module of each example, and its SQL in every dialect, byte for byte
against tests/golden/ (`python -m pytest tests/test_golden.py --update-golden` rewrites them;
review the diff). Generated code must change only on purpose: a codegen refactor that claims
"byte-identical" is held to it here."""

from __future__ import annotations

from pathlib import Path

import pytest

import policylang
from conftest import example_files
from policylang.backends.sql import DIALECTS, to_sql

from support.golden import check_golden


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.stem)
def test_generated_module_is_its_golden_file(path: Path, update_golden: bool) -> None:
    policy = policylang.load(str(path), analyze=False)
    check_golden(f"python/{path.stem}.py", policy.to_python(), update_golden)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.stem)
def test_sql_is_its_golden_file(path: Path, dialect: str, update_golden: bool) -> None:
    policy = policylang.load(str(path), analyze=False)
    check_golden(f"sql/{dialect}/{path.stem}.sql", to_sql(policy.ir, dialect=dialect), update_golden)
