"""The base of every IR node: frozen, tagged by `kind`, carrying its source span."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

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


_M = TypeVar("_M", bound=BaseModel)

_LAYOUTS: dict[tuple[type[BaseModel], tuple[str, ...]], tuple[dict[str, Any], set[str]] | None] = {}
"""Per class and names given (in the order given): every field with its default, in declaration
order, and the fields set validation would give; None where the names are not the class's."""

_new_object = object.__new__
# a BaseModel keeps these in slots: their descriptors set them without BaseModel.__setattr__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _layout(cls: type[BaseModel], given: tuple[str, ...]) -> tuple[dict[str, Any], set[str]] | None:
    fields = cls.model_fields
    plain = cls.model_config.get("frozen") and cls.model_config.get("extra") == "forbid" and \
        not cls.__private_attributes__ and not any(f.default_factory for f in fields.values())
    required = {name for name, info in fields.items() if info.is_required()}
    if not (plain and required <= set(given) <= set(fields)):
        return None
    return {name: info.default for name, info in fields.items()}, set(given)


def trusted(cls: type[_M], **values: Any) -> _M:
    """`cls(**values)` as pydantic's validation builds it (each field in declaration order,
    defaults filled in, the names given as its fields set: equal, and dumped to the same JSON),
    without validating: for a pass whose every value is of its field's type already, as the
    checker's are (tests/test_ir_trusted.py compares with validated construction). Names that
    are not the class's fields, a required one missing, or a class that is not frozen go
    through validation, which says what is wrong. The nodes are frozen, so every node made from
    the same names shares one fields set (pydantic's `model_copy` copies it before a change)."""
    key = (cls, tuple(values))
    try:
        layout = _LAYOUTS[key]
    except KeyError:
        layout = _LAYOUTS[key] = _layout(cls, key[1])
    if layout is None:
        return cls(**values)
    template, fields_set = layout
    fields = template.copy()
    fields.update(values)
    instance: _M = _new_object(cls)
    _set_dict(instance, fields)
    _set_fields_set(instance, fields_set)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


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
