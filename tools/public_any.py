"""Count the public functions of policylang that take or return `Any` (issue 23's measure).

Public: a function whose name has no leading underscore (a dunder such as `__init__` counts, as
`Router(policy: Any)` is public through it), defined at a module's top level or in a public
class, in a module whose path has no `_`-prefixed part (`__init__.py` is the package itself,
so it counts). A parameter or a return counts when its annotation is `Any` or contains it
(`dict[str, Any]`, `Callable[..., Any]`, a string annotation alike). Functions nested in
functions are no API and are left out.

    python tools/public_any.py              # the working tree
    python tools/public_any.py --rev HEAD~3  # a commit, read through git
    python tools/public_any.py --list        # each function, with what is Any
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "policylang"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _sources(rev: str | None) -> Iterator[tuple[str, str]]:
    """(path, text) of every module of the package, in the working tree or at `rev`."""
    if rev is None:
        for path in sorted((ROOT / PACKAGE).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")
        return
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, PACKAGE], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in sorted(n for n in names if n.endswith(".py")):
        text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout
        yield name, text


ANY = frozenset({"Any"})
JSON = frozenset({"JsonValue", "JsonObject"})
"""`jsontext`'s names for Any where a value truly is any JSON: counted apart."""


def _mentions_any(annotation: ast.expr | None, names: frozenset[str] = ANY) -> bool:
    if annotation is None:
        return False
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id in names:
            return True
        if isinstance(node, ast.Attribute) and node.attr in names:
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
            try:
                inner = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                continue
            if _mentions_any(inner, names):
                return True
    return False


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(qualified name, def) of every public function and public method of a public class."""
    def walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not _private(node.name):
                yield prefix + node.name, node
            elif isinstance(node, ast.ClassDef) and not _private(node.name):
                yield from walk(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.If, ast.Try)):  # definitions under `if TYPE_CHECKING:` or a try
                yield from walk(node.body, prefix)
    return walk(tree.body, "")


def _any_parts(node: ast.FunctionDef | ast.AsyncFunctionDef, names: frozenset[str] = ANY) -> list[str]:
    args = node.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    parts = [a.arg for a in params if _mentions_any(a.annotation, names)]
    for star, prefix in ((args.vararg, "*"), (args.kwarg, "**")):
        if star is not None and _mentions_any(star.annotation, names):
            parts.append(prefix + star.arg)
    if _mentions_any(node.returns, names):
        parts.append("return")
    return parts


def count(rev: str | None) -> tuple[int, int, int, list[str]]:
    """(public functions, those taking or returning Any, those whose Any is declared JSON
    (`JsonValue`, `JsonObject`) and no other, one line per function taking or returning Any)."""
    total, found, json_only, lines = 0, 0, 0, []
    for path, text in _sources(rev):
        if any(_private(part.removesuffix(".py")) for part in path.split("/")):
            continue
        for name, node in _functions(ast.parse(text, filename=path)):
            total += 1
            parts = _any_parts(node)
            if parts:
                found += 1
                lines.append(f"{path}:{node.lineno} {name}: {', '.join(parts)}")
            elif _any_parts(node, JSON):
                json_only += 1
    return total, found, json_only, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", help="count at this commit instead of the working tree")
    parser.add_argument("--list", action="store_true", help="list each function and what is Any in it")
    options = parser.parse_args()
    total, found, json_only, lines = count(options.rev)
    if options.list:
        print("\n".join(lines))
    print(f"{found} of {total} public functions take or return Any ({options.rev or 'working tree'}); "
          f"{json_only} more take or return JSON (JsonValue, JsonObject), and no other Any")
    return 0


if __name__ == "__main__":
    sys.exit(main())
