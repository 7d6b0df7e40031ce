"""`policyc lsp` end to end: the real command started over stdio, driven by pytest-lsp's client.

Diagnostics are compared with `policyc lint --format json` on the same text; definition is
followed into the installed `std/catalog`; every other feature is asked once and its answer
checked against what the policy says.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features
from pygls.protocol import default_converter

from policylang import format_source
from policylang.lsp.snapshot import stdlib_path
from support.cli import run

POLICYC = str(Path(sys.executable).parent / "policyc")

DESK = """\
policy desk

import "std/catalog" as catalog
import "std/signals"            # input_tokens, pii, confidence, ...

threshold big = 200_000

signal task: enum {classify, draft, legal_review}

model fast     = catalog.deepseek_v4_pro { max_output = 4_000 }
model frontier = catalog.gpt_5_5         { max_output = 4_000 }

cascade careful {
  fast -> frontier when confidence < 0.6
}

fallback fast -> frontier on unavailable

budget cost <= $1

route {
  rule too_large when input_tokens > big               -> reject "input too large"
  rule legal     when task == legal_review              -> frontier
  rule routine   when task == classify                  -> fast with max_output = 500
  rule never     when task == classify and input_tokens < big -> fast
  default -> careful
}
"""


def _recording_client() -> LanguageClient:
    """pytest-lsp's client, also keeping every publish in order (waiting for the next one
    could miss a publish that arrived in the same read as the one before)."""
    client = LanguageClient(converter_factory=default_converter)
    features = dict(DEFAULT_CLIENT_FEATURES)

    def publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        client.published.append(params)  # type: ignore[attr-defined]

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    register_lsp_features(client, features)
    client.published = []  # type: ignore[attr-defined]
    client.consumed = {}  # type: ignore[attr-defined]
    return client


# One server for the module (starting `policyc lsp` and initializing costs ~0.8 s): each test opens
# its own files under its own tmp_path, so URIs never repeat, and `consumed` counts publishes per URI.
@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[POLICYC, "lsp"],
                                                              client_factory=_recording_client))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        initialization_options={"analysisDelay": 0.05},
    ))
    yield
    await lsp_client.shutdown_session()


def _uri(path: Path) -> str:
    return path.resolve().as_uri()


async def _publishes(client: LanguageClient, uri: str, count: int, timeout: float = 60) -> list[types.Diagnostic]:
    """Wait until `uri` has had `count` more publishes; its diagnostics after the last of them."""
    start = client.consumed.get(uri, 0)

    async def wait() -> list[types.PublishDiagnosticsParams]:
        while True:
            mine = [p for p in client.published if p.uri == uri]
            if len(mine) >= start + count:
                return mine
            await asyncio.sleep(0.01)

    mine = await asyncio.wait_for(wait(), timeout)
    client.consumed[uri] = start + count
    return list(mine[start + count - 1].diagnostics)


def _open(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = _uri(path)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="route", version=version, text=text)))
    return uri


def _replace(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def _lint_json(path: Path) -> list[dict]:
    """`policyc lint --format json` on the file, in process (test_cli keeps the script covered)."""
    return json.loads(run(["lint", "--format", "json", path]).stdout)["diagnostics"]


def _position(text: str, needle: str, nth: int = 0, inside: int = 1) -> types.Position:
    """The position `inside` characters into the `nth` occurrence of `needle`."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += inside
    line = text.count("\n", 0, at)
    return types.Position(line=line, character=at - (text.rfind("\n", 0, at) + 1))


def _as_lint(d: types.Diagnostic, uri_of_file) -> tuple:
    related = tuple(sorted((r.location.uri, r.location.range.start.line + 1, r.location.range.start.character + 1,
                            r.location.range.end.line + 1, r.location.range.end.character + 1, r.message)
                           for r in d.related_information or ()))
    return (d.code, d.range.start.line + 1, d.range.start.character + 1, d.range.end.line + 1,
            d.range.end.character + 1, d.message.split("\n")[0], related)


def _lint_key(d: dict, uri_of_file) -> tuple:
    related = tuple(sorted((uri_of_file(r["file"]), r["line"], r["column"], r["end_line"], r["end_column"],
                            r["message"]) for r in d["related"]))
    return (d["code"], d["line"], d["column"], d["end_line"], d["end_column"], d["message"], related)


