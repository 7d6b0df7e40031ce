"""What a record of the runtime's decision log is (section 13), in one place: the runtime reads
its own log with it (`runtime.read_log`), `simulate` recognises a log given as traffic
(`simulation.decisionlog`), and `report` sorts a log's records (`monitoring.reading`).

A decision log is JSON lines, one object per record:

- a run's *end* record: `"event": "end"`, or no `event` at all (logs written before start
  records existed), or a null one;
- a run's *start* record: `"event": "start"` and its `run_id`, written before the run's first
  upstream call;
- the log's own *lost* note: `"event": "lost"` and how many `records` it dropped;
- an *unfinished* record (`"event": "unfinished"`): never written, made by `read_log` for a
  start whose run has no end record;
- any other `event`: a record of some later runtime that these readers skip.

A run's record (an end, a start or another event about a run) carries the run's `signals` and
the `policy_sha256` that decided it.
"""

from __future__ import annotations

from typing import Literal

START = "start"
END = "end"
LOST = "lost"
UNFINISHED = "unfinished"

RecordKind = Literal["start", "end", "lost", "unfinished", "other"]


def record_kind(value: object) -> RecordKind | None:
    """Which record of a decision log `value` is, by its `event` (the module docstring lists
    them); None when it is no JSON object at all. It says nothing of the record's other
    fields: each reader checks those it reads."""
    if not isinstance(value, dict):
        return None
    event = value.get("event")
    if event is None or event == END:
        return "end"
    if event == START:
        return "start"
    if event == LOST:
        return "lost"
    if event == UNFINISHED:
        return "unfinished"
    return "other"


def is_start(record: object) -> bool:
    """Whether a record is a run's start record."""
    return record_kind(record) == "start"


def is_end(record: object) -> bool:
    """Whether a record is a run's end record (`"event": "end"`, or no `event`)."""
    return record_kind(record) == "end"


def is_log_record(value: object) -> bool:
    """Whether a JSON value is a record of a decision log: a run's record (with `signals` and
    `policy_sha256`: an end record, a start record, or any other event about a run), or the
    log's own lost note (with its count of `records`)."""
    if not isinstance(value, dict):
        return False
    if record_kind(value) == "lost":
        return isinstance(value.get("records"), int)
    return isinstance(value.get("signals"), dict) and "policy_sha256" in value
