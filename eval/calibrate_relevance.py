"""Pick WAF_RELEVANCE_THRESHOLD from the last evaluation: the best dense similarity of each golden
question, answerable or not, and the threshold with the best balanced refusal accuracy.

    python -m eval && python -m eval.calibrate_relevance
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core.settings import PROJECT_ROOT


def best_threshold(scores: list[tuple[float, bool]]) -> tuple[float, float]:
    """(threshold, balanced accuracy): answer when best score >= threshold."""
    answerable = [s for s, a in scores if a]
    unanswerable = [s for s, a in scores if not a]
    best = (0.0, 0.0)
    for step in range(10, 71):
        threshold = step / 100
        answered = sum(s >= threshold for s in answerable) / max(len(answerable), 1)
        declined = sum(s < threshold for s in unanswerable) / max(len(unanswerable), 1)
        balanced = (answered + declined) / 2
        if balanced > best[1] + 1e-9:
            best = (threshold, balanced)
    return best


def main() -> int:
    latest = PROJECT_ROOT / "eval" / "results" / "latest.json"
    if not latest.is_file():
        print("error: run `python -m eval` first", file=sys.stderr)
        return 2
    questions = json.loads(Path(latest).read_text())["questions"]
    threshold, balanced = best_threshold([(q["best_score"], q["answerable"]) for q in questions])
    print(f"WAF_RELEVANCE_THRESHOLD={threshold:.2f} (balanced refusal accuracy {balanced:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
