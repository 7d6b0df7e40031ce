"""How soon `policyc lsp` shows a change's syntax diagnostics on a 1,000-rule policy:
`python -m benchmarks.lsp [--rounds N] [--write]` (needs the lsp extra).

A real `policyc lsp` process is driven over stdio by pygls's client. The tenant policy of
1,000 rules is opened; then, round after round, one character is changed so that the file
has a syntax error (`->` becomes `-`), and the time from sending that change to receiving
the publish that carries the E001 is measured; then the change is undone and the time to the
publish that clears it (front end clean, before the debounced analyses) is measured too.
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import statistics
import sys
import tempfile
import time

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from .harness import git_revision, machine
from .policies import tenant_policy

HERE = pathlib.Path(__file__).resolve().parent
TITLE = "## The language server: syntax diagnostics after a change (benchmarks/lsp.py)"
RULES = 1_000


async def measure(rounds: int) -> dict[str, list[float]]:
    text = tenant_policy(RULES)
    folder = pathlib.Path(tempfile.mkdtemp())
    path = folder / "tenants.route"
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client = LanguageClient("benchmark", "1")
    published: asyncio.Queue[types.PublishDiagnosticsParams] = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_publish(params: types.PublishDiagnosticsParams) -> None:
        if params.uri == uri:
            published.put_nowait(params)

    policyc = str(pathlib.Path(sys.executable).parent / "policyc")
    await client.start_io(policyc, "lsp")
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         initialization_options={"analysisDelay": 30}))
    client.initialized(types.InitializedParams())
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="route", version=1, text=text)))
    await asyncio.wait_for(published.get(), 60)

    # the arrow of the 500th rule, as a line and column
    lines = text.splitlines()
    rule_lines = [i for i, line in enumerate(lines) if line.lstrip().startswith("rule ")]
    line = rule_lines[len(rule_lines) // 2]
    column = lines[line].index("->") + 1  # the '>' of the arrow
    where = types.Range(start=types.Position(line=line, character=column),
                        end=types.Position(line=line, character=column + 1))
    back = types.Range(start=types.Position(line=line, character=column),
                       end=types.Position(line=line, character=column))
    times: dict[str, list[float]] = {"syntax error appears": [], "syntax error clears": []}
    version = 1
    for _ in range(rounds):
        for label, change, wanted in (("syntax error appears", (where, ""), True),
                                      ("syntax error clears", (back, ">"), False)):
            version += 1
            start = time.perf_counter()
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(range=change[0], text=change[1])]))
            while True:
                params = await asyncio.wait_for(published.get(), 60)
                if params.version == version or params.version is None:
                    break
            times[label].append(time.perf_counter() - start)
            codes = [d.code for d in params.diagnostics]
            assert ("E001" in codes) == wanted, codes
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return times


def write(section: list[str]) -> pathlib.Path:
    """Append (or replace) this benchmark's section at the end of RESULTS.md."""
    results = HERE / "RESULTS.md"
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    if TITLE in text:
        start = text.index(TITLE)
        following = text.find("\n## ", start + 1)
        text = text[:start] + (text[following + 1:] if following != -1 else "")
    results.write_text(text.rstrip() + "\n\n" + "\n".join(section) + "\n", encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="changes of each kind (default 20)")
    parser.add_argument("--write", action="store_true", help="append the results to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    print(f"timing policyc lsp on {RULES:,} rules, {args.rounds} rounds ...", file=sys.stderr, flush=True)
    times = asyncio.run(measure(args.rounds))
    section = [TITLE, "", f"Commit {git_revision()}. Machine: {machine()}", "",
               f"A {RULES:,}-rule tenant policy (benchmarks/policies.py) open in `policyc lsp`; one character of "
               "its 500th rule changed and changed back, each time from sending `didChange` to receiving the "
               f"publish for that version ({args.rounds} rounds of each).", "",
               "| change | median | p90 | max |", "|---|---:|---:|---:|"]
    for label, values in times.items():
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        section.append(f"| {label} | {statistics.median(values):.3f} s | {p90:.3f} s | {max(values):.3f} s |")
    worst = max(max(v) for v in times.values())
    section += ["", f"Target: within 1 s of a change. Slowest of all {2 * args.rounds} changes: {worst:.3f} s. "
                "The time is the front end (parsing the file and its std imports, names, types); the analyses "
                "run only after the buffer has been quiet (here 30 s, so none interferes)."]
    print("\n".join(section))
    if args.write:
        print(f"wrote {write(section)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
