"""Agreement between the blind designs' labels and a second, independent labeller.

    python -m eval.label_agreement

`eval/blind/designs/labels-second.jsonl` holds second helpers' labels for every blind design (20 dev, 8
test), made from the same checklist titles and recommendations without seeing the first labels. Per split, the
agreement, and each labeller scored the way the review is scored against the other's labels: how far the review
targets can be trusted, since an assessor cannot be expected to agree with the labels more than two people do.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from eval.review_eval import BLIND, FIRST, review_scores

STATUSES = ("addressed", "partial", "missing", "not-applicable")
GAPS = {"missing", "partial"}


def read_labels(path: Path) -> dict[tuple[str, str], str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    # By the design's stem: a design rendered to PDF or Word is labelled under that name in one file, its source in the other.
    return {(Path(r["design"]).stem, r["item_id"]): r["expected"] for r in rows}


def cohen_kappa(pairs: list[tuple[str, str]]) -> float:
    observed = sum(a == b for a, b in pairs) / len(pairs)
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[s] * second[s] for s in STATUSES) / len(pairs) ** 2
    return (observed - expected) / (1 - expected)


def agreement(first: dict, second: dict) -> dict[str, float]:
    pairs = [(first[key], status) for key, status in second.items() if key in first]
    applicable = [(a, b) for a, b in pairs if "not-applicable" not in (a, b)]
    return {
        "designs": len({design for design, _ in second}),
        "labels": len(pairs),
        "agreement": round(sum(a == b for a, b in pairs) / len(pairs), 3),
        "cohen_kappa": round(cohen_kappa(pairs), 3),
        "agreement_where_both_applicable": round(sum(a == b for a, b in applicable) / len(applicable), 3),
        "gap_or_not_agreement": round(sum((a in GAPS) == (b in GAPS) for a, b in pairs) / len(pairs), 3),
    }


def as_assessor(truth: dict, judge: dict) -> dict[str, float]:
    """One labeller scored the way the review is scored against the other's labels (eval.review_eval): the
    figures a perfect copy of a careful human reviewer would reach, so the review targets can be read against it."""
    keys = [key for key in judge if key in truth]
    expected = [{"design": design, "item_id": item, "expected": truth[(design, item)], "pillar": ""} for design, item in keys]
    predicted: dict[str, dict[str, str]] = {}
    for design, item in keys:
        predicted.setdefault(design, {})[item] = judge[(design, item)]
    overall = review_scores(expected, predicted)["overall"]
    return {name: overall[name] for name in ("status_accuracy", "missing_precision", "recall", "precision")}


def split_of_designs() -> dict[str, str]:
    """dev or test, by design stem."""
    rows = [json.loads(line) for line in (BLIND / "designs.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return {Path(r["file"]).stem: r["split"] for r in rows}


def main() -> int:
    first, second = read_labels(BLIND / FIRST), read_labels(BLIND / "labels-second.jsonl")
    splits = split_of_designs()
    result = {}
    for split in ("dev", "test"):
        own = {key: status for key, status in second.items() if splits[key[0]] == split}
        if not own:
            continue
        figures = agreement(first, own)
        figures["second_scored_against_first"] = as_assessor(first, own)
        figures["first_scored_against_second"] = as_assessor(own, first)
        result[split] = figures
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
