"""`policyc simulate` on a generated Parquet file: the DuckDB engine against the python engine,
the python engine against a bare loop, and the peak memory of each (section 9.3).

    python -m benchmarks.simulate [RECORDS]      # 1,000,000 by default

Side by side in one run, each engine in its own process (so that peak memory is its own):
wall time of `simulate(..., engine=...)`; a bare loop that parses each JSON line of the same
traffic and calls the compiled `decide` (what any replay must do at least); and each process's
peak resident memory at half the records and at all of them, which for the python engine must
not grow with the file. Prints one line per measurement and a Markdown section for RESULTS.md.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import git_revision, machine

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "simulate" / "monthly.route"


def generate(path: Path, count: int) -> None:
    """The example's seeded traffic, `count` records, as Parquet (and the same as JSON lines)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(POLICY.parent))
    import traffic  # examples/simulate/traffic.py

    jsonl = path.with_suffix(".jsonl")
    traffic.main(str(jsonl), count)
    writer = None
    batch: list[dict] = []
    with open(jsonl, encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            record.setdefault("@outcomes", None)
            batch.append(record)
            if len(batch) == 100_000:
                table = pa.Table.from_pylist(batch, schema=_schema())
                writer = writer or pq.ParquetWriter(str(path), table.schema)
                writer.write_table(table)
                batch = []
    if batch:
        table = pa.Table.from_pylist(batch, schema=_schema())
        writer = writer or pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def _schema():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return pa.schema([("task", pa.string()), ("input_tokens", pa.int64()), ("@output_tokens", pa.int64()),
                      ("@outcomes", pa.list_(pa.struct([("valid", pa.bool_())])))])


def child(kind: str, path: str) -> None:
    """One measurement in this process: prints seconds and peak RSS (KiB) as JSON."""
    import policylang

    policy = policylang.load(str(POLICY))
    start = time.perf_counter()
    if kind == "bare":
        decide = policy.compiled.decide
        with open(path, "rb") as stream:
            for line in stream:
                record = json.loads(line)
                decide({k: v for k, v in record.items() if k[0] != "@"})
    else:
        policylang.simulate(policy, path, baseline="frontier", by="task", engine=kind)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def measure(kind: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.simulate", "--child", kind, str(path)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(count: int) -> None:
    work = ROOT / "benchmarks" / ".simulate"
    work.mkdir(exist_ok=True)
    results = {}
    for size in (count // 2, count):
        parquet = work / f"traffic-{size}.parquet"
        if not parquet.exists():
            generate(parquet, size)
        results[size] = {kind: measure(kind, parquet if kind != "bare" else parquet.with_suffix(".jsonl"))
                         for kind in ("duckdb", "python", "bare")}
        python_jsonl = measure("python", parquet.with_suffix(".jsonl"))
        results[size]["python_jsonl"] = python_jsonl
        for kind, r in results[size].items():
            print(f"{size:>9,} records  {kind:<13} {r['seconds']:8.2f} s  {size / r['seconds']:>10,.0f} records/s  "
                  f"peak {r['peak_kib'] / 1024:7.1f} MiB")
    full = results[count]
    print()
    print(f"## simulate, {count:,} records (`python -m benchmarks.simulate`)")
    print()
    print(f"Commit {git_revision()}. Machine: {machine()}. Measured side by side in one run; ratios matter, "
          "the machine is shared.")
    print()
    print("| engine | records | wall | records/s | peak memory |")
    print("|---|---:|---:|---:|---:|")
    for size in (count // 2, count):
        for kind, label in (("duckdb", "duckdb (Parquet)"), ("python", "python (Parquet)"),
                            ("python_jsonl", "python (JSON lines)"), ("bare", "bare loop: json.loads + decide")):
            r = results[size][kind]
            print(f"| {label} | {size:,} | {r['seconds']:.2f} s | {size / r['seconds']:,.0f} | {r['peak_kib'] / 1024:.0f} MiB |")
    print()
    print(f"- DuckDB vs python engine (Parquet): {full['python']['seconds'] / full['duckdb']['seconds']:.1f}x (target >= 10x)")
    print(f"- python engine (JSON lines) vs the bare loop: {full['python_jsonl']['seconds'] / full['bare']['seconds']:.2f}x (target <= 2x)")
    half = results[count // 2]
    print(f"- python engine peak memory, {count // 2:,} -> {count:,} records: "
          f"{half['python']['peak_kib'] / 1024:.0f} -> {full['python']['peak_kib'] / 1024:.0f} MiB")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
