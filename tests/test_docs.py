"""The user docs: the diagnostic code index covers exactly the registry, the command reference
is what the click commands generate, every link stays inside the repository, and the MkDocs
site builds with --strict, highlighting route blocks with policylang's Pygments lexer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from policylang.cli.reference import render
from policylang.codes import CODES

DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_code_index_covers_every_registered_code_with_meaning_example_and_fix() -> None:
    text = (DOCS / "codes.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    documented = [s.split("\n", 1)[0].strip() for s in sections]
    assert documented == sorted(documented, key=list(CODES).index), "in the registry's order"
    assert set(documented) == set(CODES), (set(CODES) - set(documented), set(documented) - set(CODES))
    for code, section in zip(documented, sections):
        body = section.split("\n", 1)[1]
        assert re.match(r"\s*\*\*[A-Z].+\.\*\*", body), f"{code}: opens with what it means, in bold"
        assert "```" in body or "**Example:**" in body, f"{code}: has an example"
        assert "**Fix:**" in body, f"{code}: says how to fix it"
        title = CODES[code].title.split()[0].lower()
        assert title in body.split("\n\n", 1)[0].lower() or code == "E900", (code, title)


def test_the_command_reference_is_generated_from_the_click_commands() -> None:
    committed = (DOCS / "cli-reference.md").read_text(encoding="utf-8")
    assert committed == render(), "regenerate it: python -m policylang.cli.reference > docs/cli-reference.md"
    for command in ("lint", "compile", "eval", "test", "fmt", "lsp", "import litellm", "import portkey"):
        assert f"## `policyc {command}`" in committed


def test_every_link_of_the_docs_and_readme_stays_in_the_repository() -> None:
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in LINK.findall(text):
            assert not re.match(r"[a-z]+:", target), f"{page.name} links outside the repository: {target}"
            path = target.split("#", 1)[0]
            if path:
                assert (page.parent / path).resolve().exists(), f"{page.name}: {target} does not exist"
            assert "/shared/" not in target and "LANGUAGE.md" not in target


def test_mkdocs_builds_strict_and_highlights_route_blocks(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(site)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    codes = (site / "codes" / "index.html").read_text(encoding="utf-8")
    assert '<div class="codehilite"><pre><span></span><code><span class="kd">rule</span>' in codes
    tutorial = (site / "tutorial" / "index.html").read_text(encoding="utf-8")
    assert '<span class="kn">policy</span>' in tutorial and '<span class="err">' not in tutorial
    assert (site / "repo" / "examples" / "support_desk.route").is_file()
    assert (site / "pygments.css").is_file()
    # every repository file a page links to is published, dotfiles too (MkDocs leaves them out by default)
    assert "excluded from the built site" not in done.stderr, done.stderr
    hooks = site / "repo" / ".pre-commit-hooks.yaml"
    assert hooks.read_bytes() == (ROOT / ".pre-commit-hooks.yaml").read_bytes()
    for page in site.rglob("*.html"):
        for href in re.findall(r'href="((?:\.\./)*repo/[^"#]+)', page.read_text(encoding="utf-8")):
            assert (page.parent / href).resolve().exists(), f"{page.relative_to(site)} links to {href}, not published"
