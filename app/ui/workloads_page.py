"""Workloads page: a workload's milestones, its scores across them, what changed between two, and the backlog."""
from __future__ import annotations

import streamlit as st

from app.history.compare import compare, describe
from app.history.errors import HistoryError
from app.history.render import score_series, workload_html
from app.review import backlog
from app.review.prioritize import matrix_svg
from app.ui import resources
from core.pillars import REVIEW_AREA_NAMES


def page() -> None:
    st.title("Workloads")
    st.caption("Reviews saved per workload and milestone: assess, fix, assess again, and see what changed.")
    try:
        store = resources.history_store()
        summaries = store.workloads()
    except HistoryError as exc:
        st.error(str(exc))
        return
    if not summaries:
        st.info("No saved reviews yet. Review a design on the Design review page and save it under a workload and a "
                "milestone, or from the CLI: `waf-assistant review design.md --workload NAME --milestone LABEL`.")
        return
    names = [s.name for s in summaries]
    workload = st.selectbox("Workload", names, key="workload-name")
    milestones = store.milestones(workload)
    st.subheader("Milestones")
    st.dataframe(
        [{"Milestone": m.milestone, "Saved": m.created, "By": m.author, "Document": m.document_name,
          "Score": m.overall, "Gaps": m.gaps} for m in milestones],
        hide_index=True, width="stretch",
    )
    series = score_series(milestones)
    st.subheader("Scores across milestones")
    st.line_chart(
        {("Overall" if k == "overall" else REVIEW_AREA_NAMES.get(k, k)): v for k, v in series.items()},
        x_label="milestone (oldest first)", y_label="score",
    )
    st.caption(" → ".join(m.milestone for m in milestones))
    labels = [m.milestone for m in milestones]
    comparison = None
    if len(labels) > 1:
        st.subheader("Compare two milestones")
        c1, c2 = st.columns(2)
        base = c1.selectbox("From", labels, index=len(labels) - 2, key="compare-base")
        head = c2.selectbox("To", labels, index=len(labels) - 1, key="compare-head")
        comparison = compare(store.report(workload, base), store.report(workload, head), base, head)
        show_comparison(comparison)
    latest = store.report(workload, labels[-1])
    st.subheader(f"Backlog of '{labels[-1]}'")
    st.image(matrix_svg(latest.findings), caption="Open gaps by severity and effort (colour: now, next quarter, later)")
    stem = f"{workload}-{labels[-1]}".replace(" ", "-")
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("Backlog CSV (Azure Boards)", backlog.to_csv(latest), f"{stem}-gaps.csv", "text/csv")
    c2.download_button("Issue bodies (zip)", backlog.markdown_zip(latest), f"{stem}-gaps.zip", "application/zip")
    c3.download_button("SARIF", backlog.to_sarif(latest), f"{stem}-gaps.sarif", "application/sarif+json")
    c4.download_button(
        "Workload page (HTML)", workload_html(workload, milestones, comparison, latest), f"{workload}-history.html", "text/html"
    )


def show_comparison(c) -> None:
    delta = c.overall.delta
    st.metric("Overall score", "n/a" if c.overall.after is None else c.overall.after,
              None if delta is None else f"{delta:+d}")
    st.dataframe(
        [{"Pillar": REVIEW_AREA_NAMES.get(p, p), "Before": s.before, "After": s.after, "Change": s.delta}
         for p, s in c.pillars.items()],
        hide_index=True,
    )
    columns = st.columns(4)
    for column, (heading, rows) in zip(columns, (
        ("Gaps closed", c.closed), ("Gaps opened", c.opened), ("Other changes", c.changed), ("Still open", c.unchanged_gaps),
    )):
        column.markdown(f"**{heading} ({len(rows)})**")
        column.markdown("\n".join(f"- {describe(r)}" for r in rows) or "none")
