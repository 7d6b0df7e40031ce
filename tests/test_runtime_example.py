"""The runtime's example app runs, against its local OpenAI-compatible server, and prints what
the README shows; its decision log has one record per ticket.

Needs the extra `openai` installed."""

from __future__ import annotations

import json
import re
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
    done = subprocess.run([sys.executable, str(EXAMPLES / "desk_app.py")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == readme_block()
    lines = (tmp_path / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
    records = [r for r in map(json.loads, lines) if r["event"] == "end"]
    assert [r["end"] for r in records] == ["answered"] * 5 + ["rejected"]
    assert [r["path"] for r in records][:4] == [["fast"], ["frontier"], ["fast", "mid"], ["backup"]]
