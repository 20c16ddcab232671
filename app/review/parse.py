"""Read an uploaded design document (Markdown, text, PDF, DOCX) into sections, refusing hostile input clearly.

The type comes from the content, not the extension; every limit names itself in the error message.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.markdown import docx_markdown, split_headings

MB = 1024 * 1024


class DesignInputError(ValueError):
    """A document we will not review, with a message that names the problem."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 10 * MB
    max_pages: int = 300
    max_chars: int = 1_000_000
    max_docx_uncompressed: int = 60 * MB
    max_docx_ratio: int = 200


@dataclass(frozen=True)
class DesignSection:
    heading: str
    text: str
    location: str  # where a quote came from, e.g. "Security > Identity" or "page 3"


@dataclass
class DesignDocument:
    name: str
    kind: str  # markdown | text | pdf | docx
    title: str
    sections: list[DesignSection]
    pages: int | None = None
    source: str = ""  # the text as written, for Markdown and text files: where quotes are found by line

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


def read_design_file(path: Path, limits: Limits = Limits()) -> DesignDocument:
    if not path.is_file():
        raise DesignInputError(f"{path}: file not found")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise DesignInputError(f"{path.name}: {size / MB:.1f} MB is over the {limits.max_bytes / MB:.0f} MB limit")
    return read_design(path.read_bytes(), path.name, limits)


def read_design(data: bytes, name: str, limits: Limits = Limits()) -> DesignDocument:
    if not data.strip():
        raise DesignInputError(f"{name}: the file is empty")
    if len(data) > limits.max_bytes:
        raise DesignInputError(f"{name}: {len(data) / MB:.1f} MB is over the {limits.max_bytes / MB:.0f} MB limit")
    kind = detect_kind(data, name)
    reader = {"pdf": _read_pdf, "docx": _read_docx, "markdown": _read_markdown, "text": _read_text}[kind]
    document = reader(data, name, limits)
    chars = sum(len(s.text) for s in document.sections)
    if chars == 0:
        raise DesignInputError(f"{name}: no text could be extracted (a scanned PDF needs OCR first)")
    if chars > limits.max_chars:
        raise DesignInputError(f"{name}: {chars:,} characters of text is over the {limits.max_chars:,} limit")
    return document


def detect_kind(data: bytes, name: str) -> str:
    suffix = Path(name).suffix.lower()
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return "docx"
        except zipfile.BadZipFile as exc:
            raise DesignInputError(f"{name}: corrupt DOCX/zip archive ({exc})") from exc
        raise DesignInputError(f"{name}: a zip archive that is not a Word document")
    if suffix == ".pdf":
        raise DesignInputError(f"{name}: named .pdf but its content is not a PDF")
    if suffix == ".docx":
        raise DesignInputError(f"{name}: named .docx but its content is not a Word document (corrupt?)")
    text = _decode(data, name)
    return "markdown" if suffix in {".md", ".markdown"} or re.search(r"^#{1,6} \S", text, re.M) else "text"


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise DesignInputError(f"{name}: binary content, not a text document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DesignInputError(f"{name}: not UTF-8 text (save it as UTF-8, PDF or DOCX)") from None
    control = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if control > 0.01 * min(len(text), 8192):
        raise DesignInputError(f"{name}: binary content, not a text document")
    return text


def _markdown_sections(markdown: str, name: str) -> tuple[str, list[DesignSection]]:
    h1 = re.search(r"^# (.+)$", markdown, re.M)
    title = h1.group(1).strip() if h1 else Path(name).stem
    parts = split_headings(markdown, title)
    sections = [
        DesignSection(path[-1], text, " > ".join(path[1:]) or title) for path, text in parts
    ]
    return title, sections


def _read_markdown(data: bytes, name: str, limits: Limits) -> DesignDocument:
    source = _decode(data, name)
    text = re.sub(r"\A---\s*\n.*?\n---\s*\n", "", source, flags=re.DOTALL)
    title, sections = _markdown_sections(text, name)
    return DesignDocument(name, "markdown", title, sections, source=source)


def _read_text(data: bytes, name: str, limits: Limits) -> DesignDocument:
    text = _decode(data, name)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    sections = [DesignSection(f"Paragraph {i}", p, f"paragraph {i}") for i, p in enumerate(paragraphs, 1)]
    return DesignDocument(name, "text", Path(name).stem, sections, source=text)


def _read_pdf(data: bytes, name: str, limits: Limits) -> DesignDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DesignInputError(f"{name}: the PDF is encrypted; export an unprotected copy")
        pages = len(reader.pages)
        if pages > limits.max_pages:
            raise DesignInputError(f"{name}: {pages} pages is over the {limits.max_pages}-page limit")
        sections = []
        for number, page in enumerate(reader.pages, 1):
            text = reflow((page.extract_text() or "").strip())
            if text:
                first_line = text.split("\n", 1)[0]
                heading = first_line if _looks_like_heading(first_line) else f"Page {number}"
                location = f"page {number}" + (f" ({heading})" if heading != f"Page {number}" else "")
                sections.append(DesignSection(heading, text, location))
        title = str((reader.metadata or {}).get("/Title") or Path(name).stem)
    except DesignInputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise DesignInputError(f"{name}: corrupt PDF ({type(exc).__name__}: {exc})") from exc
    return DesignDocument(name, "pdf", title, sections, pages=pages)


def reflow(text: str) -> str:
    """Undo PDF line wrapping: a line that continues a sentence joins the line before it."""
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if lines and line and lines[-1] and lines[-1][-1] not in ".:!?" and line[0].islower():
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    return "\n".join(lines)


def _looks_like_heading(line: str) -> bool:
    return 0 < len(line.split()) <= 8 and line[-1] not in ".,;:"


def _read_docx(data: bytes, name: str, limits: Limits) -> DesignDocument:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        uncompressed = sum(info.file_size for info in archive.infolist())
        if uncompressed > limits.max_docx_uncompressed or uncompressed > limits.max_docx_ratio * max(len(data), 1):
            raise DesignInputError(
                f"{name}: the DOCX expands to {uncompressed / MB:.0f} MB (zip bomb?); the limit is "
                f"{limits.max_docx_uncompressed / MB:.0f} MB"
            )
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many types for a damaged package
        raise DesignInputError(f"{name}: corrupt DOCX ({type(exc).__name__}: {exc})") from exc
    title, markdown = docx_markdown(document, Path(name).stem)
    _, sections = _markdown_sections(markdown, name)
    return DesignDocument(name, "docx", title, sections)
