"""Review metrics against eval/designs/expected.jsonl, and calibration of the offline rule's thresholds.

A finding is "raised" when its status is missing or partial. Against the labelled items of each design:
precision = raised and expected-gap / raised; recall = raised and expected-gap / expected gaps;
status accuracy = exact status match (addressed / partial / missing).

    python -m eval.review_eval [--calibrate] [--assessor rule|llm]

`--assessor llm` measures the LLM judge of WAF_LLM_BACKEND on the same labels (a live model is needed; items
it cannot judge fall back to the rule, and the output says how many did).
"""
from __future__ import annotations

import argparse
import itertools
import json
from collections import defaultdict
from pathlib import Path

from app.review.assess import Assessor, Finding, ReviewThresholds, status_for
from app.review.parse import read_design_file
from core.settings import PROJECT_ROOT

DESIGNS = PROJECT_ROOT / "eval" / "designs"
GAPS = {"missing", "partial"}


def load_expected(path: Path = DESIGNS / "expected.jsonl") -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def assess_designs(assessor: Assessor, expected: list[dict], designs: Path = DESIGNS) -> dict[str, list[Finding]]:
    """Findings for every design file named in expected.jsonl."""
    return {
        name: assessor.assess(read_design_file(designs / name))[0]
        for name in sorted({row["design"] for row in expected})
    }


def review_designs(reviewer, expected: list[dict], designs: Path = DESIGNS) -> tuple[dict[str, list[Finding]], list[str]]:
    """Findings for every design through the whole review (screen, then rule or LLM judge), and its notes."""
    findings, notes = {}, []
    for name in sorted({row["design"] for row in expected}):
        report = reviewer.review_file(designs / name)
        findings[name] = report.findings
        notes += [f"{name}: {note}" for note in report.notes]
    return findings, notes


def statuses(findings: dict[str, list[Finding]], thresholds: ReviewThresholds | None = None) -> dict[str, dict[str, str]]:
    """Status per design and item; with thresholds, re-derived from the recorded phrases and similarity."""
    def status(f: Finding) -> str:
        if thresholds is None or f.status == "not-applicable":
            return f.status
        return status_for(len(f.matched_phrases), f.similarity, thresholds)

    return {name: {f.item_id: status(f) for f in items} for name, items in findings.items()}


def review_scores(expected: list[dict], predicted: dict[str, dict[str, str]]) -> dict:
    def score(rows: list[dict]) -> dict[str, float]:
        raised = [r for r in rows if predicted[r["design"]].get(r["item_id"]) in GAPS]
        gaps = [r for r in rows if r["expected"] in GAPS]
        hits = [r for r in raised if r["expected"] in GAPS]
        exact = [r for r in rows if predicted[r["design"]].get(r["item_id"]) == r["expected"]]
        return {
            "labelled": len(rows),
            "precision": round(len(hits) / len(raised), 4) if raised else 0.0,
            "recall": round(len(hits) / len(gaps), 4) if gaps else 0.0,
            "status_accuracy": round(len(exact) / len(rows), 4) if rows else 0.0,
        }

    per_pillar = defaultdict(list)
    for row in expected:
        per_pillar[row["pillar"]].append(row)
    return {"overall": score(expected), "per_pillar": {p: score(rows) for p, rows in sorted(per_pillar.items())}}


def calibrate(assessor: Assessor, expected: list[dict]) -> tuple[ReviewThresholds, dict]:
    """Grid search for the thresholds with the best F1 of raised findings, ties broken by status accuracy."""
    findings = assess_designs(assessor, expected)
    best: tuple[tuple[float, float], ReviewThresholds, dict] | None = None
    grid = itertools.product((1, 2, 3), (0.30, 0.35, 0.40, 0.45, 0.50), (0.45, 0.50, 0.55, 0.60, 0.70, 1.01))
    for phrases, addressed, partial in grid:
        thresholds = ReviewThresholds(phrases, addressed, partial)
        scores = review_scores(expected, statuses(findings, thresholds))["overall"]
        p, r = scores["precision"], scores["recall"]
        key = (round(2 * p * r / (p + r), 4) if p + r else 0.0, scores["status_accuracy"])
        if best is None or key > best[0]:
            best = (key, thresholds, scores)
    assert best is not None
    return best[1], best[2]


def main(argv: list[str] | None = None) -> int:
    from core.offline import apply_offline_defaults

    apply_offline_defaults()
    from app.review.service import Reviewer
    from core.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="search the rule's thresholds on the designs")
    parser.add_argument("--assessor", choices=["rule", "llm"], default="rule", help="who judges the items")
    args = parser.parse_args(argv)
    settings = get_settings().model_copy(update={"review_assessor": args.assessor})
    reviewer = Reviewer.open(settings)
    expected = load_expected()
    if args.calibrate:
        thresholds, scores = calibrate(reviewer.assessor, expected)
        print(f"best thresholds: {thresholds}\n{json.dumps(scores, indent=2)}")
        return 0
    findings, notes = review_designs(reviewer, expected)
    judged = [f.assessed_by for items in findings.values() for f in items if f.status != "not-applicable"]
    result = review_scores(expected, statuses(findings))
    result["judged_by"] = {name: judged.count(name) for name in sorted(set(judged))}
    result["notes"] = notes
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
