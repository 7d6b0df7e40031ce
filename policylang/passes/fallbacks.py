"""Section 7 fallbacks: fallbacks that loop (E307), reported once per loop at its first fallback,
and two fallbacks for one error of one model (E308), at the second."""

from __future__ import annotations

from ..analysis.facts import Facts
from ..codes import E307, E308
from ..diagnostics import Diagnostic, Related, diagnostic
from ..ir.policy import Fallback


def check_fallbacks(facts: Facts) -> list[Diagnostic]:
    """Every loop of fallbacks (E307) and every error given two fallbacks (E308); the engines
    take the first fallback declared for an error, and a chain stops at a model already tried."""
    return _loops_found(facts) + _same_error_twice(facts)


def _same_error_twice(facts: Facts) -> list[Diagnostic]:
    found = []
    seen: dict[tuple[str, str], Fallback] = {}
    for fb in facts.policy.fallbacks:
        for error in fb.errors:
            first = seen.setdefault((fb.source, error), fb)
            if first is not fb:
                found.append(diagnostic(
                    E308, f"'{fb.source}' already falls back to '{first.target}' on {error}", fb.span,
                    related=[Related(message="the first fallback for this error", span=first.span)],
                    help=f"one fallback per error: drop {error} from one of them"))
    return found


def _loops_found(facts: Facts) -> list[Diagnostic]:
    policy = facts.policy
    graph: dict[str, list[str]] = {}
    for fb in policy.fallbacks:
        graph.setdefault(fb.source, []).append(fb.target)
    found: list[Diagnostic] = []
    for loop in _loops(graph):
        members = set(loop)
        edges = [fb for fb in policy.fallbacks if fb.source in members and fb.target in members]
        first = edges[0]
        found.append(diagnostic(
            E307,
            "fallbacks loop: " + " -> ".join(loop + [loop[0]]) + "; a failing request could go round forever",
            first.span,
            related=[Related(message="part of the loop", span=fb.span) for fb in edges[1:]],
            help="end every chain of fallbacks at a model with no fallback",
        ))
    return found


def _loops(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected parts of the graph that contain a cycle (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    loops: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1 or node in graph.get(node, ()):
                    loops.append(list(reversed(part)))
    return loops
