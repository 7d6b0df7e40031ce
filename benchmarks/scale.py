"""The checker at scale: seeded policies of every shape, and `policyc lint` / `compile` timed on
them as new processes (issue 25).

Each generator takes the rule count `n` and a seed and gives the text of a policy that parses
and type-checks; the shapes are the ones large deployments write:

- `tenant`: per-tenant conjunctions with global rules interleaved: 85% `tenant == X` and one or
  two more tests, 13% `tenant in {3 values}`, 2% no tenant test; 16 signals; about ten rules
  per tenant.
- `pairs`: one rule per value pair of two enums (`region == a and product == b`).
- `int_eq`: one rule per `input_tokens == N and task == a`.
- `arith`: arithmetic conditions (`a + b > N`, `2 * a > N`) beside one-signal tests, keyed by
  tenant, so the solver decides where the boxes cannot.
- `cascade`: deep cascades (eight steps each) over many models, one cascade per ten rules.
- `fallback`: fallback trees: every model falls over to its parent in a tree of models.

`python -m benchmarks.scale [--sizes 1000,10000] [--shapes tenant,pairs]` prints one table row
per shape and size (median wall and CPU seconds of `lint` and `compile` over new processes, peak
RSS) and the log-log slope of the CPU seconds from the first size to the last, then the floor:
`policyc lint` of a ten-line policy (benchmarks/floor.py).
`python -m benchmarks.scale parse --sizes 10000` prints the parser's tokens a second per shape.
`python -m benchmarks.scale write DIR` writes the policies, for other tools (the JSON check in
`benchmarks/scale_check.py`).
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

_MODELS = """model small  { id = "vendor/small",  tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, context = 1_000_000, max_output = 4_000, latency = 2s }
model medium { id = "vendor/medium", tier = 2, input_per_mtok = $1,   output_per_mtok = $4,   context = 1_000_000, max_output = 4_000, latency = 4s }
model large  { id = "vendor/large",  tier = 3, input_per_mtok = $3,   output_per_mtok = $15,  context = 1_000_000, max_output = 4_000, latency = 8s }
"""

_TASKS = ("classify", "draft", "summarize", "extract", "code", "legal_review", "translate", "plan")
_FLAGS = ("pii", "agentic", "external_comms", "irreversible", "compliance_sensitive", "financial", "sync",
          "streaming")
_TIERS = ("free", "pro", "enterprise")
_NUMERIC = {"input_tokens": ("0..900_000", (2_000, 8_000, 32_000, 64_000, 128_000)),
            "conversation_depth": ("0..1_000", (5, 10, 20, 50)),
            "tool_count": ("0..100", (1, 2, 4, 8))}


def _signals(tenants: list[str]) -> list[str]:
    """The 16 signals of the tenant shapes: three enums, three numbers, eight flags... and two
    more numbers (`tenant`, `task`, `user_tier`; `input_tokens`, `conversation_depth`,
    `tool_count`, `attempt`, `priority`; the flags)."""
    lines = ["signal tenant: enum {" + ", ".join(tenants) + "}",
             "signal task: enum {" + ", ".join(_TASKS) + "}",
             "signal user_tier: enum {" + ", ".join(_TIERS) + "}"]
    lines += [f"signal {name}: int in {bounds}" for name, (bounds, _) in _NUMERIC.items()]
    lines += ["signal attempt: int in 0..10", "signal priority: int in 0..100"]
    lines += [f"signal {flag}: bool" for flag in _FLAGS]
    return lines


def _extra(rng: random.Random, kind: str) -> str:
    if kind in _NUMERIC:
        op = rng.choice((">", ">", ">=", "<"))
        return f"{kind} {op} {rng.choice(_NUMERIC[kind][1]):_}"
    if kind == "flag":
        flag = rng.choice(_FLAGS)
        return flag if rng.random() < 0.7 else f"not {flag}"
    if kind == "task":
        return "task in {" + ", ".join(sorted(rng.sample(_TASKS, rng.randint(1, 3)))) + "}"
    if kind == "priority":
        return f"priority >= {rng.choice((10, 50, 90))}"
    return f"user_tier == {rng.choice(_TIERS)}"


_KINDS = (*_NUMERIC, "flag", "task", "tier", "priority")


def _policy(name: str, declarations: list[str], rules: list[str], default: str = "small") -> str:
    return "\n".join([f"policy {name}", "", *declarations, "", _MODELS, "budget cost <= $4", "", "route {",
                      *rules, f"  default -> {default}", "}", ""])


def tenant(n: int, seed: int = 1) -> str:
    """Per-tenant conjunctions with `in` sets and global rules interleaved, 16 signals."""
    rng = random.Random(seed)
    tenants = [f"t{i:04d}" for i in range(max(10, n // 10))]
    rules = []
    for i in range(n):
        draw = rng.random()
        extras = [_extra(rng, kind) for kind in rng.sample(_KINDS, rng.choice((1, 2, 2)))]
        if draw < 0.85:
            tests = [f"tenant == {rng.choice(tenants)}", *extras]
        elif draw < 0.98:
            tests = ["tenant in {" + ", ".join(sorted(rng.sample(tenants, 3))) + "}", *extras]
        else:  # a global rule: two tests, so it takes only part of every tenant's requests
            tests = [_extra(rng, kind) for kind in rng.sample(_KINDS, 2)]
        target = rng.choice(("small", "medium", "medium", "large"))
        rules.append(f"  rule r{i:05d} when {' and '.join(tests)} -> {target}")
    return _policy("tenants", _signals(tenants), rules)


def _sides(n: int) -> tuple[int, int]:
    a = max(2, math.isqrt(n))
    return a, max(2, -(-n // a))


def pairs(n: int, seed: int = 1) -> str:
    """One rule per value pair of two enums, in a seeded order."""
    rng = random.Random(seed)
    a, b = _sides(n)
    regions = [f"r{i:03d}" for i in range(a)]
    products = [f"p{i:03d}" for i in range(b)]
    cells = [(x, y) for x in regions for y in products][:n]
    rng.shuffle(cells)
    rules = [f"  rule c{k:05d} when region == {x} and product == {y} -> {rng.choice(('small', 'medium', 'large'))}"
             for k, (x, y) in enumerate(cells)]
    declarations = ["signal region: enum {" + ", ".join(regions) + "}",
                    "signal product: enum {" + ", ".join(products) + "}"]
    return _policy("pairs", declarations, rules)


def int_eq(n: int, seed: int = 1) -> str:
    """One rule per `input_tokens == N and task == a`, in a seeded order."""
    rng = random.Random(seed)
    tasks = [f"k{i:02d}" for i in range(10)]
    cells = [(v * 100, t) for v in range(-(-n // len(tasks))) for t in tasks][:n]
    rng.shuffle(cells)
    rules = [f"  rule q{k:05d} when input_tokens == {v:_} and task == {t} -> {rng.choice(('small', 'medium', 'large'))}"
             for k, (v, t) in enumerate(cells)]
    declarations = ["signal task: enum {" + ", ".join(tasks) + "}", "signal input_tokens: int in 0..900_000"]
    return _policy("int_eq", declarations, rules)


def arith(n: int, seed: int = 1) -> str:
    """Arithmetic conditions beside one-signal tests, per tenant: one rule in four compares a sum
    or a multiple of numeric signals (the solver decides those)."""
    rng = random.Random(seed)
    tenants = [f"t{i:04d}" for i in range(max(10, n // 10))]
    numbers = [*_NUMERIC, "attempt", "priority"]
    rules = []
    for i in range(n):
        key = f"tenant == {rng.choice(tenants)}"
        if rng.random() < 0.25:
            x, y = rng.sample(numbers, 2)
            test = rng.choice((f"{x} + {y} > {rng.randint(1, 200)}", f"2 * {x} > {rng.randint(1, 100)}"))
        else:
            test = _extra(rng, rng.choice(_KINDS))
        target = rng.choice(("small", "medium", "large"))
        rules.append(f"  rule a{i:05d} when {key} and {test} -> {target}")
    return _policy("arith", _signals(tenants), rules)


_DEPTH = 8


def _models(count: int) -> list[str]:
    return [f'model m{i:04d} {{ id = "vendor/m{i:04d}", tier = {1 + i % 3}, input_per_mtok = $0.{1 + i % 9}, '
            f'output_per_mtok = $1, context = 1_000_000, max_output = 2_000, latency = 1s }}' for i in range(count)]


def cascade(n: int, seed: int = 1) -> str:
    """Deep cascades: one cascade of eight steps per ten rules, over 32 models; rules per tenant,
    one in two climbing a cascade."""
    rng = random.Random(seed)
    tenants = [f"t{i:04d}" for i in range(max(10, n // 10))]
    models = _models(32)
    declarations = [*_signals(tenants), "", *models, "outcome confidence: float in 0..1", ""]
    cascades = max(1, n // 10)
    for c in range(cascades):
        steps = rng.sample(range(32), _DEPTH)
        edges = [f"  m{steps[k]:04d} -> m{steps[k + 1]:04d} when confidence < 0.{rng.randint(3, 8)}"
                 for k in range(_DEPTH - 1)]
        declarations += [f"cascade c{c:04d} {{", *edges, "}"]
    rules = []
    for i in range(n):
        tests = [f"tenant == {rng.choice(tenants)}", _extra(rng, rng.choice(_KINDS))]
        target = f"c{rng.randrange(cascades):04d}" if rng.random() < 0.5 else f"m{rng.randrange(32):04d}"
        rules.append(f"  rule d{i:05d} when {' and '.join(tests)} -> {target}")
    text = _policy("cascades", declarations, rules, default="m0000")
    return text.replace(_MODELS, "").replace("budget cost <= $4", "budget cost <= $100")


def fallback(n: int, seed: int = 1) -> str:
    """Fallback trees: n // 10 models, each (but the root) falling over to a parent drawn among
    the models before it; rules per tenant, each to a model of the tree."""
    rng = random.Random(seed)
    tenants = [f"t{i:04d}" for i in range(max(10, n // 10))]
    count = max(4, n // 10)
    declarations = [*_signals(tenants), "", *_models(count), ""]
    declarations += [f"fallback m{i:04d} -> m{rng.randrange(max(0, i - 8), i):04d} on unavailable"
                     for i in range(1, count)]
    rules = []
    for i in range(n):
        tests = [f"tenant == {rng.choice(tenants)}", _extra(rng, rng.choice(_KINDS))]
        rules.append(f"  rule f{i:05d} when {' and '.join(tests)} -> m{rng.randrange(count):04d}")
    text = _policy("fallbacks", declarations, rules, default="m0000")
    return text.replace(_MODELS, "").replace("budget cost <= $4", "budget cost <= $100")


_MAIN = "from policylang.cli import main; main()"
"""`policyc` as a new process of this interpreter (the tree first on the path)."""

SHAPES: dict[str, Callable[[int, int], str]] = {
    "tenant": tenant, "pairs": pairs, "int_eq": int_eq, "arith": arith, "cascade": cascade, "fallback": fallback}


def _python() -> str:
    return sys.executable


TIMEOUT = 300.0
"""Seconds after which a run is stopped and reported as taking longer."""


def run_once(command: list[str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MiB of the child, and its exit
    status (-9: stopped at TIMEOUT), for one new process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timer = threading.Timer(TIMEOUT, process.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - start
    code = -9 if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code


def timed(command: list[str], repeat: int) -> tuple[float, float, float, int]:
    """The median wall and CPU seconds of `repeat` runs, their largest peak RSS (MiB), the
    last exit status."""
    runs = [run_once(command) for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), max(r[2] for r in runs),
            runs[-1][3])


def _slope(t1: float, t2: float, n1: int, n2: int) -> float:
    return math.log(t2 / t1) / math.log(n2 / n1)


def measure(shapes: list[str], sizes: list[int], repeat: int, seed: int) -> list[str]:
    """A Markdown table: for each shape and size, lint and compile (median wall and CPU
    seconds, new processes) and the larger peak RSS; then the growth and log-log slope of the
    CPU seconds from the first size to the last."""
    lines = ["| shape | rules | lint wall s | lint CPU s | lint exit | compile wall s | compile CPU s | "
             "peak RSS MiB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    growth = ["", "| shape | lint CPU growth | lint slope | compile CPU growth | compile slope |",
              "|---|---:|---:|---:|---:|"]
    policyc = [_python(), "-c", _MAIN]
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            found: dict[int, tuple[float, float]] = {}
            for n in sizes:
                path = pathlib.Path(tmp) / f"{shape}_{n}.route"
                path.write_text(SHAPES[shape](n, seed))
                lint_wall, lint_cpu, lint_rss, lint_exit = timed([*policyc, "lint", str(path)], repeat)
                compile_wall, compile_cpu, compile_rss, compile_exit = timed(
                    [*policyc, "compile", str(path), "-o", str(path.with_suffix(".py")), "--no-bytecode"], repeat)
                found[n] = (lint_cpu, compile_cpu)
                stopped = " (stopped)" if -9 in (lint_exit, compile_exit) else ""
                lines.append(f"| {shape} | {n:,} | {lint_wall:.2f} | {lint_cpu:.2f} | {lint_exit} | {compile_wall:.2f} | "
                             f"{compile_cpu:.2f} | {max(lint_rss, compile_rss):.0f}{stopped} |")
                print(lines[-1], file=sys.stderr, flush=True)
            if len(sizes) > 1:
                (l1, c1), (l2, c2) = found[sizes[0]], found[sizes[-1]]
                growth.append(f"| {shape} | ×{l2 / l1:.1f} | {_slope(l1, l2, sizes[0], sizes[-1]):.2f} | "
                              f"×{c2 / c1:.1f} | {_slope(c1, c2, sizes[0], sizes[-1]):.2f} |")
    return lines + (growth if len(sizes) > 1 else [])


def parse_rate(shapes: list[str], n: int, seed: int, repeat: int) -> list[str]:
    """A Markdown table: tokens a second through the parser (lexing and tree building
    included, the best of `repeat` in this process), for a file without syntax errors (the
    fast path) and the same file with one broken rule in the middle (the recovering loop)."""
    from policylang.syntax.loader import decode
    from policylang.syntax.parser import _lex, parse

    lines = ["| shape | rules | tokens | fast path: tokens/s | one syntax error: tokens/s |",
             "|---|---:|---:|---:|---:|"]
    for shape in shapes:
        text = SHAPES[shape](n, seed)
        middle = text.index("  rule ", len(text) // 2)
        broken = text[:middle] + "  rule broken when -> \n" + text[middle:]
        rates = []
        for body in (text, broken):
            source, _ = decode(f"{shape}.route", body.encode())
            tokens = len(_lex(source)[0])
            best = min(_cpu(lambda: parse(source)) for _ in range(repeat))
            rates.append(tokens / best)
        lines.append(f"| {shape} | {n:,} | {tokens:,} | {rates[0]:,.0f} | {rates[1]:,.0f} |")
    return lines


def _cpu(call: Callable[[], object]) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    global TIMEOUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", default="measure", choices=("measure", "write", "parse"))
    parser.add_argument("directory", nargs="?", default=None)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",")
    if args.action == "write":
        out = pathlib.Path(args.directory or ".")
        out.mkdir(parents=True, exist_ok=True)
        for shape in shapes:
            for n in sizes:
                (out / f"{shape}_{n}.route").write_text(SHAPES[shape](n, args.seed))
        return 0
    TIMEOUT = args.timeout
    if args.action == "parse":
        print("\n".join(parse_rate(shapes, sizes[-1], args.seed, args.repeat)))
        return 0
    print("\n".join(measure(shapes, sizes, args.repeat, args.seed)))
    from .floor import floor_table  # what every run of lint pays, whatever the policy's size

    print("\n" + "\n".join(floor_table([None], max(args.repeat, 7))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
