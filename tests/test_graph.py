"""`policyc graph` (docs/cli.md, `policyc graph`): Mermaid and DOT diagrams of a policy's routing.

The DOT text is handed to Graphviz's `dot` (the Debian package `graphviz`), which must accept
it, hostile rejection reasons included, and lay the rules out in order. The Mermaid text has no
parser here, so each of its lines is matched against the few statement shapes it may use, with
every label a quoted string without a raw quote in it; a small policy pins the whole output.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import unicodedata
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from conftest import example_files

import policylang
from policylang.authoring.graph import diagram, to_dot, to_mermaid
from policylang.cli import main

DOT = shutil.which("dot")
SVG = "{http://www.w3.org/2000/svg}"
POLICYC = pathlib.Path(sys.executable).parent / "policyc"

HOSTILE_REASONS = [
    'a \\"quoted\\" reason',
    "a back\\\\slash \\\\n not a newline",
    "a real\\nnewline and a\\ttab",
    "<b>html</b> & entities #quot; #35;",
    "mermaid ] ) }} --> end; subgraph x | pipes |",
    "dot } ] ; -> digraph { node",
    "unicode: café → 東京 🚀",
    "\x01 a raw control byte",
]


def hostile_policy(tmp_path: pathlib.Path) -> pathlib.Path:
    rules = "\n".join(f'  rule r{n} when n == {n} -> reject "{reason}"' for n, reason in enumerate(HOSTILE_REASONS))
    text = f"""policy hostile