@pytest.mark.asyncio(loop_scope="module")
async def test_an_error_arrives_with_its_code_and_range_and_clears_when_fixed(client: LanguageClient, tmp_path: Path):
    broken = DESK.replace("-> frontier\n  rule routine", "-> frontiers\n  rule routine")
    uri = _open(client, tmp_path / "desk.route", broken)
    diagnostics = await _publishes(client, uri, 1)
    assert [d.code for d in diagnostics] == ["E101"]
    start = _position(broken, "frontiers", inside=0)
    assert diagnostics[0].range == types.Range(start=start, end=types.Position(line=start.line, character=start.character + 9))
    assert diagnostics[0].severity == types.DiagnosticSeverity.Error
    assert "did you mean 'frontier'?" in diagnostics[0].message

    _replace(client, uri, DESK, 2)
    assert [d.code for d in await _publishes(client, uri, 1)] == []  # syntax and names: at once
    after = await _publishes(client, uri, 1)  # then the analyses
    assert "E101" not in [d.code for d in after]
    assert "W201" in [d.code for d in after]  # rule never: routine takes every request it matches


BROKEN = {
    "syntax": (["E001"], [("rule legal     when task == legal_review", "rule legal     when task = legal_review")]),
    "names and types": (["E103", "E104", "E101"], [
        ("input_tokens > big ", "input_tokens > $2  "), ("task == legal_review", "task == legal_reveiw"),
        ("default -> careful", "default -> carefull")]),
    "a second syntax error after the first": (["E001", "E001"], [
        ("rule legal     when task == legal_review", "rule legal     when task = legal_review"),
        ("rule never     when task == classify and", "rule never     when task == classify and and")]),
}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", list(BROKEN))
async def test_front_end_errors_are_reported_where_lint_reports_them(client: LanguageClient, tmp_path: Path, case: str):
    codes, edits = BROKEN[case]
    broken = DESK
    for old, new in edits:
        assert old in broken
        broken = broken.replace(old, new, 1)
    path = tmp_path / "broken.route"
    path.write_text(broken, encoding="utf-8")
    uri = _open(client, path, broken)
    got = await _publishes(client, uri, 1)
    expected = _lint_json(path)
    assert [d["code"] for d in expected] == codes
    assert [_as_lint(d, None) for d in got] == [_lint_key(d, None) for d in expected]
    await asyncio.sleep(0.3)  # past the analysis delay: nothing more comes for a broken buffer
    assert len([p for p in client.published if p.uri == uri]) == 1


@pytest.mark.asyncio(loop_scope="module")
async def test_diagnostics_are_exactly_lints_codes_ranges_and_related_locations(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "desk.route"
    path.write_text(DESK, encoding="utf-8")
    uri = _open(client, path, DESK)
    got = await _publishes(client, uri, 2)  # the front end, then the analyses
    expected = _lint_json(path)
    assert {d["code"] for d in expected} >= {"E301", "W201"}

    def uri_of_file(name: str) -> str:
        if name.startswith("std/"):
            return Path(stdlib_path("std:" + name[4:-6])).as_uri()
        return Path(name).resolve().as_uri()

    assert sorted(_as_lint(d, uri_of_file) for d in got) == sorted(_lint_key(d, uri_of_file) for d in expected)
    e301 = next(d for d in got if d.code == "E301")
    assert "witness: {" in e301.message and "help: " in e301.message


@pytest.mark.asyncio(loop_scope="module")
async def test_findings_in_an_imported_file_are_published_to_that_file(client: LanguageClient, tmp_path: Path):
    lib = tmp_path / "lib.route"
    lib.write_text("policy lib\n\nthreshold limit = 8_000\nthreshold other = limt\n", encoding="utf-8")
    text = 'policy top\n\nimport "./lib.route"\nimport "std/signals"\n\nmodel m { id = "a/m", tier = 1, ' \
        'input_per_mtok = $1, output_per_mtok = $1, context = 100_000, max_output = 1_000, latency = 1s }\n\n' \
        'route {\n  rule small when input_tokens < limit -> m\n  default -> m\n}\n'
    uri = _open(client, tmp_path / "top.route", text)
    await _publishes(client, _uri(lib), 1)
    assert [d.code for d in client.diagnostics[_uri(lib)]] == ["E101"]
    assert await _publishes(client, uri, 1) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_says_what_a_signal_model_threshold_and_rule_are(client: LanguageClient, tmp_path: Path):
    uri = _open(client, tmp_path / "desk.route", DESK)
    await _publishes(client, uri, 2)

    async def hover(needle: str, nth: int = 0) -> str:
        found = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(DESK, needle, nth)))
        assert found is not None, needle
        return found.contents.value

    task = await hover("task ==")
    assert "enum {classify, draft, legal_review}" in task and "required" in task
    tokens = await hover("input_tokens >")
    assert "int in 0..10000000" in tokens and "std/signals.route" in tokens
    frontier = await hover("frontier\n  rule routine")
    assert "openai/gpt-5.5" in frontier and "$5 in / $30 out" in frontier and "context 400,000" in frontier
    assert "max_output 4,000" in frontier and "regions anywhere" in frontier
    big = await hover("big ")
    assert "threshold big = 200_000" in big
    routine = await hover("routine")
    assert "task in {classify}" in routine and "input_tokens <= 200000" in routine
    assert routine.startswith("rule `routine`")  # the hover names the rule, and shows it whole
    assert "rule routine when task == classify -> fast with max_output = 500" in routine
    never = await hover("never")
    assert "never fires" in never
    member = await hover("legal_review", 1)
    assert "member `legal_review` of the enum `task`" in member


