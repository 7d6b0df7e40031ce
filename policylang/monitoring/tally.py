"""What a report counts, and the python engine that counts it record by record.

A `Tally` is the finished aggregate both engines produce, field for field: counts and exact
sums keyed by (group, bucket, ...), the first location of each kind of problem, and the latency
and time-to-first-token quantiles per scope. `build.py` makes the report from a Tally alone, so
two engines that fill equal Tallies give equal reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .reading import Problem, Run, Start, classify, group_key, records

QUANTILES = ((50, "p50"), (95, "p95"), (99, "p99"))
"""The latency quantiles, in percent: each is the nearest rank, the value at 1-based rank
ceil(p * n / 100) of the n values sorted (never an interpolation)."""

Group = str | None
Bucket = int | None


@dataclass(frozen=True)
class Options:
    """What to count: `by` (a signal, or `arm` / `policy`, read from the record), `every`
    (bucket width in seconds, or None), the window [since, until) in microseconds, the policy
    name to keep (None: every policy), the policy's sha256 and signal names (with `--policy`),
    the bool outcome that marks a success, and the policy's bool outcomes."""

    by: str | None = None
    every: int | None = None
    since: int | None = None
    until: int | None = None
    policy: str | None = None
    sha256: str | None = None
    signals: frozenset[str] | None = None
    success: str | None = None
    bools: frozenset[str] = frozenset()
    """The policy's bool outcomes: reported as rates even where a log holds numbers for them."""


def rank(percent: int, count: int) -> int:
    """The 1-based nearest rank of the `percent` quantile among `count` values."""
    return max(1, -(-percent * count // 100))


def quantiles(histogram: Counter[float]) -> tuple[int, float, float, float] | None:
    """(n, p50, p95, p99) of the values counted, by nearest rank; None when there are none."""
    count = sum(histogram.values())
    if not count:
        return None
    wanted = [rank(p, count) for p, _ in QUANTILES]
    found: list[float] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while len(found) < len(wanted) and seen >= wanted[len(found)]:
            found.append(value)
    return count, found[0], found[1], found[2]


@dataclass
class Tally:
    """The aggregate of a set of logs (module docstring)."""

    files: list[str] = field(default_factory=list)
    """The logs read, in order: a location is (index in `files`, line or record number)."""
    records: int = 0
    starts: int = 0
    unfinished: int = 0
    """start records, and the distinct run_ids among them with no end record"""
    problems: dict[str, list[Any]] = field(default_factory=dict)  # reason -> [count, first location]
    outside: int = 0
    policies: dict[str, list[Any]] = field(default_factory=dict)  # name -> [count, first location]
    skipped_policy: int = 0
    versions: dict[str, list[Any]] = field(default_factory=dict)  # other sha256 -> [count, first location]
    unknown_signals: dict[str, list[Any]] = field(default_factory=dict)  # name -> [count, first location]
    runs: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict)
    """(group, bucket, rule, end, path, fell back, success) -> [requests, cost]"""
    attempts: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict)
    """(group, bucket, model, error, skipped) -> [attempts, cost]"""
    fallbacks: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    """(group, bucket, model, error) -> fallbacks taken"""
    outcomes: dict[tuple[tuple[str, ...], str], list[Any]] = field(default_factory=dict)
    """(path, outcome) -> [bools, trues, numbers, exact sum of the numbers]"""
    shadow: Counter[tuple[str, str | None, str | None]] = field(default_factory=Counter)
    """(candidate policy, live rule, candidate rule) -> requests"""
    latency: dict[tuple[str, Any], tuple[int, float, float, float]] = field(default_factory=dict)
    ttft: dict[tuple[str, Any], tuple[int, float, float, float]] = field(default_factory=dict)
    """scope ("all", None) | ("group", g) | ("bucket", b) -> (n, p50, p95, p99)"""

    def where(self, location: Location) -> str:
        """A location as `file:line`."""
        return f"{self.files[location[0]]}:{location[1]}"


Location = tuple[int, int]


def note(table: dict[Any, list[Any]], key: Any, location: Location, count: int = 1) -> None:
    """Count `count` under `key`, keeping the first (least) location."""
    entry = table.get(key)
    if entry is None:
        table[key] = [count, location]
    else:
        entry[0] += count
        if location < entry[1]:
            entry[1] = location


def fallbacks_of(run: Run) -> list[tuple[str, str]]:
    """(model, error) of each fallback the run took: a failed (or skipped) attempt followed by
    an attempt of another model for the same step."""
    out = []
    attempts = run.attempts
    for this, following in zip(attempts, attempts[1:]):
        if this.error is not None and following.step == this.step and following.model != this.model:
            out.append((this.model, this.error))
    return out


def group_of(run: Run, by: str | None) -> Group:
    """The run's group under `--by` (`arm` and `policy` are the record's own fields)."""
    if by is None:
        return None
    if by == "arm":
        return run.arm
    if by == "policy":
        return run.policy
    return group_key(run.signals.get(by))


