"""The HTML report of `policyc simulate` as a reader sees it: every chart label fits inside its
chart (a long model name, `baseline`, the value after the longest bar), no empty band is left
under the last bar, and the tables show shares as percentages and counts and money formatted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import policylang
from policylang.simulation import simulate
from policylang.simulation.render import CHAR_WIDTH, ROW, render_html, render_text

POLICY = """\
policy charts

import "std/catalog" as catalog

signal task: enum {classify, draft_a_rather_long_task_name}
signal input_tokens: int in 0..100_000

model fast = catalog.deepseek_v4_pro { max_output = 1_000 }
model frontier_with_a_long_model_name = catalog.gpt_5_5 { max_output = 1_000 }

route {
  rule routine when task == classify -> fast
  default -> frontier_with_a_long_model_name
}
"""
TRAFFIC = [
    '{"task": "classify", "input_tokens": 1000}',
    '{"task": "classify", "input_tokens": 50000}',
    '{"task": "draft_a_rather_long_task_name", "input_tokens": 90000}',
]


@pytest.fixture
def page(tmp_path: Path) -> str:
    policy = policylang.loads(POLICY, "charts.route")
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_text("\n".join(TRAFFIC) + "\n", encoding="utf-8")
    report = simulate(policy, traffic, baseline="frontier_with_a_long_model_name", by="task", engine="python")
    assert "66.7%" in render_text(report)
    return render_html(report)


def charts(page: str) -> list[ET.Element]:
    found = [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page)]
    assert len(found) == 2
    return found


def test_every_chart_label_fits_inside_its_chart(page: str) -> None:
    for svg in charts(page):
        width = float(svg.get("width", 0))
        texts = [t for t in svg.iter() if t.tag.endswith("text")]
        assert texts
        for text in texts:
            right = float(text.get("x", 0)) + CHAR_WIDTH * len(text.text or "")
            assert right <= width, (text.text, right, width)
        labels = [t.text for t in texts]
        assert "baseline" in labels or "escalation" in svg.get("aria-label", "")
    cost = charts(page)[0]
    assert "frontier_with_a_long_model_name" in [t.text for t in cost.iter() if t.tag.endswith("text")]


def test_no_empty_band_under_a_chart(page: str) -> None:
    for svg in charts(page):
        height = float(svg.get("height", 0))
        bars = [float(r.get("y", 0)) for r in svg.iter() if r.tag.endswith("rect")]
        assert bars
        assert max(bars) + ROW == height, (max(bars), height)  # the last row ends the picture


def test_tables_show_percentages_and_formatted_numbers(page: str) -> None:
    rules = re.search(r"<h2>Rules</h2>(<table>.*?</table>)", page)
    assert rules is not None
    cells = re.findall(r"<td>(.*?)</td>", rules.group(1))
    assert cells == ["routine", "2", "66.7%", "default", "1", "33.3%"]
    models = re.search(r"<h2>Models</h2>(<table>.*?</table>)", page)
    assert models is not None
    assert re.search(r"<td>\$[\d,]+\.\d+</td>", models.group(1))  # money, not a raw decimal string
    assert "<td>51,000</td>" in models.group(1)  # fast's tokens in, thousands separated