@pytest.mark.asyncio(loop_scope="module")
async def test_definition_follows_an_alias_into_the_installed_stdlib(client: LanguageClient, tmp_path: Path):
    uri = _open(client, tmp_path / "desk.route", DESK)
    await _publishes(client, uri, 1)
    found = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(DESK, "gpt_5_5")))
    catalog = Path(stdlib_path("std:catalog"))
    assert [loc.uri for loc in found] == [catalog.as_uri()]
    lines = catalog.read_text(encoding="utf-8").splitlines()
    line = found[0].range.start.line
    assert lines[line][found[0].range.start.character:found[0].range.end.character] == "gpt_5_5"
    assert lines[line].startswith("model gpt_5_5")

    signal = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(DESK, "confidence <")))
    signals = Path(stdlib_path("std:signals"))
    assert signal[0].uri == signals.as_uri()
    assert "confidence" in signals.read_text(encoding="utf-8").splitlines()[signal[0].range.start.line]

    local = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(DESK, "careful", 1)))
    assert local[0].uri == uri and local[0].range.start == _position(DESK, "careful", 0, inside=0)


@pytest.mark.asyncio(loop_scope="module")
async def test_references_find_every_use_and_the_declaration(client: LanguageClient, tmp_path: Path):
    uri = _open(client, tmp_path / "desk.route", DESK)
    await _publishes(client, uri, 1)
    found = await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(DESK, "big", 1),
        context=types.ReferenceContext(include_declaration=True)))
    assert sorted(loc.range.start for loc in found) == \
        sorted(_position(DESK, "big", n, inside=0) for n in range(3))


@pytest.mark.asyncio(loop_scope="module")
async def test_completion_offers_enum_members_and_names_in_scope(client: LanguageClient, tmp_path: Path):
    uri = _open(client, tmp_path / "desk.route", DESK)
    await _publishes(client, uri, 1)
    typing = DESK.replace("rule legal     when task == legal_review", "rule legal     when task == ")
    _replace(client, uri, typing, 2)
    await _publishes(client, uri, 1)
    members = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(typing, "task == ", inside=8)))
    assert [item.label for item in members.items] == ["classify", "draft", "legal_review"]
    assert {item.kind for item in members.items} == {types.CompletionItemKind.EnumMember}

    _replace(client, uri, DESK, 3)
    await _publishes(client, uri, 1)
    names = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(DESK, "task == legal_review", inside=0)))
    labels = {item.label for item in names.items}
    assert {"fast", "frontier", "careful", "task", "input_tokens", "big", "catalog", "route"} <= labels

    async def after_arrow(needle: str, inside: int) -> list[str]:
        found = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(DESK, needle, inside=inside)))
        return [item.label for item in found.items]

    # a rule's or the default's target: a model, a cascade or reject, never a signal or an outcome
    assert await after_arrow("default -> careful", 11) == ["careful", "fast", "frontier", "reject"]
    assert await after_arrow("-> frontier\n  rule routine", 3) == ["careful", "fast", "frontier", "reject"]
    # a cascade edge's and a fallback's: a model
    assert await after_arrow("-> frontier when confidence", 3) == ["fast", "frontier"]
    assert await after_arrow("fallback fast -> frontier", 17) == ["fast", "frontier"]
    alias = DESK.replace("catalog.gpt_5_5 ", "catalog.")
    _replace(client, uri, alias, 4)
    await _publishes(client, uri, 1)
    exported = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(alias, "catalog. ", inside=8)))
    assert {"gpt_5_5", "deepseek_v4_pro", "claude_sonnet_4_6", "glm_5_2"} <= {i.label for i in exported.items}


