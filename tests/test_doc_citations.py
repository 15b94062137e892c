"""Citations of the project's own docs resolve, and nothing points at files that live outside the repository.

Code, tests, configs and report captions cite the docs as ``docs/methods.md §2.4`` (several sections may follow
one file name: ``docs/methods.md §2.4–§2.6``, ``§2.4, §2.5``). Every cited file must exist under docs/ and carry
a heading numbered with the cited section (``### 2.4 OBD ...`` or ``## 2. Methods``). The design notes the
project started from are not part of it, so their names may appear only inside docs/, and no path may lead
beside the checkout.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# a docs file, then one or more section numbers joined by commas, dashes or "and"
CITATION = re.compile(r"docs/([\w-]+\.md)((?:\s*(?:,|–|-|and)?\s*§\d+(?:\.\d+)*)+)")
SECTION = re.compile(r"§(\d+(?:\.\d+)*)")
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
OLD_DOCS = re.compile(r"\b(?:METHODS|DESIGN)\.md\b")
OUTSIDE = re.compile(r"(?:\.\.|/work)/shared\b")


def headings(markdown: str) -> set[str]:
    """Section numbers of a markdown file's numbered headings."""
    return set(HEADING.findall(markdown))


def problems(path: str, text: str, docs: dict[str, set[str]]) -> list[str]:
    """One line per unresolved citation or forbidden reference in ``text`` (the contents of ``path``)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in CITATION.finditer(line):
            name = match.group(1)
            if name not in docs:
                found.append(f"{path}:{number}: cites docs/{name}, which does not exist")
                continue
            for section in SECTION.findall(match.group(2)):
                if section not in docs[name]:
                    found.append(f"{path}:{number}: cites docs/{name} §{section}, which has no such heading")
        if not path.startswith("docs/") and OLD_DOCS.search(line):
            found.append(f"{path}:{number}: names a design note outside the repository ({OLD_DOCS.search(line)[0]})")
        if OUTSIDE.search(line):
            found.append(f"{path}:{number}: points outside the checkout ({OUTSIDE.search(line)[0]})")
    return found


def repository_text_files() -> dict[str, str]:
    """Tracked (and new, not ignored) files of the checkout that are UTF-8 text."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.fail(f"git ls-files failed in {ROOT}: {error}")
    files = {}
    for name in filter(None, listed.decode().split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            files[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return files


def test_every_doc_citation_resolves_and_nothing_points_outside():
    files = repository_text_files()
    docs = {
        Path(name).name: headings(text)
        for name, text in files.items()
        if name.startswith("docs/") and name.endswith(".md")
    }
    assert "methods.md" in docs and "architecture.md" in docs, "docs/methods.md and docs/architecture.md must exist"
    cited = sum(len(CITATION.findall(text)) for text in files.values())
    assert cited > 0, "no docs/<file>.md §n citation found: the scan reads nothing"
    found = [line for name, text in sorted(files.items()) for line in problems(name, text, docs)]
    assert not found, "\n".join(found)


def test_checker_catches_each_kind_of_problem():
    docs = {"methods.md": headings("# title\n## 2. Methods\n### 2.4 OBD and curvature\n### 2.10 Isometry\n")}
    assert docs["methods.md"] == {"2", "2.4", "2.10"}
    good = "see docs/methods.md §2.4–§2.10 and docs/methods.md §2, §2.4."
    assert problems("src/x.py", good, docs) == []
    # assembled from pieces, so that the repository scan above does not flag this file itself
    methods, dots = "docs/methods" + ".md", ".."
    bad = (
        f"{methods} §2.5\n"
        f"docs/missing{'.md'} §1\n"
        f"{methods} §2.4, §3.1\n"
        f"as METHODS{'.md'} §2 says\n"
        f"run {dots}/shared/data/x.sh\n"
    )
    found = problems("src/x.py", bad, docs)
    assert [line.split(":")[1] for line in found] == ["1", "2", "3", "4", "5"], found
    assert "§3.1" in found[2] and "§2.4" not in found[2]
    # inside docs/ the design notes may be named (e.g. as history); paths outside the checkout may not
    assert [line.split(":")[1] for line in problems("docs/notes.md", bad, docs)] == ["1", "2", "3", "5"]
