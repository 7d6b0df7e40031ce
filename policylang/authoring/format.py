"""`policyc fmt`: one canonical layout for a `.route` file (docs/cli.md, `policyc fmt`).

The layout is a function of the parse tree, the written form of each literal and the comments,
never of the input's white space (blank lines aside, which are kept, at most one in a row), so
formatting is idempotent by construction: the output parses to the same tree, with the same
comments in the same places.

- Two-space indentation in blocks; one declaration, field, edge, rule, assignment, `down` or
  `expect` per line. A block of at most one field or assignment (a model copy's overrides,
  `given`, `outcome`) may stay on one line, as HCL allows a one-argument block to.
- `=` aligned within a model block and within `given`/`outcome`; the rules of one `route`
  block aligned at `when` and at `->`; the edges of a cascade aligned; consecutive
  thresholds, signals, outcomes, one-line model copies, fallbacks and invariants (no blank
  line between them) aligned as a table.
- A line longer than 100 characters breaks its condition before each top-level `and`/`or`
  (inside the condition's own parentheses too), continued four spaces deeper.
- Numbers, money, durations and strings keep their written form (`8_000` stays `8_000`); the
  parentheses a condition was written with are kept.
- Comments: one standing on its own line stays on its own line before what follows it; one at
  the end of a line stays at the end of the line it followed, end-of-line comments of
  consecutive lines aligned two spaces past the longest. A comment inside a construct that is
  laid out on one line (say, inside a condition) moves to its own line above the construct.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import assert_never

from ..ir import surface as s
from ..ir.node import Node, walk
from ..passes.pipeline import recursion_headroom
from ..policy import PolicyError
from ..source import Source
from ..syntax.grammar import parser
from ..syntax.parser import parse

WIDTH = 100
"""The longest line the layout aims for; a longer one breaks its condition if it has one."""

INDENT = "  "
CONTINUATION = "    "
"""How much deeper a broken condition's continuation lines start than its construct."""

_COMMENT = re.compile(r"#[^\r\n]*")
_BLANK_LINE = re.compile(r"\n[ \t\f\r]*\n")


def format_source(text: str, name: str = "<string>") -> str:
    """The canonical layout of policy text (section 9.1): the same tree, the same comments,
    every literal as written, and `format_source(format_source(t)) == format_source(t)`. Raises
    PolicyError with the syntax diagnostics when the text does not parse."""
    text = re.sub(r"\r\n?", "\n", text.removeprefix("\ufeff"))
    source = Source(name, text)
    tree, diagnostics = parse(source)
    if tree is None:
        raise PolicyError(diagnostics, {name: source})
    with recursion_headroom():  # conditions nest up to 1,000 levels; the layout recurses on them
        return _Formatter(text, tree).render()


@dataclass
class Line:
    """One output line: its text (indentation included), the comment that ends it, and
    whether a blank line stands before it."""

    text: str
    comment: str | None = None
    blank: bool = False


@dataclass(frozen=True)
class _Comment:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Item:
    """One entry of a sequence (a declaration, a field, a rule): where it lies in the source
    and how to lay it out (claiming the comments inside it)."""

    start: int
    end: int
    render: Callable[[], list[Line]]


def extent(node: Node) -> tuple[int, int]:
    """The offsets of a node's first and last character, its descendants included (a rule's
    own span is only its keyword)."""
    start, end = node.span.start, node.span.end
    for inner in walk(node):
        start, end = min(start, inner.span.start), max(end, inner.span.end)
    return start, end


