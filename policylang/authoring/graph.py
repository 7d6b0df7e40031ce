"""`policyc graph`: a policy's routing as a diagram (docs/cli.md, `policyc graph`).

One node per rule (in order, the default last), per model that may serve, per cascade step and
per rejection; an edge from each rule to its target (labelled with the rule's cap); the edges
of each cascade a rule targets, labelled with their conditions as written; fallback edges,
dashed and labelled with their errors, from every node standing for the failing model. The
same policy always gives the same text: node names are generated (`r0`, `m1`, `c0_1`, `x2`),
never taken from the policy, and every label is quoted and escaped, so no name or rejection
reason can break out of its label in either syntax.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from ..ir.policy import CascadeTarget, ModelTarget, RejectTarget, Rule
from ..policy import Policy
from ..source import Span
from ..syntax.grammar import parser

Shape = Literal["rule", "model", "step", "reject"]


@dataclass(frozen=True)
class Node:
    id: str
    label: tuple[str, ...]
    """The label's lines."""
    shape: Shape


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    style: Literal["solid", "dashed", "invisible"] = "solid"


@dataclass
class Group:
    """A box around some nodes: the route block, or one cascade."""

    id: str
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


@dataclass
class Diagram:
    """What both syntaxes draw, in the order they draw it."""

    name: str
    groups: list[Group] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def diagram(policy: Policy) -> Diagram:
    """The nodes and edges of a policy's routing, in a fixed order: the rules, each cascade a
    rule targets (in declaration order), the models that may serve (in declaration order), the
    rejections; then each rule's edge, then the fallbacks."""
    ir = policy.ir
    text = _Texts(policy)
    drawn = Diagram(ir.name)
    route = Group("route", "route")
    drawn.groups.append(route)
    cascades = [c for c in ir.cascades if any(isinstance(r.target, CascadeTarget) and r.target.cascade == c.name
                                                for r in ir.route)]
    # a model that is a rule's target or a fallback gets a node of its own; one that serves
    # only as a cascade step is drawn as that step. A fallback is drawn from each of them.
    targets = {r.target.model for r in ir.route if isinstance(r.target, ModelTarget)}
    steps = {step for c in cascades for step in c.steps}
    own_node = set(targets)
    for model in sorted(targets | steps):
        own_node.update(ir.fallback_closure(model))
    stands_for: dict[str, list[str]] = {}
    model_ids: dict[str, str] = {}
    for m in ir.models:
        if m.name in own_node:
            model_ids[m.name] = f"m{len(model_ids)}"
            drawn.nodes.append(Node(model_ids[m.name], (m.name,), "model"))
            stands_for.setdefault(m.name, []).append(model_ids[m.name])
    entries: dict[str, str] = {}
    for number, cascade in enumerate(cascades):
        group = Group(f"c{number}", f"cascade {cascade.name}")
        for k, step in enumerate(cascade.steps):
            node = Node(f"c{number}_{k}", (step,), "step")
            group.nodes.append(node)
            stands_for.setdefault(step, []).append(node.id)
        for k, edge in enumerate(cascade.edges):
            group.edges.append(Edge(f"c{number}_{k}", f"c{number}_{k + 1}", text.of(edge.condition.span)))
        entries[cascade.name] = f"c{number}_0"
        drawn.groups.append(group)
    for index, rule in enumerate(ir.route):
        route.nodes.append(Node(f"r{index}", _rule_label(index, rule, text), "rule"))
        if index:
            route.edges.append(Edge(f"r{index - 1}", f"r{index}", style="invisible"))
        cap = f"max_output = {rule.cap}" if rule.cap is not None else ""
        match rule.target:
            case ModelTarget(model=model):
                drawn.edges.append(Edge(f"r{index}", model_ids[model], cap))
            case CascadeTarget(cascade=name):
                drawn.edges.append(Edge(f"r{index}", entries[name], cap))
            case RejectTarget(reason=reason):
                drawn.nodes.append(Node(f"x{index}", ("reject", reason), "reject"))
                drawn.edges.append(Edge(f"r{index}", f"x{index}"))
    for fallback in ir.fallbacks:
        if fallback.source in stands_for and fallback.target in model_ids:
            for node_id in stands_for[fallback.source]:
                drawn.edges.append(Edge(node_id, model_ids[fallback.target], ", ".join(fallback.errors), "dashed"))
    return drawn


def _rule_label(index: int, rule: Rule, text: _Texts) -> tuple[str, ...]:
    if rule.is_default:
        return (f"{index + 1}. default",)
    assert rule.condition is not None
    return (f"{index + 1}. {rule.name}", f"when {text.of(rule.condition.span)}")


class _Texts:
    """Conditions as the policy writes them: the source under a span, one space where the
    source has white space or comments, none where it has none."""

    def __init__(self, policy: Policy) -> None:
        self.sources = policy.sources

    def of(self, span: Span) -> str:
        source = self.sources.get(span.file)
        if source is None:
            return "…"
        piece = source.text[span.start:span.end]
        out, end = "", None
        for token in parser().lex(piece):
            out += ("" if end is None or token.start_pos == end else " ") + str(token)
            end = token.end_pos
        return out


