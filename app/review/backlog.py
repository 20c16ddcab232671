"""A review's gaps as work the team can import: CSV for Azure DevOps Boards, one Markdown issue body per gap (for
GitHub issues or any tracker), and SARIF 2.1.0 so code scanning shows design gaps beside code findings.

Only gaps leave the tool: missing and partial findings, after the architect's overrides; addressed and not-applicable
items stay out.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile

from app.review.assess import Finding
from app.review.prioritize import GAP_STATUSES
from app.review.report import ReviewReport
from core.pillars import REVIEW_AREA_NAMES

# Azure DevOps Boards' CSV import: "Work Item Type" and "Title" are required; the other headers are field names.
CSV_COLUMNS = ["Work Item Type", "Title", "Description", "Priority", "Tags"]
PRIORITY = {"high": 1, "medium": 2, "low": 3}  # Azure DevOps priority: 1 (highest) to 4
SARIF_LEVEL = {"high": "error", "medium": "warning", "low": "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL = "waf-assistant design review"


def gaps(report: ReviewReport) -> list[Finding]:
    """The findings that are work to do, in the report's order of priority (top risks first)."""
    found = [f for f in report.findings if f.status in GAP_STATUSES]
    rank = {item_id: i for i, item_id in enumerate(report.top_risks)}
    horizon = {"now": 0, "next quarter": 1, "later": 2, "": 3}
    return sorted(found, key=lambda f: (horizon[f.horizon], rank.get(f.item_id, len(rank)), f.item_id))


def title(f: Finding) -> str:
    return f"[WAF {f.item_id}] {f.title} ({f.status})"


def tags(f: Finding) -> list[str]:
    return ["waf-review", f"pillar:{f.pillar}", f"item:{f.item_id}", f"severity:{f.severity}", f"horizon:{f.horizon}"]


def description(f: Finding, report: ReviewReport) -> str:
    """The issue body, in Markdown: what the design says (or that it says nothing), what to do, and the guidance."""
    lines = [
        f"**{REVIEW_AREA_NAMES.get(f.pillar, f.pillar)}: {f.title}** is {f.status} in the design "
        f"`{report.document.name}` (review of {report.generated}).",
        "",
        f"- Severity: {f.severity}; effort: {f.effort}; horizon: **{f.horizon}** ({f.horizon_reason})",
        f"- Risk if left open: {f.risk}",
    ]
    if f.override:
        lines.append(f"- Status set by the architect (the assessor said {f.override.status_before}): {f.override.note or 'no note'}")
    lines += ["", "**What the design says**", ""]
    if f.evidence:
        for e in f.evidence:
            where = e.location + (f", line {e.line}" if e.line else "")
            lines.append(f"> {_one_line(e.quote)}\n>\n> — {where}")
            lines.append("")
    else:
        lines += ["Nothing in the document addresses this.", ""]
    lines += ["**Recommendation**", "", f.recommendation, "", "**Guidance**", ""]
    lines += [f"- [{c.title} — {c.section}]({c.url})" for c in f.citations] or ["- (no guidance link)"]
    return "\n".join(lines).rstrip() + "\n"


def description_html(f: Finding, report: ReviewReport) -> str:
    """The same body as HTML, which is what the Description field of Azure Boards renders."""
    e = html.escape
    quotes = "".join(
        f"<blockquote>{e(_one_line(x.quote))}<br><small>{e(x.location)}{f', line {x.line}' if x.line else ''}</small>"
        "</blockquote>"
        for x in f.evidence
    ) or "<p>Nothing in the document addresses this.</p>"
    links = "".join(f'<li><a href="{e(c.url)}">{e(c.title)} — {e(c.section)}</a></li>' for c in f.citations)
    override = (
        f"<li>Status set by the architect (the assessor said {e(f.override.status_before)}): {e(f.override.note or 'no note')}</li>"
        if f.override else ""
    )
    return (
        f"<p><b>{e(REVIEW_AREA_NAMES.get(f.pillar, f.pillar))}: {e(f.title)}</b> is {e(f.status)} in the design "
        f"<code>{e(report.document.name)}</code> (review of {e(report.generated)}).</p>"
        f"<ul><li>Severity: {e(f.severity)}; effort: {e(f.effort)}; horizon: <b>{e(f.horizon)}</b> ({e(f.horizon_reason)})</li>"
        f"<li>Risk if left open: {e(f.risk)}</li>{override}</ul>"
        f"<p><b>What the design says</b></p>{quotes}<p><b>Recommendation</b></p><p>{e(f.recommendation)}</p>"
        f"<p><b>Guidance</b></p><ul>{links}</ul>"
    )