class Counting:
    """The python engine: feed it runs (`add`), then `finish` fills the Tally's quantiles."""

    def __init__(self, options: Options, tally: Tally) -> None:
        self.options, self.tally = options, tally
        self.latency: dict[tuple[str, Any], Counter[float]] = {}
        self.ttft: dict[tuple[str, Any], Counter[float]] = {}
        self.started: set[str] = set()
        self.ended: set[str] = set()

    def feed(self, location: Location, item: dict[str, Any] | Problem) -> None:
        """Count one record read at `location` (file index, line)."""
        tally = self.tally
        tally.records += 1
        found = item if isinstance(item, Problem) else classify(item)
        if isinstance(found, Problem):
            note(tally.problems, found.reason, location)
        elif isinstance(found, Start):
            tally.starts += 1
            self.started.add(found.run_id)
        else:
            self.add(location, found)

    def add(self, location: Location, run: Run) -> None:
        """Count one end record."""
        options, tally = self.options, self.tally
        if run.run_id is not None:
            self.ended.add(run.run_id)
        if (options.since is not None and run.time < options.since) or (
                options.until is not None and run.time >= options.until):
            tally.outside += 1
            return
        if options.policy is not None and run.policy != options.policy:
            tally.skipped_policy += 1
            return
        note(tally.policies, run.policy, location)
        if options.sha256 is not None and run.sha256 is not None and run.sha256 != options.sha256:
            note(tally.versions, run.sha256, location)
        if options.signals is not None:
            for name in run.signals:
                if name not in options.signals:
                    note(tally.unknown_signals, name, location)
        group = group_of(run, options.by)
        bucket = run.time // (options.every * 1_000_000) * options.every if options.every else None
        falls = fallbacks_of(run)
        success = None
        if options.success is not None:
            value = dict(run.outcomes).get(options.success)
            success = value if value.__class__ is bool else None
        key = (group, bucket, run.rule, run.end, run.path, bool(falls), success)
        entry = tally.runs.get(key)
        if entry is None:
            tally.runs[key] = [1, run.cost]
        else:
            entry[0] += 1
            entry[1] += run.cost
        for attempt in run.attempts:
            akey = (group, bucket, attempt.model, attempt.error, attempt.skipped)
            aentry = tally.attempts.get(akey)
            if aentry is None:
                tally.attempts[akey] = [1, attempt.cost]
            else:
                aentry[0] += 1
                aentry[1] += attempt.cost
            if attempt.ttft is not None:
                self._observe(self.ttft, group, bucket, attempt.ttft)
        for model, error in falls:
            tally.fallbacks[(group, bucket, model, error)] += 1
        for name, value in run.outcomes:
            okey = (run.path, name)
            oentry = tally.outcomes.get(okey)
            if oentry is None:
                oentry = tally.outcomes[okey] = [0, 0, 0, Fraction(0)]
            if value.__class__ is bool:
                oentry[0] += 1
                oentry[1] += value
            else:
                oentry[2] += 1
                oentry[3] += Fraction(value)
        for candidate, rule in run.shadow:
            tally.shadow[(candidate, run.rule, rule)] += 1
        if run.seconds is not None and run.end in ("answered", "incomplete"):
            self._observe(self.latency, group, bucket, run.seconds)

    @staticmethod
    def _observe(table: dict[tuple[str, Any], Counter[float]], group: Group, bucket: Bucket, value: float) -> None:
        for scope in (("all", None), ("group", group), ("bucket", bucket)):
            histogram = table.get(scope)
            if histogram is None:
                histogram = table[scope] = Counter()
            histogram[value] += 1

    def finish(self, keep: Callable[[tuple[str, Any]], bool] = lambda scope: True) -> Tally:
        """The Tally, with its quantiles and unfinished runs computed."""
        self.tally.unfinished = len(self.started - self.ended)
        for source, target in ((self.latency, self.tally.latency), (self.ttft, self.tally.ttft)):
            for scope, histogram in source.items():
                found = quantiles(histogram)
                if found is not None and keep(scope):
                    target[scope] = found
        return self.tally


def count_python(files: Iterable[Path], options: Options) -> Tally:
    """The python engine: every record of every file, streamed, into one Tally."""
    counting = Counting(options, Tally(files=[str(f) for f in files]))
    for index, path in enumerate(files):
        for number, item in records(path):
            counting.feed((index, number), item)
    return counting.finish(scope_filter(options))


def scope_filter(options: Options) -> Callable[[tuple[str, Any]], bool]:
    """Which quantile scopes a report shows: the groups only with --by, buckets only with --every."""
    def keep(scope: tuple[str, Any]) -> bool:
        return scope[0] == "all" or (scope[0] == "group" and options.by is not None) or (
            scope[0] == "bucket" and options.every is not None)
    return keep


__all__ = ["Counting", "Location", "Options", "QUANTILES", "Tally", "count_python", "fallbacks_of", "group_of", "note",
           "quantiles", "rank", "scope_filter"]
