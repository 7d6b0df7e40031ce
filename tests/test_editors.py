"""Highlighting: the Pygments lexer (policylang.highlight) and the TextMate grammar of
editors/vscode/, each run over every `.route` file of the repository, and the grammar through
VS Code's own tokenizer (vscode-textmate with vscode-oniguruma, from editors/vscode's npm
packages: `npm ci --prefix editors/vscode`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from conftest import ROOT
from policylang.highlight import RouteLexer
from policylang.source import Source
from policylang.syntax.parser import parse

VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "route.tmLanguage.json"
LARK = (ROOT / "grammar" / "policy.lark").read_text(encoding="utf-8")
KEYWORDS = sorted(set(re.findall(r'"([a-z]+)"', LARK)))
"""Every keyword of grammar/policy.lark: its quoted words, the named keyword terminals too."""
CONTEXTUAL = {"budget cost <= $1": "cost", "budget latency <= 2s": "latency", "cost(fast)": "cost"}
LEXICAL = {"E002", "E003", "E004"}
"""What the grammar rejects while lexing: the places a highlighter may mark as an error."""


def route_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.route"], cwd=ROOT, capture_output=True, text=True, check=True)
    files = [ROOT / name for name in listed.stdout.split()]
    assert len(files) > 50
    return files


def lexical_error_lines(path: Path) -> set[int]:
    text = path.read_bytes().decode("utf-8", errors="replace")
    _, diagnostics = parse(Source(str(path), text))
    return {d.span.line for d in diagnostics if d.code in LEXICAL}


def test_the_keywords_are_section_11s() -> None:
    assert {"policy", "import", "model", "cascade", "fallback", "route", "rule", "default", "reject", "test",
            "given", "expect", "then", "and", "or", "not", "in", "true", "false", "enum", "money"} <= set(KEYWORDS)


# ---- Pygments --------------------------------------------------------------------------------------


def test_the_lexer_is_registered_through_the_entry_point() -> None:
    for name in ("route", "policylang"):
        assert isinstance(get_lexer_by_name(name), RouteLexer)
    assert isinstance(get_lexer_for_filename("support_desk.route"), RouteLexer)


def test_every_route_file_lexes_with_no_error_token_except_at_lexical_errors() -> None:
    lexer = RouteLexer()
    marked = 0
    for path in route_files():
        text = path.read_bytes().decode("utf-8", errors="replace")
        errors, line = set(), 1
        for token, value in lexer.get_tokens(text):
            if token in Error:
                errors.add(line)
            line += value.count("\n")
        allowed = lexical_error_lines(path)
        assert errors <= allowed, f"{path.relative_to(ROOT)}: Error tokens on lines {sorted(errors - allowed)}"
        marked += bool(errors)
    assert marked >= 3  # the E002, E003 and E004 fixtures are marked where they are broken


def test_the_lexer_names_what_each_token_is() -> None:
    text = ('policy p\nimport "std/signals" as s\nthreshold big = 8_000\nsignal task: enum {a, b} = a\n'
            'model fast { latency = 1.5s, input_per_mtok = $0.5 }\nbudget cost <= $1 when not pii\n'
            'route {\n  rule r when task in {a} and cost(fast) < $2 -> fast  # cheap\n  default -> reject "no"\n}\n')
    tokens = [(t, v) for t, v in RouteLexer().get_tokens(text) if v.strip()]
    kinds: dict = {}
    for token, value in tokens:
        kinds.setdefault(value, token)  # each text as it first appears
    assert kinds["policy"] in Keyword and kinds["p"] in Name.Namespace
    assert kinds["model"] in Keyword.Declaration and kinds["fast"] in Name
    assert kinds["big"] in Name.Constant and kinds["task"] in Name.Variable
    assert kinds["enum"] in Keyword.Type and kinds["8_000"] in Number and kinds["1.5s"] in Number
    assert kinds["$0.5"] in Number and kinds['"std/signals"'] in String and kinds["# cheap"] in Comment
    assert kinds["->"] in Operator and kinds["and"] in Operator.Word and kinds["cost"] in Keyword.Pseudo
    assert kinds["r"] in Name.Function and kinds["reject"] in Keyword
    assert [t for t, v in RouteLexer().get_tokens("cost(fast)") if v == "cost"] == [Name.Builtin]
    for word in KEYWORDS:
        token = next((t for t, v in RouteLexer().get_tokens(f"x {word} y") if v == word), None)
        assert token in Keyword or token in Operator.Word, word


# ---- the TextMate grammar ----------------------------------------------------------------------------


def _grammar_patterns() -> list[tuple[str, str]]:
    """(regex, its scopes: the whole match's name, or every group's joined) of each `match` rule."""
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    found = []
    for rules in grammar["repository"].values():
        for rule in rules["patterns"]:
            if "match" in rule:
                scope = rule.get("name") or " ".join(c["name"] for c in rule["captures"].values())
                found.append((rule["match"], scope))
    return found


def test_the_grammar_is_json_and_its_scopes_cover_every_keyword() -> None:
    grammar = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    assert grammar["scopeName"] == "source.route"
    order = [p["include"].lstrip("#") for p in grammar["patterns"]]
    assert set(order) == set(grammar["repository"])
    keyword_rules = [(re.compile(regex), scope) for regex, scope in _grammar_patterns()
                     if not scope.startswith(("variable.other.route", "punctuation", "comment", "string"))]
    for word in KEYWORDS:
        scopes = [scope for regex, scope in keyword_rules if regex.fullmatch(word) or regex.match(f"{word} x")]
        assert scopes, f"no keyword scope matches '{word}'"
    for text, word in CONTEXTUAL.items():
        scopes = [scope for regex, scope in keyword_rules if regex.match(text)]
        assert any("metric" in scope or "support.function" in scope for scope in scopes), text


def test_the_extension_points_at_its_files_and_starts_policyc_lsp() -> None:
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    language = package["contributes"]["languages"][0]
    assert language["extensions"] == [".route"] and (VSCODE / language["configuration"]).is_file()
    grammar = package["contributes"]["grammars"][0]
    assert grammar["scopeName"] == "source.route" and (VSCODE / grammar["path"]).resolve() == GRAMMAR
    assert (VSCODE / package["main"]).is_file()
    assert package["contributes"]["configuration"]["properties"]["policylang.server.command"]["default"] == \
        ["policyc", "lsp"]
    configuration = json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))
    assert configuration["comments"]["lineComment"] == "#"


@pytest.fixture(scope="module")
def tokenized() -> dict[Path, list[dict]]:
    """Every .route file of the repository, tokenized by vscode-textmate with the grammar."""
    node = shutil.which("node")
    assert node is not None, "the TextMate test needs node (and `npm ci --prefix editors/vscode`)"
    assert (VSCODE / "node_modules" / "vscode-textmate").is_dir(), "run `npm ci --prefix editors/vscode` first"
    files = route_files()
    done = subprocess.run([node, str(VSCODE / "test" / "tokenize.js"), *map(str, files)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return {Path(entry["file"]): entry["tokens"] for entry in json.loads(done.stdout)}


def test_vscode_textmate_marks_nothing_invalid_except_lexical_errors(tokenized) -> None:
    marked = 0
    for path, tokens in tokenized.items():
        invalid = {t["line"] for t in tokens if any(s.startswith("invalid") for s in t["scopes"])}
        allowed = lexical_error_lines(path)
        assert invalid <= allowed, f"{path.relative_to(ROOT)}: invalid on lines {sorted(invalid - allowed)}"
        marked += bool(invalid)
    assert marked >= 2  # the E002 (a C operator is not the case there: `@`) and E004 fixtures


def test_vscode_textmate_gives_every_keyword_its_scope(tokenized) -> None:
    seen: set[str] = set()
    for path, tokens in tokenized.items():
        for token in tokens:
            scopes = token["scopes"]
            if token["text"] in KEYWORDS and not any(s.startswith(("comment", "string")) for s in scopes):
                assert scopes[-1] != "variable.other.route", (path, token)
                seen.add(token["text"])
    assert seen == set(KEYWORDS)  # the repository's policies use every keyword
