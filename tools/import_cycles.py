"""The import cycles inside policylang: `python tools/import_cycles.py` prints each group of
modules that import one another (directly or round a loop), and exits 1 when there is one.

import-linter's layers contract keeps imports looking down between layers; a cycle inside one
layer (two modules of a package importing each other, even lazily or under TYPE_CHECKING) is
what this finds. It reads the import graph grimp builds (installed with import-linter).
"""

from __future__ import annotations

import sys

import grimp


def cycles(package: str = "policylang") -> list[list[str]]:
    """Each strongly connected group of two or more modules (Tarjan's algorithm, iterative)."""
    graph = grimp.build_graph(package)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.find_modules_directly_imported_by(target)))))
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == module:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def main() -> int:
    found = cycles()
    for group in found:
        print("import cycle: " + " <-> ".join(group))
    print(f"{len(found)} import cycle(s) in policylang")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
