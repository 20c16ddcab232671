"""Design review page: upload, progress, scorecard with radar chart, filterable findings, downloads."""
from __future__ import annotations

import hashlib
import json
import logging
import re

import streamlit as st

from app.history.errors import HistoryError
from app.ratelimit import RateLimited
from app.review import backlog
from app.review.assess import LOW_CONFIDENCE
from app.review.overrides import apply_overrides, labelled_examples
from app.review.parse import DesignInputError, read_design
from app.review.prioritize import matrix_svg
from app.review.report import ReviewReport, radar_svg, to_html, to_markdown
from app.ui import identity, resources
from core.pillars import REVIEW_AREA_NAMES

log = logging.getLogger(__name__)
STATUS_ORDER = ["missing", "partial", "addressed", "not-applicable"]


def run_review(data: bytes, name: str) -> ReviewReport:
    reviewer = resources.reviewer()
    with st.status(f"Reviewing {name}…", expanded=True) as status:
        st.write("Reading the document…")
        document = read_design(data, name, reviewer.limits)
        judge = "the LLM judge" if reviewer.judge else "the offline assessor"
        st.write(
            f"Assessing {len(reviewer.assessor.checklist)} checklist items against {len(document.sections)} sections "
            f"with {judge}…"
        )
        report = reviewer.review_document(document)
        status.update(label=f"Reviewed {name}", state="complete", expanded=False)
    return report


def _plain(text: str) -> str:
    """Text from the document or a model, shown as text: Markdown (links, images, emphasis) escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~:])", r"\\\1", " ".join(text.split()))


def scorecard(report: ReviewReport) -> None:
    st.subheader("Scorecard")
    st.caption(f"Assessed by {report.assessor}.")
    for note in report.notes:
        st.info(note)
    if report.set_aside:
        st.warning(
            f"{len(report.set_aside)} sentence(s) of this document address the reviewer instead of describing the "
            "design; they were left out of the assessment:\n\n"
            + "\n".join(f"- *{_plain(x.location)}*: {_plain(x.text)} ({x.reason})" for x in report.set_aside)
        )
    left, right = st.columns([1, 1])
    with left:
        st.metric("Overall score", f"{report.scores.overall if report.scores.overall is not None else 'n/a'} / 100")
        st.table(
            [{"Pillar": REVIEW_AREA_NAMES.get(p, p), "Score": "n/a" if s is None else s} for p, s in report.scores.pillars.items()]
        )
        st.caption(report.scores.formula)
    with right:
        chart = radar_svg(report.scores.pillars)
        if chart:  # st.image takes SVG markup as is; st.html would sanitise the chart away
            st.image(chart, caption="Pillar scores")


def findings_table(report: ReviewReport) -> None:
    st.subheader("Findings")
    pillars = list(dict.fromkeys(f.pillar for f in report.findings))
    c1, c2, c3 = st.columns(3)
    chosen_pillars = c1.multiselect("Pillar", pillars, default=pillars, format_func=lambda p: REVIEW_AREA_NAMES.get(p, p))
    chosen_status = c2.multiselect("Status", STATUS_ORDER, default=["missing", "partial", "addressed"])
    chosen_severity = c3.multiselect("Severity", ["high", "medium", "low"], default=["high", "medium", "low"])
    shown = [
        f for f in report.findings
        if f.pillar in chosen_pillars and f.status in chosen_status and f.severity in chosen_severity
    ]
    shown.sort(key=lambda f: (STATUS_ORDER.index(f.status), ["high", "medium", "low"].index(f.severity)))
    st.dataframe(
        [
            {"Id": f.item_id, "Pillar": REVIEW_AREA_NAMES.get(f.pillar, f.pillar), "Item": f.title,
             "Status": f.status + (" (overridden)" if f.override else ""), "Severity": f.severity,
             "Confidence": "" if f.confidence is None else f"{f.confidence:.2f}",
             "Judged by": "architect" if f.override else f.assessed_by}
            for f in shown
        ],
        hide_index=True,
        width="stretch",
    )
    for f in shown:
        with st.expander(f"{f.item_id} · {f.title} — {f.status} ({f.severity})"):
            st.markdown(f"**Recommendation:** {f.recommendation}")
            st.markdown(f"**Risk if missing:** {f.risk}")
            if f.rationale:
                st.caption(f"Judged by {_plain(f.assessed_by)}: {_plain(f.rationale)}")
            for e in f.evidence:
                st.markdown(f"> {e.quote}\n\n*— {e.location}*")
            if f.matched_statement:
                st.caption(f'Matched: "{_plain(f.matched_statement)}"')
            if f.confidence is not None and f.confidence < LOW_CONFIDENCE:
                st.warning(f"Low confidence ({f.confidence:.2f}): check this one in the document yourself.")
            st.markdown("**Guidance:** " + " · ".join(f"[{c.section}]({c.url})" for c in f.citations))
            override_controls(f)
            if st.button("Ask about this finding", key=f"ask-{f.item_id}"):
                st.session_state.pending_question = (
                    f"How should I address this design review finding: {f.title}? {f.recommendation}"
                )
                st.session_state.switch_to = "Chat"  # the page radio is already drawn in this run
                st.rerun()


def override_controls(f) -> None:
    """The architect's decision on one finding: a status and a note, applied to the whole report at once."""
    if f.override:
        st.info(f"Overridden by you (the assessor said {f.override.status_before}): {_plain(f.override.note) or 'no note'}")
    left, right = st.columns([1, 2])
    current = f.status
    choice = left.selectbox(
        "Your decision", STATUS_ORDER, index=STATUS_ORDER.index(current), key=f"override-status-{f.item_id}"
    )
    note = right.text_input("Why", value=f.override.note if f.override else "", key=f"override-note-{f.item_id}")
    if choice != current or (f.override and note != f.override.note):
        if st.button("Apply", key=f"override-apply-{f.item_id}"):
            key, report = st.session_state.review
            st.session_state.review = (key, apply_overrides(report, {f.item_id: (choice, note)}))
            st.rerun()


