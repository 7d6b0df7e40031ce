"""The floor: `policyc lint` of a ten-line policy as a new process (issue 25), which pre-commit
runs on every commit and CI on every file, so nearly all of it is what the command imports.

`python -m benchmarks.floor [--repeat 11] [--tree DIR ...]` prints a Markdown table: per tree
(a directory holding a `policylang` package, put first on the child's path; none: the installed
one), the median CPU seconds (user + system of the child) and wall seconds of `policyc lint`,
`import policylang` and `policyc --help`, the peak RSS and the modules the lint process loaded.
The runs of the trees alternate, so that a change of load on this shared machine falls on each
alike; the load average is printed beside the table. `python -m benchmarks.scale` prints the
lint row for the tree it runs.

To compare two commits: `git archive A policylang | tar -x -C /tmp/a` (and B), then
`python -m benchmarks.floor --tree /tmp/a --tree /tmp/b`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TEN_LINES = """policy ten

signal task: enum {classify, draft}

model small { id = "vendor/small", tier = 1, input_per_mtok = $0.1, output_per_mtok = $0.4, context = 100_000, max_output = 4_000, latency = 2s }
model large { id = "vendor/large", tier = 3, input_per_mtok = $3, output_per_mtok = $15, context = 100_000, max_output = 4_000, latency = 8s }

route {
  rule drafts when task == draft -> large
  default -> small
}
"""
"""Ten lines and a blank: a signal, two models, one rule and the default."""

_MAIN = "from policylang.cli import main; main(prog_name='policyc')"
"""`policyc` as a new process of this interpreter (any tree: older ones have no cli/__main__)."""

COMMANDS = {
    "policyc lint (ten lines)": ["-c", _MAIN, "lint", "ten.route"],
    "import policylang": ["-c", "import policylang"],
    "policyc --help": ["-c", _MAIN, "--help"],
}

_COUNT = ("import sys\nsys.argv = ['policyc', 'lint', 'ten.route']\nfrom policylang.cli import main\n"
          "try:\n    main()\nexcept SystemExit:\n    pass\nprint(len(sys.modules), file=sys.stderr)\n")


def _env(tree: str | None) -> dict[str, str]:
    """The child's environment: the tree first on the path, and bytecode caches written (as an
    installed package has them: a shell with PYTHONDONTWRITEBYTECODE set would otherwise time
    compiling every module from source)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tree, env.get("PYTHONPATH")) if p)
    return env


def run_once(arguments: list[str], tree: str | None, cwd: str) -> tuple[float, float, float]:
    """CPU seconds (user + system), wall seconds and peak RSS (MiB) of one new process."""
    import time

    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, *arguments], cwd=cwd, env=_env(tree),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.WEXITSTATUS(status) != 0:
        raise RuntimeError(f"{arguments} exited {os.WEXITSTATUS(status)} with tree {tree}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def modules_loaded(tree: str | None, cwd: str) -> int:
    """How many modules the lint process holds at its end."""
    result = subprocess.run([sys.executable, "-c", _COUNT], cwd=cwd, env=_env(tree), capture_output=True,
                            text=True, check=True)
    return int(result.stderr.split()[-1])


def floor_table(trees: list[str | None], repeat: int) -> list[str]:
    """The Markdown table described above, the load average before and after in its caption."""
    lines = [f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", "",
             "| tree | command | CPU s (median) | wall s (median) | peak MiB | modules |",
             "|---|---|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ten.route").write_text(TEN_LINES, encoding="utf-8")
        for name, arguments in COMMANDS.items():
            runs: dict[str | None, list[tuple[float, float, float]]] = {tree: [] for tree in trees}
            run_once(arguments, trees[0], tmp)  # warm the file cache and the bytecode
            for _ in range(repeat):
                for tree in trees:
                    runs[tree].append(run_once(arguments, tree, tmp))
            for tree in trees:
                cpu = statistics.median(r[0] for r in runs[tree])
                wall = statistics.median(r[1] for r in runs[tree])
                peak = max(r[2] for r in runs[tree])
                count = modules_loaded(tree, tmp) if "lint" in name else ""
                lines.append(f"| {tree or 'installed'} | `{name}` | {cpu:.3f} | {wall:.3f} | {peak:.1f} | {count} |")
    lines += ["", f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--tree", action="append", default=None,
                        help="a directory holding a policylang package to time (repeatable)")
    args = parser.parse_args(argv)
    trees: list[str | None] = [str(Path(t).resolve()) for t in args.tree] if args.tree else [None]
    print("\n".join(floor_table(trees, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
