"""Load guidance files (Markdown with front matter, DocFX Markdown, PDF, DOCX, plain text) into sections."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from ingest.docfx import clean_docfx
from ingest.documents import LoadedDocument, Section
from ingest.slug import LEARN_BASE, anchor_slug, heading_text, learn_url

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt", ".pdf", ".docx"}
SKIPPED_NAMES = {"readme.md", "toc.md", "license.md", "thirdpartynotices.md"}
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


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
    body = clean_docfx(body, source.path.parent)
    title = str(meta.get("title") or _first_h1(body) or source.path.stem.replace("-", " ")).strip()
    source_url = str(meta.get("source_url") or "")
    page_url = source_url or official_page_url(source) or source.path.as_uri()
    # A file of ours cites the official section named in its front matter; an official page cites each heading.
    cite_by_heading = not source_url and page_url.startswith(LEARN_BASE)
    sections = [
        Section(heading_path=path, text=text, url=_section_url(page_url, path, cite_by_heading))
        for path, text in split_headings(body, title)
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


def _section_url(page_url: str, heading_path: tuple[str, ...], cite_by_heading: bool) -> str:
    if not cite_by_heading or len(heading_path) < 2:
        return page_url
    return f"{page_url.split('#', 1)[0]}#{anchor_slug(heading_path[-1])}"


def split_headings(body: str, title: str) -> list[tuple[tuple[str, ...], str]]:
    """Split Markdown on headings (not inside code fences); each part keeps its heading path from the title down."""
    sections: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(((title, *[h for level, h in stack if level > 1]), text))
        lines.clear()

    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if not match:
            lines.append(line)
            continue
        flush()
        level, text = len(match.group(1)), heading_text(match.group(2))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
    flush()
    return sections


def _first_h1(body: str) -> str:
    for line in body.split("\n"):
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return heading_text(match.group(2))
    return ""


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


def docx_markdown(document, fallback_title: str) -> tuple[str, str]:
    """(title, Markdown) of a python-docx Document: Title and Heading n styles become headings,
    list styles become bullets, tables become pipe-separated rows."""
    title, lines = fallback_title, []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = style.removeprefix("Heading ").strip()
        text = paragraph.text.strip()
        if style == "Title" and text:
            title = text
            lines.append(f"# {title}")
        elif style.startswith("Heading") and level.isdigit():
            lines.append(f"{'#' * (int(level) + 1)} {text}")
        elif text:
            lines.append(("- " if "List" in style else "") + text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return title, "\n\n".join(lines)


def _load_docx(source: SourceFile, digest: str) -> LoadedDocument:
    import docx

    document = docx.Document(str(source.path))
    title, markdown = docx_markdown(document, document.core_properties.title or source.path.stem)
    sections = [Section(path, text, source.path.as_uri()) for path, text in split_headings(markdown, title)]
    return LoadedDocument(source.key, str(source.path), title, digest, sections, kind="docx")
