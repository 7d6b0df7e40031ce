"""The runtime's decision log read as a traffic file (section 13.3).

A `runtime.JsonlLog` file is JSON lines whose records each hold a run: its `signals`, its
`attempts` (each answered call's outcomes and tokens) and how it ended. `simulate` and `diff
--traffic` recognise such a file by its first record (`is_log_record`) and read each run's end
record as the request it was:

- the logged `signals` are the record's signals (a money signal, which the log writes as an
  exact decimal string, is read back as that number);
- `"@outcomes"`: the outcomes of the call that answered each step, step 0 first, up to the
  first step that no call answered with outcomes (so the climb the run made is the one replayed);
- `"@output_tokens"`: the largest output any answered call of the run reported. Each replayed
  call counts `min(@output_tokens, cap)`, so a run whose answers were each `min(length, cap)`
  long (a call cut at its cap reports the cap) is priced exactly as it was;
- `"@input_tokens"`: the input the first answered call reported (read only by a policy with no
  `input_tokens` signal).

Every other record is skipped and counted: start records (each one whose run has no end record
is a run its process did not finish, counted as such), the log's `"lost"` notes (the records it
says it dropped are counted too), torn lines and JSON that is no run record. The provider errors
a run met are not replayed: every provider answers in a simulation unless `--down` says not.

`as_traffic` writes the translation line for line into a temporary JSON lines file (a skipped
record becomes a blank line), so each record keeps its line number as its location, and both
engines of `simulate` read the same plain traffic file they read for any other log.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from ..jsontext import JsonObject, JsonValue
from ..logrecords import is_log_record, record_kind
from .traffic import FORMATS

if TYPE_CHECKING:  # simulate loads its policies itself: reading a log needs none
    from ..policy import Policy

PEEK = 64
"""Lines read at most to recognise a decision log: its first JSON object decides."""

PEEK_BYTES = 1 << 22
"""A line longer than this is not parsed to recognise a log (a 50 MB line of plain traffic is
not worth parsing twice); the lines after it may still tell."""


def _first_object(lines: Iterable[bytes | str]) -> JsonValue:
    for count, line in enumerate(lines):
        if count >= PEEK:
            return None
        if len(line) > PEEK_BYTES or not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            continue  # a torn record: look at the next one
        if isinstance(value, dict):
            return value
    return None


def is_decision_log(path: str | Path) -> bool:
    """Whether a JSON lines file is a decision log: its first JSON object (within `PEEK`
    lines) is a record of one. False for a file that cannot be read (the caller reports it)."""
    try:
        with open(path, "rb") as stream:
            return is_log_record(_first_object(stream))
    except OSError:
        return False


@dataclass
class LogCounts:
    """What reading a decision log found: the runs replayed (`decisions`) and what was skipped."""

    decisions: int = 0
    starts: int = 0
    unfinished: int = 0
    lost: int = 0
    skipped: int = 0
    """Records that are no decision: start records, the log's notes, torn lines, other JSON."""
    _open: set[str] = field(default_factory=set, repr=False)

    def notes(self) -> list[str]:
        """The sentences a report shows about the log."""
        out = [f"read as a decision log: {_count(self.decisions, 'run')} replayed, "
               f"{_count(self.skipped, 'record')} skipped (not decisions: {self.starts:,} start records, notes, "
               "torn lines or other JSON)"]
        if self.unfinished:
            out.append(f"{_count(self.unfinished, 'run')} started and never ended (the process did not finish "
                       "them): not replayed")
        if self.lost:
            out.append(f"the log says it dropped {_count(self.lost, 'record')} it could not write")
        return out


_START = b'{"event": "start", "run_id": "'
"""How the runtime's start records begin, as JsonlLog encodes them: the reader counts such a
line without parsing it (half a log's lines are start records)."""
_START_COMPACT = b'{"event":"start","run_id":"'
"""The same, as JsonlLog writes it with orjson installed (no spaces)."""


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


class Reader:
    """Turns a decision log's lines into traffic records, counting what it skips."""

    def __init__(self, money: Collection[str] = ()) -> None:
        self.money = frozenset(money)
        self.counts = LogCounts()

    def record(self, line: bytes | str) -> JsonObject | None:
        """The traffic record of one log line, or None for a line that is no decision (counted;
        a blank line is neither counted nor replayed)."""
        if not line.strip():
            return None
        counts = self.counts
        raw = line.encode("utf-8") if isinstance(line, str) else line
        start = _START if raw.startswith(_START) else _START_COMPACT
        if raw.startswith(start) and raw.rstrip(b"\r\n").endswith(b"}"):  # as JsonlLog writes a start: no parse
            end = raw.find(b'"', len(start))
            run = raw[len(start):end]
            if end > 0 and run.isalnum():
                counts.skipped += 1
                counts.starts += 1
                counts._open.add(run.decode("ascii"))
                return None
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            counts.skipped += 1
            return None
        if not is_log_record(value):
            counts.skipped += 1
            return None
        kind = record_kind(value)
        run = value.get("run_id")
        if kind != "end":
            counts.skipped += 1
            if kind == "start":
                counts.starts += 1
                if isinstance(run, str):
                    counts._open.add(run)
            elif kind == "lost":
                counts.lost += value["records"]
            return None
        if isinstance(run, str):
            counts._open.discard(run)
        counts.decisions += 1
        return traffic_record(value, self.money)

    def finish(self) -> LogCounts:
        """The counts, once every line is read (a start whose run never ended is unfinished)."""
        self.counts.unfinished = len(self.counts._open)
        return self.counts


