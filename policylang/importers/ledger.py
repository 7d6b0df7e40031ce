"""Every key of an imported config accounted for: carried over into the policy, or named in a
`# TODO` line (and so a warning) saying why not. Before an importer reads a config, `survey`
walks it once, without recursion, and refuses what no router config holds: nesting deeper
than `MAX_DEPTH`, more than `MAX_VALUES` values (YAML aliases can make a small file huge), and
numbers that are not finite or larger than `MAX_NUMBER`; each refusal names the key's path.

Only key names and paths reach a TODO line, never a value, so a credential in a config
(`api_key: sk-...`) never reaches the policy or standard error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .draft import ConfigError, Draft

MAX_DEPTH = 64
"""Deeper than any router config its documentation shows (Portkey's nest a few levels)."""
MAX_VALUES = 100_000
MAX_NUMBER = 10**15
"""No count, price, weight or timeout of a router config is this large; 1e308 is a typo."""
GROUPED = 3
"""More places than this for one key are named by their pattern (`model_list[*].x`) and count."""


def key_path(parent: str, key: Any) -> str:
    """`parent.key` (`key` at the top), as the refusals and TODO lines name a key."""
    return f"{parent}.{key}" if parent else str(key)


def pattern(path: str) -> str:
    """A path with its list indices as `[*]`: one name for the same key of every entry."""
    return re.sub(r"\[\d+\]", "[*]", path)


def _check_number(value: Any, path: str) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path}: {value} is not a number a router config can mean")
    if isinstance(value, (int, float)) and abs(value) > MAX_NUMBER:
        shown = f"{Decimal(repr(value)):.3E}" if isinstance(value, float) else "a whole number of over 15 digits"
        raise ConfigError(f"{path}: {shown} is larger than any router setting (at most {MAX_NUMBER:.0E})")


@dataclass(frozen=True)
class Entry:
    """One key of a config: the path of the key it is under ("" at the top), its name, its value."""

    parent: str
    key: str
    value: Any


def survey(config: Any, top: str = "") -> dict[str, Entry]:
    """Every mapping key of `config` by its path, in document order, after checking the whole
    config (see the module docstring). Raises ConfigError naming the path of what it refuses."""
    parents: dict[str, Entry] = {}
    stack: list[tuple[Any, str, str, int]] = [(config, top, "", 0)]
    seen = 0
    while stack:
        value, path, owner, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise ConfigError(f"the config holds more than {MAX_VALUES:,} values (aliases expanded): "
                              "not a router config policyc import reads")
        if depth > MAX_DEPTH:
            shown = path if len(path) <= 80 else f"{path[:60]}..."
            raise ConfigError(f"{shown or 'the config'}: nested more than {MAX_DEPTH} levels deep: "
                              "not a router config policyc import reads")
        children: list[tuple[Any, str, str, int]] = []
        if isinstance(value, Mapping):
            for key, child in value.items():
                child_path = key_path(path, key)
                parents.setdefault(child_path, Entry(owner, str(key), child))
                children.append((child, child_path, child_path, depth + 1))
        elif isinstance(value, (list, tuple)):
            children = [(child, f"{path}[{i}]", owner, depth + 1) for i, child in enumerate(value)]
        else:
            _check_number(value, path or "the config")
        stack.extend(reversed(children))
    return parents


@dataclass
class Ledger:
    """Which keys of a config the policy carries over and which it says it does not."""

    entries: dict[str, Entry]
    """Every key of the config by its path (`survey`'s answer)."""
    used: set[str] = field(default_factory=set)
    noted: set[str] = field(default_factory=set)
    sections: set[str] = field(default_factory=set)
    """Keys whose own keys are named one by one when left over (`router_settings`)."""

    def use(self, *paths: str) -> None:
        """These keys (and everything under them) are carried over into the policy."""
        self.used.update(paths)

    def note(self, *paths: str) -> None:
        """These keys are named in a TODO line already (with their own wording)."""
        self.noted.update(paths)

    def open(self, *paths: str) -> None:
        """These keys are sections: a leftover key under one is named, not the section."""
        self.sections.update(paths)

    def _outward(self, path: str) -> list[str]:
        """`path` and the keys it is under, innermost first."""
        chain = [path]
        while (entry := self.entries.get(path)) is not None and entry.parent:
            path = entry.parent
            chain.append(path)
        return chain

    def leftovers(self) -> list[str]:
        """The keys neither carried over nor noted, outermost first: a key is listed, not what
        is under it, unless the importer read some of what is under it (then its other keys
        are listed one by one)."""
        done = self.used | self.noted
        opened = {outer for path in done if path in self.entries for outer in self._outward(path)[1:]}
        opened |= self.sections
        found: set[str] = set()
        ordered: list[str] = []
        for path in self.entries:
            chain = self._outward(path)
            if path in opened or any(p in done or p in found for p in chain):
                continue
            found.add(path)
            ordered.append(path)
        return ordered

    def report(self, draft: Draft, reason: Callable[[str], str]) -> None:
        """A TODO line (so a warning) for every reason a leftover key has, naming its keys:
        `reason(path)` says why the key at `path` is not carried over."""
        groups: dict[str, dict[str, list[str]]] = {}
        for path in self.leftovers():
            groups.setdefault(reason(path), {}).setdefault(pattern(path), []).append(path)
        for why, shapes in groups.items():
            draft.todo(f"{', '.join(_places(shape, paths) for shape, paths in shapes.items())}: {why}")


def _places(shape: str, paths: list[str]) -> str:
    if len(paths) <= GROUPED:
        return ", ".join(paths)
    return f"{shape} ({len(paths)} places)"
