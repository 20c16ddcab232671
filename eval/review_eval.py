"""Review metrics against labelled designs (the offline assessor is fitted by eval.fit_review_model).

Two label sets: eval/designs/expected.jsonl (our four sample designs, written knowing the checklist), and
the blind set eval/blind/designs (16 designs written by someone who saw neither the checklist nor the code,
labelled item by item in a separate pass, split dev/test: tune on dev, only measure on test).

A finding is "raised" when its status is missing or partial. Against the labelled items of each design:
precision = raised and expected-gap / raised; recall = raised and expected-gap / expected gaps;
missing precision = predicted missing and labelled missing / predicted missing (a reported absence is real);
status accuracy = exact status match (addressed / partial / missing / not-applicable where labelled).

    python -m eval.review_eval [--assessor rule|llm] [--blind dev|test] [--labels first|adjudicated]

`--assessor llm` measures the LLM judge of WAF_LLM_BACKEND on the same labels (a live model is needed; items
it cannot judge fall back to the rule, and the output says how many did).
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from app.review.assess import Assessor, Finding
from app.review.parse import read_design_file
from core.settings import PROJECT_ROOT

DESIGNS = PROJECT_ROOT / "eval" / "designs"
BLIND = PROJECT_ROOT / "eval" / "blind" / "designs"
GAPS = {"missing", "partial"}
FIRST = "labels.jsonl"  # the first labeller's
ADJUDICATED = "labels-adjudicated.jsonl"  # where a second labeller disagreed with the first, a third decided
LABEL_FILES = {"first": FIRST, "adjudicated": ADJUDICATED}


def load_expected(path: Path = DESIGNS / "expected.jsonl") -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_blind(
    split: str, checklist_path: Path | None = None, labels: str = FIRST
) -> tuple[list[dict], dict[str, dict]]:
    """(labels with pillar and severity, design metadata by file) of one split of the blind set. labels: the first
    labeller's (labels.jsonl), or, for the test split, labels-adjudicated.jsonl (where a second labeller disagreed,
    a third decided)."""
    from app.review.checklist import load_checklist

    designs = {
        d["file"]: d for d in map(json.loads, (BLIND / "designs.jsonl").read_text(encoding="utf-8").splitlines()) if d
    }
    items = {i.id: i for i in load_checklist(checklist_path or PROJECT_ROOT / "corpus" / "checklist" / "review-checklist.yaml")}
    rows = []
    for line in (BLIND / labels).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if designs[row["design"]]["split"] == split:
            item = items[row["item_id"]]
            rows.append({**row, "pillar": item.pillar, "severity": item.severity})
    return rows, {name: d for name, d in designs.items() if d["split"] == split}


def assess_designs(assessor: Assessor, expected: list[dict], designs: Path = DESIGNS) -> dict[str, list[Finding]]:
    """Findings for every design file named in expected.jsonl."""
    return {
        name: assessor.assess(read_design_file(designs / name))[0]
        for name in sorted({row["design"] for row in expected})
    }


def review_designs(reviewer, expected: list[dict], designs: Path = DESIGNS) -> tuple[dict[str, list[Finding]], list[str]]:
    """Findings for every design through the whole review (screen, then rule or LLM judge), and its notes."""
    reports, notes = review_reports(reviewer, expected, designs)
    return {name: report.findings for name, report in reports.items()}, notes


def review_reports(reviewer, expected: list[dict], designs: Path = DESIGNS) -> tuple[dict, list[str]]:
    reports, notes = {}, []
    for name in sorted({row["design"] for row in expected}):
        reports[name] = reviewer.review_file(designs / name)
        notes += [f"{name}: {note}" for note in reports[name].notes]
    return reports, notes


def blind_scores(reviewer, split: str, labels: str = FIRST, reviewed: tuple[dict, list[str]] | None = None) -> dict:
    """Every figure of the blind split: overall, per pillar, per style and quality, and each design's score.
    reviewed: the split's blind_reviews, when they are scored against more than one label file."""
    expected, designs = load_blind(split, labels=labels)
    reports, notes = reviewed or review_reports(reviewer, expected, BLIND)
    predicted = {name: {f.item_id: f.status for f in report.findings} for name, report in reports.items()}
    result = review_scores(expected, predicted)
    for key in ("quality", "style"):
        groups = defaultdict(list)
        for row in expected:
            groups[designs[row["design"]][key]].append(row)
        result[f"per_{key}"] = {g: review_scores(rows, predicted)["overall"] for g, rows in sorted(groups.items())}
    result["designs"] = {
        name: {
            "quality": designs[name]["quality"],
            "score": report.scores.overall,
            "score_from_labels": label_score([r for r in expected if r["design"] == name]),
        }
        for name, report in reports.items()
    }
    result["notes"] = notes
    return result


