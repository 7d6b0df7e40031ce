"""Same findings before and after: `policyc lint --format json` and `policyc compile` of every
fixture, example, shared conformance case and benchmark policy, recorded from one tree and
compared byte for byte against another (issue 25: the checker's speed-ups change no finding).

    python -m benchmarks.scale_check policies DIR          # write the benchmark policies to DIR
    python -m benchmarks.scale_check record TREE DIR OUT [--only lint|compile]
    python -m benchmarks.scale_check compare BEFORE AFTER  # exit 1 and name every difference

TREE is a checkout of the repository (e.g. `git archive START | tar -x -C /tmp/start`), run with
this interpreter and TREE first on the path; the files are named by their absolute paths, so
both records must be made from the same DIR and the same repository paths.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys

from benchmarks import policies, scale
from benchmarks.scale import _MAIN

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
SIZES = (30, 300, 1_000)


def write_policies(directory: pathlib.Path) -> None:
    """The benchmark policies: every shape of `scale` at SIZES, and those of `policies`."""
    directory.mkdir(parents=True, exist_ok=True)
    for shape, make in scale.SHAPES.items():
        for n in SIZES:
            for seed in (1, 2):
                (directory / f"{shape}_{n}_{seed}.route").write_text(make(n, seed))
    for n in (10, 100, 1_000):
        (directory / f"tenant_policy_{n}.route").write_text(policies.tenant_policy(n))
        (directory / f"conjunctive_{n}.route").write_text(policies.conjunctive_tenant_policy(n))
    (directory / "arithmetic_100_16.route").write_text(policies.arithmetic_policy(100, 16))


def files(directory: pathlib.Path) -> list[pathlib.Path]:
    """Every policy the check covers."""
    found = sorted((REPOSITORY / "tests" / "fixtures").rglob("*.route"))
    found += sorted((REPOSITORY / "examples").glob("*.route"))
    found += sorted((REPOSITORY.parent / "shared" / "conformance" / "cases").glob("*.route"))
    return found + sorted(directory.glob("*.route"))


def _run(tree: pathlib.Path, arguments: list[str]) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, "-c", _MAIN, *arguments], capture_output=True,
                          env=env, cwd=tree, timeout=900)
    return done.returncode, done.stdout.decode()


def record(tree: pathlib.Path, directory: pathlib.Path, which: str = "both") -> dict[str, dict[str, object]]:
    """For each file: lint's exit status and JSON, compile's exit status and a digest of its
    output (`which`: "lint" or "compile" for only one of them)."""
    out: dict[str, dict[str, object]] = {}
    for path in files(directory):
        found: dict[str, object] = {}
        if which != "compile":
            found["lint"], found["json"] = _run(tree, ["lint", "--format", "json", str(path)])
        if which != "lint":
            found["compile"], module = _run(tree, ["compile", str(path)])
            found["module"] = hashlib.sha256(str(module).encode()).hexdigest()
        out[str(path)] = found
        print(path.name, found.get("lint"), found.get("compile"), file=sys.stderr, flush=True)
    return out


def compare(before: dict[str, dict[str, object]], after: dict[str, dict[str, object]]) -> list[str]:
    """Every file whose record differs, and every file in only one record."""
    problems = [f"only in one record: {name}" for name in sorted(before.keys() ^ after.keys())]
    for name in sorted(before.keys() & after.keys()):
        for field in sorted(before[name].keys() & after[name].keys()):
            if before[name][field] != after[name][field]:
                problems.append(f"{name}: {field} differs")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("policies", "record", "compare"))
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--only", choices=("both", "lint", "compile"), default="both")
    args = parser.parse_args(argv)
    if args.action == "policies":
        write_policies(pathlib.Path(args.paths[0]))
        return 0
    if args.action == "record":
        tree, directory, out = (pathlib.Path(p) for p in args.paths)
        out.write_text(json.dumps(record(tree.resolve(), directory.resolve(), args.only), indent=1, sort_keys=True))
        return 0
    before, after = (json.loads(pathlib.Path(p).read_text()) for p in args.paths)
    problems = compare(before, after)
    print("\n".join(problems) or f"{len(before)} files: the same findings, byte for byte")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