# ---- the two syntaxes ----------------------------------------------------------------------------


def _visible(text: str) -> str:
    """Control characters (a tab or a raw byte in a rejection reason) as `\\xNN`."""
    return "".join(c if unicodedata.category(c) != "Cc" else f"\\x{ord(c):02x}" for c in text)


def _dot_string(lines: tuple[str, ...] | str) -> str:
    parts = (lines,) if isinstance(lines, str) else lines
    escaped = (_visible(p).replace("\\", "\\\\").replace('"', '\\"') for p in parts)
    return '"' + "\\n".join(escaped) + '"'


_DOT_SHAPES = {
    "rule": 'shape=box, style="rounded"',
    "model": 'shape=ellipse, style=filled, fillcolor="#e8f0fe"',
    "step": 'shape=ellipse, style=filled, fillcolor="#e6f4ea"',
    "reject": 'shape=octagon, style=filled, fillcolor="#fce8e6"',
}


def to_dot(policy: Policy) -> str:
    """The diagram in Graphviz's DOT language, left to right; `dot -Tsvg` draws it."""
    drawn = diagram(policy)
    out = [f"digraph {_dot_string(drawn.name)} {{",
           '  graph [rankdir=LR, fontname="Helvetica", fontsize=12, nodesep=0.3];',
           '  node [fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=10];']

    def edge(e: Edge, indent: str) -> str:
        attributes = []
        if e.label:
            attributes.append(f"label={_dot_string(e.label)}")
        if e.style == "dashed":
            attributes.append("style=dashed")
        elif e.style == "invisible":
            attributes.append("style=invis")
        shown = f" [{', '.join(attributes)}]" if attributes else ""
        return f"{indent}{e.source} -> {e.target}{shown};"

    def node(n: Node, indent: str) -> str:
        return f"{indent}{n.id} [{_DOT_SHAPES[n.shape]}, label={_dot_string(n.label)}];"

    for group in drawn.groups:
        if group.id == "route":
            # the rules in one column, in order: a cluster around them would let dot reorder it
            out += [node(n, "  ") for n in group.nodes]
            if group.nodes:
                out.append("  { rank=same; " + " ".join(f"{n.id};" for n in group.nodes) + " }")
            out += [edge(e, "  ") for e in group.edges]
            continue
        out += [f"  subgraph cluster_{group.id} {{", f"    label={_dot_string(group.title)};"]
        out += [node(n, "    ") for n in group.nodes]
        out += [edge(e, "    ") for e in group.edges]
        out.append("  }")
    out += [node(n, "  ") for n in drawn.nodes]
    out += [edge(e, "  ") for e in drawn.edges]
    out.append("}")
    return "\n".join(out) + "\n"


_MERMAID_ESCAPES = {'"': "#quot;", "#": "#35;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;",
                    "|": "#124;"}


def _mermaid_string(lines: tuple[str, ...] | str) -> str:
    parts = (lines,) if isinstance(lines, str) else lines
    escaped = ("".join(_MERMAID_ESCAPES.get(c, c) for c in _visible(p)) for p in parts)
    return '"' + "<br>".join(escaped) + '"'


_MERMAID_SHAPES = {"rule": ("[", "]"), "model": ("([", "])"), "step": ("([", "])"), "reject": ("{{", "}}")}
_MERMAID_ARROWS = {"solid": "-->", "dashed": "-.->", "invisible": "~~~"}


def to_mermaid(policy: Policy) -> str:
    """The diagram as a Mermaid `flowchart`, left to right, for Markdown that renders it
    (GitHub does, in a ```mermaid block)."""
    drawn = diagram(policy)
    out = ["flowchart LR"]

    def node(n: Node, indent: str) -> str:
        opening, closing = _MERMAID_SHAPES[n.shape]
        return f"{indent}{n.id}{opening}{_mermaid_string(n.label)}{closing}"

    def edge(e: Edge, indent: str) -> str:
        label = f"|{_mermaid_string(e.label)}|" if e.label else ""
        return f"{indent}{e.source} {_MERMAID_ARROWS[e.style]}{label} {e.target}"

    for group in drawn.groups:
        out += [f"  subgraph {group.id} [{_mermaid_string(group.title)}]",
                f"    direction {'TB' if group.id == 'route' else 'LR'}"]
        out += [node(n, "    ") for n in group.nodes]
        out += [edge(e, "    ") for e in group.edges]
        out.append("  end")
    out += [node(n, "  ") for n in drawn.nodes]
    out += [edge(e, "  ") for e in drawn.edges]
    out += ["  classDef reject fill:#fce8e6,stroke:#c5221f",
            "  classDef model fill:#e8f0fe,stroke:#1a73e8",
            "  classDef step fill:#e6f4ea,stroke:#188038"]
    for shape in ("reject", "model", "step"):
        ids = [n.id for n in [*drawn.nodes, *(n for g in drawn.groups for n in g.nodes)] if n.shape == shape]
        if ids:
            out.append(f"  class {','.join(ids)} {shape}")
    return "\n".join(out) + "\n"
