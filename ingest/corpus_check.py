"""Validate corpus front matter, and (when the official docs are at hand) that every cited page and anchor exists.

    python -m ingest.corpus_check corpus [--docs ../shared/waf-docs/well-architected]
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.slug import LEARN_BASE, anchor_slug
from ingest.docfx import TAB_HEADING
from ingest.docs_sync import moved_pages

PILLARS = ("reliability", "security", "cost-optimization", "operational-excellence", "performance-efficiency")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_EXPLICIT_ANCHOR = re.compile(r'<a\s+(?:name|id)="([^"]+)"')
# A sentence about the page instead of guidance ("This page lists ..."): an answer that quotes it says nothing.
_ABOUT_A_PAGE = re.compile(
    r"(?:^|[.!?:]\s+|^\s*[-*]\s+)(?:this|the following) (?:page|article|section|guide|document)s? "
    r"(?:(?:list|cover|describe|define|compare|collect|explain|show|summari[sz]e|walk)s?|is about|are about)\b",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass
class CheckReport:
    files: int = 0
    problems: list[str] = field(default_factory=list)


def read_front_matter(path: Path) -> dict:
    match = _FRONT_MATTER.match(path.read_text(encoding="utf-8"))
    if not match:
        raise ValueError("no YAML front matter")
    data = yaml.safe_load(match.group(1))
    if not isinstance(data, dict):
        raise ValueError("front matter is not a mapping")
    return data


def cited_urls(meta: dict) -> list[str]:
    urls = [meta.get("source_url")] + list(meta.get("sources") or [])
    return [u for u in urls if u]


def front_matter_problems(meta: dict) -> list[str]:
    problems = []
    if not str(meta.get("title") or "").strip():
        problems.append("missing title")
    pillars = meta.get("pillars")
    if not isinstance(pillars, list) or not pillars:
        problems.append("pillars must be a non-empty list")
    else:
        problems += [f"unknown pillar {p!r}" for p in pillars if p not in PILLARS]
    if not isinstance(meta.get("topics"), list) or not meta.get("topics"):
        problems.append("topics must be a non-empty list")
    source = str(meta.get("source_url") or "")
    if not source.startswith(LEARN_BASE):
        problems.append(f"source_url must start with {LEARN_BASE}")
    for url in cited_urls(meta):
        if not str(url).startswith(LEARN_BASE) or "#" not in str(url):
            problems.append(f"citation is not a well-architected page with #anchor: {url}")
    return problems


def page_anchors(docs_root: Path, url: str) -> set[str] | None:
    """Anchors of the official page that a citation URL names, or None when the page does not exist."""
    page = url.removeprefix(LEARN_BASE).split("#", 1)[0].rstrip("/")
    for candidate in (docs_root / f"{page}.md", docs_root / page / "index.md"):
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8", errors="replace")
            headings = [h for h in _HEADING.findall(text) if not TAB_HEADING.match(f"# {h}")]
            return {anchor_slug(h) for h in headings} | set(_EXPLICIT_ANCHOR.findall(text))
    return None


def sentences_about_a_page(body: str) -> list[str]:
    """Sentences that describe the page rather than state guidance."""
    return [match.group(0).strip(" .!?:-*") for match in _ABOUT_A_PAGE.finditer(body)]


def check_corpus(corpus: Path, docs_root: Path | None) -> CheckReport:
    report = CheckReport()
    moved = moved_pages(docs_root.parent) if docs_root is not None else {}
    for path in sorted(corpus.rglob("*.md")):
        report.files += 1
        name = path.relative_to(corpus)
        try:
            meta = read_front_matter(path)
        except (ValueError, yaml.YAMLError) as exc:
            report.problems.append(f"{name}: {exc}")
            continue
        report.problems += [f"{name}: {p}" for p in front_matter_problems(meta)]
        report.problems += [
            f'{name}: a sentence about the page, not guidance: "{about}..."'
            for about in sentences_about_a_page(_FRONT_MATTER.sub("", path.read_text(encoding="utf-8"), count=1))
        ]
        if docs_root is None:
            continue
        for url in cited_urls(meta):
            anchors = page_anchors(docs_root, str(url))
            anchor = str(url).split("#", 1)[1] if "#" in str(url) else ""
            page = str(url).split("#", 1)[0].rstrip("/")
            if anchors is None and page in moved:
                report.problems.append(f"{name}: cited page moved to {moved[page]}: {url}")
            elif anchors is None:
                report.problems.append(f"{name}: cited page does not exist: {url}")
            elif anchor and anchor not in anchors:
                report.problems.append(f"{name}: cited anchor #{anchor} not on page: {url}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--docs", type=Path, default=None, help="official docs tree (well-architected folder)")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"error: corpus folder not found: {args.corpus}", file=sys.stderr)
        return 2
    if args.docs is not None and not args.docs.is_dir():
        print(f"error: docs folder not found: {args.docs}", file=sys.stderr)
        return 2
    report = check_corpus(args.corpus, args.docs)
    for problem in report.problems:
        print(problem)
    print(f"{report.files} files checked, {len(report.problems)} problems")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
