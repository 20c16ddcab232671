"""Fit the offline review assessor (corpus/checklist/review-model.json) on the dev designs only.

    python -m eval.fit_review_model [--out corpus/checklist/review-model.json]

Training data: every labelled item of the dev split of the blind designs (eval/blind/designs; the first
labeller's, or with --labels adjudicated those a third helper decided where two disagreed) and of our four sample
designs (eval/designs/expected.jsonl), labelled addressed / partial / missing. The test split is never
read here. The dev labels' quoted sentences become the assessor's labelled examples
(corpus/checklist/review-examples.jsonl, app.review.examples); a design's features never use its own examples.
A multinomial logistic regression over the assessor's signals (app.review.assess.FEATURES); its regularisation
is chosen by leave-one-design-out cross-validation (the held-out design's examples left out of every feature of
that fold), then the exclusion threshold (how similar a negated sentence must be to an exclusion statement to
take an area out of scope) by status accuracy on dev.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from app.review.assess import EXAMPLE_FEATURES, FEATURES, STATUSES, Assessor, StatusModel, example_features
from app.review.checklist import load_checklist
from app.review.examples import ExampleBank
from app.review.parse import read_design_file
from app.review.statements import load_statements
from core.embeddings import SentenceEmbedder
from core.offline import apply_offline_defaults
from core.settings import get_settings
from eval.review_eval import BLIND, DESIGNS, FIRST, LABEL_FILES, load_blind, load_expected, review_scores

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
# A shift of the "addressed" intercept trades exact status for gap recall (addressed -> partial, never
# -> missing, so missing precision holds); the fit prints the whole grid, held out on dev. On dev a shift of 0.25
# lifts gap recall 0.807 -> 0.845 for 0.004 of status accuracy, but it also drops plain coverage ("every
# service-to-service call uses a managed identity; no API keys are stored") to confidence 0.50, and 0.5 and up
# make it partial (tests/test_review.py), so the fitted model is left as it is.
ADDRESSED_SHIFT = 0.0
ADDRESSED_SHIFT_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
THRESHOLD_GRID = (0.45, 0.5, 0.55, 0.58, 0.6, 0.62, 0.64, 0.66, 0.68, 0.7, 0.75, 1.01)


def dev_documents(labels: str = FIRST) -> list[tuple[Path, list[dict]]]:
    blind, _ = load_blind("dev", labels=labels)
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
        examples = assessor.match_examples(vectors, exclude=frozenset({path.name}))
        features = np.array([s.features for s in assessor.all_signals(sentences, vectors, facts, examples)])
        reads.append(Read(path.name, rows, document, sentences, vectors, features))
    return reads


def example_rows(labels: str = FIRST) -> list[dict]:
    """The dev labels that quote the design: what the assessor compares new designs with."""
    blind, _ = load_blind("dev", labels=labels)
    return [
        {"design": r["design"], "item_id": r["item_id"], "expected": r["expected"], "quote": r["quote"]}
        for r in blind if r["expected"] in STATUSES and r.get("quote", "").strip()
    ]


def fold_features(assessor: Assessor, reads: list[Read], held_out: str) -> list[np.ndarray]:
    """Every design's features with the held-out design's examples left out too (no label of it leaks in)."""
    out = []
    for read in reads:
        match = assessor.match_examples(read.vectors, exclude=frozenset({read.name, held_out}))
        features = read.features.copy()
        features[:, -EXAMPLE_FEATURES:] = [example_features(row) for row in match.features]
        out.append(features)
    return out


def training_rows(
    assessor: Assessor, reads: list[Read], per_read: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = {item.id: i for i, item in enumerate(assessor.checklist)}
    features, labels, groups = [], [], []
    for number, read in enumerate(reads):
        matrix = per_read[number] if per_read is not None else read.features
        for row in read.rows:
            if row["expected"] in STATUSES:
                features.append(matrix[index[row["item_id"]]])
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


def fit(features: np.ndarray, labels: np.ndarray, c: float, addressed_shift: float = 0.0):
    from sklearn.linear_model import LogisticRegression

    # Balanced classes: a gap reported as addressed costs the architect more than the reverse.
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(features, labels)
    model.intercept_ = model.intercept_ - addressed_shift * (np.arange(len(STATUSES)) == STATUSES.index("addressed"))
    return model


def cross_validated(
    assessor: Assessor, reads: list[Read], c: float, use_examples: bool = True, addressed_shift: float = 0.0
) -> tuple[float, dict[str, dict[str, str]]]:
    """Leave one design out: fit on the others, predict the held-out design.

    Returns the status accuracy over the held-out applicable items and what the review would report
    for each held-out design (exclusions applied), so gap recall and missing precision can be scored too.
    """
    correct = total = 0
    predicted = {}
    for number, read in enumerate(reads):
        per_read = fold_features(assessor, reads, read.name)
        if not use_examples:
            per_read = [_without_examples(m) for m in per_read]
        features, labels, groups = training_rows(assessor, reads, per_read)
        held = groups == number
        if not held.any():
            continue
        model = fit(features[~held], labels[~held], c, addressed_shift)
        correct += int((model.predict(features[held]) == labels[held]).sum())
        total += int(held.sum())
        held_read = Read(read.name, read.rows, read.document, read.sentences, read.vectors, per_read[number])
        predicted.update(predicted_statuses(assessor, model, [held_read]))
    return correct / total, predicted


def _without_examples(matrix: np.ndarray) -> np.ndarray:
    """The features with the labelled-example signals blanked: the assessor as it was before them."""
    out = matrix.copy()
    out[:, -EXAMPLE_FEATURES:] = 0.0
    return out


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=get_settings().review_model_path)
    parser.add_argument("--examples-out", type=Path, default=get_settings().review_examples_path)
    parser.add_argument(
        "--labels", choices=["first", "adjudicated"], default="first",
        help="the dev labels to fit on: the first labeller's, or adjudicated (a third helper decided where two"
        " labellers disagreed; fitted on them, 2026-12-01, the assessor did worse on test against either label set)",
    )
    args = parser.parse_args(argv)
    label_file = LABEL_FILES[args.labels]
    settings = get_settings()
    embedder = SentenceEmbedder.from_settings(settings)
    checklist = load_checklist(settings.checklist_path)
    statements = load_statements(settings.review_statements_path)
    blank = StatusModel(np.zeros((len(STATUSES), len(FEATURES))), np.zeros(len(STATUSES)))
    examples = example_rows(label_file)
    args.examples_out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in examples), encoding="utf-8")
    assessor = Assessor(embedder, checklist, statements, blank, examples=ExampleBank.from_rows(examples, embedder))
    reads = read_all(assessor, dev_documents(label_file))
    features, labels, groups = training_rows(assessor, reads)
    runs = {c: cross_validated(assessor, reads, c) for c in C_GRID}
    scores = {c: accuracy for c, (accuracy, _) in runs.items()}
    best_c = max(scores, key=lambda c: (scores[c], -c))
    expected = [r for read in reads for r in read.rows]
    by_shift = {
        shift: review_scores(expected, cross_validated(assessor, reads, best_c, addressed_shift=shift)[1])["overall"]
        for shift in ADDRESSED_SHIFT_GRID
    }
    shift = ADDRESSED_SHIFT
    held_out = {
        "addressed_shift": shift,
        "with_examples": by_shift[shift],
        "without_examples": review_scores(
            expected, cross_validated(assessor, reads, best_c, False, addressed_shift=shift)[1]
        )["overall"],
        "by_addressed_shift": {str(k): v for k, v in by_shift.items()},
    }
    model = fit(features, labels, best_c, shift)
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
            "on": f"dev split of eval/blind/designs ({label_file}) + eval/designs/expected.jsonl",
            "date": date.today().isoformat(),
            "items": int(len(labels)),
            "C": best_c,
            "cross_validated_accuracy": round(scores[best_c], 4),
            "leave_one_design_out": held_out,
            "dev_status_accuracy": round(best_accuracy, 4),
        },
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out["fitted"], indent=2))
    print({c: round(s, 4) for c, s in scores.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