def to_csv(report: ReviewReport) -> str:
    """One row per gap, in Azure DevOps Boards' CSV import format (tags separated by '; ')."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for f in gaps(report):
        writer.writerow({
            "Work Item Type": "Task",  # the one type every Azure Boards process (Basic, Agile, Scrum, CMMI) has
            "Title": title(f),
            "Description": description_html(f, report),
            "Priority": PRIORITY[f.severity],
            "Tags": "; ".join(tags(f)),
        })
    return buffer.getvalue()


def markdown_issues(report: ReviewReport) -> dict[str, str]:
    """{file name: issue body} per gap; the first line is the title (`gh issue create --title ... --body-file`)."""
    files = {}
    for number, f in enumerate(gaps(report), 1):
        name = f"{number:02d}-{f.item_id}-{_slug(f.title)}.md"
        labels = ", ".join(tags(f))
        files[name] = f"# {title(f)}\n\nLabels: {labels}\n\n{description(f, report)}"
    return files


def markdown_zip(report: ReviewReport) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in markdown_issues(report).items():
            archive.writestr(name, text)
    return buffer.getvalue()


def to_sarif(report: ReviewReport, uri: str | None = None) -> str:
    """SARIF 2.1.0: one rule per checklist item with a gap, one result per gap, located at the line of its evidence in
    the design document (or at the document, when the gap is that nothing addresses the item)."""
    found = gaps(report)
    artifact = {"uri": uri or report.document.name}
    rules, results = [], []
    for f in found:
        rules.append({
            "id": f.item_id,
            "name": _rule_name(f.title),
            "shortDescription": {"text": f.title},
            "fullDescription": {"text": f.recommendation},
            "helpUri": f.citations[0].url if f.citations else "https://learn.microsoft.com/azure/well-architected/",
            "help": {"text": f.recommendation, "markdown": description(f, report)},
            "defaultConfiguration": {"level": SARIF_LEVEL[f.severity]},
            "properties": {"tags": ["well-architected", f.pillar], "precision": "medium"},
        })
        location = {"physicalLocation": {"artifactLocation": artifact}}
        line = next((e.line for e in f.evidence if e.line), None)
        if line:
            location["physicalLocation"]["region"] = {"startLine": line}
        said = f' The design says: "{_one_line(f.evidence[0].quote)}"' if f.evidence else " Nothing in the document addresses it."
        results.append({
            "ruleId": f.item_id,
            "ruleIndex": len(rules) - 1,
            "level": SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.title}: {f.status} ({f.horizon}).{said} {f.recommendation}"},
            "locations": [location],
            "partialFingerprints": {"wafItem/v1": f"{report.document.name}:{f.item_id}"},
            "properties": {
                "status": f.status, "severity": f.severity, "effort": f.effort, "horizon": f.horizon,
                "pillar": f.pillar, "overridden": f.override is not None,
            },
        })
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL, "informationUri": "https://learn.microsoft.com/azure/well-architected/ai/",
                "rules": rules,
            }},
            "artifacts": [{"location": artifact}],
            "results": results,
            "properties": {"overallScore": report.scores.overall, "assessor": report.assessor},
        }],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:50]


def _rule_name(text: str) -> str:
    return "".join(word.capitalize() for word in re.findall(r"[A-Za-z0-9]+", text))
