"""`policyc lsp`: the language server, over stdio, on pygls.

- Diagnostics on open and on every change, exactly `policyc lint`'s (codes, ranges, related
  locations; the witness and the help line appended to the message), in two publishes: syntax,
  names and types at once, then, once the buffer has been still for a moment
  (`initializationOptions.analysisDelay`, seconds, default 0.4) and only when the front end
  found no error, the same with the analyses' findings added. The analyses run in a process of
  their own (policylang/lsp/worker.py), killed when a newer version arrives; a result for a
  version the buffer has since left is never published. Findings in an imported file are
  published to that file.
- Formatting is `policyc fmt`; hover, definition, references, completion and the outline are
  policylang/lsp/features.py over the buffer's resolved program, answered from the front end's
  snapshot while the analyses run (a rule's hover asks the analyses' process where it fires
  once they are done). With `trace` set (`initialize` or `$/setTrace`), `$/logTrace` says
  when each version's publishes and analyses start, end or are dropped.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .. import __version__
from ..authoring.format import format_source
from ..diagnostics import Diagnostic
from ..jsontext import dumps
from ..policy import PolicyError
from ..passes.resolve import Symbol
from ..source import Source, Span
from . import features
from .snapshot import Findings, Snapshot, buffer_source, collector_held, source_path
from .worker import FORKS, Analysis, AnalysisFailed

Handler = TypeVar("Handler", bound=Callable[..., Any])

DEFAULT_DELAY = 0.4
"""Seconds a buffer stays unchanged before its analyses run."""
IDLE_KEPT = 3
"""Buffers whose analyses' process stays, once done, to answer where rules fire."""
HOVER_WAIT = 1.0
"""Seconds a rule's hover waits for the analyses' process to say where the rule fires (the
first question of a version builds the analyses' facts); past it, the hover goes without."""

_OUTLINE_KINDS = {
    "import": types.SymbolKind.Module, "threshold": types.SymbolKind.Constant,
    "signal": types.SymbolKind.Variable, "outcome": types.SymbolKind.Event,
    "model": types.SymbolKind.Class, "cascade": types.SymbolKind.Interface,
    "fallback": types.SymbolKind.Operator, "budget": types.SymbolKind.Number,
    "invariant": types.SymbolKind.Property, "route": types.SymbolKind.Namespace,
    "rule": types.SymbolKind.Function, "test": types.SymbolKind.Method,
}
_COMPLETION_KINDS = {
    "signal": types.CompletionItemKind.Variable, "outcome": types.CompletionItemKind.Event,
    "threshold": types.CompletionItemKind.Constant, "model": types.CompletionItemKind.Class,
    "cascade": types.CompletionItemKind.Interface, "rule": types.CompletionItemKind.Function,
    "invariant": types.CompletionItemKind.Property, "test": types.CompletionItemKind.Method,
    "member": types.CompletionItemKind.EnumMember, "alias": types.CompletionItemKind.Module,
    "keyword": types.CompletionItemKind.Keyword, "error": types.CompletionItemKind.Value,
    "field": types.CompletionItemKind.Field,
}


