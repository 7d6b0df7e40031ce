"""The base of every IR node: frozen, tagged by `kind`, carrying its source span."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from ..source import Span


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    span: Span


_FIELDS: dict[type[Node], tuple[str, ...]] = {}
"""Each node class's field names but `span` (a Span is no node), read from pydantic once: its
`model_fields` is a descriptor that builds its answer at every access."""


def node_fields(cls: type[Node]) -> tuple[str, ...]:
    """The field names of a node class, `span` left out, in declaration order."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(name for name in cls.model_fields if name != "span")
    return names


def children(node: Node) -> Iterator[Node]:
    """The nodes directly inside `node`, in field order (tuples flattened)."""
    for name in node_fields(type(node)):
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
