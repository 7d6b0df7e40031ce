"""Source texts and spans: offsets to line/column, and the caret excerpt under a span."""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A range of one source file: 1-based lines and columns, the end exclusive."""

    model_config = ConfigDict(frozen=True)

    file: str
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Source:
    """One file's text, the name it is reported under, and its line index."""

    name: str
    text: str
    path: str | None = None
    digest: str | None = None
    """The sha256 of the file's bytes as read; by default, of the text."""

    @cached_property
    def line_starts(self) -> list[int]:
        starts = [0]
        find = self.text.find
        at = find("\n")
        while at != -1:
            starts.append(at + 1)
            at = find("\n", at + 1)
        return starts

    @cached_property
    def sha256(self) -> str:
        return self.digest or hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect.bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def span(self, start: int, end: int) -> Span:
        line, column = self.position(start)
        end_line, end_column = self.position(max(start, end))
        return Span(
            file=self.name,
            start=start,
            end=max(start, end),
            line=line,
            column=column,
            end_line=end_line,
            end_column=end_column,
        )

    def line_text(self, line: int) -> str:
        starts = self.line_starts
        if not 1 <= line <= len(starts):
            return ""
        begin = starts[line - 1]
        stop = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[begin:stop].rstrip("\r")

    def excerpt(self, span: Span, label: str = "", width: int = 160) -> list[str]:
        """The span's first line with a caret underline, as rustc and Elm print it."""
        # control characters would drive the terminal: each shows as one '?', keeping columns
        text = "".join(c if c.isprintable() else "?" for c in self.line_text(span.line).expandtabs(1))
        start = span.column - 1
        stop = span.end_column - 1 if span.end_line == span.line else len(text)
        stop = max(stop, start + 1)
        if len(text) > width:  # a 2 MB line is shown around the span, not whole
            left = max(0, start - width // 2)
            shown = text[left : left + width]
            prefix = "…" if left else ""
            text = prefix + shown + ("…" if left + width < len(text) else "")
            start, stop = start - left + len(prefix), min(stop - left, width) + len(prefix)
        gutter = " " * len(str(span.line))
        underline = " " * start + "^" * max(1, stop - start)
        return [
            f"{gutter} |",
            f"{span.line} | {text}",
            f"{gutter} | {underline}" + (f" {label}" if label else ""),
        ]