class PolicyServer(LanguageServer):
    """The server's state: each open buffer's latest snapshot, the last one that parsed (for
    completion while a line is half typed), and what was published where."""

    def __init__(self) -> None:
        super().__init__("policyc-lsp", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.delay = DEFAULT_DELAY
        self.in_process = FORKS
        """Whether the analyses run in a process of their own (`analysisIn`, worker.py)."""
        self.snapshots: dict[str, Snapshot] = {}
        self.parsed: dict[str, Snapshot] = {}
        self.published: dict[str, dict[str, list[types.Diagnostic]]] = {}
        """Owner buffer uri -> target file uri -> what that buffer's check found there."""
        self.pending: dict[str, asyncio.Task[None]] = {}
        """Buffer uri -> the analyses waiting for the buffer to be still, or running."""
        self.analyses: dict[str, Analysis] = {}
        """Buffer uri -> the analyses of its current snapshot (running, or done and answering
        where rules fire)."""
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policyc-analyses")
        """The analyses' thread, where the platform cannot fork (worker.py)."""
        self._line_cache: dict[str, tuple[Source, list[str]]] = {}

    def shutdown(self) -> None:
        """Kill every analyses' process, then stop serving."""
        for analysis in self.analyses.values():
            analysis.kill()
        super().shutdown()  # type: ignore[no-untyped-call]  # pygls: unannotated

    def trace(self, message: str) -> None:
        """Say `message` in `$/logTrace` when the client asked for a trace."""
        if self.protocol.trace not in (None, types.TraceValue.Off):
            self.log_trace(types.LogTraceParams(message=message))

    # ---- positions ---------------------------------------------------------------------------

    def _lines(self, source: Source) -> list[str]:
        """The source's lines, split once per source (a publish converts hundreds of ranges)."""
        cached = self._line_cache.get(source.name)
        if cached is not None and cached[0] is source:
            return cached[1]
        lines = source.text.splitlines(True) or [""]
        self._line_cache[source.name] = (source, lines)
        return lines

    def position(self, source: Source, line: int, column: int) -> types.Position:
        """A 1-based (line, column in code points) as the client counts (UTF-16 by default)."""
        codec = self.workspace.position_codec
        return codec.position_to_client_units(self._lines(source), types.Position(line=line - 1, character=column - 1))

    def range(self, span: Span, source: Source | None) -> types.Range:
        if source is None:  # a file we cannot read: code points are the best guess
            return types.Range(start=types.Position(line=span.line - 1, character=span.column - 1),
                               end=types.Position(line=span.end_line - 1, character=span.end_column - 1))
        return types.Range(start=self.position(source, span.line, span.column),
                           end=self.position(source, span.end_line, span.end_column))

    def offset(self, snapshot: Snapshot, position: types.Position) -> int:
        source = snapshot.source
        server = self.workspace.position_codec.position_from_client_units(self._lines(source), position)
        starts = source.line_starts
        if server.line >= len(starts):
            return len(source.text)
        return min(starts[server.line] + server.character, len(source.text))

    # ---- buffers -----------------------------------------------------------------------------

    def snapshot(self, uri: str) -> Snapshot:
        """The buffer's snapshot at its current version (built once per version)."""
        document = self.workspace.get_text_document(uri)
        current = self.snapshots.get(uri)
        if current is not None and current.version == document.version and current.text == document.source:
            return current
        path = to_fs_path(uri) if uri.startswith("file:") else None
        name = path if path is not None else uri
        snapshot = Snapshot(name, document.source, path, document.version)
        self.snapshots[uri] = snapshot
        return snapshot

    def uri_of(self, name: str, sources: dict[str, Source], owner: str, owner_name: str) -> str:
        if name == owner_name:
            return owner
        path = source_path(name, sources)
        return from_fs_path(path) if path is not None else owner

    def location(self, location: features.Location, owner: str, snapshot: Snapshot) -> types.Location:
        source: Source | None
        if location.path is None or location.path == snapshot.path:
            uri, source = owner, snapshot.source
        else:
            uri = from_fs_path(location.path)
            source = _read_source(location.path)
        return types.Location(uri=uri, range=self.range(location.span, source))

    # ---- diagnostics -------------------------------------------------------------------------

    def lsp_diagnostic(self, d: Diagnostic, found: Findings, owner: str, owner_name: str) -> types.Diagnostic:
        message = d.message
        if d.witness is not None:
            message += f"\nwitness: {dumps(d.witness)}"
        if d.help:
            message += f"\nhelp: {d.help}"
        related = [types.DiagnosticRelatedInformation(
            location=types.Location(uri=self.uri_of(r.span.file, found.sources, owner, owner_name),
                                    range=self.range(r.span, found.sources.get(r.span.file))),
            message=r.message) for r in d.related]
        return types.Diagnostic(
            range=self.range(d.span, found.sources.get(d.span.file)),
            severity=types.DiagnosticSeverity.Error if d.is_error else types.DiagnosticSeverity.Warning,
            code=d.code, source="policyc", message=message, related_information=related or None,
            data={"witness": d.witness} if d.witness is not None else None,
        )

    def publish(self, owner: str, snapshot: Snapshot, found: Findings) -> None:
        """Replace what `owner`'s check said, in every file it said something about."""
        by_target: dict[str, list[types.Diagnostic]] = {owner: []}
        for d in found.diagnostics:
            target = self.uri_of(d.span.file, found.sources, owner, snapshot.name)
            by_target.setdefault(target, []).append(self.lsp_diagnostic(d, found, owner, snapshot.name))
        before = self.published.get(owner, {})
        self.published[owner] = by_target
        for target in set(before) | set(by_target):
            self._send(target)

    def _send(self, target: str) -> None:
        merged: dict[tuple[Any, ...], types.Diagnostic] = {}
        for published in self.published.values():
            for d in published.get(target, []):
                key = (d.code, d.range.start.line, d.range.start.character, d.message)
                merged.setdefault(key, d)
        version = None
        document = self.workspace.text_documents.get(target)
        if document is not None:
            version = document.version
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=target, diagnostics=list(merged.values()), version=version))

    def navigable(self, uri: str, position: types.Position) -> tuple[Snapshot, int, bool] | None:
        """The snapshot to answer a request at `position` from, the offset there, and whether it
        is the buffer's current one: the current snapshot when it parses, else the last that
        did, when the edits since lie wholly before or after the position (a half-typed line
        elsewhere leaves every other name navigable)."""
        snapshot = self.snapshot(uri)
        offset = self.offset(snapshot, position)
        if snapshot.parsed:
            return snapshot, offset, True
        last = self.parsed.get(uri)
        if last is None:
            return None
        moved = _moved(last.text, snapshot.text, offset)
        return (last, moved, False) if moved is not None else None

    async def firing(self, uri: str, snapshot: Snapshot, offset: int) -> str | None:
        """Where the rule under the cursor fires, when it is one of the buffer's rules and the
        analyses of this snapshot are done (asked of their process, `HOVER_WAIT` at most)."""
        found = features.at(snapshot, offset)
        if found is None or not isinstance(found.target, Symbol) or found.target.kind != "rule" \
                or found.target.unit is not snapshot.program.top:
            return None
        analysis = self.analyses.get(uri)
        if analysis is None or analysis.snapshot is not snapshot:
            return None
        return await analysis.firing(found.target.name, HOVER_WAIT)

    def _label(self, snapshot: Snapshot) -> str:
        return f"{snapshot.name} version {snapshot.version}"

    async def changed(self, uri: str) -> None:
        """Syntax, names and types now; the analyses after `delay` seconds of quiet, ending any
        still running for an older version."""
        await asyncio.sleep(0)  # let a burst of changes land: only the newest is checked
        document = self.workspace.text_documents.get(uri)
        if document is None:
            return
        snapshot = self.snapshot(uri)
        if snapshot.version != document.version:
            return
        self.cancel(uri, f"{self._label(snapshot)} arrived")
        with collector_held():
            found = snapshot.front_end()
            if snapshot.parsed:
                self.parsed[uri] = snapshot
            self.publish(uri, snapshot, found)
        self.trace(f"{self._label(snapshot)}: published syntax, names and types ({len(found.diagnostics)} findings)")
        if found.front_end_clean:
            self.pending[uri] = asyncio.ensure_future(self.analyse_later(uri, snapshot))

    def cancel(self, uri: str, why: str) -> None:
        """End the buffer's analyses, waiting or running (killing their process)."""
        pending = self.pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        analysis = self.analyses.pop(uri, None)
        if analysis is not None:
            if not analysis.done:
                self.trace(f"{self._label(analysis.snapshot)}: analyses cancelled ({why})")
            analysis.close()

    def current(self, uri: str, snapshot: Snapshot) -> bool:
        """Whether `snapshot` is still the buffer's latest version (else its results are stale)."""
        document = self.workspace.text_documents.get(uri)
        return document is not None and self.snapshots.get(uri) is snapshot and snapshot.version == document.version

    async def analyse_later(self, uri: str, snapshot: Snapshot) -> None:
        """After `delay` seconds of quiet, the analyses of `snapshot`, published with its front
        end's findings if it is still the buffer's latest version when they end."""
        await asyncio.sleep(self.delay)
        if not self.current(uri, snapshot):
            return
        analysis = Analysis(snapshot, self.pool, in_process=self.in_process)
        self.analyses[uri] = analysis
        self.trace(f"{self._label(snapshot)}: analyses started (in a {'process' if self.in_process else 'thread'})")
        try:
            found = await analysis.findings()
        except AnalysisFailed as exc:  # a checker bug: say so in the client's log, keep serving
            self.window_log_message(types.LogMessageParams(
                type=types.MessageType.Error, message=f"policyc lsp: the analyses of {snapshot.name} failed: {exc}"))
            return
        if not self.current(uri, snapshot) or analysis.closed:
            self.trace(f"{self._label(snapshot)}: analyses dropped (the buffer moved on)")
            return  # the buffer moved on while the analyses ran: their findings are stale
        snapshot.analysis_diagnostics = found
        snapshot.analysed = True
        self._keep_few(uri)
        full = snapshot.full(found)
        self.publish(uri, snapshot, full)
        self.trace(f"{self._label(snapshot)}: published the analyses ({len(full.diagnostics)} findings, "
                   f"{analysis.cpu or 0:.3f} s CPU in the analyses)")

    def _keep_few(self, newest: str) -> None:
        """End the idle analyses' processes of all but the `IDLE_KEPT` buffers analysed last
        (each holds its facts for rule hovers: memory a buffer in the background need not keep)."""
        self.analyses[newest] = self.analyses.pop(newest)  # the dict's order: oldest analysed first
        idle = [uri for uri, analysis in self.analyses.items() if analysis.done]
        for uri in idle[:-IDLE_KEPT]:
            self.analyses.pop(uri).close()

    def closed(self, uri: str) -> None:
        self.cancel(uri, "closed")
        self.snapshots.pop(uri, None)
        self.parsed.pop(uri, None)
        before = self.published.pop(uri, {})
        for target in before:
            self._send(target)


