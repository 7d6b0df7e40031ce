"""Decision logs read record by record (section 15), the reference both engines follow.

A log is JSON lines (`.jsonl`, `.ndjson`, `.json`) or Parquet (`.parquet`, `.pq`); `expand`
turns the arguments (files or globs) into files. Each record is one of

- a run's *end* record (section 13, `"event": "end"` or no `event`): `facts` reads what the
  report counts from it into a `Run`;
- a run's *start* record (`"event": "start"`, a `run_id`): a start with no end of the same
  `run_id` is a run its process did not finish;
- anything else: a line that is no JSON object, or an object that is no decision-log record
  (a field missing or of the wrong sort): `Problem`, counted by reason with its first location.

What `facts` accepts is the contract: the duckdb engine reads in SQL only the records it can
read exactly as `facts` does (its "plain" records) and hands every other one to `facts`.
"""

from __future__ import annotations

import glob
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from ..jsontext import JsonObject, JsonValue, RecordError, read_record
from ..logrecords import record_kind

JSONL = (".jsonl", ".ndjson", ".json")
PARQUET = (".parquet", ".pq")

ENDS = ("answered", "incomplete", "rejected", "exhausted", "over_budget", "request_error", "error",
        "interrupted")
"""How a run ends, as the log says it (section 13; `interrupted` for a stream cut short, 13.1)."""

TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")
"""The record's `time`: ISO 8601 with seconds, at most microseconds, and a zone (Z or +hh:mm)."""

MONEY = re.compile(r"[0-9]+(\.[0-9]+)?")
"""A cost: an exact, non-negative decimal string ('0.0001305')."""

PLAIN_TIME = r"[0-9]{4}-[0-9][0-9]-[0-9][0-9]T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?Z"
"""A `time` the SQL readers (duck.py, parquet.py) read themselves, as SQL: in UTC; any other
time `facts` reads."""
PLAIN_MONEY = r"[0-9]{1,12}(\.[0-9]{1,18})?"
"""A cost the SQL readers sum exactly themselves; a longer one `facts` reads."""
SAFE_INTEGER = 9007199254740992
"""2**53: the integers up to it a double holds exactly, so the SQL readers take them as numbers."""

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class LogError(Exception):
    """A log that cannot be read at all (no such file, no file matches a glob, not Parquet)."""


@dataclass(frozen=True)
class Problem:
    """A record that is not counted: `reason` says why (the same text for every such record)."""

    reason: str


@dataclass(frozen=True)
class Start:
    """A run's start record."""

    run_id: str


@dataclass(frozen=True)
class Attempt:
    """One logged call: model, step, error (None: answered), why it was skipped (None: made),
    its exact cost and its time to first token (None when not streamed)."""

    model: str
    step: int
    error: str | None
    skipped: str | None
    cost: Decimal
    ttft: float | None


@dataclass(frozen=True)
class Run:
    """What the report counts from one end record. `time` is microseconds since 1970 (UTC);
    `outcomes` are the final answer's (the last answered attempt's) bools and finite numbers;
    `signals` the names of the logged signals; `shadow` each candidate's (policy, rule)."""

    run_id: str | None
    time: int
    policy: str
    sha256: str | None
    rule: str | None
    end: str
    path: tuple[str, ...]
    cost: Decimal
    seconds: float | None
    attempts: tuple[Attempt, ...]
    outcomes: tuple[tuple[str, bool | float], ...]
    signals: JsonObject
    shadow: tuple[tuple[str, str | None], ...]
    arm: str | None


def expand(arguments: list[str]) -> list[Path]:
    """The files the arguments name, each a file or a glob (`logs/*.jsonl`), in the order
    given, each once. LogError for a file that does not exist, a glob that matches nothing, or
    a suffix that is no log format."""
    files: list[Path] = []
    for argument in arguments:
        if any(c in argument for c in "*?["):
            matches = sorted(glob.glob(argument, recursive=True))
            if not matches:
                raise LogError(f"{argument}: no file matches this pattern")
        else:
            matches = [argument]
        for match in matches:
            path = Path(match)
            if not path.is_file():
                raise LogError(f"{match}: no such file")
            if path.suffix.lower() not in JSONL + PARQUET:
                raise LogError(f"{match}: unknown log format {path.suffix or '(no suffix)'!r}; "
                               "use .jsonl or .parquet")
            if path not in files:
                files.append(path)
    return files


