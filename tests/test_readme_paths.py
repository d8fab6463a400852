"""Every file or folder of this repository that the README names is in a clone of it: markdown
links, `paths` in backticks and paths in its code blocks; and nothing points outside the clone.

A name counts as a repository path when its first part is one of the repository's own top-level
entries (engage/, tests/, .ci/, docker-compose.yml, ...): `.engage/demo.db` (made at run time),
`/usr/bin/chromium` and `application/json` are not.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PATHLIKE = re.compile(r"^[\w.\-/*]+$")


def tracked_top_level() -> set[str]:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {line.split("/")[0] for line in files.splitlines() if line}


def named_paths() -> set[str]:
    """Candidates: backticked words in the prose, and every word of the code blocks."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S)
    prose = re.sub(r"```[a-z]*\n.*?```", "", README, flags=re.S)
    words = set(re.findall(r"`([^`\s]+)`", prose))
    for block in blocks:
        words.update(word.strip("(),;:") for word in block.split())
    return {w for w in words if "/" in w and "://" not in w and PATHLIKE.match(w)}


def links() -> list[str]:
    return re.findall(r"\[[^\]]+\]\(([^)\s]+)\)", README)


def anchor(heading: str) -> str:
    """GitHub's id for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def exists(path: str) -> bool:
    if any(c in path for c in "*?"):
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def test_the_readme_points_at_nothing_outside_the_repository():
    outside = sorted(p for p in named_paths() | set(links()) if p.startswith("../") or "/../" in p)
    assert not outside, f"a clone has none of {outside}"


def test_every_repository_path_the_readme_names_exists():
    top = tracked_top_level()
    named = {p for p in named_paths() if p.split("/")[0] in top}
    assert len(named) >= 5  # the README names paths, and this finds them
    missing = sorted(p for p in named if not exists(p))
    assert not missing, f"the README names {missing}, which the repository does not have"


def test_every_link_of_the_readme_leads_somewhere_in_the_repository():
    headings = {anchor(h) for h in re.findall(r"^#+ (.+)$", README, flags=re.M)}
    for target in links():
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not a file of the clone
            continue
        path, _, fragment = target.partition("#")
        if path:
            assert exists(path), f"README links to {path}, which the repository does not have"
        else:
            assert fragment in headings, f"README links to #{fragment}, which no heading is"

