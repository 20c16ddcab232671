"""When to close each gap: a horizon (now / next quarter / later) from the item's severity and the effort of closing
it, with the reason in words, and the severity-by-effort matrix that shows the same at a glance.

    severity \\ effort   low            medium         high
    high                now            now            next quarter
    medium              now            next quarter   later
    low                 next quarter   later          later

High-severity gaps come first whatever they cost, unless closing one is a project of its own, which needs planning;
cheap fixes of medium severity are quick wins; the rest waits for capacity.
"""
from __future__ import annotations

import html

from app.review.assess import Finding

GAP_STATUSES = ("missing", "partial")
SEVERITIES = ("high", "medium", "low")
EFFORTS = ("low", "medium", "high")
HORIZONS = ("now", "next quarter", "later")
_HORIZON = {
    ("high", "low"): "now", ("high", "medium"): "now", ("high", "high"): "next quarter",
    ("medium", "low"): "now", ("medium", "medium"): "next quarter", ("medium", "high"): "later",
    ("low", "low"): "next quarter", ("low", "medium"): "later", ("low", "high"): "later",
}
_EFFORT_WORDS = {"low": "a setting or a short task", "medium": "a piece of engineering work", "high": "a project of its own"}
_WHY = {
    "now": {"high": "high severity: close it before the next milestone", "medium": "a quick win for a medium risk"},
    "next quarter": {
        "high": "high severity, but closing it needs planning", "medium": "a medium risk that takes real work",
        "low": "a low risk that is cheap to close",
    },
    "later": {"medium": "a medium risk that takes a project to close", "low": "a low risk: schedule it when there is room"},
}
HORIZON_COLOURS = {"now": "#d13438", "next quarter": "#ca5010", "later": "#8a8886"}


def horizon(severity: str, effort: str) -> tuple[str, str]:
    """(horizon, reason) for a gap of this severity whose fix takes this effort."""
    when = _HORIZON[(severity, effort)]
    return when, f"{_WHY[when][severity]}; effort {effort}: {_EFFORT_WORDS[effort]}"


def prioritized(findings: list[Finding]) -> list[Finding]:
    """The findings with the horizon of every gap filled in (and cleared on the rest)."""
    out = []
    for f in findings:
        if f.status in GAP_STATUSES:
            when, reason = horizon(f.severity, f.effort)
            out.append(f.model_copy(update={"horizon": when, "horizon_reason": reason}))
        else:
            out.append(f.model_copy(update={"horizon": "", "horizon_reason": ""}))
    return out


def matrix(findings: list[Finding]) -> dict[tuple[str, str], list[Finding]]:
    """The gaps in each (severity, effort) cell."""
    cells: dict[tuple[str, str], list[Finding]] = {(s, e): [] for s in SEVERITIES for e in EFFORTS}
    for f in findings:
        if f.status in GAP_STATUSES:
            cells[(f.severity, f.effort)].append(f)
    return cells


def matrix_svg(findings: list[Finding], cell: int = 150) -> str:
    """The severity-by-effort matrix as an inline SVG (no script, no external asset): one box per cell, coloured by
    its horizon, listing the item ids of its gaps (missing in bold)."""
    cells = matrix(findings)
    left, top = 90, 40
    width, height = left + 3 * cell + 10, top + 3 * cell + 10
    parts = [
        f'<svg class="matrix" role="img" aria-label="Gaps by severity and effort" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">',
        f'<text x="{left + 1.5 * cell}" y="14" font-size="12" text-anchor="middle">effort to close</text>',
    ]
    for column, effort in enumerate(EFFORTS):
        parts.append(f'<text x="{left + (column + 0.5) * cell}" y="32" font-size="12" text-anchor="middle">{effort}</text>')
    for row, severity in enumerate(SEVERITIES):
        y = top + row * cell
        parts.append(f'<text x="{left - 8}" y="{y + cell / 2}" font-size="12" text-anchor="end">{severity}</text>')
        for column, effort in enumerate(EFFORTS):
            x = left + column * cell
            when = _HORIZON[(severity, effort)]
            gaps = cells[(severity, effort)]
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 4}" height="{cell - 4}" rx="6" fill="{HORIZON_COLOURS[when]}" '
                f'fill-opacity="{0.12 + min(len(gaps), 8) * 0.06:.2f}" stroke="{HORIZON_COLOURS[when]}"/>'
                f'<text x="{x + 6}" y="{y + 16}" font-size="11" fill="#333">{html.escape(when)}: {len(gaps)}</text>'
            )
            for i, f in enumerate(gaps[:7]):
                weight = "bold" if f.status == "missing" else "normal"
                parts.append(
                    f'<text x="{x + 6}" y="{y + 34 + i * 15}" font-size="11" font-weight="{weight}">'
                    f"<title>{html.escape(f.title)} ({f.status})</title>{html.escape(f.item_id)}</text>"
                )
            if len(gaps) > 7:
                parts.append(f'<text x="{x + 6}" y="{y + 34 + 7 * 15}" font-size="11">+{len(gaps) - 7} more</text>')
    parts.append(f'<text x="8" y="{top + 1.5 * cell}" font-size="12" transform="rotate(-90 14 {top + 1.5 * cell})">severity</text>')
    parts.append("</svg>")
    return "".join(parts)
