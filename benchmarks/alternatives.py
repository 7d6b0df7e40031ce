"""The support desk in the rule engines a team could pick instead: json-logic and CEL.

Both are optional (`pip install -e '.[bench]'`); `available()` says which are installed. Each
decides like the hand-written chain, without validation, with defaults filled in first.
"""

from __future__ import annotations

from collections.abc import Callable

from .handwritten import (CHEAP, DEFAULT, HIGH_STAKES, LONG_CONTEXT, PII_ONPREM, PII_TOO_BIG, SHORT_SUM,
                          TOO_LARGE, TOOL_HEAVY)

DEFAULTS = {"tool_count": 0, "pii": False}

JSON_LOGIC_RULES = [
    ({"and": [{"var": "pii"}, {"<=": [{"var": "input_tokens"}, 120000]}]}, PII_ONPREM),
    ({"var": "pii"}, PII_TOO_BIG),
    ({">": [{"var": "input_tokens"}, 200000]}, TOO_LARGE),
    ({">": [{"var": "input_tokens"}, 100000]}, LONG_CONTEXT),
    ({"in": [{"var": "task"}, ["legal_review", "refund_dispute"]]}, HIGH_STAKES),
    ({">": [{"var": "tool_count"}, 3]}, TOOL_HEAVY),
    ({"and": [{"in": [{"var": "task"}, ["classify", "extract", "format", "translate"]]},
              {"<=": [{"var": "input_tokens"}, 8000]}]}, CHEAP),
    ({"and": [{"==": [{"var": "task"}, "summarize"]}, {"<=": [{"var": "input_tokens"}, 4000]}]}, SHORT_SUM),
]

CEL_RULES = [
    ("pii && input_tokens <= 120000", PII_ONPREM),
    ("pii", PII_TOO_BIG),
    ("input_tokens > 200000", TOO_LARGE),
    ("input_tokens > 100000", LONG_CONTEXT),
    ('task in ["legal_review", "refund_dispute"]', HIGH_STAKES),
    ("tool_count > 3", TOOL_HEAVY),
    ('task in ["classify", "extract", "format", "translate"] && input_tokens <= 8000', CHEAP),
    ('task == "summarize" && input_tokens <= 4000', SHORT_SUM),
]


def json_logic() -> Callable | None:
    try:
        from json_logic import jsonLogic
    except ImportError:
        return None

    def decide(signals):
        data = {**DEFAULTS, **signals}
        for logic, decision in JSON_LOGIC_RULES:
            if jsonLogic(logic, data):
                return decision
        return DEFAULT

    return decide


def cel() -> Callable | None:
    try:
        import celpy
    except ImportError:
        return None
    env = celpy.Environment(runner_class=celpy.CompiledRunner)
    programs = [(env.program(env.compile(text)), decision) for text, decision in CEL_RULES]

    def decide(signals):
        activation = celpy.json_to_cel({**DEFAULTS, **signals})
        for program, decision in programs:
            if program.evaluate(activation):
                return decision
        return DEFAULT

    return decide


def available() -> dict[str, Callable | None]:
    return {"json-logic": json_logic(), "cel-python (CompiledRunner)": cel()}