signal n: int in 0..100
outcome q: float in 0.0..1.0 = 1.0
model end {{ id = "x\\"y", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 100, max_output = 10, latency = 1s }}
model subgraph = end {{ tier = 2 }}
model digraph = end {{ tier = 3 }}
cascade flowchart {{ end -> subgraph when q < 0.5 and n >= 0 }}
fallback end -> digraph on unavailable, rate_limited
route {{
{rules}
  rule node when n > 50 and (n < 60 or n > 90) -> flowchart with max_output = 5
  default -> subgraph
}}
"""
    path = tmp_path / "hostile.route"
    path.write_text(text, encoding="utf-8")
    return path


SMALL = """policy small
signal tier: enum {free, pro}
outcome confidence: float in 0.0..1.0 = 1.0
model cheap { id = "c", tier = 1, input_per_mtok = $1, output_per_mtok = $1, context = 1000, max_output = 100, latency = 1s }
model strong = cheap { tier = 2 }
model spare = cheap { tier = 1 }
cascade climb { cheap -> strong when confidence < 0.5 }
fallback cheap -> spare on unavailable, timeout
route {
  rule free when tier == free -> cheap with max_output = 50
  rule huge when tier == pro and false -> reject "never"
  default -> climb
}
"""

SMALL_MERMAID = """flowchart LR
  subgraph route ["route"]
    direction TB
    r0["1. free<br>when tier == free"]
    r1["2. huge<br>when tier == pro and false"]
    r2["3. default"]
    r0 ~~~ r1
    r1 ~~~ r2
  end
  subgraph c0 ["cascade climb"]
    direction LR
    c0_0(["cheap"])
    c0_1(["strong"])
    c0_0 -->|"confidence #lt; 0.5"| c0_1
  end
  m0(["cheap"])
  m1(["spare"])
  x1{{"reject<br>never"}}
  r0 -->|"max_output = 50"| m0
  r1 --> x1
  r2 --> c0_0
  m0 -.->|"unavailable, timeout"| m1
  c0_0 -.->|"unavailable, timeout"| m1
  classDef reject fill:#fce8e6,stroke:#c5221f
  classDef model fill:#e8f0fe,stroke:#1a73e8
  classDef step fill:#e6f4ea,stroke:#188038
  class x1 reject
  class m0,m1 model
  class c0_0,c0_1 step
"""


def load(path: pathlib.Path) -> policylang.Policy:
    return policylang.load(str(path), analyze=False)


def test_a_small_policy_as_mermaid(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "small.route"
    path.write_text(SMALL, encoding="utf-8")
    assert to_mermaid(load(path)) == SMALL_MERMAID


# ---- DOT, through Graphviz -------------------------------------------------------------------------

def render_plain(dot_text: str) -> str:
    """`dot -Tplain` of the text: fails the test when dot rejects it."""
    assert DOT is not None, "Graphviz's dot must be installed (apt-get install -y graphviz)"
    done = subprocess.run([DOT, "-Tplain"], input=dot_text, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr + dot_text
    return done.stdout


def rule_order(plain: str) -> list[str]:
    """The rule nodes from top to bottom, as dot laid them out."""
    heights = {}
    for line in plain.splitlines():
        parts = line.split()
        if parts[0] == "node" and re.fullmatch(r"r\d+", parts[1]):
            heights[parts[1]] = float(parts[3])
    return sorted(heights, key=lambda name: -heights[name])


def test_dot_is_installed_for_these_tests() -> None:
    assert DOT is not None, "install Graphviz (Debian: apt-get install -y graphviz); .ci/run needs it"


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_dot_accepts_every_example_and_draws_the_rules_in_order(path: pathlib.Path) -> None:
    policy = load(path)
    plain = render_plain(to_dot(policy))
    assert rule_order(plain) == [f"r{n}" for n in range(len(policy.ir.route))]
    labels = {m.group(1) for m in re.finditer(r'^node \S+ [\d.]+ [\d.]+ [\d.]+ [\d.]+ ("[^"]*"|\S+)', plain, re.MULTILINE)}
    shown = " ".join(labels)
    for rule in policy.ir.route:
        assert rule.name in shown


def visible(text: str) -> str:
    """How a label shows a rejection reason: control characters as `\\xNN`."""
    return "".join(c if unicodedata.category(c) != "Cc" else f"\\x{ord(c):02x}" for c in text)


def test_dot_accepts_hostile_labels_and_shows_them_as_written(tmp_path: pathlib.Path) -> None:
    policy = load(hostile_policy(tmp_path))
    dot_text = to_dot(policy)
    plain = render_plain(dot_text)
    assert rule_order(plain) == [f"r{n}" for n in range(len(policy.ir.route))]
    # the text of each rejection node as Graphviz draws it, read back from the SVG
    done = subprocess.run([DOT, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60, check=True)
    svg = ElementTree.fromstring(done.stdout)
    drawn = {}
    for group in svg.iter(f"{SVG}g"):
        title = group.find(f"{SVG}title")
        if group.get("class") == "node" and title is not None:
            drawn[title.text] = [t.text for t in group.iter(f"{SVG}text")]
    for n, rule in enumerate(policy.ir.rules[: len(HOSTILE_REASONS)]):
        assert drawn[f"x{n}"] == ["reject", visible(rule.target.reason)]  # type: ignore[union-attr]
    assert drawn["r8"] == ["9. node", "when n > 50 and (n < 60 or n > 90)"]


def test_dot_is_deterministic_across_processes(tmp_path: pathlib.Path) -> None:
    path = hostile_policy(tmp_path)
    runs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([str(POLICYC), "graph", "--format", "dot", str(path)], env=env, check=False,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs.append(done.stdout)
    assert runs[0] == runs[1] == to_dot(load(path))


# ---- Mermaid --------------------------------------------------------------------------------------

_LABEL = r'"[^"\n]*"'
_ID = r"[a-z][a-z0-9_]*"
_STATEMENTS = [
    r"flowchart LR",
    rf"  subgraph {_ID} \[{_LABEL}\]",
    r"    direction (TB|LR)",
    rf" +{_ID}(\[{_LABEL}\]|\(\[{_LABEL}\]\)|\{{\{{{_LABEL}\}}\}})",
    rf" +{_ID} (-->|-\.->|~~~)(\|{_LABEL}\|)? {_ID}",
    r"  end",
    r"  classDef (reject|model|step) fill:#[0-9a-f]{6},stroke:#[0-9a-f]{6}",
    rf"  class {_ID}(,{_ID})* (reject|model|step)",
]


def assert_mermaid_shape(text: str) -> None:
    for line in text.splitlines():
        assert any(re.fullmatch(p, line) for p in _STATEMENTS), f"not a statement this diagram uses: {line!r}"
        for label in re.findall(_LABEL, line):
            assert not re.search(r"[<>&`|#]", re.sub(r"#(quot|35|lt|gt|amp|96|124);|<br>", "", label[1:-1]))


_ENTITIES = {"quot": '"', "lt": "<", "gt": ">", "amp": "&"}


def mermaid_labels(text: str) -> list[str]:
    """Every label, its entities decoded (in one pass, as Mermaid does) and `<br>` a newline."""
    def entity(match: re.Match[str]) -> str:
        code = match.group(1)
        return chr(int(code)) if code.isdigit() else _ENTITIES[code]

    return [re.sub(r"#(quot|lt|gt|amp|\d+);", entity, label[1:-1].replace("<br>", "\n"))
            for label in re.findall(_LABEL, text)]


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_mermaid_starts_with_flowchart_and_names_every_rule_and_model(path: pathlib.Path) -> None:
    policy = load(path)
    text = to_mermaid(policy)
    assert text.startswith("flowchart ")
    assert_mermaid_shape(text)
    labels = mermaid_labels(text)
    for n, rule in enumerate(policy.ir.route):
        assert any(label.startswith(f"{n + 1}. {rule.name}") for label in labels), rule.name
    serving = {step for rule in policy.ir.route for step in policy.ir.steps(rule)}
    for model in sorted(serving):
        assert model in labels, model
        for fallback in policy.ir.fallback_closure(model):
            assert fallback in labels, fallback


def test_mermaid_quotes_hostile_labels(tmp_path: pathlib.Path) -> None:
    policy = load(hostile_policy(tmp_path))
    text = to_mermaid(policy)
    assert_mermaid_shape(text)
    labels = mermaid_labels(text)
    for rule in policy.ir.rules[: len(HOSTILE_REASONS)]:
        assert "reject\n" + visible(rule.target.reason) in labels  # type: ignore[union-attr]


def test_the_diagram_has_every_edge_the_policy_has(tmp_path: pathlib.Path) -> None:
    drawn = diagram(load(hostile_policy(tmp_path)))
    edges = [*drawn.edges, *(e for g in drawn.groups for e in g.edges)]
    cascade = [e for e in edges if e.source.startswith("c") and e.target.startswith("c")]
    assert [e.label for e in cascade] == ["q < 0.5 and n >= 0"]
    fallbacks = [e for e in edges if e.style == "dashed"]
    # `end` serves only as the cascade's first step, so its fallback is drawn from that step
    assert [(e.source, e.label) for e in fallbacks] == [("c0_0", "unavailable, rate_limited")]
    rule_edges = [e for e in drawn.edges if e.source.startswith("r")]
    assert len(rule_edges) == len(HOSTILE_REASONS) + 2
    assert any(e.label == "max_output = 5" and e.target == "c0_0" for e in rule_edges)


# ---- the command line -------------------------------------------------------------------------------


def test_policyc_graph_prints_mermaid_by_default_and_dot_when_asked() -> None:
    path = str(example_files()[0])
    runner = CliRunner()
    mermaid = runner.invoke(main, ["graph", path])
    assert mermaid.exit_code == 0 and mermaid.output == to_mermaid(load(pathlib.Path(path)))
    dot = runner.invoke(main, ["graph", "--format", "dot", path])
    assert dot.exit_code == 0 and dot.output.startswith("digraph ")


def test_policyc_graph_draws_a_policy_over_budget_but_not_one_with_name_errors(tmp_path: pathlib.Path) -> None:
    over = tmp_path / "over.route"
    over.write_text(SMALL.replace("route {", "budget cost <= $0.000001\nroute {"), encoding="utf-8")
    assert CliRunner().invoke(main, ["graph", str(over)]).exit_code == 0
    broken = tmp_path / "broken.route"
    broken.write_text(SMALL.replace("-> cheap with", "-> chaep with"), encoding="utf-8")
    result = CliRunner().invoke(main, ["graph", str(broken)])
    assert result.exit_code == 1 and "E101" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["graph", str(tmp_path / "missing.route")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
