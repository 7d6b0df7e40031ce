"""Issue 25 point 6: the compiled module at 10,000 rules against hand-written indexed code,
and its first import without a bytecode cache.

`python -m benchmarks.scale_decide [--sizes 1000,10000] [--shapes conjunctive,arith]
[--rounds 21] [--requests 2000] [--repeat 5] [--eager-chains]`: the conjunctive tenant policy
(its baseline `shapes.conjunctive_indexed`, from the rule data) and `benchmarks/scale.py`'s
`arith` shape (a shape the code generator was not tuned on; its baseline `scale_indexed`, written
from the policy's rule lines), the compiled module's `decide` against the hand-written
tenant-indexed code in thread CPU time, and the module's first import in a new process with no
bytecode cache.
"""

from __future__ import annotations

import argparse
import gc
import os
import pathlib
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections import defaultdict
from collections.abc import Callable

from .harness import _loop
from .shapes import conjunctive_indexed, conjunctive_requests
from .tenant_baselines import PRELUDE


_SIGNAL = re.compile(r"^signal (\w+): (?:enum \{(.*)\}|int in ([\d_]+)\.\.([\d_]+)|(bool))$")
_RULE = re.compile(r"^  rule (\w+) when tenant == (\w+) and (.+) -> (\w+)$")
_ENUM_TEST = re.compile(r"^(\w+) (==|in) \{?([\w, ]+?)\}?$")


def _scale_signals(text: str) -> list[tuple[str, str, tuple[str, ...] | tuple[int, int] | None]]:
    """(name, kind, members or bounds) of each signal a `benchmarks/scale.py` policy declares."""
    found: list[tuple[str, str, tuple[str, ...] | tuple[int, int] | None]] = []
    for line in text.splitlines():
        m = _SIGNAL.match(line)
        if m and m[2] is not None:
            found.append((m[1], "enum", tuple(v.strip() for v in m[2].split(","))))
        elif m and m[3] is not None:
            found.append((m[1], "int", (int(m[3].replace("_", "")), int(m[4].replace("_", "")))))
        elif m:
            found.append((m[1], "bool", None))
    return found


def _scale_test(test: str, enums: dict[str, tuple[str, ...]], sets: dict[frozenset[str], str]) -> str:
    """One test of a scale.py rule as Python: enum values quoted, `in {..}` a module constant;
    numbers, `+`, `*`, `not` and the comparisons are Python's own."""
    m = _ENUM_TEST.match(test)
    if m and m[1] in enums:
        members = frozenset(v.strip() for v in m[3].split(","))
        if m[2] == "==":
            return f"{m[1]} == {m[3].strip()!r}"
        return f"{m[1]} in {sets.setdefault(members, f'S{len(sets)}')}"
    return test


