"""The benchmark harness: `python -m benchmarks.run` (see benchmarks/RESULTS.md)."""
