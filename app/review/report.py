"""The review report: one pydantic model (its JSON schema is the documented export format), rendered
as JSON, Markdown, or self-contained HTML with a radar chart of pillar scores."""
from __future__ import annotations

import html
import math
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from app.review.assess import Finding
from app.review.locate import with_lines
from app.review.parse import DesignDocument
from app.review.prioritize import matrix_svg, prioritized
from app.review.score import FORMULA, pillar_scores, score, top_risks
from app.review.screen import SetAside
from core.pillars import REVIEW_AREA_NAMES

SCHEMA_ID = "waf-design-review/1"


class DocumentInfo(BaseModel):
    name: str
    kind: str
    title: str
    sections: int
    pages: int | None = None


class Scores(BaseModel):
    overall: int | None = Field(description="0-100 over all applicable items")
    pillars: dict[str, int | None] = Field(description="0-100 per pillar; null when no item applies")
    formula: str = FORMULA


class RemediationStep(BaseModel):
    priority: int
    item_id: str
    pillar: str
    severity: str
    effort: str = ""
    horizon: str = Field("", description="now / next quarter / later, from severity and effort")
    action: str
    guidance_url: str


class SetAsideText(BaseModel):
    location: str
    text: str = Field(description="a sentence of the document addressed to the reviewer, not assessed")
    reason: str


class ReviewReport(BaseModel):
    schema_id: str = Field(SCHEMA_ID, alias="schema")
    generated: str
    assessor: str = Field(
        description="'rule' offline, or the LLM backend(s) that judged the items (plus 'rule' if it judged any)"
    )
    document: DocumentInfo
    workload_kinds: list[str]
    scores: Scores
    top_risks: list[str] = Field(description="item ids, most severe first")
    remediation_plan: list[RemediationStep]
    findings: list[Finding]
    set_aside: list[SetAsideText] = Field(
        default_factory=list, description="text addressed to the reviewer (e.g. 'mark everything compliant'), left out of the assessment"
    )
    notes: list[str] = Field(default_factory=list)
    llm_usage: dict = Field(default_factory=dict, description="LLM calls, tokens and estimated cost of the review")

    model_config = {"populate_by_name": True}

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, by_alias=True)


def build_report(
    document: DesignDocument, findings: list[Finding], kinds: list[str], assessor: str = "rule",
    set_aside: list[SetAside] = (), notes: list[str] = (), llm_usage: dict | None = None,
) -> ReviewReport:
    return ReviewReport(
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        assessor=assessor,
        document=DocumentInfo(
            name=document.name, kind=document.kind, title=document.title,
            sections=len(document.sections), pages=document.pages,
        ),
        workload_kinds=kinds,
        set_aside=[SetAsideText(location=s.location, text=s.text, reason=s.reason) for s in set_aside],
        notes=list(notes),
        llm_usage=llm_usage or {},
        **derived_from(with_lines(findings, document.source)),
    )


def derived_from(findings: list[Finding]) -> dict:
    """Everything in a report that follows from its findings: horizons, scores, top risks, remediation plan."""
    findings = prioritized(findings)
    risks = top_risks(findings)
    plan = [
        RemediationStep(
            priority=i, item_id=f.item_id, pillar=f.pillar, severity=f.severity, effort=f.effort, horizon=f.horizon,
            action=f"{'Add' if f.status == 'missing' else 'Complete'}: {f.recommendation}",
            guidance_url=f.citations[0].url if f.citations else "",
        )
        for i, f in enumerate(risks, 1)
    ]
    return {
        "scores": Scores(overall=score(findings), pillars=pillar_scores(findings)),
        "top_risks": [f.item_id for f in risks],
        "remediation_plan": plan,
        "findings": findings,
    }


def _judged_by(f: Finding) -> str:
    if f.override:
        return f"the architect (was {f.override.status_before}: {f.override.note or 'no note'})"
    confidence = f" ({f.confidence:.2f})" if f.confidence is not None else ""
    return f"{f.assessed_by}{confidence}"


def _label(pillar: str) -> str:
    return REVIEW_AREA_NAMES.get(pillar, pillar)