def scale_indexed(text: str, validate: bool) -> str:
    """The tenant-indexed hand-written module for a `benchmarks/scale.py` policy whose every
    rule is `tenant == X and TEST` (the `arith`, `cascade` and `fallback` shapes): a dict from
    each tenant to a function holding its rules in order, each signal read just before the
    first rule that tests it (without validation) or every signal validated first (with it).
    Built from the policy's rule lines with regular expressions, never from policylang.
    `decide(signals)` returns the name of the rule that fires."""
    signals = _scale_signals(text)
    enums = {name: spec for name, kind, spec in signals if kind == "enum" and isinstance(spec, tuple)}
    by_tenant: dict[str, list[tuple[str, str]]] = defaultdict(list)
    sets: dict[frozenset[str], str] = {}
    for line in text.splitlines():
        m = _RULE.match(line)
        if m:
            by_tenant[m[2]].append((m[1], _scale_test(m[3], enums, sets)))
    names = [name for name, _, _ in signals]
    functions = []
    for tenant, rules in sorted(by_tenant.items()):
        lines, read = [f"def _{tenant}({', '.join(names) if validate else 'signals'}):"], set()
        for rule, test in rules:
            for name in names:
                if not validate and name not in read and re.search(rf"\b{name}\b", test):
                    read.add(name)
                    lines.append(f"    {name} = signals[{name!r}]")
            lines.append(f"    if {test}: return {rule!r}")
        lines.append("    return 'default'")
        functions.append("\n".join(lines))
    body = ["def decide(signals):"]
    if validate:
        body.append("    if signals.__class__ is not dict: raise RequestError('R002', None)")
        for name, kind, spec in signals:
            body.append(f"    {name} = signals.get({name!r}, MISSING)")
            if kind == "enum":
                test, slow = f"{name}.__class__ is str and {name} in E_{name}", f"members=E_{name}"
            elif kind == "int":
                assert isinstance(spec, tuple)
                test, slow = f"{name}.__class__ is int and {spec[0]} <= {name} <= {spec[1]}", f"low={spec[0]}, high={spec[1]}"
            else:
                test, slow = f"{name}.__class__ is bool", ""
            body.append(f"    if not ({test}): {name} = _slow(signals, {name!r}, {kind!r}, {slow})")
        body.append(f"    return CHAINS.get(tenant, _none)({', '.join(names)})")
    else:
        body.append("    return CHAINS.get(signals['tenant'], _none)(signals)")
    constants = [f"{name} = frozenset({sorted(members)!r})" for members, name in sets.items()]
    constants += [f"E_{name} = frozenset({list(members)!r})" for name, members in enums.items()]
    chains = "CHAINS = {" + ", ".join(f"{t!r}: _{t}" for t in sorted(by_tenant)) + "}"
    none = f"_none = lambda {', '.join(names) if validate else 'signals'}: 'default'"
    return "\n\n".join([PRELUDE % {"tenants": ()}, *constants, *functions, chains, none, "\n".join(body)]) + "\n"


def scale_requests(text: str, n: int = 2_000, seed: int = 17) -> list[dict]:
    """Seeded valid requests for a scale.py tenant policy: every signal given (all are
    required), numbers drawn near the thresholds the rules test."""
    rng = random.Random(seed)
    signals = _scale_signals(text)
    requests = []
    for _ in range(n):
        r: dict = {}
        for name, kind, spec in signals:
            if kind == "enum" and isinstance(spec, tuple):
                r[name] = rng.choice(spec)
            elif kind == "int" and isinstance(spec, tuple):
                r[name] = min(spec[1], int(spec[0] + (spec[1] - spec[0]) * rng.random() ** 4))
            else:
                r[name] = rng.random() < 0.5
        requests.append(r)
    return requests