def blind_reviews(reviewer, split: str) -> tuple[dict, list[str]]:
    """The reviews of one split's designs (reports by file, notes), to score against more than one label file."""
    expected, _ = load_blind(split)
    return review_reports(reviewer, expected, BLIND)


def label_score(rows: list[dict]) -> int | None:
    """The score the review would give a design whose every finding matched its labels: what a perfect assessor
    reaches, so a score target can be read against it."""
    from app.review.score import weighted_score

    return weighted_score((r["severity"], r["expected"]) for r in rows)


def statuses(findings: dict[str, list[Finding]]) -> dict[str, dict[str, str]]:
    """Status per design and item."""
    return {name: {f.item_id: f.status for f in items} for name, items in findings.items()}


def review_scores(expected: list[dict], predicted: dict[str, dict[str, str]]) -> dict:
    def score(rows: list[dict]) -> dict[str, float]:
        raised = [r for r in rows if predicted[r["design"]].get(r["item_id"]) in GAPS]
        gaps = [r for r in rows if r["expected"] in GAPS]
        hits = [r for r in raised if r["expected"] in GAPS]
        exact = [r for r in rows if predicted[r["design"]].get(r["item_id"]) == r["expected"]]
        said_missing = [r for r in rows if predicted[r["design"]].get(r["item_id"]) == "missing"]
        return {
            "labelled": len(rows),
            "precision": round(len(hits) / len(raised), 4) if raised else 0.0,
            "recall": round(len(hits) / len(gaps), 4) if gaps else 0.0,
            "missing_precision": round(sum(r["expected"] == "missing" for r in said_missing) / len(said_missing), 4)
            if said_missing else 0.0,
            "status_accuracy": round(len(exact) / len(rows), 4) if rows else 0.0,
        }

    per_pillar = defaultdict(list)
    for row in expected:
        per_pillar[row["pillar"]].append(row)
    return {"overall": score(expected), "per_pillar": {p: score(rows) for p, rows in sorted(per_pillar.items())}}


def main(argv: list[str] | None = None) -> int:
    from core.offline import apply_offline_defaults

    apply_offline_defaults()
    from app.review.service import Reviewer
    from core.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assessor", choices=["rule", "llm"], default="rule", help="who judges the items")
    parser.add_argument("--blind", choices=["dev", "test"], help="measure on a split of the blind designs")
    parser.add_argument(
        "--labels", choices=["first", "adjudicated"], default="first",
        help="the blind labels: the first labeller's, or the adjudicated ones (test split only)",
    )
    args = parser.parse_args(argv)
    settings = get_settings().model_copy(update={"review_assessor": args.assessor})
    reviewer = Reviewer.open(settings)
    if args.blind:
        print(json.dumps(blind_scores(reviewer, args.blind, LABEL_FILES[args.labels]), indent=2))
        return 0
    expected = load_expected()
    findings, notes = review_designs(reviewer, expected)
    judged = [f.assessed_by for items in findings.values() for f in items if f.status != "not-applicable"]
    result = review_scores(expected, statuses(findings))
    result["judged_by"] = {name: judged.count(name) for name in sorted(set(judged))}
    result["notes"] = notes
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
