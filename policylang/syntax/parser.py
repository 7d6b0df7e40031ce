"""Text to surface tree, reporting every syntax error the parser can recover from.

Tokens are fed to Lark's interactive LALR parser one at a time. Before each token that can
start a declaration or a rule, the parser state is saved. On an error, the tokens up to the
next such token are skipped and the newest saved state that accepts it is restored, so one
broken rule costs one diagnostic and the rules after it are still checked.
"""

from __future__ import annotations

import gc

from lark import Token
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_interactive_parser import InteractiveParser

from ..codes import E001, E002, E004, E005, E006
from ..diagnostics import Diagnostic, diagnostic
from ..ir import surface as s
from ..source import Source
from . import lalr
from .build import CONTEXT, MAX_NESTING, BuildContext
from .grammar import parser
from .lexer import tokens as lex_tokens
from .wording import expected_message, mistake_help

# Tokens that start a declaration, a rule, or a part of a test: places to resume after an error.
SYNC = {"IMPORT", "THRESHOLD", "SIGNAL", "OUTCOME", "MODEL", "CASCADE", "FALLBACK", "BUDGET",
        "INVARIANT", "ROUTE", "TEST", "RULE", "DEFAULT", "GIVEN", "EXPECT"}
_LEXICAL_ERRORS = {"BAD_CHAR", "BAD_NUMBER", "BAD_OPERATOR"}
_SPELLED = {"&": "and", "&&": "and", "|": "or", "||": "or", "!": "not"}


def parse(source: Source) -> tuple[s.File | None, list[Diagnostic]]:
    """The file's surface tree, or None when it has syntax errors, and all its E0xx diagnostics.

    The tokens go first through the plain LALR loop, with no state saved; only a file where it
    meets a token it cannot shift is parsed again, from scratch and in a fresh context, by the
    recovering loop, which then reports what it would have reported alone."""
    collecting = gc.isenabled()
    gc.disable()  # a parse makes some 40 objects a rule and frees none: no garbage to look for
    try:
        tree, errors, ctx = _parse_both(source)
    finally:
        if collecting:
            _age_the_young()
            gc.enable()
    # a state restored after an error may re-run a callback: report each finding once
    unique = {d.identity: d for d in errors + ctx.diagnostics}
    diagnostics = sorted(unique.values(), key=Diagnostic.sort_key)
    return (tree if not diagnostics else None), diagnostics