def _shown(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def to_markdown(report: ReviewReport) -> str:
    lines = [f"# Well-Architected review: {report.document.title}", ""]
    lines.append(
        f"Document `{report.document.name}` ({report.document.kind}, {report.document.sections} sections); "
        f"workload: {', '.join(report.workload_kinds) or 'not detected'}; assessed by: {report.assessor}."
    )
    lines += [f"> {note}" for note in _notes(report)]
    lines += ["", f"**Overall score: {_shown(report.scores.overall)} / 100**", "", "| Pillar | Score |", "|---|---|"]
    lines += [f"| {_label(p)} | {_shown(s)} |" for p, s in report.scores.pillars.items()]
    lines += ["", f"Score formula: {report.scores.formula}", "", "## Top risks", ""]
    by_id = {f.item_id: f for f in report.findings}
    for item_id in report.top_risks:
        f = by_id[item_id]
        lines.append(
            f"- **[{f.severity.upper()}] {f.title}** ({_label(f.pillar)}, {f.status}; {f.horizon}, effort {f.effort}): {f.risk}"
        )
    lines += ["", "## Remediation plan", ""]
    lines += [f"{s.priority}. **{s.horizon}**: {s.action} ([guidance]({s.guidance_url}))" for s in report.remediation_plan]
    lines += ["", "## Findings", ""]
    for f in report.findings:
        if f.status == "not-applicable":
            continue
        lines.append(f"### {f.item_id} {f.title} — {f.status} ({f.severity}, {_label(f.pillar)})")
        lines.append("")
        if f.override:
            lines.append(f"Overridden by the architect (assessor said {f.override.status_before}): {f.override.note or 'no note'}")
        lines.append(f"Recommendation: {f.recommendation}")
        if f.horizon:
            lines.append(f"Priority: {f.horizon} ({f.horizon_reason})")
        if f.rationale:
            lines.append(f"Judged by {f.assessed_by}: {f.rationale}")
        if f.matched_statement:
            lines.append(f"Matched: \"{f.matched_statement}\"")
        if f.concepts:
            lines.append(f"Concepts found: {', '.join(f.concepts)}")
        for e in f.evidence:
            lines.append(f"> {e.quote}  \n> — *{e.location}*")
        lines.append("Guidance: " + "; ".join(f"[{c.section}]({c.url})" for c in f.citations))
        lines.append("")
    skipped = [f for f in report.findings if f.status == "not-applicable"]
    if skipped:
        lines += ["## Not applicable", ""]
        lines += [f"- {f.item_id} {f.title}: {f.rationale}" for f in skipped]
        lines.append("")
    if report.set_aside:
        lines += ["## Text addressed to the reviewer (not assessed)", ""]
        lines += [f"- *{x.location}*: \"{x.text}\" ({x.reason})" for x in report.set_aside]
        lines.append("")
    return "\n".join(lines)


def _notes(report: ReviewReport) -> list[str]:
    notes = list(report.notes)
    if report.set_aside:
        notes.append(
            f"{len(report.set_aside)} sentence(s) of the document address the reviewer instead of describing the "
            "design; they were left out of the assessment and are listed at the end."
        )
    usage = report.llm_usage
    if usage:
        cost = f", about ${usage['cost_usd']:.4f}" if usage.get("cost_usd") is not None else ""
        notes.append(
            f"LLM judge: {usage.get('calls', 0)} calls, {usage.get('input_tokens', 0)} input and "
            f"{usage.get('output_tokens', 0)} output tokens{cost}."
        )
    return notes


def radar_svg(scores: dict[str, int | None], size: int = 360) -> str:
    """An inline SVG radar chart: no script, no external asset."""
    axes = list(scores)
    margin = 110  # room for the axis labels left and right
    centre, radius = size / 2, size / 2 - 70
    if len(axes) < 3:
        return ""

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / len(axes)
        return margin + centre + radius * value * math.cos(angle), centre + radius * value * math.sin(angle)

    rings = "".join(
        f'<polygon points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, level) for i in range(len(axes))))}" '
        f'fill="none" stroke="#ccc"/>'
        for level in (0.25, 0.5, 0.75, 1.0)
    )
    spokes, labels = "", ""
    for i, axis in enumerate(axes):
        x, y = point(i, 1.0)
        lx, ly = point(i, 1.12)
        spokes += f'<line x1="{margin + centre}" y1="{centre}" x2="{x:.1f}" y2="{y:.1f}" stroke="#ccc"/>'
        anchor = "middle" if abs(lx - margin - centre) < 10 else ("start" if lx > margin + centre else "end")
        labels += (
            f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="11" text-anchor="{anchor}">'
            f"{html.escape(_label(axis))} ({_shown(scores[axis])})</text>"
        )
    shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, (scores[a] or 0) / 100) for i, a in enumerate(axes)))
    return (
        f'<svg class="radar" role="img" aria-label="Pillar scores" width="{size + 2 * margin}" height="{size}" '
        f'viewBox="0 0 {size + 2 * margin} {size}" xmlns="http://www.w3.org/2000/svg">{rings}{spokes}'
        f'<polygon points="{shape}" fill="rgba(0,120,212,0.35)" stroke="#0078d4" stroke-width="2"/>{labels}</svg>'
    )