def _moved(old: str, new: str, offset: int) -> int | None:
    """Where `offset` of `new` lies in `old`, when what changed between them lies wholly before
    or after it; None when it lies inside the change."""
    if old == new:
        return offset
    low, high = 0, min(len(old), len(new))
    while low < high:  # the longest common prefix, compared a slice at a time
        middle = (low + high + 1) // 2
        if old[:middle] == new[:middle]:
            low = middle
        else:
            high = middle - 1
    prefix = low
    if offset < prefix:
        return offset
    low, high = 0, min(len(old), len(new)) - prefix
    while low < high:  # the longest common suffix past the prefix
        middle = (low + high + 1) // 2
        if old[len(old) - middle:] == new[len(new) - middle:]:
            low = middle
        else:
            high = middle - 1
    if offset >= len(new) - low:
        return offset - (len(new) - len(old))
    return None


def _read_source(path: str) -> Source | None:
    try:
        with open(path, "rb") as handle:
            return buffer_source(path, handle.read().decode("utf-8", errors="replace"), path)[0]
    except OSError:
        return None


def build() -> PolicyServer:
    """A server with every feature registered; `serve()` runs one over stdio."""
    server = PolicyServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: PolicyServer, params: types.InitializeParams) -> None:
        _configure(ls, params.initialization_options)
        if params.trace is not None:
            ls.protocol.trace = params.trace

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: PolicyServer, params: types.DidOpenTextDocumentParams) -> None:
        await ls.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: PolicyServer, params: types.DidChangeTextDocumentParams) -> None:
        await ls.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: PolicyServer, params: types.DidSaveTextDocumentParams) -> None:
        await ls.changed(params.text_document.uri)  # an imported file may have changed on disk

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PolicyServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.closed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    @_answering(lambda: None)
    def formatting(ls: PolicyServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        snapshot = ls.snapshot(params.text_document.uri)
        try:
            formatted = format_source(snapshot.text, snapshot.name)
        except PolicyError:
            return None  # a syntax error: fmt leaves the file as it is, and so do we
        if formatted == snapshot.text:
            return []
        lines = snapshot.text.splitlines(True)
        end = types.Position(line=len(lines), character=0)
        return [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end),
                               new_text=formatted)]

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @_answering(lambda: None)
    async def hover(ls: PolicyServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        navigable = ls.navigable(uri, params.position)
        if navigable is None:
            return None
        snapshot, offset, current = navigable
        firing = await ls.firing(uri, snapshot, offset)
        found = features.hover(snapshot, offset, firing)
        if found is None:
            return None
        # from an older snapshot the span's lines may have moved: no range then
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=found.markdown),
                           range=ls.range(found.span, snapshot.source) if current else None)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @_answering(list)
    def definition(ls: PolicyServer, params: types.DefinitionParams) -> list[types.Location]:
        uri = params.text_document.uri
        snapshot = ls.snapshot(uri)
        return [ls.location(loc, uri, snapshot)
                for loc in features.definition(snapshot, ls.offset(snapshot, params.position))]

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    @_answering(list)
    def references(ls: PolicyServer, params: types.ReferenceParams) -> list[types.Location]:
        uri = params.text_document.uri
        snapshot = ls.snapshot(uri)
        others = [ls.snapshot(other) for other in ls.workspace.text_documents if other != uri]
        found = features.references(others, snapshot, ls.offset(snapshot, params.position),
                                    include_declaration=params.context.include_declaration)
        return [ls.location(loc, uri, snapshot) for loc in found]

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=[".", "{", ",", " ", "="]))
    @_answering(lambda: types.CompletionList(is_incomplete=False, items=[]))
    def completion(ls: PolicyServer, params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        snapshot = ls.snapshot(uri)
        found = features.completions(snapshot, ls.offset(snapshot, params.position), ls.parsed.get(uri))
        return types.CompletionList(is_incomplete=False, items=[
            types.CompletionItem(label=c.label, kind=_COMPLETION_KINDS[c.kind], detail=c.detail or None)
            for c in found])

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_answering(list)
    def symbols(ls: PolicyServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        snapshot = ls.snapshot(params.text_document.uri)

        def convert(entry: features.Outline) -> types.DocumentSymbol:
            return types.DocumentSymbol(
                name=entry.name, kind=_OUTLINE_KINDS[entry.kind], detail=entry.detail or None,
                range=ls.range(entry.span, snapshot.source),
                selection_range=ls.range(entry.selection, snapshot.source),
                children=[convert(child) for child in entry.children] or None)

        return [convert(entry) for entry in features.outline(snapshot)]

    return server


def _answering(empty: Callable[[], Any]) -> Callable[[Handler], Handler]:
    """A request handler that answers `empty()` for a document the client never opened (there
    is no buffer to answer from), and for any failure of its own, which it reports in the
    client's log in one line: a client never gets an error with a traceback in it."""

    def wrap(handler: Handler) -> Handler:
        if inspect.iscoroutinefunction(handler):
            @functools.wraps(handler)
            async def answer_later(ls: PolicyServer, params: Any) -> Any:
                if params.text_document.uri not in ls.workspace.text_documents:
                    return empty()
                try:
                    return await handler(ls, params)
                except Exception as exc:  # a bug of ours: say so in the log, keep serving
                    _log_failure(ls, handler, params, exc)
                    return empty()

            return answer_later  # type: ignore[return-value]  # as below

        @functools.wraps(handler)
        def answer(ls: PolicyServer, params: Any) -> Any:
            if params.text_document.uri not in ls.workspace.text_documents:
                return empty()
            try:
                return handler(ls, params)
            except Exception as exc:  # a bug of ours: say so in the log, keep serving
                _log_failure(ls, handler, params, exc)
                return empty()

        # the wrapper takes and answers what the handler does (functools.wraps), which mypy
        # cannot show for a TypeVar bound to Callable
        return answer  # type: ignore[return-value]

    return wrap


def _log_failure(ls: PolicyServer, handler: Callable[..., Any], params: Any, exc: Exception) -> None:
    ls.window_log_message(types.LogMessageParams(
        type=types.MessageType.Error,
        message=f"policyc lsp: {handler.__name__} failed on {params.text_document.uri}: {exc!r}"))


def _configure(ls: PolicyServer, options: Any) -> None:
    if isinstance(options, dict):
        delay = options.get("analysisDelay")
        if isinstance(delay, (int, float)) and not isinstance(delay, bool) and 0 <= delay <= 60:
            ls.delay = float(delay)
        where = options.get("analysisIn")
        if where in ("process", "thread"):  # a process only where the platform forks
            ls.in_process = where == "process" and FORKS


def serve() -> None:
    """Run the language server on standard input and output until the client exits."""
    logging.getLogger("pygls").setLevel(logging.WARNING)
    build().start_io()
