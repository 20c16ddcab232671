"""Render Markdown design documents to PDF and DOCX for the design-review tests and evaluation (JOBS below).

    .venv/bin/python -m eval.make_design_formats [--check]

PDF with fpdf2 (core Helvetica font), DOCX with python-docx. The outputs are byte-for-byte reproducible: the PDF has a fixed creation date and the DOCX a fixed
core-properties date and fixed zip entry timestamps. With --check the script also reads the files back
(pypdf, python-docx) and exits 1 when text or headings are missing.
Needs fpdf2 and python-docx (`pip install fpdf2 python-docx`; pypdf for --check).
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

DESIGNS = Path(__file__).resolve().parent / "designs"
FIXED_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

_LATIN1_FALLBACK = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u2192": "->", "\u2190": "<-", "\u2264": "<=", "\u2265": ">=", "\u2022": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}


@dataclass
class Block:
    kind: str  # heading | para | bullet | number | table
    text: str = ""
    level: int = 0
    rows: list[list[str]] | None = None


def parse_markdown(markdown: str) -> list[Block]:
    """Headings, paragraphs, bullet and numbered items, and pipe tables; enough for our design docs."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        if m := re.match(r"^(#{1,6})\s+(.*)$", stripped):
            blocks.append(Block("heading", m.group(2).strip(), level=len(m.group(1))))
        elif stripped.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                    rows.append(cells)
                i += 1
            blocks.append(Block("table", rows=rows))
            continue
        elif m := re.match(r"^[-*+]\s+(.*)$", stripped):
            blocks.append(Block("bullet", m.group(1)))
        elif m := re.match(r"^\d+[.)]\s+(.*)$", stripped):
            blocks.append(Block("number", m.group(1)))
        else:
            blocks.append(Block("para", stripped))
        i += 1
    return blocks


def plain(text: str) -> str:
    """Inline Markdown reduced to text: links to their label, code marks dropped (bold kept as **)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return text.replace("`", "")


def latin1(text: str) -> str:
    """The PDF core fonts only cover latin-1: map common typography, drop accents elsewhere, else '?'."""
    out = []
    for ch in text:
        ch = _LATIN1_FALLBACK.get(ch, ch)
        if all(ord(c) < 256 for c in ch):
            out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
        out.append(decomposed or "?")
    return "".join(out)


def bold_runs(text: str) -> list[tuple[str, bool]]:
    """Split '**bold** rest' into (text, is_bold) runs."""
    parts = re.split(r"(\*\*[^*]+\*\*)", text)
    return [(p[2:-2], True) if p.startswith("**") and p.endswith("**") else (p, False) for p in parts if p]


# ---------------------------------------------------------------- PDF


def render_pdf(markdown: str, target: Path, title: str) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(latin1(title))
    pdf.set_author("WAF AI assistant evaluation set")
    pdf.set_creator("eval/make_design_formats.py")
    pdf.set_producer("fpdf2")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    heading_sizes = {1: 18, 2: 14, 3: 12, 4: 11}
    number = 0
    for block in parse_markdown(markdown):
        if block.kind != "number":
            number = 0
        if block.kind == "heading":
            size = heading_sizes.get(block.level, 11)
            pdf.ln(3 if block.level > 1 else 0)
            pdf.set_font("Helvetica", "B", size)
            pdf.multi_cell(0, size * 0.5, latin1(plain(block.text).replace("**", "")), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif block.kind in ("bullet", "number"):
            number += block.kind == "number"
            marker = f"{number}." if block.kind == "number" else "-"
            pdf.set_font("Helvetica", "", 10)
            pdf.set_x(pdf.l_margin + 4)
            pdf.cell(6, 5, marker)
            pdf.multi_cell(0, 5, latin1(plain(block.text)), markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.8)
        elif block.kind == "table":
            pdf.set_font("Helvetica", "", 9)
            with pdf.table(
                headings_style=FontFace(emphasis="BOLD"), line_height=5, text_align="LEFT", first_row_as_headings=True
            ) as table:
                width = max(len(r) for r in block.rows)
                for cells in block.rows:
                    row = table.row()
                    for cell in cells + [""] * (width - len(cells)):
                        row.cell(latin1(plain(cell).replace("**", "")))
            pdf.ln(2)
        else:
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, latin1(plain(block.text)), markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.output(str(target))


# ---------------------------------------------------------------- DOCX


def render_docx(markdown: str, target: Path, title: str) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    props = doc.core_properties
    props.title = title
    props.author = "WAF AI assistant evaluation set"
    props.last_modified_by = "eval/make_design_formats.py"
    props.created = props.modified = props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    doc.styles["Normal"].font.size = Pt(10.5)

    def add_runs(paragraph, text: str) -> None:
        for run_text, is_bold in bold_runs(plain(text)):
            paragraph.add_run(run_text).bold = is_bold or None

    for block in parse_markdown(markdown):
        if block.kind == "heading":
            doc.add_heading(plain(block.text).replace("**", ""), level=min(block.level - 1, 9) if block.level > 1 else 0)
        elif block.kind == "bullet":
            add_runs(doc.add_paragraph(style="List Bullet"), block.text)
        elif block.kind == "number":
            add_runs(doc.add_paragraph(style="List Number"), block.text)
        elif block.kind == "table":
            width = max(len(r) for r in block.rows)
            table = doc.add_table(rows=0, cols=width)
            table.style = "Table Grid"
            for r, cells in enumerate(block.rows):
                row = table.add_row().cells
                for c, cell in enumerate(cells[:width]):
                    row[c].text = ""
                    run = row[c].paragraphs[0].add_run(plain(cell).replace("**", ""))
                    run.bold = True if r == 0 else None
        else:
            add_runs(doc.add_paragraph(), block.text)

    buffer = io.BytesIO()
    doc.save(buffer)
    target.write_bytes(_fixed_zip(buffer.getvalue()))


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry timestamps and order, so the same input gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


# ---------------------------------------------------------------- checks


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]{4,}", text.lower()))


def check_pdf(source: Path, target: Path) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(str(target))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    problems = []
    if len(reader.pages) < 2:
        problems.append(f"{target.name}: expected several pages, got {len(reader.pages)}")
    expected = _words(latin1(plain(source.read_text(encoding="utf-8")).replace("**", "")))
    missing = expected - _words(text)
    if len(missing) > 0.02 * len(expected):
        problems.append(f"{target.name}: {len(missing)} of {len(expected)} words not extracted, e.g. {sorted(missing)[:8]}")
    for block in parse_markdown(source.read_text(encoding="utf-8")):
        if block.kind == "heading" and latin1(block.text) not in text.replace("\n", " "):
            problems.append(f"{target.name}: heading not found in extracted text: {block.text!r}")
    print(f"{target.name}: {len(reader.pages)} pages, {len(text.split())} words extracted")
    return problems


def check_docx(source: Path, target: Path) -> list[str]:
    from docx import Document

    doc = Document(str(target))
    headings = [(p.style.name, p.text) for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    bullets = sum(p.style.name == "List Bullet" for p in doc.paragraphs)
    expected = [b.text for b in parse_markdown(source.read_text(encoding="utf-8")) if b.kind == "heading"]
    problems = []
    if [plain(h).replace("**", "") for h in expected] != [text for _, text in headings]:
        problems.append(f"{target.name}: headings differ from the Markdown source")
    if not bullets:
        problems.append(f"{target.name}: no List Bullet paragraphs")
    print(f"{target.name}: {len(headings)} headings ({', '.join(sorted({s for s, _ in headings}))}), {bullets} bullets, {len(doc.tables)} tables")
    return problems


BLIND = DESIGNS.parent / "blind" / "designs"
# (folder, Markdown source, output name): the two sample designs, and the blind designs that real teams
# would send as Word or PDF files.
JOBS = [
    (DESIGNS, "rag-support-assistant.md", "rag-support-assistant.pdf"),
    (DESIGNS, "fraud-model-training.md", "fraud-model-training.docx"),
    (BLIND, "A04-churn-batch-scoring.md", "A04-churn-batch-scoring.docx"),
    (BLIND, "B05-legal-contract-clause-rag.md", "B05-legal-contract-clause-rag.docx"),
    (BLIND, "A06-call-summarisation-phi.md", "A06-call-summarisation-phi.pdf"),
    (BLIND, "B07-clinical-meeting-summary-copilot.md", "B07-clinical-meeting-summary-copilot.pdf"),
]
RENDER = {".pdf": (render_pdf, check_pdf), ".docx": (render_docx, check_docx)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="read the outputs back and verify text and headings")
    parser.add_argument("--out", type=Path, help="output folder (default: beside each source)")
    args = parser.parse_args(argv)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for folder, source_name, target_name in JOBS:
        render, check = RENDER[Path(target_name).suffix]
        source, target = folder / source_name, (args.out or folder) / target_name
        markdown = source.read_text(encoding="utf-8")
        title = next((b.text for b in parse_markdown(markdown) if b.kind == "heading"), source.stem)
        render(markdown, target, title)
        print(f"wrote {target}")
        if args.check:
            problems += check(source, target)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
