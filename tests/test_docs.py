"""The README stays short and leads to every docs page; every relative link in the docs resolves;
every benchmark log the docs name exists under docs/benchmarks/. (No imports of the project: text only.)"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted((DOCS / "benchmarks").glob("*.md"))]


def links(page: Path) -> list[str]:
    return [t for t in LINK.findall(page.read_text(encoding="utf-8")) if not re.match(r"[a-z]+:", t)]


def test_the_readme_is_short_and_links_every_docs_page():
    readme = ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= 220
    linked = {(ROOT / t).resolve() for t in links(readme)}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs pages the README does not link: {missing}"


def test_every_relative_link_resolves():
    broken = [f"{p.relative_to(ROOT)}: {t}" for p in pages() for t in links(p) if not (p.parent / t).exists()]
    assert not broken, broken


def test_every_log_the_docs_name_is_committed():
    """`benchmarks/cpu/x.log`, `docs/benchmarks/h100/y.log`, `cpu/z.log` in a page: the file exists
    (a "No log kept" line names the log a re-run would write, after `log_run.sh`: skipped)."""
    named = set()
    for p in pages():
        for line in p.read_text(encoding="utf-8").splitlines():
            if "log_run.sh" in line or "rerun_cpu_logs" in line:
                continue
            for m in re.findall(r"`(?:docs/)?(?:benchmarks/)?((?:cpu|h100)/[\w.-]+\.(?:log|txt|json))`", line):
                named.add(m)
    assert named, "no log named at all: the pattern no longer matches the docs"
    absent = sorted(n for n in named if not (DOCS / "benchmarks" / n).is_file())
    assert not absent, f"logs named in the docs but not committed: {absent}"