class _Formatter:
    def __init__(self, text: str, tree: s.File) -> None:
        self.text = text
        self.tree = tree
        self.tokens = list(parser().lex(text))
        self.starts: list[int] = [t.start_pos or 0 for t in self.tokens]
        self.ends: list[int] = [t.end_pos or 0 for t in self.tokens]
        self.partner: dict[int, int] = {}
        opened: list[int] = []
        for i, token in enumerate(self.tokens):
            if token.type in ("LPAR", "LBRACE"):
                opened.append(i)
            elif token.type in ("RPAR", "RBRACE") and opened:
                self.partner[opened.pop()] = i
        self.comments: list[_Comment] = []  # in the gaps between tokens: never inside a string
        gaps = zip([0, *self.ends], [*self.starts, len(text)])
        for gap_start, gap_end in gaps:
            for match in _COMMENT.finditer(text, gap_start, gap_end):
                self.comments.append(_Comment(match.start(), match.end(), match.group().rstrip()))
        self.comment_starts = [c.start for c in self.comments]
        self.taken = [False] * len(self.comments)

    # ---- the source under the tree ----------------------------------------------------------

    def token_index(self, offset: int) -> int:
        """The index of the first token starting at or after `offset`."""
        return bisect.bisect_left(self.starts, offset)

    def next_token(self, kind: str, offset: int, before: int | None = None) -> int | None:
        """The index of the first `kind` token at or after `offset` (and before token `before`)."""
        stop = len(self.tokens) if before is None else before
        for i in range(self.token_index(offset), stop):
            if self.tokens[i].type == kind:
                return i
        return None

    def take(self, start: int, end: int) -> list[_Comment]:
        """The comments in [start, end) not placed yet, now placed."""
        found = []
        for i in range(bisect.bisect_left(self.comment_starts, start), len(self.comments)):
            if self.comments[i].start >= end:
                break
            if not self.taken[i]:
                self.taken[i] = True
                found.append(self.comments[i])
        return found

    def has_comments(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.comment_starts, start)
        return i < len(self.comments) and self.comments[i].start < end

    def blank_between(self, start: int, end: int) -> bool:
        return _BLANK_LINE.search(self.text, start, end) is not None

    def hoisted(self, start: int, end: int, indent: str) -> list[Line]:
        """The comments inside a construct laid out on one line, each on its own line above it."""
        return [Line(indent + c.text) for c in self.take(start, end)]

    # ---- sequences with their comments --------------------------------------------------------

    def sequence(self, items: Sequence[_Item], start: int, end: int, indent: str,
                 head: Line | None = None) -> list[Line]:
        """The lines of `items`, which lie in [start, end) of the source, with the comments
        between them: an end-of-line comment ends the line it followed (`head` is the line
        that opened the block), any other stands on its own line where it stood."""
        out: list[Line] = []
        last = head
        cursor = start

        def place(comment: _Comment) -> None:
            nonlocal last, cursor
            if last is not None and last.comment is None and "\n" not in self.text[cursor:comment.start]:
                last.comment = comment.text
            else:
                out.append(Line(indent + comment.text, blank=bool(out) and self.blank_between(cursor, comment.start)))
                last = None
            cursor = comment.end

        for item in items:
            for comment in self.take(cursor, item.start):
                place(comment)
            lines = item.render()
            lines[0].blank = bool(out) and self.blank_between(cursor, item.start)
            out += lines
            last, cursor = lines[-1], item.end
        for comment in self.take(cursor, end):
            place(comment)
        return out

    def block(self, head: str, items: Sequence[_Item], open_index: int, indent: str) -> list[Line]:
        """`head {`, the items one level deeper, `}`; `head {}` when empty and uncommented."""
        close_index = self.partner[open_index]
        inside = (self.ends[open_index], self.starts[close_index])
        if not items and not self.has_comments(*inside):
            return [Line(f"{indent}{head} {{}}")]
        opening = Line(f"{indent}{head} {{")
        body = self.sequence(items, *inside, indent + INDENT, head=opening)
        return [opening, *body, Line(indent + "}")]

    # ---- the file ----------------------------------------------------------------------------

    def render(self) -> str:
        header = self.tree.name
        first = self.starts[0]
        items = [_Item(first, header.span.end, lambda: self.leaf(first, header.span.end, [f"policy {header.text}"], ""))]
        decls = list(self.tree.decls)
        widths = self.table_widths(decls)
        for decl, width in zip(decls, widths):
            start, end = self.decl_extent(decl)
            items.append(_Item(start, end, self.decl_renderer(decl, start, end, width)))
        lines = self.sequence(items, 0, len(self.text), "")
        return _text(lines)

    def decl_extent(self, decl: s.Decl) -> tuple[int, int]:
        start, end = extent(decl)
        if isinstance(decl, s.RouteDecl):  # its span is the keyword: take in the braces
            braces = self.next_token("LBRACE", start)
            assert braces is not None, "a route block that parsed has its brace"
            end = self.ends[self.partner[braces]]
        return start, end

    def leaf(self, start: int, end: int, texts: list[str], indent: str) -> list[Line]:
        """A construct laid out on its own lines: its inner comments above it."""
        return [*self.hoisted(start, end, indent), *(Line(t) for t in texts)]

    def leaf_item(self, start: int, end: int, texts: list[str], indent: str) -> _Item:
        return _Item(start, end, partial(self.leaf, start, end, texts, indent))

    def table_widths(self, decls: list[s.Decl]) -> list[tuple[int, ...] | None]:
        """Column widths for runs of consecutive one-line declarations of one kind (no blank
        line between them), so that they read as a table; None for a declaration in no run."""
        kinds = [self.table_kind(d) for d in decls]
        widths: list[tuple[int, ...] | None] = [None] * len(decls)
        i = 0
        while i < len(decls):
            j = i + 1
            if kinds[i] is not None:
                while (j < len(decls) and kinds[j] == kinds[i]
                       and not self.blank_between(extent(decls[j - 1])[1], extent(decls[j])[0])):
                    j += 1
                columns = [self.table_columns(d) for d in decls[i:j]]
                run = tuple(max(len(c[k]) for c in columns) for k in range(len(columns[0])))
                for k in range(i, j):
                    widths[k] = run
            i = j
        return widths

    def table_kind(self, decl: s.Decl) -> str | None:
        if isinstance(decl, s.ModelDecl):
            return "model" if decl.base is not None and self.inline_fields(decl) else None
        if isinstance(decl, s.SignalDecl):
            return decl.role
        return decl.kind if isinstance(decl, (s.Threshold, s.FallbackDecl, s.InvariantDecl)) else None

    def table_columns(self, decl: s.Decl) -> tuple[str, ...]:
        """The texts of a table's columns but the last, for a declaration in a table run."""
        if isinstance(decl, s.Threshold):
            return (decl.name.text,)
        if isinstance(decl, s.SignalDecl):
            return (decl.name.text + ":",)
        if isinstance(decl, s.ModelDecl):
            assert decl.base is not None
            return (decl.name.text, decl.base.text if decl.fields else "")
        if isinstance(decl, s.FallbackDecl):
            return (decl.source.text, decl.target.text)
        assert isinstance(decl, s.InvariantDecl)
        when = f"when {self.expr(decl.condition)} " if decl.condition is not None else ""
        return (decl.name.text + ":", when)

    def decl_renderer(self, decl: s.Decl, start: int, end: int, width: tuple[int, ...] | None) -> Callable[[], list[Line]]:
        match decl:
            case s.Import():
                alias = f" as {decl.alias.text}" if decl.alias is not None else ""
                return lambda: self.leaf(start, end, [f"import {self.literal(decl.path)}{alias}"], "")
            case s.Threshold():
                name = decl.name.text.ljust(width[0]) if width else decl.name.text
                return lambda: self.leaf(start, end, [f"threshold {name} = {self.expr(decl.value)}"], "")
            case s.SignalDecl():
                return lambda: self.leaf(start, end, self.signal(decl, width), "")
            case s.ModelDecl():
                return lambda: self.model(decl, start, end, width)
            case s.CascadeDecl():
                return lambda: self.cascade(decl, start, end)
            case s.FallbackDecl():
                return lambda: self.leaf(start, end, [self.fallback(decl, width)], "")
            case s.BudgetDecl():
                when = self.budget(decl)
                return lambda: self.leaf(start, end, when, "")
            case s.InvariantDecl():
                return lambda: self.leaf(start, end, self.invariant(decl, width), "")
            case s.RouteDecl():
                return lambda: self.route(decl, start, end)
            case s.TestDecl():
                return lambda: self.test(decl, start, end)
            case _:
                assert_never(decl)

    # ---- declarations ---------------------------------------------------------------------------

    def signal(self, decl: s.SignalDecl, width: tuple[int, ...] | None) -> list[str]:
        default = f" = {self.expr(decl.default)}" if decl.default is not None else ""
        head = f"{decl.role} {(decl.name.text + ':').ljust(width[0] if width else 0)} "
        kind = decl.type
        if kind.base != "enum":
            domain = f" in {self.expr(kind.domain.low)}..{self.expr(kind.domain.high)}" if kind.domain else ""
            return [f"{head}{kind.base}{domain}{default}"]
        members = [m.text for m in kind.members]
        flat = f"{head}enum {{{', '.join(members)}}}{default}"
        if len(flat) <= WIDTH or len(members) < 2:
            return [flat]
        # a long enum fills lines, each continued under its first member
        opening = f"{head}enum {{"
        lines, current = [], opening + members[0] + ","
        for i, member in enumerate(members[1:], start=1):
            piece = member + ("," if i < len(members) - 1 else "}" + default)
            if len(current) + 1 + len(piece) > WIDTH:
                lines.append(current)
                current = " " * len(opening) + piece
            else:
                current += " " + piece
        return lines + [current]

    def model_braces(self, decl: s.ModelDecl) -> int | None:
        """The index of the `{` of a model's fields, or None for a copy written without one."""
        after = (decl.base or decl.name).span.end
        index = self.token_index(after)
        return index if index < len(self.tokens) and self.tokens[index].type == "LBRACE" \
            and self.starts[index] < decl.span.end else None

    def inline_fields(self, decl: s.ModelDecl) -> bool:
        """A copy whose overrides fit on its line: at most one, and no comment among them."""
        if decl.base is None or len(decl.fields) > 1:
            return False
        braces = self.model_braces(decl)
        return braces is None or not self.has_comments(self.ends[braces], self.starts[self.partner[braces]])

    def model(self, decl: s.ModelDecl, start: int, end: int, width: tuple[int, ...] | None) -> list[Line]:
        braces = self.model_braces(decl)
        name = decl.name.text
        if decl.base is not None:
            base = decl.base.text
            if width:
                name, base = name.ljust(width[0]), base.ljust(width[1]) if decl.fields else base
            head = f"model {name} = {base}"
        else:
            head = f"model {name}"
        if decl.base is not None and self.inline_fields(decl):
            if not decl.fields:
                return self.leaf(start, end, [head.rstrip()], "")
            field = decl.fields[0]
            return self.leaf(start, end, [f"{head} {{ {field.name.text} = {self.expr(field.value)} }}"], "")
        assert braces is not None
        hoisted = self.hoisted(start, self.starts[braces], "")
        items = self.assignments(decl.fields, INDENT)
        return [*hoisted, *self.block(head.rstrip(), items, braces, "")]

    def assignments(self, pairs: Sequence[s.FieldAssign | s.Assignment], indent: str) -> list[_Item]:
        """Fields or assignments one per line, `=` aligned."""
        width = max((len(p.name.text) for p in pairs), default=0)
        items = []
        for pair in pairs:
            start, end = extent(pair)
            text = f"{indent}{pair.name.text.ljust(width)} = {self.expr(pair.value)}"
            items.append(self.leaf_item(start, end, [text], indent))
        return items

    def cascade(self, decl: s.CascadeDecl, start: int, end: int) -> list[Line]:
        braces = self.next_token("LBRACE", decl.name.span.end)
        assert braces is not None
        hoisted = self.hoisted(start, self.starts[braces], "")
        sources = max((len(e.source.text) for e in decl.edges), default=0)
        targets = max((len(e.target.text) for e in decl.edges), default=0)
        items = []
        for edge in decl.edges:
            e_start, e_end = extent(edge)
            head = f"{INDENT}{edge.source.text.ljust(sources)} -> {edge.target.text.ljust(targets)} when "
            texts = self.fit(head, edge.condition, "", INDENT + CONTINUATION)
            items.append(self.leaf_item(e_start, e_end, texts, INDENT))
        return [*hoisted, *self.block(f"cascade {decl.name.text}", items, braces, "")]

    def fallback(self, decl: s.FallbackDecl, width: tuple[int, ...] | None) -> str:
        source, target = decl.source.text, decl.target.text
        if width:
            source, target = source.ljust(width[0]), target.ljust(width[1])
        return f"fallback {source} -> {target} on {', '.join(e.text for e in decl.errors)}"

    def budget(self, decl: s.BudgetDecl) -> list[str]:
        head = f"budget {decl.metric.text} <= {self.expr(decl.bound)}"
        if decl.condition is None:
            return [head]
        return self.fit(head + " when ", decl.condition, "", CONTINUATION)

    def invariant(self, decl: s.InvariantDecl, width: tuple[int, ...] | None) -> list[str]:
        name, when = decl.name.text + ":", ""
        if decl.condition is not None:
            when = f"when {self.expr(decl.condition)} "
        if width:
            aligned = f"invariant {name.ljust(width[0])} {when.ljust(width[1])}require {self.expr(decl.requirement)}"
            if len(aligned) <= WIDTH:
                return [aligned]
        flat = f"invariant {name} {when}require {self.expr(decl.requirement)}"
        if len(flat) <= WIDTH:
            return [flat]
        lines = [f"invariant {name} "]
        if decl.condition is not None:
            lines = self.fit(lines[0] + "when ", decl.condition, " ", CONTINUATION)
        last = lines.pop()
        return lines + self.fit(last + "require ", decl.requirement, "", CONTINUATION)

    # ---- the route block ------------------------------------------------------------------------

    def route(self, decl: s.RouteDecl, start: int, end: int) -> list[Line]:
        braces = self.next_token("LBRACE", decl.span.end)
        assert braces is not None
        hoisted = self.hoisted(start, self.starts[braces], "")
        rules = list(decl.rules)
        names = max((len(r.name.text) for r in rules if r.name is not None), default=0)
        heads = [f"{INDENT}rule {_named(r)[0].ljust(names)} when {self.expr(_named(r)[1])}" for r in rules]
        tails = [self.target(r) for r in rules]
        breakable = [self.boolop(_named(r)[1])[1] is not None for r in rules]
        fits = [len(h) + 1 + len(t) <= WIDTH for h, t in zip(heads, tails)]
        arrow = max((len(h) + 1 for h, ok in zip(heads, fits) if ok), default=0)
        items = []
        for rule, head, tail, can_break, fit in zip(rules, heads, tails, breakable, fits):
            # The arrows align; a condition breaks only where its rule alone is too long (a
            # long rejection reason makes a long line that no break would shorten).
            if fit or not can_break:
                texts = [head.ljust(arrow - 1) + " " + tail if len(head) < arrow else f"{head} {tail}"]
            else:
                prefix = head[: head.index(" when ") + len(" when ")]
                texts = self.broken(prefix, _named(rule)[1], "", INDENT + CONTINUATION)
                last = texts[-1]
                if len(last) < arrow:
                    texts[-1] = last.ljust(arrow - 1) + " " + tail
                else:
                    texts[-1] = f"{last} {tail}"
            r_start, r_end = extent(rule)
            items.append(self.leaf_item(r_start, r_end, texts, INDENT))
        if decl.default is not None:
            d_start, d_end = extent(decl.default)
            text = f"{INDENT}default {self.target(decl.default)}"
            items.append(self.leaf_item(d_start, d_end, [text], INDENT))
        return [*hoisted, *self.block("route", items, braces, "")]

    def target(self, rule: s.RuleDecl) -> str:
        target = rule.target
        text = target.ref.text if isinstance(target, s.ModelTarget) else f"reject {self.literal(target.reason)}"
        return f"-> {text}{self.cap(rule.cap)}"

    def cap(self, cap: s.Cap | None) -> str:
        return "" if cap is None else f" with {cap.name.text} = {self.expr(cap.value)}"

    # ---- tests ------------------------------------------------------------------------------------

    def test(self, decl: s.TestDecl, start: int, end: int) -> list[Line]:
        braces = self.next_token("LBRACE", decl.name.span.end)
        assert braces is not None
        close = self.partner[braces]
        hoisted = self.hoisted(start, self.starts[braces], "")
        items: list[_Item] = []
        at = braces + 1
        for keyword, pairs in (("GIVEN", decl.given), ("OUTCOME", decl.outcomes)):
            if self.tokens[at].type != keyword:
                continue
            opened = at + 1
            closed = self.partner[opened]
            word = keyword.lower()
            items.append(_Item(self.starts[at], self.ends[closed],
                               partial(self.small_block, word, pairs or (), opened, INDENT)))
            at = closed + 1
        for down in decl.down:
            d_start, d_end = extent(down)
            error = f" on {down.error.text}" if down.error is not None else ""
            text = f"{INDENT}down {down.model.text}{error}"
            items.append(self.leaf_item(d_start, d_end, [text], INDENT))
        expect = self.next_token("EXPECT", self.starts[at], close)
        assert expect is not None
        e_start, e_end = self.starts[expect], self.ends[close - 1]
        text = INDENT + self.expectation(decl.expect)
        items.append(self.leaf_item(e_start, e_end, [text], INDENT))
        return [*hoisted, *self.block(f"test {decl.name.text}", items, braces, "")]

    def small_block(self, word: str, pairs: Sequence[s.Assignment], open_index: int, indent: str) -> list[Line]:
        """`given`/`outcome`: on one line when it holds at most one assignment and no comment."""
        close = self.partner[open_index]
        if len(pairs) <= 1 and not self.has_comments(self.ends[open_index], self.starts[close]):
            start = self.starts[open_index - 1]
            inside = f" {pairs[0].name.text} = {self.expr(pairs[0].value)} " if pairs else ""
            return self.leaf(start, self.ends[close], [f"{indent}{word} {{{inside}}}"], indent)
        return self.block(word, self.assignments(pairs, indent + INDENT), open_index, indent)

    def expectation(self, expect: s.Expectation) -> str:
        by = f" by {expect.rule.text}" if expect.rule is not None else ""
        if expect.reject:
            return f"expect reject{by}"
        assert expect.model is not None
        caps = list(expect.caps) or [None] * (1 + len(expect.then))
        text = f"expect {expect.model.text}{self.cap(caps[0])}{by}"
        for model, cap in zip(expect.then, caps[1:]):
            text += f" then {model.text}{self.cap(cap)}"
        return text

    # ---- conditions that break --------------------------------------------------------------------

    def boolop(self, node: s.Expr) -> tuple[int, s.BoolOp | None]:
        """The `and`/`or` at the top of a condition, under how many of its own parentheses."""
        return (self.parentheses(node), node) if isinstance(node, s.BoolOp) else (0, None)

    def broken(self, prefix: str, node: s.Expr, suffix: str, continuation: str) -> list[str]:
        """`prefix` and the condition broken before each top-level `and`/`or`, then `suffix`;
        the condition on one line when it has no top-level `and`/`or`."""
        wrapped, op = self.boolop(node)
        if op is None:
            return [prefix + self.expr(node) + suffix]
        operands = [self.expr(o) for o in op.operands]
        lines = [prefix + "(" * wrapped + operands[0]]
        lines += [f"{continuation}{op.op} {text}" for text in operands[1:]]
        lines[-1] += ")" * wrapped + suffix
        return lines

    def fit(self, prefix: str, node: s.Expr, suffix: str, continuation: str) -> list[str]:
        """One line when it fits in WIDTH, else broken (if the condition can break)."""
        flat = prefix + self.expr(node) + suffix
        return [flat] if len(flat) <= WIDTH else self.broken(prefix, node, suffix, continuation)

    # ---- expressions --------------------------------------------------------------------------------

    def parentheses(self, node: Node) -> int:
        """How many pairs of parentheses enclose exactly this node in the source."""
        first = self.token_index(node.span.start)
        last = bisect.bisect_left(self.starts, node.span.end) - 1
        count = 0
        while first < last and self.tokens[first].type == "LPAR" and self.partner.get(first) == last:
            count, first, last = count + 1, first + 1, last - 1
        return count

    def literal(self, node: Node) -> str:
        """A literal as written: its tokens (a sign, parentheses) without the space between."""
        first = self.token_index(node.span.start)
        last = bisect.bisect_left(self.starts, node.span.end)
        return "".join(str(t) for t in self.tokens[first:last])

    def expr(self, node: s.Expr | s.Range) -> str:
        if isinstance(node, s.LITERALS):
            return self.literal(node)
        wrapped = self.parentheses(node)
        return "(" * wrapped + self.bare(node) + ")" * wrapped

    def bare(self, node: s.Expr | s.Range) -> str:
        match node:
            case s.NameRef():
                return node.name.text
            case s.ModelFieldRef():
                return f"model.{node.field.text}"
            case s.FunctionCall():
                return f"{node.function.text}({node.argument.text})"
            case s.SetLit():
                return "{" + ", ".join(item.text for item in node.items) + "}"
            case s.Not():
                return f"not {self.expr(node.operand)}"
            case s.BoolOp():
                return f" {node.op} ".join(self.expr(o) for o in node.operands)
            case s.Compare():
                return f"{self.expr(node.left)} {node.op} {self.expr(node.right)}"
            case s.In():
                word = "not in" if node.negated else "in"
                return f"{self.expr(node.element)} {word} {self.expr(node.container)}"
            case s.Range():
                return f"{self.expr(node.low)}..{self.expr(node.high)}"
            case s.Sum():
                text = self.expr(node.terms[0])
                for sign, term in zip(node.signs[1:], node.terms[1:]):
                    text += f" {'+' if sign > 0 else '-'} {self.expr(term)}"
                return text
            case s.Product():
                return " * ".join(self.expr(f) for f in node.factors)
            case s.Neg():
                return f"-{self.expr(node.operand)}"
            case s.IntLit() | s.FloatLit() | s.MoneyLit() | s.DurationLit() | s.BoolLit() | s.StringLit():
                return self.literal(node)  # `expr` writes literals itself; as written here too
            case _:
                assert_never(node)


