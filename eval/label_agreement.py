"""Agreement between the blind designs' labels and a second, independent labeller.

    python -m eval.label_agreement

`eval/blind/designs/labels-second.jsonl` holds a second helper's labels for some designs, made from the same
checklist titles and recommendations without seeing the first labels. The agreement says how far the review
targets can be trusted: an assessor cannot be expected to agree with the labels more than two people do.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from eval.review_eval import BLIND

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


def main() -> int:
    first, second = read_labels(BLIND / "labels.jsonl"), read_labels(BLIND / "labels-second.jsonl")
    print(json.dumps(agreement(first, second), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
