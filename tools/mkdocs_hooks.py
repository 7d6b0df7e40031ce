"""MkDocs hooks for the user docs site (mkdocs.yml): the pages link to repository files outside
docs/ (`../examples/support_desk.route`, `../grammar/policy.lark`), which read right on a
repository browser; for the site, each such file is published under `repo/` and the link
rewritten to it, so `mkdocs build --strict` finds every link and no link leaves the site.
A linked folder gets an index page listing its files. The Pygments stylesheet for the
highlighted code blocks (the route lexer among them) is generated too."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from mkdocs.structure.files import File, Files, InclusionLevel

LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)#\s]+)(#[^)\s]*)?\)")
PREFIX = "repo"
PUBLISHED = InclusionLevel.NOT_IN_NAV
"""Set on every published repository file, so that MkDocs' default exclusion of dotfiles does
not drop one a page links to (`.pre-commit-hooks.yaml`)."""


def github_slug(value: str, separator: str) -> str:
    """Heading anchors as GitHub makes them (``3.10 `test NAME { ... }` `` is
    `310-test-name---`), so one link works on the repository browser and on the site."""
    return re.sub(r"[^\w\- ]", "", value.strip().lower()).replace(" ", separator)


def on_config(config):
    config["mdx_configs"].setdefault("toc", {})["slugify"] = github_slug
    return config


def _root(config) -> Path:
    return Path(config["config_file_path"]).resolve().parent


def _outside(config, page_src: str, target: str) -> Path | None:
    """The repository path a page's link points to, when it lies outside docs/."""
    docs = Path(config["docs_dir"]).resolve()
    resolved = (docs / os.path.dirname(page_src) / target).resolve()
    root = _root(config)
    if resolved.is_relative_to(docs) or not resolved.is_relative_to(root) or not resolved.exists():
        return None
    return resolved


def _tracked(root: Path, folder: Path) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--", str(folder)], cwd=root, capture_output=True, text=True)
    names = listed.stdout.split() if listed.returncode == 0 else []
    found = [root / n for n in names] if names else [p for p in folder.rglob("*") if p.is_file()]
    return sorted(p for p in found if p.parent == folder and not p.name.endswith(".md"))


def on_files(files: Files, config) -> Files:
    root, docs = _root(config), Path(config["docs_dir"]).resolve()
    targets: set[Path] = set()
    for page in docs.glob("*.md"):
        for target, _ in LINK.findall(page.read_text(encoding="utf-8")):
            found = _outside(config, page.name, target)
            if found is not None:
                targets.add(found)
    for target in sorted(targets):
        rel = target.relative_to(root).as_posix()
        if target.is_dir():
            members = _tracked(root, target)
            lines = [f"# `{rel}/`", "", "The files of this folder of the policylang repository:", ""]
            lines += [f"- [`{m.name}`]({m.name})" for m in members]
            files.append(File.generated(config, f"{PREFIX}/{rel}/index.md", content="\n".join(lines) + "\n",
                                        inclusion=PUBLISHED))
            for member in members:
                files.append(File.generated(config, f"{PREFIX}/{member.relative_to(root).as_posix()}",
                                            abs_src_path=str(member), inclusion=PUBLISHED))
        elif not any(f.src_uri == f"{PREFIX}/{rel}" for f in files):
            files.append(File.generated(config, f"{PREFIX}/{rel}", abs_src_path=str(target), inclusion=PUBLISHED))
    from pygments.formatters import HtmlFormatter

    css = HtmlFormatter(style="default").get_style_defs(".codehilite")
    files.append(File.generated(config, "pygments.css", content=css))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    root = _root(config)

    def rewrite(match: re.Match) -> str:
        target, anchor = match.group(1), match.group(2) or ""
        found = _outside(config, page.file.src_uri, target)
        if found is None:
            return match.group(0)
        rel = found.relative_to(root).as_posix()
        link = f"{PREFIX}/{rel}/index.md" if found.is_dir() else f"{PREFIX}/{rel}"
        depth = page.file.src_uri.count("/")
        return f"]({'../' * depth}{link}{anchor})"

    return LINK.sub(rewrite, markdown)
