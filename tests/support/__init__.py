"""Helpers shared by the test modules, as a library: a test module imports from here, never from
another test module (`from support.cli import run`). Pytest puts `tests/` on the path."""