def records(path: Path) -> Iterator[tuple[int, JsonObject | Problem]]:
    """(line or record number, the object or a Problem) for every record of the file, in order;
    blank lines are skipped. LogError when the file cannot be opened or is not Parquet."""
    if path.suffix.lower() in PARQUET:
        return _parquet(path)
    return _jsonl(path)


def read_line(raw: bytes) -> JsonObject | Problem | None:
    """One JSON line read as every policyc command reads a record (`jsontext.read_record`): the
    object; a Problem for a line that is not UTF-8, not JSON (NaN, Infinity and numbers past a
    float's range included) or not an object, or that names a key twice at its top level; None
    for a blank line."""
    if not raw.strip(b" \t\r\n"):
        return None
    try:
        value = read_record(raw)
    except RecordError as exc:
        message = str(exc)
        if message.startswith("is not UTF-8"):
            return Problem("not UTF-8 text")
        if "twice" in message:
            return Problem("a key twice")
        if message.startswith("holds"):
            return Problem("NaN, Infinity or a number past JSON's range")
        return Problem("not JSON")
    if not isinstance(value, dict):
        return Problem("not a JSON object")
    return value


def _jsonl(path: Path) -> Iterator[tuple[int, JsonObject | Problem]]:
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise LogError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    with stream:
        for number, raw in enumerate(stream, start=1):
            value = read_line(raw)
            if value is not None:
                yield number, value


