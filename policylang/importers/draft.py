"""What every importer builds: a draft policy (signals, models, fallbacks, rules, and what the
source config could not say), written out as `.route` text in fmt's layout.

Every name that comes from a config is mangled to an identifier (`gpt-4o` is `gpt_4o`) and
every string is written as a quoted, escaped literal, so nothing in a config can become
policy syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files

from ..authoring.format import format_source
from ..ir import surface as s
from ..policy import PolicyError
from ..source import Source
from ..syntax.parser import parse

RESERVED = frozenset(("policy import as threshold signal outcome model cascade fallback on budget when invariant "
                      "require route rule default reject with test given expect by then and or not in true false "
                      "bool int float money duration enum cost latency down").split())
"""Section 11's keywords and the contextual words: never an imported name."""
ERRORS = ("unavailable", "rate_limited", "timeout", "server_error", "content_filtered")
TOKENS_LIMIT = 10_000_000
"""The domain of `input_tokens` (as std/signals declares it)."""


class ConfigError(ValueError):
    """A config that cannot be imported: what is wrong and where (a key path, or a line)."""


def identifier(text: str, prefix: str = "n") -> str:
    """`text` as an identifier: other characters become `_`, a leading digit gets `prefix_`,
    a keyword gets a trailing `_`."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(text)).strip("_") or prefix
    name = re.sub(r"_+", "_", name)
    if name[0].isdigit():
        name = f"{prefix}_{name}"
    return name + "_" if name in RESERVED else name


def described(value: object) -> str:
    """What a config value is, in a config's words: `a list`, `a string`, `null`; never a
    Python type name."""
    if value is None:
        return "null (nothing)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a value of another kind"


def quoted(text: str) -> str:
    """A `.route` string literal that reads back as `text`."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + "".join(c if c.isprintable() else " " for c in escaped) + '"'


def money(value: Decimal) -> str:
    """`$0.15`, `$10`: exact, with no trailing zeros (and no sign on a zero: `-0.0` is `$0`)."""
    text = f"{(value if value else Decimal(0)).normalize():f}"
    return "$" + (text.rstrip("0").rstrip(".") if "." in text else text)


def comment(text: str) -> str:
    """One line of a `#` comment: no newline can end it early."""
    return " ".join(str(text).split())


class Names:
    """Identifiers handed out once each: `fast`, then `fast_2`."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def new(self, text: str, prefix: str = "n") -> str:
        base = identifier(text, prefix)
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name


@dataclass(frozen=True)
class CatalogModel:
    """A model of std/catalog: its name there and its context window."""

    name: str
    context: int


@lru_cache(maxsize=1)
def catalog() -> dict[str, CatalogModel]:
    """std/catalog's models by provider id (`openai/gpt-5.5` -> `gpt_5_5`), read with the parser."""
    text = (files("policylang.stdlib") / "catalog.route").read_text(encoding="utf-8")
    tree, _ = parse(Source("std/catalog.route", text))
    found: dict[str, CatalogModel] = {}
    for decl in tree.decls if tree is not None else ():
        if isinstance(decl, s.ModelDecl):
            values = {f.name.text: f.value for f in decl.fields}
            model_id, context = values.get("id"), values.get("context")
            if isinstance(model_id, s.StringLit) and isinstance(context, s.IntLit):
                found[model_id.value] = CatalogModel(decl.name.text, context.value)
    return found


@dataclass
class DraftModel:
    """One model of the draft: its fields as `.route` text, or a catalog model it copies."""

    name: str
    id: str
    fields: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    """A field's trailing comment: where its value came from, or a TODO."""
    base: str | None = None
    missing: list[str] = field(default_factory=list)
    origin: str = ""


@dataclass
class Rule:
    name: str
    condition: str
    target: str
    """A model name, or `reject "..."`."""
    note: str = ""


@dataclass
class Draft:
    """A policy under construction, and everything the importer could not carry over."""

    name: str
    header: list[str]
    signals: list[tuple[str, str, str]] = field(default_factory=list)
    """(name, type and default as text, comment)."""
    models: list[DraftModel] = field(default_factory=list)
    fallbacks: list[tuple[str, str, tuple[str, ...], str]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    default: Rule | None = None
    todos: list[str] = field(default_factory=list)
    """What the config says that the policy does not: `# TODO` lines, and warnings."""

    def todo(self, text: str) -> None:
        if text not in self.todos:
            self.todos.append(text)

    def fallback(self, source: str, target: str, errors: tuple[str, ...], why: str) -> None:
        """`fallback SOURCE -> TARGET on ERRORS`, leaving out the errors SOURCE already falls
        back on (two fallbacks for one error is E308) and a fallback to itself."""
        if source == target:
            return
        taken = {e for s_, _, errs, _ in self.fallbacks if s_ == source for e in errs}
        kept = tuple(e for e in errors if e not in taken)
        dropped = [e for e in errors if e in taken]
        if dropped:
            existing = next(t for s_, t, errs, _ in self.fallbacks if s_ == source and dropped[0] in errs)
            if existing != target:
                self.todo(f"{why}: {source} -> {target} on {', '.join(dropped)} is not carried over: {source} "
                          f"already falls back to {existing} on those errors, and a model has one fallback per error")
        if kept:
            self.fallbacks.append((source, target, kept, why))

    def render(self) -> str:
        """The draft as `.route` text in fmt's canonical layout."""
        out: list[str] = [f"# {comment(line)}" if line else "#" for line in self.header]
        if self.todos:
            out.append("#")
            out += [f"# TODO: {comment(t)}" for t in self.todos]
        out += [f"policy {self.name}", ""]
        if any(m.base for m in self.models):
            out += ['import "std/catalog" as catalog', ""]
        for name, type_text, note in self.signals:
            out.append(f"signal {name}: {type_text}" + (f"  # {comment(note)}" if note else ""))
        out.append("")
        for model in self.models:
            if model.origin:
                out.append(f"# {comment(model.origin)}")
            for missing in model.missing:
                out.append(f"# TODO: {comment(missing)}")
            head = f"model {model.name}" + (f" = catalog.{model.base}" if model.base else "")
            if not model.fields:
                out.append(head)
                continue
            out.append(head + " {")
            for key, value in model.fields.items():
                field_note = model.notes.get(key)
                out.append(f"  {key} = {value}" + (f"  # {comment(field_note)}" if field_note else ""))
            out.append("}")
        out.append("")
        for source, target, errors, why in self.fallbacks:
            out.append(f"fallback {source} -> {target} on {', '.join(errors)}" + (f"  # {comment(why)}" if why else ""))
        out += ["", "route {"]
        for rule in self.rules:
            if rule.note:
                out.append(f"  # {comment(rule.note)}")
            out.append(f"  rule {rule.name} when {rule.condition} -> {rule.target}")
        if self.default is not None:
            if self.default.note:
                out.append(f"  # {comment(self.default.note)}")
            out.append(f"  default -> {self.default.target}")
        out.append("}")
        text = "\n".join(out) + "\n"
        try:
            return format_source(text, f"{self.name}.route")
        except PolicyError as exc:  # an importer bug: never write a file that does not parse
            raise AssertionError(f"the imported policy does not parse: {exc.diagnostics[0].message}\n{text}") from exc


@dataclass
class Imported:
    """An importer's result: the policy text and what it could not carry over."""

    text: str
    warnings: list[str]