def _age_the_young() -> None:
    """Hand the objects the parse built (a tree that lives as long as the file is checked: some
    60 objects a rule) straight to the collector's oldest generation, as surviving two young
    collections would, without those two scans: the first young collection after a large
    parse walked every one of them, a fifth of parsing 10,000 rules. Done with `freeze` and
    `unfreeze`, which move whole generations at no cost, and only while nothing else is
    frozen (the gateway freezes its loaded policies: those must stay out of reach)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def _parse_both(source: Source) -> tuple[s.File | None, list[Diagnostic], BuildContext]:
    """The plain loop, then the recovering one if the plain one fails: the tree, the syntax
    errors and the context of the parse that counts."""
    tokens, too_deep = _lex(source)
    if too_deep is not None:
        return None, [too_deep], BuildContext(source)
    tokens.append(Token("$END", "", len(source.text), *source.position(len(source.text)),
                        end_pos=len(source.text)))
    ctx = BuildContext(source)
    reset = CONTEXT.set(ctx)
    try:
        tree = _parse_plain(tokens)
    finally:
        CONTEXT.reset(reset)
    if tree is not None:
        return tree, [], ctx
    ctx = BuildContext(source)
    reset = CONTEXT.set(ctx)
    try:
        found, errors = _parse_tokens(source, tokens)
    finally:
        CONTEXT.reset(reset)
    return found, errors, ctx


def _too_deep(source: Source, offset: int) -> Diagnostic:
    return diagnostic(
        E006,
        f"expression nested more than {MAX_NESTING:,} levels deep",
        source.span(offset, offset + 1),
        help="split the condition with thresholds or simpler rules",
    )


def _is_sync(tokens: list[Token], i: int) -> bool:
    token = tokens[i]
    if token.type not in SYNC:
        return False
    # `model.regions` inside an invariant and `outcome { ... }` inside a test are not declarations
    following = tokens[i + 1].type if i + 1 < len(tokens) else "$END"
    return not (token.type == "MODEL" and following == "DOT")


def _lex(source: Source) -> tuple[list[Token], Diagnostic | None]:
    tokens = lex_tokens(source.text)
    if source.text.count("(") <= MAX_NESTING:  # each LPAR token is a "(" of the text
        return tokens, None
    depth_now = 0
    for token in tokens:
        if token.type == "LPAR":
            depth_now += 1
            if depth_now > MAX_NESTING:
                return tokens, _too_deep(source, token.start_pos or 0)  # lexed: never None
        elif token.type == "RPAR":
            depth_now -= 1
    return tokens, None


def _lexical_error(source: Source, token: Token) -> Diagnostic:
    span = source.span(token.start_pos or 0, token.end_pos or 0)
    if token.type == "BAD_NUMBER":
        text = str(token)
        help = "durations end in ms, s or m (250ms, 2s, 1m); numbers have no exponent" if not text.startswith("$") \
            else "an amount is $ then a number: $0.50"
        return diagnostic(E004, f"bad number literal '{text[:40]}'", span, help=help)
    if token.type == "BAD_OPERATOR":
        text = str(token)
        word = _SPELLED[text]
        return diagnostic(E002, f"unexpected '{text}': a policy says `{word}`", span, help=f"did you mean `{word}`?")
    char = str(token)
    shown = repr(char)[1:-1] if not char.isprintable() or char.isspace() else char
    return diagnostic(E002, f"unexpected character '{shown}' (U+{ord(char):04X})", span)


def _parse_plain(tokens: list[Token]) -> s.File | None:
    """The tree, when every token (the last is $END) shifts: None at the first that does not,
    or at a lexical error token, with no diagnostic (the recovering loop makes them)."""
    tree: s.File | None = lalr.run(tokens)
    return tree


def _parse_tokens(source: Source, tokens: list[Token]) -> tuple[s.File | None, list[Diagnostic]]:
    """The recovering loop over the tokens (the last is $END): the tree and every syntax error."""
    ip = parser().parse_interactive("")
    saved: list[InteractiveParser] = []  # parser states saved before sync tokens, oldest first
    errors: list[Diagnostic] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type in _LEXICAL_ERRORS:
            errors.append(_lexical_error(source, token))
        else:
            if _is_sync(tokens, i):
                saved.append(ip.copy(deepcopy_values=False))  # type: ignore[no-untyped-call]  # lark leaves it unannotated
            try:
                if token.type == "$END":
                    return ip.feed_eof(token), errors  # type: ignore[no-untyped-call]  # lark: unannotated
                ip.feed_token(token)
                i += 1
                continue
            except UnexpectedToken as exc:
                errors.append(_unexpected(source, exc, tokens[i - 1] if i else None, ip))
        # recover: resume at the next sync token that some saved state accepts
        resumed = _resume(tokens, i + 1, saved)
        if resumed is None:
            return None, errors
        i, ip, saved = resumed
    return None, errors


def _unexpected(source: Source, exc: UnexpectedToken, previous: Token | None, ip: InteractiveParser) -> Diagnostic:
    token = exc.token
    stack = ip.parser_state.value_stack
    message = expected_message(set(exc.expected), token, previous, stack)
    if token.type == "$END":
        offset = len(source.text.rstrip())
        return diagnostic(E005, "unexpected end of file: " + message, source.span(offset, offset))
    span = source.span(token.start_pos or 0, token.end_pos or 0)
    return diagnostic(E001, message, span, help=mistake_help(token, previous, stack))


def _resume(tokens: list[Token], start: int, saved: list[InteractiveParser]
            ) -> tuple[int, InteractiveParser, list[InteractiveParser]] | None:
    """The index to go on from, with a restored parser, or None when nothing can resume."""
    for i in range(start, len(tokens)):
        if not _is_sync(tokens, i):
            continue
        for k in range(len(saved) - 1, -1, -1):
            trial = saved[k].copy(deepcopy_values=False)  # type: ignore[no-untyped-call]  # lark: unannotated
            try:
                trial.feed_token(tokens[i])
            except UnexpectedToken:
                continue
            # resume with the state before the sync token; the loop feeds it again
            return i, saved[k].copy(deepcopy_values=False), saved[:k]  # type: ignore[no-untyped-call]  # lark
    return None


