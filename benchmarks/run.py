"""The benchmark suite: `python -m benchmarks.run [--write] [--quick] [SUITE...]`.

Suites (all by default):
  decide   the support desk of section 1, one seeded request mix: hand-written if-chains with
           and without validation, the compiled module with and without, the interpreter,
           json-logic and cel-python (when installed: pip install -e '.[bench]')
  scale    tenant policies of 10, 100 and 1,000 rules: compiled against hand-written flat
           and tenant-indexed code, validating and not, and the interpreter
  startup  policyc compile of the 1,000-rule policy, importing its module
  shapes   issue 14's two shapes: 8 rules over 7 signals of mixed kinds against hand-written
           lazy and validating code, and the conjunctive 1,000-rule tenant policy against
           hand-written tenant-indexed code (compiled both ways, the interpreter), with the
           first import of its compiled module; one table of every ratio and its goal
  lint     policyc's checks on 10, 100 and 1,000 rules, all analyses on; the conjunctive
           tenant policy on 10 to 5,000 rules, with policyc compile beside lint
  report   policyc report over 1,000,000 generated decision-log records (100,000 with --quick):
           the duckdb engine against the python engine, each in its own process
  shadow   Router.run with 0, 1 and 3 shadow candidates, and a Split against its plain policy
  checker  issue 25: policyc lint and compile as new processes on six seeded policy shapes at
           1,000 and 10,000 rules (100 and 1,000 with --quick), CPU and wall seconds, peak RSS,
           growth and log-log slope (`python -m benchmarks.scale` runs it alone)
  runtime_e2e  issue 24's table: an async app over Router.arun and the openai SDK, the local
           OpenAI-compatible server behind a fault-injecting proxy (500s, 429s, an outage,
           resets), 40 requests a second on 127.0.0.1, about 6 minutes (1 with --quick)

Every candidate of a suite runs over the same requests; rounds interleave candidates and
each figure is the fastest of its rounds (the median beside it). `--write` records the tables
in RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter

import policylang

from . import alternatives, handwritten, policies, shapes, tenant_baselines
from .harness import git_revision, machine, time_calls, time_once
from .policies import TENANTS, arithmetic_policy, conjunctive_tenant_policy, tenant_policy

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SUPPORT_DESK = ROOT / "examples" / "support_desk.route"
TASKS = sorted(handwritten.TASKS)


def support_requests(n: int = 2_000, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    requests = []
    for _ in range(n):
        r = {"task": rng.choice(TASKS), "input_tokens": int(10 ** rng.uniform(1, 5.5))}
        if rng.random() < 0.05:
            r["pii"] = True
        if rng.random() < 0.3:
            r["tool_count"] = rng.randint(0, 8)
        if rng.random() < 0.3:
            r["user_tier"] = rng.choice(["free", "pro", "enterprise"])
        if rng.random() < 0.2:
            r["sync"] = rng.random() < 0.5
        requests.append(r)
    return requests


def tenant_requests(n: int = 2_000, seed: int = 11, tenants: int = TENANTS) -> list[dict]:
    rng = random.Random(seed)
    return [{"tenant": f"t{rng.randrange(tenants):03d}", "input_tokens": int(10 ** rng.uniform(1, 6)),
             "tool_count": rng.randint(0, 6), "user_tier": rng.choice(["free", "pro", "enterprise"]),
             "pii": rng.random() < 0.05} for _ in range(n)]


def _fields(d) -> tuple:
    if isinstance(d, tuple) and not hasattr(d, "rule"):
        return (d[0], d[1], tuple(d[2]), d[3], d[4])
    return (d.rule, d.model, tuple(d.steps), d.max_output, d.reject)


def _agree(candidates: dict, requests: list[dict]) -> None:
    """Every candidate decides every request the same way, or the comparison means nothing."""
    reference_name, (reference, _) = next(iter(candidates.items()))
    for r in requests:
        want = _fields(reference(r))
        for name, (fn, call) in candidates.items():
            got = _fields(fn(r, validate=False) if "validate=False" in call else fn(r))
            if got != want:
                raise SystemExit(f"{name} decides {r} as {got}, {reference_name} as {want}")


def _table(results, baseline: str, extra: dict[str, str] | None = None) -> list[str]:
    base = results[baseline].ns_per_call
    lines = ["| candidate | ns per decision (fastest round) | × " + baseline + " | median round | noise |",
             "|---|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r.ns_per_call:,.0f} | {r.ns_per_call / base:.2f} | {r.median:,.0f} | {r.spread:.0%} |")
    for name, note in (extra or {}).items():
        lines.append(f"| {name} | {note} | | |")
    return lines


def suite_decide(quick: bool) -> list[str]:
    policy = policylang.load(str(SUPPORT_DESK))
    module, interpreter = policy.compiled, policy.interpreter
    requests = support_requests(500 if quick else 2_000)
    candidates = {
        "hand-written, no validation": (handwritten.decide_unchecked, "f(r)"),
        "hand-written, validating": (handwritten.decide, "f(r)"),
        "compiled, validate=False": (module.decide, "f(r, validate=False)"),
        "compiled, validating": (module.decide, "f(r)"),
        "interpreter, validating": (interpreter.decide, "f(r)"),
    }
    missing = {}
    for name, fn in alternatives.available().items():
        if fn is None:
            missing[name] = "not installed: pip install -e '.[bench]'"
        else:
            candidates[name] = (fn, "f(r)")
    _agree(candidates, requests)
    slow = {n for n in candidates if "json-logic" in n or "cel" in n}
    fast = {n: c for n, c in candidates.items() if n not in slow}
    results = time_calls(fast, requests, rounds=15 if quick else 61)
    if slow:  # orders of magnitude slower: fewer requests and rounds, same mix
        results.update(time_calls({n: candidates[n] for n in slow}, requests[:200], rounds=5))
    lines = ["### decide: the support desk (8 rules, 16 signals), one request mix", ""]
    lines += _table(results, "hand-written, validating", missing)
    unchecked = results["compiled, validate=False"].ns_per_call / results["hand-written, no validation"].ns_per_call
    checked = results["compiled, validating"].ns_per_call / results["hand-written, validating"].ns_per_call
    interp = results["interpreter, validating"].ns_per_call / results["hand-written, validating"].ns_per_call
    lines += ["", f"compiled / hand-written: {checked:.2f} validating, {unchecked:.2f} without validation; "
                  f"interpreter / hand-written validating: {interp:.2f}", ""]
    return lines


def suite_scale(quick: bool) -> list[str]:
    lines = ["### scale: tenant policies (rules keyed on a 200-member enum plus thresholds)", "",
             "| rules | hand flat | hand indexed | compiled | compiled / indexed | hand flat, no validation | "
             "hand indexed, no validation | compiled, validate=False | compiled / indexed, no validation | "
             "interpreter |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    requests = tenant_requests(500 if quick else 2_000)
    growth = {}
    for n in (10, 100, 1_000):
        policy = policylang.loads(tenant_policy(n), name=f"tenants_{n}.route", analyze=False)
        module = policy.compiled
        candidates = {
            "flat": (tenant_baselines.load(tenant_baselines.flat(n, True)), "f(r)"),
            "indexed": (tenant_baselines.load(tenant_baselines.indexed(n, True)), "f(r)"),
            "compiled": (module.decide, "f(r)"),
            "flat0": (tenant_baselines.load(tenant_baselines.flat(n, False)), "f(r)"),
            "indexed0": (tenant_baselines.load(tenant_baselines.indexed(n, False)), "f(r)"),
            "compiled0": (module.decide, "f(r, validate=False)"),
            "interpreter": (policy.interpreter.decide, "f(r)"),
        }
        _agree(candidates, requests)
        r = time_calls(candidates, requests, rounds=11 if quick else 41)
        ns = {k: v.ns_per_call for k, v in r.items()}
        growth[n] = ns
        lines.append(f"| {n:,} | {ns['flat']:,.0f} | {ns['indexed']:,.0f} | {ns['compiled']:,.0f} | "
                     f"{ns['compiled'] / ns['indexed']:.2f} | {ns['flat0']:,.0f} | {ns['indexed0']:,.0f} | "
                     f"{ns['compiled0']:,.0f} | {ns['compiled0'] / ns['indexed0']:.2f} | {ns['interpreter']:,.0f} |")
    lines += ["", "growth from 10 to 1,000 rules: " + ", ".join(
        f"{k} ×{growth[1_000][k] / growth[10][k]:.2f}" for k in ("indexed", "compiled", "indexed0", "compiled0",
                                                                   "flat", "interpreter")), ""]
    return lines


def _policyc() -> str:
    return str(pathlib.Path(sys.executable).parent / "policyc")


def suite_startup(quick: bool) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        source = tmp / "tenants_1000.route"
        source.write_text(tenant_policy(1_000))
        out = tmp / "tenants_1000.py"
        compile_s = time_once(lambda: subprocess.run([_policyc(), "compile", str(source), "-o", str(out)],
                                                     check=True, capture_output=True), repeat=3 if quick else 5)
        probe = textwrap.dedent(f"""
            import importlib, sys, time
            sys.path.insert(0, {str(tmp)!r})
            start = time.perf_counter()
            importlib.import_module("tenants_1000")
            print(time.perf_counter() - start)
        """)

        def import_seconds(fresh: bool) -> float:
            if fresh:
                for cached in tmp.glob("__pycache__/*"):
                    cached.unlink()
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            run = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, env=env)
            return float(run.stdout)

        import_seconds(False)  # writes the bytecode cache
        cold = sorted(import_seconds(True) for _ in range(5))[2]
        warm = sorted(import_seconds(False) for _ in range(5))[2]
        size = out.stat().st_size
    return ["### startup: the 1,000-rule tenant policy", "",
            "| what | seconds |", "|---|---:|",
            f"| policyc compile (a new process: start, every check, write {size:,} bytes) | {compile_s:.2f} |",
            f"| import the module, no bytecode cache | {cold:.3f} |",
            f"| import the module, bytecode cached | {warm:.3f} |", ""]


def _lint_row(text: str, name: str, tmp: str, quick: bool) -> tuple[float, int, float, Counter]:
    """check() seconds in this process, solver questions, `policyc lint` seconds as a new
    process, and how many findings of each code."""
    from policylang.analysis.facts import Facts
    from policylang.backends.python.interpreter import Interpreter
    from policylang.passes import check
    from policylang.passes.analyses import ANALYSES
    from policylang.syntax.loader import decode

    source, _ = decode(name, text.encode())
    seconds = time_once(lambda: check(source), repeat=1 if quick else 3)
    codes = Counter(d.code for d in check(source).diagnostics)
    facts = Facts(check(source, analyze=False).policy, None, Interpreter)
    for analysis in ANALYSES:
        analysis(facts)
    path = pathlib.Path(tmp) / name
    path.write_text(text)
    process = time_once(lambda: subprocess.run([_policyc(), "lint", str(path)], capture_output=True), repeat=1)
    return seconds, facts.solver.queries, process, codes


def _conjunctive_rows(tmp: str, quick: bool) -> list[str]:
    """The conjunctive tenant policies of 10 to 5,000 rules: lint as above, and `policyc
    compile` as a new process (only the error-level checks run there)."""
    lines = ["", "Conjunctive tenant policies (`conjunctive_tenant_policy`: a tenant test of 30 tenants and "
             "one or two more tests per rule, so many rules are covered by several above them, each W201 "
             "with its covering set; the exact boxes decide):", "",
             "| rules | W201 | W205 | check() seconds | solver questions | policyc lint seconds | "
             "policyc compile seconds |", "|---:|---:|---:|---:|---:|---:|---:|"]
    rows = {}
    for n in (10, 100, 1_000, 5_000):
        name = f"conjunctive_{n}.route"
        seconds, queries, process, codes = _lint_row(conjunctive_tenant_policy(n), name, tmp, quick)
        path = pathlib.Path(tmp) / name
        command = [_policyc(), "compile", str(path), "-o", str(path.with_suffix(".py"))]
        compile_s = time_once(lambda: subprocess.run(command, check=True, capture_output=True),
                              repeat=1 if quick else 3)
        rows[n] = (seconds, process, compile_s, codes["W201"])
        lines.append(f"| {n:,} | {codes['W201']:,} | {codes['W205']:,} | {seconds:.2f} | {queries:,} | {process:.2f} | "
                     f"{compile_s:.2f} |")
    (c1, l1, p1, w1), (c5, l5, p5, w5) = rows[1_000], rows[5_000]
    lines += ["", f"growth from 1,000 to 5,000 rules (×5): check() ×{c5 / c1:.1f}, policyc lint ×{l5 / l1:.1f}, "
                  f"policyc compile ×{p5 / p1:.1f}; covered rules (W201) ×{w5 / w1:.1f}"]
    return lines


def suite_lint(quick: bool) -> list[str]:
    lines = ["### lint: every check and analysis (in-process `check()`, and `policyc lint` as a new process)", "",
             "Tenant policies (one-signal tests: the exact boxes decide, the solver is not asked):", "",
             "| rules | check() seconds | solver questions | policyc lint seconds |", "|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10, 100, 1_000):
            seconds, queries, process, _ = _lint_row(tenant_policy(n), f"tenants_{n}.route", tmp, quick)
            lines.append(f"| {n:,} | {seconds:.2f} | {queries:,} | {process:.2f} |")
        lines += _conjunctive_rows(tmp, quick)
        lines += ["", "Arithmetic policies (one rule in three compares a sum of two signals: the solver decides "
                  "those; many rules end up covered, each W201 with its covering set):", "",
                  "| rules | signals | check() seconds | solver questions | policyc lint seconds |",
                  "|---:|---:|---:|---:|---:|"]
        grid = [(10, 4), (100, 4), (100, 16), (100, 64)] + ([] if quick else [(1_000, 16)])
        for n, k in grid:
            seconds, queries, process, _ = _lint_row(arithmetic_policy(n, k), f"arith_{n}_{k}.route", tmp, quick)
            lines.append(f"| {n:,} | {k} | {seconds:.2f} | {queries:,} | {process:.2f} |")
    return lines + [""]


def _import_ms(module: pathlib.Path, fresh: bool) -> float:
    """Milliseconds to import `module` in a new process; `fresh` deletes its bytecode cache first."""
    if fresh:
        for cached in module.parent.glob("__pycache__/*"):
            cached.unlink()
    probe = textwrap.dedent(f"""
        import importlib, sys, time
        sys.path.insert(0, {str(module.parent)!r})
        start = time.perf_counter()
        importlib.import_module({module.stem!r})
        print(time.perf_counter() - start)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, env=env)
    return float(run.stdout) * 1000


