"""`policyc report` on generated decision logs: the duckdb engine against the python engine.

    python -m benchmarks.report [RECORDS]        # 1,000,000 log records by default
    python -m benchmarks.run report [--quick]    # the same as a suite (100,000 with --quick)

The log is made by `benchmarks.report_logs`: a real `runtime.Router` serving a seeded workload
(20,000 runs, with their start records), repeated with fresh times and run ids up to RECORDS
lines of JSON. Each engine runs `monitoring.report(..., by="task", every="1h")` in its own
process, side by side in one run; the table gives wall time, CPU time (user + system, all
threads) and peak memory, and checks that both reports are equal.
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
GOAL = 5.0
"""The duckdb engine's target: at least this many times faster than the python engine."""


def log_file(count: int) -> Path:
    """The generated log of `count` records (made once, kept under benchmarks/.report/)."""
    work = ROOT / "benchmarks" / ".report"
    work.mkdir(exist_ok=True)
    path = work / f"decisions-{count}.jsonl"
    if not path.exists():
        from benchmarks.report_logs import main as generate

        generate([str(path), str(count)])
    return path


def parquet_file(jsonl: Path) -> Path:
    """The same records as Parquet (written once, in batches, with the first batch's schema:
    the log repeats its first 20,000 runs, so that batch holds every shape)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = jsonl.with_suffix(".parquet")
    if path.exists():
        return path
    writer = None
    schema = None
    batch: list[dict] = []

    keys: dict[str, None] = {}

    def flush() -> None:
        nonlocal writer, schema
        for record in batch:  # pyarrow takes the columns from the first row: give every row them all
            keys.update(dict.fromkeys(record))
        table = pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in batch], schema=schema)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(str(path), schema)
        writer.write_table(table)
        batch.clear()

    with open(jsonl, encoding="utf-8") as stream:
        for line in stream:
            batch.append(json.loads(line))
            if len(batch) == 100_000:
                flush()
    if batch:
        flush()
    assert writer is not None
    writer.close()
    return path


def child(engine: str, path: str, out: str) -> None:
    """One measurement in this process: prints seconds and peak RSS (KiB) as JSON."""
    from policylang import monitoring

    start = time.perf_counter()
    cpu = time.process_time()
    data = monitoring.report([path], engine=engine, by="task", every="1h")
    seconds = time.perf_counter() - start
    data.pop("engine")
    Path(out).write_text(json.dumps(data, sort_keys=True))
    print(json.dumps({"seconds": seconds, "cpu": time.process_time() - cpu,
                      "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "requests": data["requests"]}))


def measure(engine: str, path: Path) -> dict:
    out = path.with_name(f"{path.name}.{engine}.json")
    result = subprocess.run([sys.executable, "-m", "benchmarks.report", "--child", engine, str(path), str(out)],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    measured["report"] = out.read_text()
    return measured


def suite(quick: bool, count: int | None = None) -> list[str]:
    """The section for RESULTS.md."""
    count = count or (100_000 if quick else 1_000_000)
    jsonl = log_file(count)
    parquet = parquet_file(jsonl)
    results = {(fmt, engine): measure(engine, path) for fmt, path in (("JSON lines", jsonl), ("Parquet", parquet))
               for engine in ("duckdb", "python")}
    lines = [f"### policyc report, {count:,} log records (`python -m benchmarks.report`)", "",
             f"Commit {git_revision()}. Machine: {machine()}. {results[('Parquet', 'python')]['requests']:,} runs "
             f"(the rest of the records are start records), JSON lines {jsonl.stat().st_size / 1e6:,.0f} MB, "
             f"Parquet {parquet.stat().st_size / 1e6:,.0f} MB; `by=\"task\", every=\"1h\"`. "
             "Each engine in its own process, side by side; CPU is user + system time of all its threads.", "",
             "| log | engine | wall | CPU | records/s | peak memory |", "|---|---|---:|---:|---:|---:|"]
    for (fmt, engine), r in results.items():
        lines.append(f"| {fmt} | {engine} | {r['seconds']:.2f} s | {r['cpu']:.2f} s | {count / r['seconds']:,.0f} | "
                     f"{r['peak_kib'] / 1024:,.0f} MiB |")
    lines.append("")
    for fmt in ("JSON lines", "Parquet"):
        duck, python = results[(fmt, "duckdb")], results[(fmt, "python")]
        ratio = python["seconds"] / duck["seconds"]
        same = duck["report"].replace(".parquet", ".jsonl") == python["report"].replace(".parquet", ".jsonl")
        lines.append(f"- {fmt}: duckdb vs python {ratio:.2f}x wall (target >= {GOAL:.0f}x: "
                     f"{'met' if ratio >= GOAL else 'NOT met'}), {python['cpu'] / duck['cpu']:.2f}x CPU; "
                     f"the two reports are {'equal' if same else 'DIFFERENT'}")
        if not same:
            raise SystemExit(f"the duckdb and python reports differ on {fmt}")
    lines.append("")
    return lines


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print("\n".join(suite(False, int(sys.argv[1]) if len(sys.argv) > 1 else None)))