def _import_cpu_ms(source: str, repeat: int) -> tuple[float, float]:
    """(median CPU ms, median wall ms) of a module's first import in a new process with no
    bytecode cache: `PYTHONDONTWRITEBYTECODE=1`, `-B`, no `__pycache__`, so CPython compiles it."""
    probe = ("import importlib, sys, time\nsys.path.insert(0, sys.argv[1])\n"
             "c, w = time.process_time(), time.perf_counter()\nimportlib.import_module('bench_policy')\n"
             "print(time.process_time() - c, time.perf_counter() - w)\n")
    cpu, wall = [], []
    with tempfile.TemporaryDirectory() as tmp:
        pathlib.Path(tmp, "bench_policy.py").write_text(source)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        for _ in range(repeat):
            assert not pathlib.Path(tmp, "__pycache__").exists()
            out = subprocess.run([sys.executable, "-B", "-c", probe, tmp], check=True, capture_output=True,
                                 text=True, env=env).stdout.split()
            cpu.append(float(out[0]) * 1000)
            wall.append(float(out[1]) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def cpu_time_calls(candidates: dict[str, tuple[Callable[..., object], str]], requests: list[dict],
                   rounds: int, min_seconds: float = 0.02) -> dict[str, float]:
    """Nanoseconds of this thread's CPU per call of each candidate `(function, call)`, the
    fastest of `rounds` rounds that interleave the candidates. CPU time, not wall time: on a
    machine shared with a dozen busy processes a wall-clock round is often descheduled whole."""
    loops = {name: _loop(call) for name, (_, call) in candidates.items()}
    passes: dict[str, int] = {}
    for name, (fn, _) in candidates.items():  # calibrate, and warm each candidate up
        count = 1
        while True:
            start = time.thread_time()
            loops[name](fn, requests, count)
            if time.thread_time() - start >= min_seconds:
                break
            count *= 2
        passes[name] = count
    best = {name: float("inf") for name in candidates}
    for _ in range(rounds):
        for name, (fn, _) in candidates.items():
            gc.collect()
            gc.disable()
            try:
                start = time.thread_time_ns()
                loops[name](fn, requests, passes[name])
                elapsed = time.thread_time_ns() - start
            finally:
                gc.enable()
            best[name] = min(best[name], elapsed / (passes[name] * len(requests)))
    return best


def _module(source: str) -> types.ModuleType:
    module = types.ModuleType("bench_policy")
    exec(compile(source, "<bench_policy>", "exec"), module.__dict__)  # noqa: S102 - our own generated text
    return module


def scale_rows(shapes: list[str], sizes: list[int], rounds: int, requests: int, repeat: int) -> list[str]:
    """Issue 25 point 6, one table row per policy and size: the compiled module's decide against
    hand-written tenant-indexed code (interleaved rounds, fastest), both validating and not, and
    the module's first import with no bytecode cache (new processes, CPU ms)."""
    import policylang
    from policylang.backends.python import codegen

    from . import scale
    from .policies import conjunctive_tenant_policy

    rows = ["| policy | rules | module bytes | compiled, validating | hand-written | ratio | compiled, "
            "validate=False | hand-written | ratio | import CPU ms | import wall ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for shape in shapes:
        for n in sizes:
            text = conjunctive_tenant_policy(n) if shape == "conjunctive" else scale.arith(n)
            policy = policylang.loads(text, name=f"{shape}_{n}.route", analyze=False)
            source = codegen.generate(policy.ir)
            compiled = _module(source).decide
            if shape == "conjunctive":
                checked, trusting = (_module(conjunctive_indexed(n, v)).decide for v in (True, False))
                sample = conjunctive_requests(requests)
                rule_of = lambda d: d[0]  # noqa: E731
            else:
                checked, trusting = (_module(scale_indexed(text, v)).decide for v in (True, False))
                sample = scale_requests(text, requests)
                rule_of = lambda d: d  # noqa: E731
            for r in sample:  # the baselines decide as the module does
                assert rule_of(checked(r)) == rule_of(trusting(r)) == compiled(r).rule == compiled(r, validate=False).rule, r
            t = cpu_time_calls({
                "compiled, validating": (compiled, "f(r)"), "hand, validating": (checked, "f(r)"),
                "compiled, trusted": (compiled, "f(r, validate=False)"), "hand, trusted": (trusting, "f(r)"),
            }, sample, rounds=rounds)
            cpu, wall = _import_cpu_ms(source, repeat)
            rows.append(f"| {shape} | {n:,} | {len(source.encode()):,} | {t['compiled, validating']:,.0f} ns | "
                        f"{t['hand, validating']:,.0f} ns | {t['compiled, validating'] / t['hand, validating']:.2f} | "
                        f"{t['compiled, trusted']:,.0f} ns | {t['hand, trusted']:,.0f} ns | "
                        f"{t['compiled, trusted'] / t['hand, trusted']:.2f} | {cpu:,.1f} | {wall:,.1f} |")
            print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.scale_decide [--sizes 1000,10000] [--shapes conjunctive,arith] [--rounds 21]
    [--requests 2000] [--repeat 5] [--eager-chains]`: issue 25 point 6's table (see `scale_rows`)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_decide")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5, help="new processes per import measurement")
    parser.add_argument("--shapes", default="conjunctive,arith")
    parser.add_argument("--eager-chains", action="store_true",
                        help="codegen.LAZY_CHAINS = False: one family of chains (a cheaper import, a dearer trusted path)")
    args = parser.parse_args(argv)
    if args.eager_chains:
        from policylang.backends.python import codegen
        codegen.LAZY_CHAINS = False
    sizes = [int(s) for s in args.sizes.split(",")]
    print("\n".join(scale_rows(args.shapes.split(","), sizes, args.rounds, args.requests, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