def downloads(report: ReviewReport) -> None:
    stem = report.document.name.rsplit(".", 1)[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("Download Markdown", to_markdown(report), f"{stem}-review.md", "text/markdown")
    c2.download_button("Download HTML", to_html(report), f"{stem}-review.html", "text/html")
    c3.download_button("Download JSON", report.to_json(), f"{stem}-review.json", "application/json")
    gaps = backlog.gaps(report)
    if gaps:
        b1, b2, b3 = st.columns(3)
        b1.download_button(
            f"Backlog CSV ({len(gaps)} gaps, Azure Boards)", backlog.to_csv(report), f"{stem}-gaps.csv", "text/csv"
        )
        b2.download_button("Issue bodies (Markdown, zip)", backlog.markdown_zip(report), f"{stem}-gaps.zip", "application/zip")
        b3.download_button("SARIF (code scanning)", backlog.to_sarif(report), f"{stem}-gaps.sarif", "application/sarif+json")
    examples = labelled_examples(report)
    if examples:
        c4.download_button(
            f"Download {len(examples)} override(s) as labels", "".join(json.dumps(r) + "\n" for r in examples),
            f"{stem}-labels.jsonl", "application/jsonl",
        )


def page() -> None:
    st.title("Design review")
    st.caption("Upload a design document (Markdown, text, PDF or Word, up to 10 MB) to check it against the "
               "Well-Architected review checklist for AI workloads.")
    upload = st.file_uploader("Design document", type=["md", "markdown", "txt", "pdf", "docx"])
    if upload is None:
        return
    data = upload.getvalue()
    key = hashlib.sha256(data).hexdigest()
    cached = st.session_state.get("review")
    if not cached or cached[0] != key:
        try:
            resources.rate_limiter().hit(identity.current_user().user_id, "reviews")
            st.session_state.review = (key, run_review(data, upload.name))
        except RateLimited as exc:
            st.warning(f"Too many reviews: {exc}")
            return
        except DesignInputError as exc:
            st.error(f"This document cannot be reviewed: {exc}")
            return
        except Exception as exc:
            log.exception("review failed")
            st.error(f"The review failed: {exc}")
            return
    report = st.session_state.review[1]
    scorecard(report)
    priorities(report)
    downloads(report)
    save_to_history(report, st.session_state.review[0])
    findings_table(report)


def priorities(report: ReviewReport) -> None:
    with st.expander("Gaps by severity and effort (when to close them)"):
        st.caption("Each box lists the gaps (missing in bold) of one severity and effort; its colour is the horizon: "
                   "red now, orange next quarter, grey later.")
        st.image(matrix_svg(report.findings), caption="Gaps by severity and effort")


def save_to_history(report: ReviewReport, document_sha256: str) -> None:
    """Save this review (with the overrides made so far) as a milestone of a workload."""
    with st.form("save-review", clear_on_submit=False):
        st.markdown("**Save to the workload's history** (compare milestones on the Workloads page)")
        c1, c2 = st.columns(2)
        workload = c1.text_input("Workload", key="save-workload", placeholder="claims-copilot")
        milestone = c2.text_input("Milestone", key="save-milestone", placeholder="v2 after security review")
        if st.form_submit_button("Save review"):
            try:
                saved = resources.history_store().save(workload, milestone, report, document_sha256, _who())
            except HistoryError as exc:
                st.error(str(exc))
            else:
                st.success(f"Saved as milestone '{saved.milestone}' of workload '{saved.workload}' (score {saved.overall}).")


def _who() -> str:
    return identity.current_user().name