def _parquet(path: Path) -> Iterator[tuple[int, JsonObject | Problem]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise LogError("reading Parquet needs pyarrow: pip install 'policylang[duckdb]'") from None
    try:
        source = pq.ParquetFile(str(path))
    except Exception as exc:  # pyarrow's own ArrowInvalid for a file that is not Parquet
        raise LogError(f"{path}: not a Parquet file ({str(exc).splitlines()[0]})") from None
    number = 0
    for batch in source.iter_batches(batch_size=8192):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def microseconds(text: str) -> int | None:
    """A `time` as microseconds since 1970 UTC, or None when it is no such time."""
    match = TIME.fullmatch(text)
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _money(value: JsonValue) -> Decimal | None:
    return Decimal(value) if isinstance(value, str) and MONEY.fullmatch(value) else None


def _number(value: JsonValue) -> float | None:
    """A JSON number (not a bool) as a float, or None; non-finite numbers are None."""
    if value.__class__ not in (int, float):
        return None
    number = float(value) if value.__class__ is float or abs(value) < 1 << 1000 else math.inf
    return number if math.isfinite(number) else None


def classify(record: JsonObject) -> Run | Start | Problem:
    """The facts of one record, its start, or why it is no decision-log record."""
    kind = record_kind(record)
    if kind == "start":
        run_id = record.get("run_id")
        return Start(run_id) if isinstance(run_id, str) else Problem("a start record without a run_id")
    if kind != "end":  # the log's notes, and events this report does not know
        return Problem("an unknown event")
    return facts(record)


def facts(record: JsonObject) -> Run | Problem:
    """The facts of an end record, or why it is none (the first field that is wrong)."""
    time = record.get("time")
    at = microseconds(time) if isinstance(time, str) else None
    if at is None:
        return Problem("no ISO time with a zone in \"time\"" if "time" in record else "no \"time\"")
    policy = record.get("policy")
    if not isinstance(policy, str):
        return Problem("no policy name in \"policy\"")
    sha256 = record.get("policy_sha256")
    if sha256 is not None and not isinstance(sha256, str):
        return Problem("\"policy_sha256\" is not a string")
    rule = record.get("rule")
    if rule is not None and not isinstance(rule, str):
        return Problem("\"rule\" is not a string")
    end = record.get("end")
    if end not in ENDS:
        return Problem("no run end in \"end\"")
    path = record.get("path")
    if not isinstance(path, list) or not all(isinstance(m, str) for m in path):
        return Problem("\"path\" is not a list of model names")
    cost = _money(record.get("cost"))
    if cost is None:
        return Problem("\"cost\" is not a decimal string")
    seconds_value = record.get("seconds")
    seconds = _number(seconds_value)
    if seconds_value is not None and (seconds is None or seconds < 0):
        return Problem("\"seconds\" is not a number >= 0")
    signals = record.get("signals")
    if signals is None:
        signals = {}
    if not isinstance(signals, dict):
        return Problem("\"signals\" is not an object")
    arm = record.get("arm")
    if arm is not None and not isinstance(arm, str):
        return Problem("\"arm\" is not a string")
    run_id = record.get("run_id")
    if run_id is not None and not isinstance(run_id, str):
        return Problem("\"run_id\" is not a string")
    attempts = _attempts(record.get("attempts"))
    if isinstance(attempts, Problem):
        return attempts
    shadow = _shadow(record.get("shadow"))
    if isinstance(shadow, Problem):
        return shadow
    outcomes: tuple[tuple[str, bool | float], ...] = ()
    final = _final_outcomes(record["attempts"])
    if final:
        kept: list[tuple[str, bool | float]] = []
        for name, value in final.items():
            if value.__class__ is bool:
                kept.append((name, value))
            else:
                number = _number(value)
                if number is not None:
                    kept.append((name, number))
        outcomes = tuple(kept)
    return Run(run_id, at, policy, sha256, rule, end, tuple(path), cost, seconds, attempts, outcomes, signals,
               shadow, arm)


def _attempts(value: JsonValue) -> tuple[Attempt, ...] | Problem:
    if not isinstance(value, list):
        return Problem("\"attempts\" is not a list")
    attempts = []
    for item in value:
        if not isinstance(item, dict):
            return Problem("an attempt is not an object")
        model, step, error, skipped = item.get("model"), item.get("step"), item.get("error"), item.get("skipped")
        cost_value = item.get("cost")
        cost = _money("0" if cost_value is None else cost_value)  # absent or null: nothing spent
        ttft_value = item.get("ttft")
        ttft = _number(ttft_value)
        outcomes = item.get("outcomes")
        if (not isinstance(model, str) or step.__class__ is not int or not (error is None or isinstance(error, str))
                or not (skipped is None or isinstance(skipped, str)) or cost is None
                or (ttft_value is not None and (ttft is None or ttft < 0))
                or not (outcomes is None or isinstance(outcomes, dict))):
            return Problem("an attempt lacks its model, step, error, cost, ttft or outcomes as the log writes them")
        attempts.append(Attempt(model, step, error, skipped, cost, ttft))
    return tuple(attempts)


def _final_outcomes(attempts: list[JsonObject]) -> JsonObject | None:
    """The outcomes of the last answered attempt (made, no error)."""
    for item in reversed(attempts):
        if item.get("error") is None and item.get("skipped") is None:
            outcomes: JsonObject | None = item.get("outcomes")
            return outcomes
    return None


def _shadow(value: JsonValue) -> tuple[tuple[str, str | None], ...] | Problem:
    if value is None:
        return ()
    if not isinstance(value, list):
        return Problem("\"shadow\" is not a list")
    entries = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("policy"), str) or not (
                item.get("rule") is None or isinstance(item.get("rule"), str)):
            return Problem("a shadow entry lacks its policy or rule")
        entries.append((item["policy"], item.get("rule")))
    return tuple(entries)


def group_key(value: JsonValue) -> str | None:
    """A signal's value as a group of `--by`: strings as they are, bools `true`/`false`,
    numbers and others as JSON text; None when the record has no such value."""
    if value is None:
        return None
    if value.__class__ is str:
        return str(value)
    if value.__class__ is bool:
        return "true" if value else "false"
    if value.__class__ is int:
        return str(value)
    return json.dumps(value, sort_keys=True)
