"""What changed between two reviews of the same workload: gaps closed, gaps opened, status changes, gaps still
open, and the score change overall and per pillar. Pure functions over two reports."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from app.review.assess import LOW_CONFIDENCE, Finding
from app.review.prioritize import GAP_STATUSES
from app.review.report import ReviewReport

_RANK = {"missing": 0, "partial": 1, "addressed": 2}


@dataclass(frozen=True)
class ItemChange:
    item_id: str
    title: str
    pillar: str
    severity: str
    before: str  # status in the base review ("absent" when the item was not in it)
    after: str
    # The lower of the assessor's confidences on either side (None when the architect decided both); a change the
    # assessor is unsure of may be its reading, not the document, that changed.
    confidence: float | None = None

    @property
    def uncertain(self) -> bool:
        return self.confidence is not None and self.confidence < LOW_CONFIDENCE

    @property
    def direction(self) -> str:
        if self.before in _RANK and self.after in _RANK:
            return "better" if _RANK[self.after] > _RANK[self.before] else "worse"
        return "changed"


@dataclass(frozen=True)
class ScoreChange:
    before: int | None
    after: int | None

    @property
    def delta(self) -> int | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass
class Comparison:
    base: str  # milestone labels (or document names)
    head: str
    closed: list[ItemChange] = field(default_factory=list)  # a gap before, not after
    opened: list[ItemChange] = field(default_factory=list)  # a gap after, not before
    changed: list[ItemChange] = field(default_factory=list)  # another status change (e.g. missing -> partial)
    unchanged_gaps: list[ItemChange] = field(default_factory=list)
    overall: ScoreChange = field(default_factory=lambda: ScoreChange(None, None))
    pillars: dict[str, ScoreChange] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["overall"]["delta"] = self.overall.delta
        for name, change in self.pillars.items():
            data["pillars"][name]["delta"] = change.delta
        for key in ("closed", "opened", "changed", "unchanged_gaps"):
            for row, change in zip(data[key], getattr(self, key)):
                row["direction"] = change.direction
                row["uncertain"] = change.uncertain
        return data


def compare(base: ReviewReport, head: ReviewReport, base_label: str = "", head_label: str = "") -> Comparison:
    before = {f.item_id: f for f in base.findings}
    after = {f.item_id: f for f in head.findings}
    result = Comparison(base_label or base.document.name, head_label or head.document.name)
    for item_id in list(dict.fromkeys([*before, *after])):
        old, new = before.get(item_id), after.get(item_id)
        shown: Finding = new or old  # type: ignore[assignment]
        change = ItemChange(
            item_id, shown.title, shown.pillar, shown.severity, old.status if old else "absent",
            new.status if new else "absent", _confidence(old, new),
        )
        was_gap, is_gap = change.before in GAP_STATUSES, change.after in GAP_STATUSES
        if was_gap and not is_gap:
            result.closed.append(change)
        elif is_gap and not was_gap:
            result.opened.append(change)
        elif change.before != change.after:
            result.changed.append(change)
        elif is_gap:
            result.unchanged_gaps.append(change)
    result.overall = ScoreChange(base.scores.overall, head.scores.overall)
    for pillar in dict.fromkeys([*base.scores.pillars, *head.scores.pillars]):
        result.pillars[pillar] = ScoreChange(base.scores.pillars.get(pillar), head.scores.pillars.get(pillar))
    return result


def _confidence(*findings: Finding | None) -> float | None:
    """The lowest confidence of the assessor's own calls (overridden findings are the architect's: certain)."""
    values = [f.confidence for f in findings if f is not None and f.override is None and f.confidence is not None]
    return min(values) if values else None


def describe(change: ItemChange) -> str:
    """One line: id, title, severity, the status change, and a warning when the assessor was unsure."""
    text = f"{change.item_id} {change.title} ({change.severity}): {change.before} → {change.after}"
    if change.uncertain and change.before != change.after:
        text += f" (low confidence {change.confidence:.2f}: check the document)"
    return text


def _signed(value: int | None) -> str:
    return "n/a" if value is None else f"{value:+d}"


def _shown(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def to_markdown(comparison: Comparison) -> str:
    from core.pillars import REVIEW_AREA_NAMES

    c = comparison
    lines = [
        f"# Compared: {c.base} → {c.head}", "",
        f"Overall score {_shown(c.overall.before)} → {_shown(c.overall.after)} ({_signed(c.overall.delta)}); "
        f"{len(c.closed)} gap(s) closed, {len(c.opened)} opened, {len(c.changed)} other status change(s), "
        f"{len(c.unchanged_gaps)} gap(s) still open."
        + (f" {uncertain} of the changes are low-confidence calls of the assessor: check them in the document."
           if (uncertain := sum(r.uncertain for r in [*c.closed, *c.opened, *c.changed])) else ""), "",
        "| Pillar | Before | After | Change |", "|---|---|---|---|",
    ]
    lines += [
        f"| {REVIEW_AREA_NAMES.get(p, p)} | {_shown(s.before)} | {_shown(s.after)} | {_signed(s.delta)} |"
        for p, s in c.pillars.items()
    ]
    for heading, rows in (
        ("Gaps closed", c.closed), ("Gaps opened", c.opened), ("Other status changes", c.changed),
        ("Gaps still open", c.unchanged_gaps),
    ):
        lines += ["", f"## {heading} ({len(rows)})", ""]
        lines += [f"- {describe(r)}" for r in rows] or ["- none"]
    return "\n".join(lines) + "\n"
