"""Syntax errors in policy words: what was expected, where, and what was found instead."""

from __future__ import annotations

from typing import Any

from lark import Token

from .grammar import terminal_pattern

# Terminals that can continue an expression: left out of the message when something else fits.
_CONTINUATIONS = {"COMP_OP", "ADD_OP", "STAR", "AND", "OR", "IN", "NOT", "RANGE", "DOT", "LPAR"}
_DECLARATIONS = {"IMPORT", "THRESHOLD", "SIGNAL", "OUTCOME", "MODEL", "CASCADE", "FALLBACK",
                 "BUDGET", "INVARIANT", "ROUTE", "TEST"}

_WORDS = {
    "NAME": "a name",
    "INT": "a whole number",
    "FLOAT": "a number",
    "MONEY": "an amount such as $0.50",
    "DURATION": "a duration such as 2s",
    "STRING": "a string",
    "UNTERMINATED_STRING": "a string",
    "COMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'",
    "$END": "the end of the file",
}

# What the innermost open construct is, by the keyword that opened it.
_CONSTRUCTS = {
    "RULE": "the rule",
    "DEFAULT": "the default",
    "SIGNAL": "the signal",
    "OUTCOME": "the outcome",
    "MODEL": "the model",
    "CASCADE": "the cascade",
    "FALLBACK": "the fallback",
    "BUDGET": "the budget",
    "INVARIANT": "the invariant",
    "ROUTE": "the route block",
    "TEST": "the test",
    "THRESHOLD": "the threshold",
    "IMPORT": "the import",
    "POLICY": "the policy header",
}


def describe_token(token: Token) -> str:
    """How a token reads in a message: `the name 'x'`, `the value 8000`, `'->'`."""
    if token.type == "$END":
        return "the end of the file"
    text = str(token)
    if len(text) > 40:
        text = text[:37] + "..."
    if token.type == "NAME":
        return f"the name '{text}'"
    if token.type in ("INT", "FLOAT", "MONEY", "DURATION"):
        return f"the value {text}"
    if token.type in ("STRING", "UNTERMINATED_STRING"):
        return f"the string {text}"
    return f"'{text}'"


def _describe_terminal(name: str) -> str:
    if name in _WORDS:
        return _WORDS[name]
    literal = terminal_pattern(name)
    return f"'{literal}'" if literal is not None else name.lower()


def _alternatives(words: list[str]) -> str:
    words = sorted(set(words))
    if len(words) == 1:
        return words[0]
    if len(words) > 6:
        return ", ".join(words[:6]) + " or another"
    return ", ".join(words[:-1]) + " or " + words[-1]


def _open_construct(stack: list[Any]) -> tuple[str | None, list[Token]]:
    """The keyword of the innermost construct still open on the parser stack, and its tokens."""
    tokens = [v for v in stack if isinstance(v, Token)]
    for i in range(len(tokens) - 1, -1, -1):
        kind = tokens[i].type
        if kind == "MODEL" and i + 1 < len(tokens) and tokens[i + 1].type == "DOT":
            continue  # model.FIELD inside an expression
        if kind in _CONSTRUCTS:
            return kind, tokens[i:]
    return None, []


def expected_message(expected: set[str], found: Token, previous: Token | None, stack: list[Any]) -> str:
    """`expected '->' after the rule's condition, found the name 'm'` and the like."""
    construct, opened = _open_construct(stack)
    found_text = describe_token(found)
    # the condition is complete when a node, not a token, sits on the stack after `when`
    in_condition = any(t.type == "WHEN" for t in opened) and bool(stack) and not isinstance(stack[-1], Token)

    if construct is None and "POLICY" in expected:
        return f"expected 'policy NAME' at the start of the file, found {found_text}"
    if found.type == "COMMA" and construct in ("RULE", "DEFAULT") and any(t.type == "ARROW" for t in opened):
        return f"a rule has one target, but ',' follows '{previous}'"
    if found.type == "EQUAL" and any(t.type == "WHEN" for t in opened):
        return "expected a comparison, found '=' (which gives a field or a test value its value)"
    if "NAME" in expected and found.type != "NAME" and str(found).isidentifier():
        return f"expected a name after '{previous}', found the keyword '{found}' (keywords are reserved)"
    if "ARROW" in expected and construct == "RULE" and in_condition:
        return f"expected '->' after the rule's condition, found {found_text}"
    if previous is not None and _needs_operand(expected):
        return f"expected a value after '{previous}', found {found_text}"
    if construct == "ROUTE" and {"RULE", "DEFAULT"} & expected:
        return f"expected 'rule', 'default' or '}}' in the route block, found {found_text}"
    if construct in (None, "POLICY") and expected & _DECLARATIONS:
        return f"expected a declaration (signal, model, cascade, route, ...), found {found_text}"

    wanted = sorted(expected - _CONTINUATIONS) or sorted(expected)
    words = _alternatives([_describe_terminal(t) for t in wanted])
    after = f" after '{previous}'" if previous is not None else ""
    where = f" in {_CONSTRUCTS[construct]}" if construct and (previous is None or previous.type != construct) else ""
    return f"expected {words}{after}{where}, found {found_text}"


def mistake_help(found: Token, previous: Token | None, stack: list[Any]) -> str | None:
    """A fix for the mistakes people make coming from other languages and configs."""
    construct, opened = _open_construct(stack)
    if found.type == "COMMA" and construct in ("RULE", "DEFAULT") and any(t.type == "ARROW" for t in opened):
        return ("to try several models in turn, declare a cascade (cheap -> strong when ...) or "
                "fallbacks (fallback a -> b on unavailable) and send the rule to the first")
    if found.type == "EQUAL" and any(t.type == "WHEN" for t in opened):
        return "did you mean `==`?"
    return None


def _needs_operand(expected: set[str]) -> bool:
    """The parser is in the middle of an expression and wants its next operand."""
    return bool(expected & {"INT", "FLOAT", "MONEY", "DURATION", "LPAR"}) and "ARROW" not in expected
