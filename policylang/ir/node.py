"""The base of every IR node: frozen, tagged by `kind`, carrying its source span."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from ..source import Span


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    span: Span


def children(node: Node) -> Iterator[Node]:
    """The nodes directly inside `node`, in field order (tuples flattened)."""
    for name in type(node).model_fields:
        value = getattr(node, name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Node):
                    yield item
                elif isinstance(item, tuple):
                    yield from (x for x in item if isinstance(x, Node))


def walk(node: Node) -> Iterator[Node]:
    """`node` and every node under it, iteratively (pre-order)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


def depth(node: Node) -> tuple[int, Node]:
    """How deep the tree under `node` goes, and its deepest node; iterative, for any depth."""
    deepest, deepest_node = 1, node
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        if level > deepest:
            deepest, deepest_node = level, current
        stack.extend((child, level + 1) for child in children(current))
    return deepest, deepest_node
