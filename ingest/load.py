"""Load guidance files (Markdown with front matter, DocFX Markdown, PDF, DOCX, plain text) into sections."""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.documents import LoadedDocument, Section
from core.markdown import docx_markdown, first_h1, heading_titles, split_headings
from core.slug import LEARN_BASE, anchor_slug, learn_url
from ingest.docfx import clean_docfx, is_navigation, tab_titles

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt", ".pdf", ".docx"}
SKIPPED_NAMES = {"readme.md", "toc.md", "license.md", "thirdpartynotices.md"}
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)



class UnreadableFile(Exception):
    """A file that cannot be loaded; ingest skips it with a warning naming it."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    root: Path

    @property
    def key(self) -> str:
        """Stable identity of a file across runs: the root folder's name plus the path inside it."""
        if self.root.is_file():
            return self.root.name
        return f"{self.root.name}/{self.path.relative_to(self.root).as_posix()}"


def discover(root: Path) -> Iterator[SourceFile]:
    root = root.resolve()
    if root.is_file():
        yield SourceFile(root, root)
        return
    for path in sorted(root.rglob("*")):
        if (
            path.is_file()
            and path.suffix.lower() in SUPPORTED_SUFFIXES
            and path.name.lower() not in SKIPPED_NAMES
            and not any(part.startswith(".") for part in path.relative_to(root).parts)
            # DocFX fragments are inlined where a page includes them; alone they are no page and have no URL
            and "includes" not in path.relative_to(root).parts[:-1]
        ):
            yield SourceFile(path, root)


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_file(source: SourceFile, content_hash: str | None = None) -> LoadedDocument:
    suffix = source.path.suffix.lower()
    digest = content_hash or file_hash(source.path)
    try:
        if suffix in {".md", ".markdown"}:
            return _load_markdown(source, digest)
        if suffix == ".pdf":
            return _load_pdf(source, digest)
        if suffix == ".docx":
            return _load_docx(source, digest)
        return _load_text(source, digest)
    except UnreadableFile:
        raise
    except Exception as exc:  # any parser failure on one file must not stop the job
        raise UnreadableFile(f"{source.path}: {type(exc).__name__}: {exc}") from exc


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise UnreadableFile(f"{path}: binary content in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path}: not UTF-8 text ({exc.reason})") from exc


def _load_markdown(source: SourceFile, digest: str) -> LoadedDocument:
    raw = _read_text(source.path)
    meta, body = split_front_matter(raw, source.path)
    body_tabs = tab_titles(body)
    body = clean_docfx(body, source.path.parent)
    headings = heading_titles(body)
    slugs = Counter(anchor_slug(h) for h in headings)
    # A tab heading has no anchor on the site; a repeated heading ("Workload design checklist" under each pillar)
    # has only numbered ones: both cite the nearest heading above them that is unique.
    unanchored = body_tabs | {h for h in headings if slugs[anchor_slug(h)] > 1}
    title = str(meta.get("title") or first_h1(body) or source.path.stem.replace("-", " ")).strip()
    source_url = str(meta.get("source_url") or "")
    page_url = source_url or official_page_url(source) or source.path.as_uri()
    # A file of ours cites the official section named in its front matter; an official page cites each heading.
    cite_by_heading = not source_url and page_url.startswith(LEARN_BASE)
    sections = [
        Section(heading_path=path, text=text, url=_section_url(page_url, path, cite_by_heading, unanchored))
        for path, text in split_headings(body, title)
        if not is_navigation(path)
    ]
    return LoadedDocument(
        source_key=source.key,
        path=str(source.path),
        title=title,
        content_hash=digest,
        sections=sections,
        pillars=_as_list(meta.get("pillars")),
        topics=_as_list(meta.get("topics")),
        kind="markdown",
    )


def split_front_matter(raw: str, path: Path) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(raw)
    if not match:
        return {}, raw
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise UnreadableFile(f"{path}: malformed front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise UnreadableFile(f"{path}: front matter is not a mapping")
    return meta, raw[match.end():]


def official_page_url(source: SourceFile) -> str:
    """learn.microsoft.com URL for a file of the official docs tree (a path containing 'well-architected')."""
    parts = source.path.with_suffix("").parts
    if "well-architected" not in parts:
        return ""
    at = len(parts) - 1 - parts[::-1].index("well-architected")
    return learn_url("/".join(parts[at + 1:]))


def _section_url(page_url: str, heading_path: tuple[str, ...], cite_by_heading: bool, unanchored: set[str]) -> str:
    """The anchor of the deepest heading that has a unique one on the site."""
    anchored = [h for h in heading_path[1:] if h not in unanchored]
    if not cite_by_heading or not anchored:
        return page_url
    return f"{page_url.split('#', 1)[0]}#{anchor_slug(anchored[-1])}"


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]  # type: ignore[union-attr]


def _load_text(source: SourceFile, digest: str) -> LoadedDocument:
    text = _read_text(source.path).strip()
    title = source.path.stem.replace("-", " ").replace("_", " ")
    sections = [Section((title,), text, source.path.as_uri())] if text else []
    return LoadedDocument(source.key, str(source.path), title, digest, sections, kind="text")


def _load_pdf(source: SourceFile, digest: str) -> LoadedDocument:
    from pypdf import PdfReader

    reader = PdfReader(str(source.path))
    if reader.is_encrypted:
        raise UnreadableFile(f"{source.path}: encrypted PDF")
    title = str((reader.metadata or {}).get("/Title") or source.path.stem)
    sections = []
    for number, page in enumerate(reader.pages, 1):
        text = (page.extract_text() or "").strip()
        if text:
            sections.append(Section((title, f"Page {number}"), text, f"{source.path.as_uri()}#page={number}"))
    return LoadedDocument(source.key, str(source.path), title, digest, sections, kind="pdf")


def _load_docx(source: SourceFile, digest: str) -> LoadedDocument:
    import docx

    document = docx.Document(str(source.path))
    title, markdown = docx_markdown(document, document.core_properties.title or source.path.stem)
    sections = [Section(path, text, source.path.as_uri()) for path, text in split_headings(markdown, title)]
    return LoadedDocument(source.key, str(source.path), title, digest, sections, kind="docx")