@pytest.mark.asyncio(loop_scope="module")
async def test_formatting_is_fmt(client: LanguageClient, tmp_path: Path):
    messy = DESK.replace("rule legal     when", "rule legal when").replace("\n\nbudget", "\n\n\n\nbudget")
    uri = _open(client, tmp_path / "desk.route", messy)
    await _publishes(client, uri, 1)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=types.TextDocumentIdentifier(uri=uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert len(edits) == 1 and edits[0].range.start == types.Position(line=0, character=0)
    assert edits[0].new_text == format_source(messy, "desk.route") != messy

    _replace(client, uri, messy.replace("route {", "route {{"), 2)
    await _publishes(client, uri, 1)
    assert await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=types.TextDocumentIdentifier(uri=uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True))) is None


@pytest.mark.asyncio(loop_scope="module")
async def test_document_symbols_outline_signals_models_cascades_and_rules(client: LanguageClient, tmp_path: Path):
    uri = _open(client, tmp_path / "desk.route", DESK)
    await _publishes(client, uri, 1)
    found = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    top = {(s.name, s.kind) for s in found}
    assert {("task", types.SymbolKind.Variable), ("fast", types.SymbolKind.Class),
            ("frontier", types.SymbolKind.Class), ("careful", types.SymbolKind.Interface),
            ("big", types.SymbolKind.Constant), ("route", types.SymbolKind.Namespace)} <= top
    route = next(s for s in found if s.name == "route")
    assert [r.name for r in route.children] == ["too_large", "legal", "routine", "never", "default"]
    legal = route.children[1]
    assert legal.selection_range.start == _position(DESK, "legal ", inside=0)


def test_every_feature_answers_at_every_place_of_every_policy_without_failing() -> None:
    """Hover, definition, references, completion and the outline over each policy of the
    repository (broken fixtures included), at every token's start: an answer or nothing, never
    an exception; and definition always lands on a declared name's text."""
    from conftest import ROOT
    from policylang.lsp import features
    from policylang.lsp.snapshot import Snapshot

    listed = subprocess.run(["git", "ls-files", "*.route"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in listed.stdout.split():
        path = ROOT / name
        text = path.read_bytes().decode("utf-8", errors="replace")
        snapshot = Snapshot(str(path), text, str(path))
        features.outline(snapshot)
        offsets = sorted({m.start() for m in re.finditer(r"\b\w", text)})[:400]
        for offset in offsets:
            features.hover(snapshot, offset)
            features.completions(snapshot, offset)
            for location in features.definition(snapshot, offset):
                target = Path(location.path).read_bytes().decode("utf-8", errors="replace")
                span = location.span
                assert target[span.start:span.end].isidentifier() or span.start == span.end == 0, (name, offset)
        if offsets:
            features.references([], snapshot, offsets[len(offsets) // 2])


@pytest.mark.asyncio(loop_scope="module")
async def test_ranges_count_utf16_code_units_as_lsp_clients_do(client: LanguageClient, tmp_path: Path):
    text = DESK.replace('model fast     = catalog.deepseek_v4_pro { max_output = 4_000 }',
                        'model fast     = catalog.deepseek_v4_pro { id = "😀 fast", max_output = 4_000, tier = tiers }')
    path = tmp_path / "emoji.route"
    path.write_text(text, encoding="utf-8")
    uri = _open(client, path, text)
    got = await _publishes(client, uri, 1)
    assert [d.code for d in got] == ["E101"]
    line = text.splitlines()[got[0].range.start.line]
    before = line[: line.index("tiers")]
    assert got[0].range.start.character == len(before.encode("utf-16-le")) // 2 == len(before) + 1
    lint = _lint_json(path)[0]
    assert lint["column"] == len(before) + 1  # lint counts code points; the client gets UTF-16 units