def suite_shapes(quick: bool) -> list[str]:
    rounds = 15 if quick else 61
    eight = policylang.loads(shapes.EIGHT, name="eight_signals.route")
    requests = shapes.eight_requests(500 if quick else 2_000)
    candidates = {
        "interpreter, validating": (eight.interpreter.decide, "f(r)"),
        "hand-written, lazy": (shapes.eight_lazy, "f(r)"),
        "hand-written, validating": (shapes.eight_validating, "f(r)"),
        "compiled, validate=False": (eight.compiled.decide, "f(r, validate=False)"),
        "compiled, validating": (eight.compiled.decide, "f(r)"),
    }
    _agree(candidates, requests)
    small = time_calls(candidates, requests, rounds=rounds)
    lines = ["### shapes: 8 rules over 7 signals (two ints, a float, a bool, an enum, money, a duration), "
             "each rule reading one or two", ""]
    lines += _table(small, "hand-written, validating")

    n = 1_000
    text = policies.conjunctive_tenant_policy(n)
    tenants = policylang.loads(text, name=f"conjunctive_{n}.route", analyze=False)
    requests = shapes.conjunctive_requests(500 if quick else 2_000)
    candidates = {
        "interpreter, validating": (tenants.interpreter.decide, "f(r)"),
        "hand-written indexed, no validation": (tenant_baselines.load(shapes.conjunctive_indexed(n, False)), "f(r)"),
        "hand-written indexed, validating": (tenant_baselines.load(shapes.conjunctive_indexed(n, True)), "f(r)"),
        "compiled, validate=False": (tenants.compiled.decide, "f(r, validate=False)"),
        "compiled, validating": (tenants.compiled.decide, "f(r)"),
    }
    _agree(candidates, requests)
    large = time_calls(candidates, requests, rounds=11 if quick else 41)
    lines += ["", f"### shapes: the conjunctive tenant policy, {n:,} rules (a tenant test of 30 tenants and one "
              "or two more tests per rule)", ""]
    lines += _table(large, "hand-written indexed, validating")

    with tempfile.TemporaryDirectory() as tmp:
        source = pathlib.Path(tmp) / f"conjunctive_{n}.route"
        source.write_text(text)
        module = source.with_suffix(".py")
        subprocess.run([_policyc(), "compile", str(source), "-o", str(module)], check=True, capture_output=True)
        if not any(pathlib.Path(tmp).glob("__pycache__/*.pyc")):
            raise SystemExit("policyc compile -o wrote no bytecode cache beside the module")
        _import_ms(module, fresh=False)  # warms the file system cache; each import is a new process
        cached = sorted(_import_ms(module, fresh=False) for _ in range(5))[2]
        cold = sorted(_import_ms(module, fresh=True) for _ in range(5))[2]
        size = module.stat().st_size

    s, t = {k: v.ns_per_call for k, v in small.items()}, {k: v.ns_per_call for k, v in large.items()}
    goal = shapes._goal_row
    lines += ["", "### shapes: every ratio against its goal (fastest rounds, one process)", "",
              "| what | candidate | hand-written | ratio | goal | met |", "|---|---:|---:|---:|---:|---|",
              goal("8 rules over 7 signals, compiled, validating", s["compiled, validating"],
                   s["hand-written, validating"], shapes.GOAL_COMPILED),
              goal("the same, compiled `validate=False` against hand-written lazy", s["compiled, validate=False"],
                   s["hand-written, lazy"], shapes.GOAL_COMPILED),
              goal("the same, interpreter (validating)", s["interpreter, validating"],
                   s["hand-written, validating"], shapes.GOAL_INTERPRETER, shapes.AIM_INTERPRETER),
              goal(f"{n:,} conjunctive tenant rules, compiled, validating, against hand-written tenant-indexed",
                   t["compiled, validating"], t["hand-written indexed, validating"], shapes.GOAL_COMPILED),
              goal("the same, `validate=False`", t["compiled, validate=False"],
                   t["hand-written indexed, no validation"], shapes.GOAL_COMPILED),
              goal("the same, interpreter (validating)", t["interpreter, validating"],
                   t["hand-written indexed, validating"], shapes.GOAL_INTERPRETER, shapes.AIM_INTERPRETER),
              goal(f"importing that {n:,}-rule module ({size:,} bytes), first import, as `policyc compile -o` "
                   "leaves it (with the bytecode cache it writes beside it)", cached, None, shapes.GOAL_IMPORT_MS),
              goal("the same with `__pycache__` deleted (`--no-bytecode`, or a copy without it): "
                   "CPython compiles the module first", cold, None, None),
              ""]
    return lines


