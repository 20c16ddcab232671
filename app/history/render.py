"""A workload's history as a self-contained HTML page: milestones in a table, overall and per-pillar scores across
milestones as a line chart (inline SVG), and the comparison of two milestones."""
from __future__ import annotations

import html

from app.history.compare import Comparison, describe
from app.history.store import Milestone
from app.review.prioritize import matrix_svg
from app.review.report import ReviewReport
from core.pillars import REVIEW_AREA_NAMES

COLOURS = ["#000000", "#0078d4", "#d13438", "#107c10", "#ca5010", "#8764b8", "#038387", "#8a8886"]


def score_series(milestones: list[Milestone]) -> dict[str, list[int | None]]:
    """{'overall': [...], pillar: [...]} in milestone order (None where a pillar had no applicable item)."""
    pillars = list(dict.fromkeys(p for m in milestones for p in m.pillars))
    series = {"overall": [m.overall for m in milestones]}
    series.update({p: [m.pillars.get(p) for m in milestones] for p in pillars})
    return series


def line_chart_svg(milestones: list[Milestone], width: int = 720, height: int = 300) -> str:
    left, right, top, bottom = 40, 170, 20, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(milestones)

    def x(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(value: int) -> float:
        return top + plot_h * (1 - value / 100)

    parts = [
        f'<svg class="history-chart" role="img" aria-label="Scores across milestones" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">'
    ]
    for level in (0, 25, 50, 75, 100):
        parts.append(f'<line x1="{left}" y1="{y(level)}" x2="{left + plot_w}" y2="{y(level)}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(level) + 4}" text-anchor="end">{level}</text>')
    for i, m in enumerate(milestones):
        parts.append(f'<text x="{x(i)}" y="{top + plot_h + 18}" text-anchor="middle">{html.escape(m.milestone[:24])}</text>')
    for n, (name, values) in enumerate(score_series(milestones).items()):
        colour, width_px = COLOURS[n % len(COLOURS)], 3 if name == "overall" else 1.5
        points = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="{width_px}" '
                f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}"/>'
            )
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>' for px, py in points]
        label = "Overall" if name == "overall" else REVIEW_AREA_NAMES.get(name, name)
        parts.append(f'<text x="{left + plot_w + 12}" y="{top + 12 + n * 15}" fill="{colour}">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def workload_html(workload: str, milestones: list[Milestone], comparison: Comparison | None,
                  latest: ReviewReport | None = None) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(m.milestone)}</td><td>{e(m.created)}</td><td>{e(m.author)}</td><td>{e(m.document_name)}</td>"
        f"<td>{'n/a' if m.overall is None else m.overall}</td><td>{m.gaps}</td></tr>"
        for m in milestones
    )
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Workload {e(workload)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:.3rem .5rem;font-size:.9rem}th{background:#f3f3f3}"
        ".better{color:#107c10}.worse{color:#b00020}</style></head><body>",
        f"<h1>Workload {e(workload)}: Well-Architected reviews</h1>",
        "<h2>Milestones</h2><table><tr><th>Milestone</th><th>Saved</th><th>By</th><th>Document</th><th>Score</th>"
        f"<th>Gaps</th></tr>{rows}</table>",
        "<h2>Scores across milestones</h2>", line_chart_svg(milestones),
    ]
    if comparison is not None:
        parts.append(comparison_html(comparison))
    if latest is not None:
        parts += ["<h2>Open gaps of the latest milestone by severity and effort</h2>", matrix_svg(latest.findings)]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def comparison_html(c: Comparison) -> str:
    e = html.escape

    def signed(value: int | None) -> str:
        return "n/a" if value is None else f"{value:+d}"

    pillar_rows = "".join(
        f"<tr><td>{e(REVIEW_AREA_NAMES.get(p, p))}</td><td>{'n/a' if s.before is None else s.before}</td>"
        f"<td>{'n/a' if s.after is None else s.after}</td><td>{signed(s.delta)}</td></tr>"
        for p, s in c.pillars.items()
    )
    sections = []
    for heading, rows in (
        ("Gaps closed", c.closed), ("Gaps opened", c.opened), ("Other status changes", c.changed),
        ("Gaps still open", c.unchanged_gaps),
    ):
        items = "".join(
            f"<li class='{e(r.direction)}'>{e(describe(r))}</li>"
            for r in rows
        ) or "<li>none</li>"
        sections.append(f"<h3>{heading} ({len(rows)})</h3><ul>{items}</ul>")
    return (
        f"<h2>Compared: {e(c.base)} → {e(c.head)}</h2>"
        f"<p>Overall score {'n/a' if c.overall.before is None else c.overall.before} → "
        f"{'n/a' if c.overall.after is None else c.overall.after} ({signed(c.overall.delta)})</p>"
        f"<table><tr><th>Pillar</th><th>Before</th><th>After</th><th>Change</th></tr>{pillar_rows}</table>"
        + "".join(sections)
    )
