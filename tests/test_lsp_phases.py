"""`policyc lsp`'s two publishes per change, over stdio with the real command: the front end's
first, then lint's whole findings once the analyses have run in their own process; a newer
version cancels the analyses of an older one, whose findings are never published; hover and
completion are answered while the analyses run.

The server's `$/logTrace` (asked for at `initialize`) says when each phase starts, ends or is
cancelled: the tests assert the order of those messages, publishes and answers, never timings.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
import pytest_lsp
from hypothesis import given, strategies as st
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features
from pygls.protocol import default_converter

from policylang.lsp.server import _moved
from policylang.lsp.worker import FORKS
from support.cli import run
from test_lsp import DESK

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the benchmarks package sits beside policylang
from benchmarks.scale import arith  # noqa: E402

POLICYC = str(Path(sys.executable).parent / "policyc")

SLOW = arith(600)
"""A policy whose analyses take far longer than a hover (the solver decides its arithmetic)."""


def _recording_client() -> LanguageClient:
    """pytest-lsp's client, keeping every publish and trace message in one list, in the order
    they arrived (`events`), beside which the tests put the answers they await."""
    client = LanguageClient(converter_factory=default_converter)
    features = dict(DEFAULT_CLIENT_FEATURES)

    def publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        client.events.append(("publish", params))  # type: ignore[attr-defined]

    def trace(client: LanguageClient, params: types.LogTraceParams) -> None:
        client.events.append(("trace", params.message))  # type: ignore[attr-defined]

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    features["$/logTrace"] = trace
    register_lsp_features(client, features)
    client.events = []  # type: ignore[attr-defined]
    return client


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[POLICYC, "lsp"],
                                                              client_factory=_recording_client))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), trace=types.TraceValue.Messages,
        initialization_options={"analysisDelay": 0.05},
    ))
    yield
    await lsp_client.shutdown_session()


async def _until(client: LanguageClient, found, timeout: float = 120) -> int:
    """Wait for the first event `found(event)` holds for; its index in `events`."""
    async def wait() -> int:
        while True:
            for i, event in enumerate(client.events):
                if found(event):
                    return i
            await asyncio.sleep(0.01)

    return await asyncio.wait_for(wait(), timeout)


def _trace(name: str, text: str):
    return lambda event: event[0] == "trace" and event[1].startswith(name) and text in event[1]


def _publishes(client: LanguageClient, uri: str) -> list[types.PublishDiagnosticsParams]:
    return [event[1] for event in client.events if event[0] == "publish" and event[1].uri == uri]


def _open(client: LanguageClient, path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    uri = path.resolve().as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="route", version=1, text=text)))
    return uri


def _replace(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def _lint(path: Path, text: str) -> list[tuple[str, int, int]]:
    """`policyc lint --format json` on `text`: each finding's code, line and column."""
    path.write_text(text, encoding="utf-8")
    found = json.loads(run(["lint", "--format", "json", path]).stdout)["diagnostics"]
    return sorted((d["code"], d["line"], d["column"]) for d in found if d["file"] == str(path))


def _found(params: types.PublishDiagnosticsParams) -> list[tuple[str, int, int]]:
    return sorted((str(d.code), d.range.start.line + 1, d.range.start.character + 1) for d in params.diagnostics)


def _position(text: str, needle: str) -> types.Position:
    at = text.index(needle)
    line = text.count("\n", 0, at)
    return types.Position(line=line, character=at - (text.rfind("\n", 0, at) + 1))