def _named(rule: s.RuleDecl) -> tuple[str, s.Expr]:
    """The name and condition of a rule of a route block's list (only the default, which the
    block keeps apart, has neither)."""
    assert rule.name is not None and rule.condition is not None, "the default is RouteDecl.default"
    return rule.name.text, rule.condition


def _indent(line: Line) -> int:
    return len(line.text) - len(line.text.lstrip())


def _aligns(line: Line) -> bool:
    """Whether a line's end-of-line comment aligns with its neighbours' (a brace line's never)."""
    code = line.text.rstrip()
    return line.comment is not None and not code.endswith("{") and code.strip() != "}"


def _text(lines: list[Line]) -> str:
    """The lines as text: the end-of-line comments of consecutive lines at one indentation
    aligned two spaces past the longest of them, no trailing white space, one final newline."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i + 1
        if _aligns(lines[i]):
            while (j < len(lines) and _aligns(lines[j]) and not lines[j].blank
                   and _indent(lines[j]) == _indent(lines[i])):
                j += 1
        column = max(len(line.text.rstrip()) for line in lines[i:j]) + 2
        for line in lines[i:j]:
            code = line.text.rstrip()
            out += [""] * line.blank + [code if line.comment is None else code.ljust(column) + line.comment]
        i = j
    return "\n".join(out).strip("\n") + "\n"
