"""Markdown report of an evaluation run."""
from __future__ import annotations


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def render_markdown(report: dict) -> str:
    s = report["summary"]
    parts = ["# Evaluation", ""]
    parts.append(
        f"{s['questions']} questions ({s['answerable']} answerable), {report.get('seconds', '?')} s. "
        f"Index {report['index'].get('version')} ({report['index'].get('chunk_count')} chunks)."
    )
    if report.get("judge"):
        j = report["judge"]
        unscored = sum(j.get("unscored", {}).values())
        parts += [
            "",
            f"LLM judge ({', '.join(j.get('metrics', []))}): {j['kind']} model {j['model']} at {j['location']}"
            + (f"; {unscored} judgements unscored (NaN, left out of the means)." if unscored else "."),
        ]
    parts += ["", "## Overall", ""]
    overall = [
        ["retrieval hit@1 / hit@3 / hit@5 (page+anchor)",
         " / ".join(_fmt(s["retrieval_anchor"].get(k, 0.0)) for k in ("hit@1", "hit@3", "hit@5"))],
        ["retrieval hit@1 / hit@3 / hit@5 (page only)",
         " / ".join(_fmt(s["retrieval_page"].get(k, 0.0)) for k in ("hit@1", "hit@3", "hit@5"))],
        ["MRR@10 / nDCG@10 (page+anchor)",
         f"{_fmt(s['retrieval_anchor'].get('mrr@10', 0.0))} / {_fmt(s['retrieval_anchor'].get('ndcg@10', 0.0))}"],
        ["MRR@10 / nDCG@10 (page only)",
         f"{_fmt(s['retrieval_page'].get('mrr@10', 0.0))} / {_fmt(s['retrieval_page'].get('ndcg@10', 0.0))}"],
        ["key-fact coverage", _fmt(s["key_fact_coverage"])],
        ["refusal accuracy (answers answerable, declines the rest)", _fmt(s["refusal_accuracy"])],
        ["answered when answerable / declined when not",
         f"{_fmt(s['answered_when_answerable'])} / {_fmt(s['declined_when_unanswerable'])}"],
        *[[f"ragas {name}", _fmt(value)] for name, value in s["ragas"].items()],
    ]
    parts.append(_table(["measure", "value"], overall))
    metric_names = sorted({k for v in s["per_pillar"].values() for k in v if k != "questions"})
    parts += ["", "## Per pillar", ""]
    parts.append(_table(["pillar", "questions", *metric_names],
                        [[p, v["questions"], *[v.get(m, "") for m in metric_names]] for p, v in s["per_pillar"].items()]))
    if report.get("ablation"):
        parts += ["", "## Ablation (same questions)", ""]
        rows = [[name, v["anchor"]["hit@1"], v["anchor"]["hit@5"], v["anchor"]["mrr@10"], v["page"]["hit@5"],
                 v["page"]["mrr@10"]] for name, v in report["ablation"].items()]
        parts.append(_table(["retriever", "hit@1", "hit@5", "MRR@10", "page hit@5", "page MRR@10"], rows))
    if report.get("review"):
        review = report["review"]
        parts += ["", "## Design review findings (eval/designs)", ""]
        rows = [["overall", *[review["overall"][k] for k in ("labelled", "precision", "recall", "status_accuracy")]]]
        rows += [[p, *[v[k] for k in ("labelled", "precision", "recall", "status_accuracy")]]
                 for p, v in review["per_pillar"].items()]
        parts.append(_table(["pillar", "labelled", "precision", "recall", "status accuracy"], rows))
        names = ("labelled", "precision", "recall", "missing_precision", "status_accuracy")
        header = ["", "labelled", "precision", "recall", "missing precision", "status accuracy"]
        for split, tuned in (
            ("dev", "tuned on"), ("test", "never tuned on"), ("test_adjudicated", "never tuned on; adjudicated labels")
        ):
            blind = review.get(f"blind_{split}")
            if not blind:
                continue
            parts += ["", f"## Design review, blind designs, {split.replace('_', ' ')} split ({tuned})", ""]
            rows = [["overall", *[blind["overall"][k] for k in names]]]
            rows += [[f"quality: {q}", *[v[k] for k in names]] for q, v in blind["per_quality"].items()]
            rows += [[f"style: {q}", *[v[k] for k in names]] for q, v in blind["per_style"].items()]
            rows += [[p, *[v[k] for k in names]] for p, v in blind["per_pillar"].items()]
            parts.append(_table(header, rows))
            parts += ["", "Scores (in brackets: the score its labels give, what a perfect assessor would reach): " + ", ".join(
                f"{name} ({d['quality']}) {d['score']} ({d.get('score_from_labels')})" for name, d in blind["designs"].items()
            )]
    if report.get("blind_questions"):
        names = ("page_hit@5", "page_mrr@10", "section_hit@5", "section_within_hit@5", "answered", "declined",
                 "must_mention", "opens_about_a_page")
        for split, result in report["blind_questions"].items():
            tuned = "tuned on" if split == "dev" else "never tuned on"
            parts += ["", f"## Blind questions, {split} split ({tuned}; index of corpus/)", ""]
            rows = [["overall", result["overall"]["questions"], *[result["overall"].get(k, "") for k in names]]]
            rows += [[style, v["questions"], *[v.get(k, "") for k in names]] for style, v in result["per_style"].items()]
            parts.append(_table(["style", "questions", *names], rows))
    official = report.get("official_docs") or {}
    if "skipped" in official:
        parts += ["", "## Blind questions over the official docs", "", f"Skipped: {official['skipped']}."]
    elif official:
        names = ("page_hit@5", "page_mrr@10", "section_hit@5", "section_within_hit@5")
        parts += ["", "## Blind questions over the official docs", "",
                  f"Index of {official['docs']} ({official['chunks']} chunks) beside a naive langchain RAG over the"
                  " same files (1000/200 character splitter, the same model, FAISS top-k, page URLs only).", ""]
        rows = []
        for split in ("dev", "test"):
            if split in official:
                result = official[split]
                rows.append([f"{split}: this assistant", *[result["overall"].get(k, "") for k in names],
                             result["overall"].get("answered", ""), result["overall"].get("declined", "")])
                rows.append([f"{split}: naive", *[result["naive"].get(k, "") for k in names], "", ""])
        parts.append(_table(["split / system", *names, "answered", "declined"], rows))
    worst = sorted(
        (q for q in report["questions"] if q["answerable"]),
        key=lambda q: (q["page"].get("mrr@10", 0), q["anchor"].get("mrr@10", 0), q["key_facts"]),
    )[:10]
    parts += ["", "## Ten worst questions", ""]
    for q in worst:
        parts.append(f"- **{q['id']}** {q['question']}")
        parts.append(f"  - gold: {', '.join(q['gold_urls'])}")
        parts.append(f"  - retrieved: {'; '.join(q['retrieved'][:3])}")
    wrong = [q for q in report["questions"] if q["refused"] == q["answerable"]]
    if wrong:
        parts += ["", "## Refusal mistakes", ""]
        parts += [f"- {q['id']} ({'declined' if q['refused'] else 'answered'}, best score {q['best_score']}): "
                  f"{q['question']}" for q in wrong]
    if report.get("threshold_failures"):
        parts += ["", "## Below thresholds", ""] + [f"- {f}" for f in report["threshold_failures"]]
    return "\n".join(parts) + "\n"
