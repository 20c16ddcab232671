"""Fit the offline review assessor (corpus/checklist/review-model.json) on the dev designs only.

    python -m eval.fit_review_model [--out corpus/checklist/review-model.json]

Training data: every labelled item of the dev split of the blind designs (eval/blind/designs) and of our four
sample designs (eval/designs/expected.jsonl), labelled addressed / partial / missing. The test split is never
read here. A multinomial logistic regression over the assessor's signals (app.review.assess.FEATURES); its
regularisation is chosen by leave-one-design-out cross-validation, then the exclusion threshold (how similar a
negated sentence must be to an exclusion statement to take an area out of scope) by status accuracy on dev.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from app.review.assess import FEATURES, STATUSES, Assessor, StatusModel
from app.review.checklist import load_checklist
from app.review.parse import read_design_file
from app.review.statements import load_statements
from core.embeddings import SentenceEmbedder
from core.offline import apply_offline_defaults
from core.settings import get_settings
from eval.review_eval import BLIND, DESIGNS, load_blind, load_expected, review_scores

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
THRESHOLD_GRID = (0.45, 0.5, 0.55, 0.58, 0.6, 0.62, 0.64, 0.66, 0.68, 0.7, 0.75, 1.01)


def dev_documents() -> list[tuple[Path, list[dict]]]:
    blind, _ = load_blind("dev")
    sample = load_expected()
    documents = []
    for rows, folder in ((blind, BLIND), (sample, DESIGNS)):
        for name in sorted({r["design"] for r in rows}):
            documents.append((folder / name, [r for r in rows if r["design"] == name]))
    return documents


@dataclass
class Read:
    """One dev design as the assessor reads it, computed once."""

    name: str
    rows: list[dict]
    document: object
    sentences: list
    vectors: np.ndarray
    features: np.ndarray  # (items, FEATURES)


def read_all(assessor: Assessor, documents) -> list[Read]:
    reads = []
    for path, rows in documents:
        document = read_design_file(path)
        sentences, vectors, facts = assessor.read(document)
        features = np.array([s.features for s in assessor.all_signals(sentences, vectors, facts)])
        reads.append(Read(path.name, rows, document, sentences, vectors, features))
    return reads


def training_rows(assessor: Assessor, reads: list[Read]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = {item.id: i for i, item in enumerate(assessor.checklist)}
    features, labels, groups = [], [], []
    for number, read in enumerate(reads):
        for row in read.rows:
            if row["expected"] in STATUSES:
                features.append(read.features[index[row["item_id"]]])
                labels.append(STATUSES.index(row["expected"]))
                groups.append(number)
    return np.array(features), np.array(labels), np.array(groups)


def predicted_statuses(assessor: Assessor, model, reads: list[Read]) -> dict[str, dict[str, str]]:
    """What the review would report with this model and the assessor's exclusion threshold."""
    predicted = {}
    for read in reads:
        scope = assessor.scope(read.document, read.sentences, read.vectors)
        statuses = [STATUSES[i] for i in model.predict(read.features)]
        predicted[read.name] = {
            item.id: "not-applicable" if scope.reason_not_applicable(item) else status
            for item, status in zip(assessor.checklist, statuses)
        }
    return predicted


def fit(features: np.ndarray, labels: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    # Balanced classes: a gap reported as addressed costs the architect more than the reverse.
    return LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(features, labels)


def cross_validated_accuracy(features, labels, groups, c: float) -> float:
    correct = 0
    for group in np.unique(groups):
        held = groups == group
        model = fit(features[~held], labels[~held], c)
        correct += int((model.predict(features[held]) == labels[held]).sum())
    return correct / len(labels)


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=get_settings().review_model_path)
    args = parser.parse_args(argv)
    settings = get_settings()
    embedder = SentenceEmbedder.from_settings(settings)
    checklist = load_checklist(settings.checklist_path)
    statements = load_statements(settings.review_statements_path)
    blank = StatusModel(np.zeros((len(STATUSES), len(FEATURES))), np.zeros(len(STATUSES)))
    assessor = Assessor(embedder, checklist, statements, blank)
    reads = read_all(assessor, dev_documents())
    features, labels, groups = training_rows(assessor, reads)
    scores = {c: cross_validated_accuracy(features, labels, groups, c) for c in C_GRID}
    best_c = max(scores, key=lambda c: (scores[c], -c))
    model = fit(features, labels, best_c)
    expected = [r for read in reads for r in read.rows]
    best_threshold, best_accuracy = 0.62, -1.0
    for threshold in THRESHOLD_GRID:
        assessor.model.exclusion_threshold = threshold
        accuracy = review_scores(expected, predicted_statuses(assessor, model, reads))["overall"]["status_accuracy"]
        if accuracy > best_accuracy + 1e-9:
            best_threshold, best_accuracy = threshold, accuracy
    out = {
        "features": list(FEATURES),
        "classes": list(STATUSES),
        "coef": np.round(model.coef_, 6).tolist(),
        "intercept": np.round(model.intercept_, 6).tolist(),
        "exclusion_threshold": best_threshold,
        "fitted": {
            "on": "dev split of eval/blind/designs + eval/designs/expected.jsonl",
            "date": date.today().isoformat(),
            "items": int(len(labels)),
            "C": best_c,
            "cross_validated_accuracy": round(scores[best_c], 4),
            "dev_status_accuracy": round(best_accuracy, 4),
        },
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out["fitted"], indent=2))
    print({c: round(s, 4) for c, s in scores.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
