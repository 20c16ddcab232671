"""The second-labeller agreement: what the review targets can be trusted to."""
from eval.label_agreement import BLIND, agreement, as_assessor, cohen_kappa, read_labels


def test_kappa_is_one_for_identical_labels_and_zero_for_chance():
    assert cohen_kappa([("addressed", "addressed"), ("missing", "missing"), ("partial", "partial")]) == 1.0
    # both labellers say "addressed" half the time, independently of each other
    chance = [("addressed", "addressed"), ("addressed", "missing"), ("missing", "addressed"), ("missing", "missing")]
    assert cohen_kappa(chance) == 0.0


def test_the_second_labeller_is_matched_by_design_stem_and_item():
    first = {("A01", "SEC-01"): "addressed", ("A01", "SEC-02"): "missing", ("B07", "REL-01"): "partial"}
    second = {("A01", "SEC-01"): "addressed", ("A01", "SEC-02"): "partial", ("B07", "REL-01"): "partial"}
    figures = agreement(first, second)
    assert figures["labels"] == 3 and figures["agreement"] == round(2 / 3, 3)
    assert figures["gap_or_not_agreement"] == 1.0  # missing vs partial: both call it a gap


def test_the_shipped_second_labels_cover_whole_designs_of_both_splits():
    from eval.label_agreement import split_of_designs

    first, second = read_labels(BLIND / "labels.jsonl"), read_labels(BLIND / "labels-second.jsonl")
    figures = agreement(first, second)
    assert figures["designs"] == 28 and figures["labels"] == 28 * 70  # every second label found its first label
    splits = split_of_designs()
    assert sorted(splits[design] for design in {d for d, _ in second}) == ["dev"] * 20 + ["test"] * 8
    assert 0.7 <= figures["agreement"] <= 0.95


def test_a_labeller_scored_as_the_assessor_is_scored():
    truth = {("A01", "SEC-01"): "addressed", ("A01", "SEC-02"): "partial", ("A01", "SEC-03"): "missing"}
    assert as_assessor(truth, truth) == {"status_accuracy": 1.0, "missing_precision": 1.0, "recall": 1.0, "precision": 1.0}
    # calls the partial item missing: every gap still raised, but one of two reported absences is really there
    judge = {("A01", "SEC-01"): "addressed", ("A01", "SEC-02"): "missing", ("A01", "SEC-03"): "missing"}
    figures = as_assessor(truth, judge)
    assert figures["recall"] == 1.0 and figures["missing_precision"] == 0.5
    assert figures["status_accuracy"] == round(2 / 3, 4)


def test_adjudicated_labels_keep_agreed_labels_and_decide_only_disagreements():
    import json

    first, second = read_labels(BLIND / "labels.jsonl"), read_labels(BLIND / "labels-second.jsonl")
    rows = [json.loads(line) for line in (BLIND / "labels-adjudicated.jsonl").read_text().splitlines() if line.strip()]
    assert len(rows) == 28 * 70  # every blind design, dev and test
    for row in rows:
        key = (row["design"].rsplit(".", 1)[0], row["item_id"])
        if first[key] == second[key]:
            assert row["expected"] == first[key] and not row.get("adjudicated")
        else:
            assert row.get("adjudicated") and row["expected"] in {"addressed", "partial", "missing", "not-applicable"}