def traffic_record(record: JsonObject, money: Collection[str] = ()) -> JsonObject:
    """A run's end record as a traffic record (the module docstring says how)."""
    out: JsonObject = {}
    for name, value in record["signals"].items():
        if not isinstance(name, str) or name.startswith("@"):
            continue
        out[name] = _money(value) if name in money else value
    answered: dict[int, JsonObject] = {}
    outputs: list[int] = []
    inputs: list[int] = []
    attempts = record.get("attempts")
    for attempt in attempts if isinstance(attempts, list) else ():
        if not isinstance(attempt, dict) or any(attempt.get(k) is not None for k in ("error", "skipped", "cut")):
            continue  # failed, not made, or a stream cut short: no answer
        step = attempt.get("step")
        if isinstance(step, int) and isinstance(attempt.get("outcomes"), dict):
            answered.setdefault(step, attempt["outcomes"])
        tokens_out, tokens_in = attempt.get("gen_ai.usage.output_tokens"), attempt.get("gen_ai.usage.input_tokens")
        if tokens_out.__class__ is int and tokens_out >= 0:
            outputs.append(tokens_out)
        if tokens_in.__class__ is int and tokens_in >= 0:
            inputs.append(tokens_in)
    outcomes: list[JsonObject] = []
    while len(outcomes) in answered:
        outcomes.append(answered[len(outcomes)])
    if outcomes:
        out["@outcomes"] = outcomes
    if outputs:
        out["@output_tokens"] = max(outputs)
    if inputs:
        out["@input_tokens"] = inputs[0]
    return out


def _money(value: JsonValue) -> JsonValue:
    """A money signal as the log wrote it (an exact decimal string) as a number; any other
    value as it is (the policy then says what is wrong with it)."""
    if isinstance(value, str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return value
        if amount.is_finite():
            return int(amount) if amount.as_tuple().exponent == 0 else float(amount)
    return value


def _encode(record: JsonObject | None) -> bytes:
    if record is None:
        return b"\n"
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass
class Translated:
    """A decision log written as a plain traffic file: its path and what reading found."""

    path: str
    counts: LogCounts


@contextmanager
def as_traffic(path: str | Path, money: Collection[str] = ()) -> Iterator[Translated | None]:
    """None when `path` is no decision log; else its runs as a plain JSON lines traffic file in
    a temporary folder (removed on exit), one line for each line of the log, so that a
    record's location is its line in the log."""
    if FORMATS.get(Path(path).suffix.lower(), "jsonl") != "jsonl" or not is_decision_log(path):
        yield None  # CSV and Parquet are never logs; any other suffix may be (decisions.jsonl.1)
        return
    reader = Reader(money)
    with tempfile.TemporaryDirectory(prefix="policylang-log-") as folder:
        target = os.path.join(folder, "traffic.jsonl")
        with open(path, "rb") as lines, open(target, "wb") as out:
            for line in lines:
                out.write(_encode(reader.record(line)))
        yield Translated(target, reader.finish())


def traffic_lines(lines: Iterable[bytes], money: Collection[str] = (), counts: list[LogCounts] | None = None) \
        -> Iterator[bytes]:
    """Lines of a traffic file as `diff --traffic` reads them: unchanged when they are no
    decision log (its first JSON object says), else each run as a traffic record and a blank
    line for each record skipped. `counts`, if given, receives the log's counts at the end."""
    iterator = iter(lines)
    head: list[bytes] = []
    for line in iterator:
        head.append(line)
        if len(head) >= PEEK or _first_object([line]) is not None:
            break
    if not is_log_record(_first_object(head)):
        yield from head
        yield from iterator
        return
    reader = Reader(money)
    for part in (head, iterator):
        for line in part:
            yield _encode(reader.record(line))
    if counts is not None:
        counts.append(reader.finish())


def money_signals(*policies: Policy) -> set[str]:
    """The names of the money signals of these policies (`Policy` objects)."""
    return {s.name for p in policies for s in p.ir.inputs if s.type.kind == "money"}