@pytest.mark.asyncio(loop_scope="module")
async def test_the_front_end_is_published_first_then_lints_whole_findings(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "desk.route"
    uri = _open(client, path, DESK)
    name = str(path.resolve())
    done = await _until(client, _trace(name, "version 1: published the analyses"))
    first, second = _publishes(client, uri)
    assert (first.version, second.version) == (1, 1)
    assert _found(first) == []  # the front end finds nothing wrong: the analyses' findings come second
    expected = _lint(tmp_path / "same.route", DESK)
    assert {code for code, _, _ in expected} >= {"E301", "W201"}
    assert _found(second) == [(code, line, column) for code, line, column in expected]
    order = [event[1] for event in client.events[:done + 1] if event[0] == "trace" and event[1].startswith(name)]
    assert [message.split(": ", 1)[1].split(" (")[0] for message in order] == [
        "published syntax, names and types", "analyses started", "published the analyses"]
    assert order[1].endswith("(in a process)") == FORKS


@pytest.mark.asyncio(loop_scope="module")
async def test_an_analysis_overtaken_by_a_newer_version_is_cancelled_and_never_published(
        client: LanguageClient, tmp_path: Path):
    path = tmp_path / "slow.route"
    uri = _open(client, path, SLOW)
    name = str(path.resolve())
    await _until(client, _trace(name, "version 1: analyses started"))
    # a rule whose condition never holds, added at the top of the route: only version 2 has its W202
    newer = SLOW.replace("route {\n", "route {\n  rule shadowed when tenant == t0001 and not pii and pii -> small\n", 1)
    assert newer != SLOW
    _replace(client, uri, newer, 2)
    done = await _until(client, _trace(name, "version 2: published the analyses"))
    traces = [event[1] for event in client.events[:done + 1] if event[0] == "trace" and event[1].startswith(name)]
    assert f"{name} version 1: analyses cancelled ({name} version 2 arrived)" in traces
    assert not any("version 1: published the analyses" in message for message in traces)
    publishes = _publishes(client, uri)
    assert [p.version for p in publishes] == [1, 2, 2]  # v1's front end; v2's front end, then its analyses
    assert _found(publishes[0]) == _found(publishes[1]) == []
    assert _found(publishes[2]) == _lint(tmp_path / "same.route", newer)
    line = newer.count("\n", 0, newer.index("rule shadowed")) + 1
    assert [code for code, at, _ in _found(publishes[2]) if at == line] == ["W202"]  # its condition never holds


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_and_completion_are_answered_while_the_analyses_run(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "busy.route"
    uri = _open(client, path, SLOW)
    name = str(path.resolve())
    document = types.TextDocumentIdentifier(uri=uri)
    rule = SLOW[SLOW.index("rule a00300 "):].split("\n", 1)[0]
    await _until(client, _trace(name, "version 1: analyses started"))
    signal = await client.text_document_hover_async(types.HoverParams(
        text_document=document, position=_position(SLOW, "attempt: int")))
    client.events.append(("answer", "hover on a signal"))
    ruled = await client.text_document_hover_async(types.HoverParams(
        text_document=document, position=_position(SLOW, "a00300 ")))
    client.events.append(("answer", "hover on a rule"))
    completed = await client.text_document_completion_async(types.CompletionParams(
        text_document=document, position=_position(SLOW, rule.split(" -> ")[0] + " -> ")))
    client.events.append(("answer", "completion"))
    done = await _until(client, _trace(name, "version 1: published the analyses"))
    answers = [i for i, event in enumerate(client.events) if event[0] == "answer"]
    assert len(answers) == 3 and max(answers) < done  # every answer came before the analyses' publish
    assert signal is not None and "int in 0..10" in signal.contents.value
    assert ruled is not None and rule.strip() in ruled.contents.value
    assert "where it fires is shown once the analyses have run" in ruled.contents.value
    assert completed is not None and {"small", "medium", "large", "reject"} <= {i.label for i in completed.items}

    after = await client.text_document_hover_async(types.HoverParams(
        text_document=document, position=_position(SLOW, "a00300 ")))
    assert after is not None and "where it fires is shown" not in after.contents.value
    if FORKS:  # asked of the analyses' process, which keeps the facts
        assert "fires exactly where" in after.contents.value or "never fires" in after.contents.value \
            or "not boxes" in after.contents.value


@pytest.mark.asyncio(loop_scope="module")
async def test_a_half_typed_line_leaves_the_rest_of_the_buffer_to_hover(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "typing.route"
    uri = _open(client, path, DESK)
    name = str(path.resolve())
    await _until(client, _trace(name, "version 1: published the analyses"))
    typing = DESK.replace("  default -> careful\n", "  rule half when task ==\n  default -> careful\n")
    _replace(client, uri, typing, 2)
    await _until(client, _trace(name, "version 2: published syntax"))
    assert [str(d.code) for d in _publishes(client, uri)[-1].diagnostics] == ["E001"]
    document = types.TextDocumentIdentifier(uri=uri)
    before = await client.text_document_hover_async(types.HoverParams(
        text_document=document, position=_position(typing, "task: enum")))
    assert before is not None and "enum {classify, draft, legal_review}" in before.contents.value
    assert before.range is None  # from the last version that parsed: its lines may have moved
    inside = await client.text_document_hover_async(types.HoverParams(
        text_document=document, position=_position(typing, "half when task") ))
    assert inside is None  # inside the change: the last parse has nothing there


@given(st.text("ab\n", max_size=12), st.text("ab\n", max_size=6), st.text("ab\n", max_size=6),
       st.text("ab\n", max_size=12), st.data())
def test_an_offset_moves_with_the_text_around_it_or_not_at_all(before: str, old: str, new: str, after: str,
                                                               data: st.DataObject):
    """`_moved` (hover from the last parse): an offset outside what changed lands on the same
    character of the older text; inside it, nowhere."""
    old_text, new_text = before + old + after, before + new + after
    offset = data.draw(st.integers(0, len(new_text)))
    moved = _moved(old_text, new_text, offset)
    if offset < len(before) or old_text == new_text:
        assert moved == offset
    if moved is not None:  # everything before it, or everything after it, is as it was
        assert new_text[:offset] == old_text[:moved] or new_text[offset:] == old_text[moved:]
    else:
        assert old_text != new_text and offset >= len(before)
