"""The runtime's example app runs, against its local OpenAI-compatible server, and prints what
the README shows; its decision log has one record per ticket.

Needs the extra `openai` installed."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import sys

from conftest import EXAMPLES, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_block() -> list[str]:
    section = README[README.index("## Running a policy in an app"):]
    block = re.search(r"```console\n\$ python examples/desk_app.py\n(.*?)```", section, re.S)
    assert block, "the README shows the example app's run"
    return block.group(1).splitlines()


def test_the_example_app_prints_what_the_readme_shows(tmp_path):
    """Run from a folder (the repository root, for a reader), it leaves nothing there: its log
    goes to a new temporary folder, which the last line names."""
    done = subprocess.run([sys.executable, str(EXAMPLES / "desk_app.py")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shown, expected = done.stdout.splitlines(), readme_block()
    assert shown[:-1] == expected[:-1]
    where = r"every decision logged to (\S*desk_app-\w+)/decisions\.jsonl"
    assert re.sub(where, "LOG", shown[-1]) == re.sub(where, "LOG", expected[-1])
    folder = pathlib.Path(re.search(where, shown[-1]).group(1))
    try:
        assert list(tmp_path.iterdir()) == []  # nothing written where it ran
        check_log(folder / "decisions.jsonl")
    finally:
        shutil.rmtree(folder)


def test_the_example_app_writes_its_log_where_it_is_told(tmp_path):
    log = tmp_path / "logs" / "decisions.jsonl"
    log.parent.mkdir()
    done = subprocess.run([sys.executable, str(EXAMPLES / "desk_app.py"), "--log", str(log)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith(f"every decision logged to {log}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]
    check_log(log)


def check_log(path: pathlib.Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [r for r in map(json.loads, lines) if r["event"] == "end"]
    assert [r["end"] for r in records] == ["answered"] * 5 + ["rejected"]
    assert [r["path"] for r in records][:4] == [["fast"], ["frontier"], ["fast", "mid"], ["backup"]]
