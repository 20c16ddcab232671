"""The architect has the last word: overrides of finding statuses, with a note each.

An overrides file (YAML or JSON) maps checklist item ids to a status and a note:

    SEC-01: {status: addressed, note: "Managed identities are in the platform baseline, section 4"}
    RAI-07: not-applicable          # the short form: a status alone

Applying them changes those findings (the assessor's status is kept in `override.status_before`), recomputes
the scores, top risks and plan, and marks the items in every export. `labelled_examples` turns the overridden
findings into eval-ready labels (the format of eval/blind/designs/labels.jsonl), so a team can recalibrate the
assessor on its own documents.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from app.review.assess import Override
from app.review.report import ReviewReport, derived_from

STATUSES = ("addressed", "partial", "missing", "not-applicable")


class OverridesError(ValueError):
    """An overrides file that cannot be applied: the message names the problem."""


def parse_overrides(data: object, source: str = "overrides") -> dict[str, tuple[str, str]]:
    """{item id: (status, note)} from the parsed file, or OverridesError naming what is wrong."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise OverridesError(f"{source}: expected a mapping of item ids to a status (e.g. SEC-01: addressed)")
    parsed = {}
    for item_id, value in data.items():
        if isinstance(value, str):
            status, note = value, ""
        elif isinstance(value, dict) and "status" in value:
            status, note = value["status"], str(value.get("note") or "")
        else:
            raise OverridesError(f"{source}: {item_id}: give a status, or {{status: ..., note: ...}}")
        status = str(status).strip().lower()
        if status not in STATUSES:
            raise OverridesError(f"{source}: {item_id}: unknown status {status!r}; choose one of: {', '.join(STATUSES)}")
        parsed[str(item_id).strip().upper()] = (status, note.strip())
    return parsed


def load_overrides(path: Path) -> dict[str, tuple[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OverridesError(f"{path}: cannot read the overrides file ({exc})") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise OverridesError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}") from exc
    return parse_overrides(data, str(path))


def apply_overrides(report: ReviewReport, overrides: dict[str, tuple[str, str]]) -> ReviewReport:
    overrides = {item_id.strip().upper(): decision for item_id, decision in overrides.items()}
    known = {f.item_id for f in report.findings}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise OverridesError(f"unknown checklist item(s) {', '.join(unknown)}; the review has {', '.join(sorted(known))}")
    findings = []
    for finding in report.findings:
        if finding.item_id in overrides:
            status, note = overrides[finding.item_id]
            before = finding.override.status_before if finding.override else finding.status
            finding = finding.model_copy(update={
                "status": status, "override": None if status == before else Override(status_before=before, note=note),
            })
        findings.append(finding)
    return report.model_copy(update=derived_from(findings))


def labelled_examples(report: ReviewReport) -> list[dict]:
    """The overridden findings as labels: what the architect decided, and the quote the assessor showed."""
    return [
        {
            "design": report.document.name,
            "item_id": f.item_id,
            "expected": f.status,
            "quote": f.evidence[0].quote if f.evidence else "",
            "why": f.override.note or f"overridden from {f.override.status_before}",
            "assessor_status": f.override.status_before,
        }
        for f in report.findings
        if f.override is not None
    ]