def to_html(report: ReviewReport) -> str:
    e = html.escape
    rows = "".join(
        f"<tr class='{e(f.status)}'><td>{e(f.item_id)}</td><td>{e(_label(f.pillar))}</td><td>{e(f.title)}</td>"
        f"<td>{e(f.status)}<br><small title='{e(f.rationale)}'>by {e(_judged_by(f))}</small></td>"
        f"<td>{e(f.severity)}<br><small>effort {e(f.effort)}</small>"
        f"{f'<br><small title={chr(34)}{e(f.horizon_reason)}{chr(34)}>{e(f.horizon)}</small>' if f.horizon else ''}</td>"
        f"<td>{e(f.recommendation)}</td>"
        f"<td>{''.join(f'<blockquote>{e(x.quote)}<br><small>{e(x.location)}</small></blockquote>' for x in f.evidence)}</td>"
        f"<td>{'<br>'.join(f'<a href={chr(34)}{e(c.url)}{chr(34)}>{e(c.section)}</a>' for c in f.citations)}</td></tr>"
        for f in report.findings
        if f.status != "not-applicable"
    )
    plan = "".join(
        f"<li><strong>{e(s.horizon)}</strong> · {e(s.action)} <a href=\"{e(s.guidance_url)}\">guidance</a></li>"
        for s in report.remediation_plan
    )
    notes = "".join(f"<p class='note'>{e(n)}</p>" for n in _notes(report))
    set_aside = "".join(f"<li><em>{e(x.location)}</em>: {e(x.text)} ({e(x.reason)})</li>" for x in report.set_aside)
    set_aside = f"<h2>Text addressed to the reviewer (not assessed)</h2><ul>{set_aside}</ul>" if set_aside else ""
    pillar_rows = "".join(f"<tr><td>{e(_label(p))}</td><td>{_shown(s)}</td></tr>" for p, s in report.scores.pillars.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Well-Architected review: {e(report.document.title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}} table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ddd;padding:.4rem;vertical-align:top;font-size:.9rem}} th{{background:#f3f3f3}}
tr.missing td:nth-child(4){{color:#b00020;font-weight:bold}} tr.partial td:nth-child(4){{color:#a15c00}}
tr.addressed td:nth-child(4){{color:#107c10}} blockquote{{margin:.2rem 0;padding-left:.5rem;border-left:3px solid #ccc}}
.score{{font-size:2rem;font-weight:bold}} .note{{background:#fff8e1;padding:.4rem}} .top{{display:flex;gap:2rem;align-items:center}}
</style></head><body>
<h1>Well-Architected review: {e(report.document.title)}</h1>
<p>Document <code>{e(report.document.name)}</code> ({e(report.document.kind)}); workload: {e(", ".join(report.workload_kinds) or "not detected")};
assessed by {e(report.assessor)}; generated {e(report.generated)}.</p>
{notes}<div class="top"><div><div class="score">{_shown(report.scores.overall)} / 100</div>
<table><tr><th>Pillar</th><th>Score</th></tr>{pillar_rows}</table></div>{radar_svg(report.scores.pillars)}</div>
<p><small>{e(report.scores.formula)}</small></p>
<h2>Remediation plan</h2><ol>{plan}</ol>
<h2>Gaps by severity and effort</h2>
<p><small>Each box lists the gaps (missing in bold) of one severity and effort; its colour is the horizon: now, next
quarter or later.</small></p>
{matrix_svg(report.findings)}
<h2>Findings</h2>
<table><tr><th>Id</th><th>Pillar</th><th>Item</th><th>Status</th><th>Severity / priority</th><th>Recommendation</th><th>Evidence</th><th>Guidance</th></tr>
{rows}</table>
{set_aside}
</body></html>
"""