def suite_report(quick: bool) -> list[str]:
    from . import report

    return report.suite(quick)


def suite_shadow(quick: bool) -> list[str]:
    from . import shadow

    return shadow.suite(quick)


def suite_runtime_e2e(quick: bool) -> list[str]:
    from . import runtime_e2e

    return runtime_e2e.suite(quick)


def suite_checker(quick: bool) -> list[str]:
    from . import scale

    sizes = [100, 1_000] if quick else [1_000, 10_000]
    return (["### checker: policyc lint and compile on six seeded shapes (`benchmarks/scale.py`)", ""]
            + scale.measure(list(scale.SHAPES), sizes, 1, 1) + [""])


SUITES = {"decide": suite_decide, "scale": suite_scale, "startup": suite_startup, "lint": suite_lint,
          "shapes": suite_shapes, "report": suite_report, "shadow": suite_shadow,
          "runtime_e2e": suite_runtime_e2e, "checker": suite_checker}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"any of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    parser.add_argument("--write", action="store_true", help="record the results in benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; the suites are {', '.join(SUITES)}")
    args.suites = args.suites or list(SUITES)
    header = [f"## Run of {time.strftime('%Y-%m-%d %H:%M')} (commit {git_revision()})", "",
              f"Machine: {machine()}", ""]
    body = []
    for name in args.suites:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        section = SUITES[name](args.quick)
        print("\n".join(section), flush=True)
        body += section
    if args.write:
        results = HERE / "RESULTS.md"
        intro = results.read_text().split("\n## Run of", 1)[0].rstrip() + "\n\n" if results.exists() else \
            "# Benchmark results\n\nRecorded by `python -m benchmarks.run --write`; newest run first.\n\n"
        previous = ("## Run of" + results.read_text().split("\n## Run of", 1)[1]) if results.exists() and \
            "\n## Run of" in results.read_text() else ""
        results.write_text(intro + "\n".join(header + body) + "\n\n" + previous)
        print(f"wrote {results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
