"""Timing that a shared, noisy machine can live with: every candidate runs over the same
requests, rounds interleave the candidates, and each result is the fastest of many short rounds
(another process can only slow a round down, as timeit's documentation says), with the median
beside it. Compare candidates as ratios measured side by side in one run, never across runs."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date


@dataclass
class Result:
    name: str
    ns_per_call: float  # the fastest round: interference on a shared machine only adds time
    median: float  # the median round
    spread: float  # (median - fastest) / fastest: how much the machine's noise moved things


def _loop(call: str) -> Callable:
    """A loop that makes the call as written (`f(r)`, `f(r, validate=False)`), so that no
    wrapper adds its own cost to the candidate's."""
    namespace: dict = {}
    exec(f"def run(f, requests, passes):\n    for _ in range(passes):\n        for r in requests:\n            {call}\n",
         namespace)  # noqa: S102 - the harness's own call expressions
    return namespace["run"]


def time_calls(candidates: dict[str, tuple[Callable, str]], requests: Sequence, rounds: int = 41,
               min_seconds: float = 0.005) -> dict[str, Result]:
    """Median nanoseconds per call of each candidate `(function, call)` over `requests`, with
    rounds interleaving the candidates."""
    loops = {name: _loop(call) for name, (_, call) in candidates.items()}
    passes = {}
    for name, (fn, _) in candidates.items():  # calibrate: passes per round to be measurable
        count, elapsed = 1, 0.0
        while True:
            start = time.perf_counter()
            loops[name](fn, requests, count)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
            count *= 2
        passes[name] = count
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, (fn, _) in candidates.items():
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter_ns()
                loops[name](fn, requests, passes[name])
                elapsed = time.perf_counter_ns() - start
            finally:
                gc.enable()
            samples[name].append(elapsed / (passes[name] * len(requests)))
    out = {}
    for name, values in samples.items():
        fastest, median = min(values), statistics.median(values)
        out[name] = Result(name, fastest, median, (median - fastest) / fastest)
    return out


def time_once(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median seconds of `fn()` over `repeat` runs."""
    values = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        values.append(time.perf_counter() - start)
    return statistics.median(values)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{date.today().isoformat()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()} "
            f"({platform.python_implementation()}), {platform.system()} {platform.release()}, "
            f"load average {load:.2f} at start")


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(__file__), check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def python() -> str:
    return sys.executable
