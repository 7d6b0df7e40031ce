"""Golden files: expected output kept in `tests/golden/`, compared byte for byte, rewritten by
`python -m pytest --update-golden` (as mypy's `--update-data` and sqlglot's fixtures do). A
rewrite shows up in `git diff`, where a reviewer judges it."""

from __future__ import annotations

import difflib
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def check_golden(relative: str, actual: str, update: bool) -> None:
    """Assert that `actual` is byte for byte the golden file `tests/golden/<relative>`; with
    `update`, write it there instead (creating folders). A missing file fails, naming the switch."""
    path = GOLDEN / relative
    data = actual.encode("utf-8")
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
        return
    assert path.is_file(), f"no golden file {path}: run `python -m pytest --update-golden` and review the diff"
    expected = path.read_bytes()
    if expected != data:
        diff = "".join(difflib.unified_diff(expected.decode("utf-8", "replace").splitlines(keepends=True),
                                            actual.splitlines(keepends=True), f"golden/{relative}", "generated",
                                            n=2))
        raise AssertionError(f"{relative} differs from its golden file (rewrite with --update-golden):\n"
                             + diff[:4000])
