"""Deep expressions split into shallow steps, for both engines.

Python's parser refuses 200 nested parentheses and each closure level costs a stack frame, but
a condition may nest 1,000 levels (syntax/parser.py). `split_deep` hoists subexpressions so
that no piece is deeper than `MAX_DEPTH`; the pieces are computed first, in order, then the
rest. Expressions are pure and total on validated requests, so computing a hoisted piece that
short-circuiting would have skipped changes no result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast, overload

from ...ir import expr as e
from ...ir.node import Node, children, node_fields

MAX_DEPTH = 48


@overload
def split_deep(expr: e.Expr, first_index: int = 0) -> tuple[Sequence[tuple[int, e.LoweredExpr]], e.LoweredExpr]: ...
@overload
def split_deep(expr: e.InvariantExpr, first_index: int = 0) -> tuple[Sequence[tuple[int, e.AnyExpr]], e.AnyExpr]: ...
def split_deep(expr: e.InvariantExpr, first_index: int = 0) -> tuple[Sequence[tuple[int, e.AnyExpr]], e.AnyExpr]:
    """(pieces to compute first as (index, expression), the remaining expression): a route
    expression's pieces hold `Local`s; an invariant's may also hold `model.FIELD`."""
    pieces: list[tuple[int, e.AnyExpr]] = []
    height: dict[int, int] = {}
    rebuilt: dict[int, Node] = {}
    stack: list[tuple[Node, bool]] = [(expr, False)]
    while stack:  # post-order, iteratively
        node, visited = stack.pop()
        if not visited:
            stack.append((node, True))
            stack.extend((child, False) for child in children(node))
            continue
        new = _replace_children(node, rebuilt)
        h = 1 + max((height[id(c)] for c in children(node)), default=0)
        if h >= MAX_DEPTH and node is not expr:
            index = first_index + len(pieces)
            # the nodes under an expression are expressions (types are no nodes)
            pieces.append((index, cast(e.AnyExpr, new)))
            new = e.Local(span=node.span, index=index, type=cast(e.AnyExpr, node).type)
            h = 1
        rebuilt[id(node)] = new
        height[id(node)] = h
    return pieces, cast(e.AnyExpr, rebuilt[id(expr)])


def _replace_children(node: Node, rebuilt: dict[int, Node]) -> Node:
    update: dict[str, object] = {}
    for name in node_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, Node) and id(value) in rebuilt:
            update[name] = rebuilt[id(value)]
        elif isinstance(value, tuple) and value and isinstance(value[0], Node):
            update[name] = tuple(rebuilt.get(id(v), v) for v in value)
    return node.model_copy(update=update) if update else node
