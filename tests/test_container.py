"""The container image (Dockerfile), built and run with podman from nothing but the Debian mirror and pip's sources.

tests/container/harness.py makes a Debian bookworm base with mmdebstrap (kept in build/container/), imports it,
builds the project's Dockerfile on it (its ingest starting from the checkout's .index when there is one:
harness.index_seed), and runs the image four times at once:

- on podman's default network with the API published on 127.0.0.1 (a free port): /healthz, /readyz, a cited
  answer from POST /ask, the image's HEALTHCHECK, and a process that is not root;
- with no network at all (--network none), asked from inside the container: it starts, loads and answers with
  nothing to download (model, index and encoder are in the image);
- the Streamlit UI, by command, with the API's HEALTHCHECK pointed at the UI (HEALTHCHECK_URL), as compose.yaml does;
- on the host's network with WAF_DATABASE_URL pointing at a PostgreSQL server on 127.0.0.1 (tests/postgres_server.py,
  Debian's binaries: `make postgres`): a conversation is kept in PostgreSQL, as compose.yaml sets it up.

Needs root, podman, runc and mmdebstrap (`make container-tools`); skipped with the reason when this machine cannot
do a step. Phase timings are written to build/container/timings.json.
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.container import harness

pytestmark = pytest.mark.container

QUESTION = "How should I protect an Azure OpenAI inference endpoint?"
WAF_DOCS = "learn.microsoft.com/azure/well-architected"
READY_SECONDS = 300
# Signs in a start-up log that something was fetched from the network (a hub model, a tokenizer, a NLTK corpus...).
DOWNLOAD_SIGNS = ("Downloading", "huggingface.co", "hf_hub_download", "nltk_data", "tiktoken", "Traceback")

TIMINGS: dict[str, float | str] = {}


def _timed(name: str, started: float) -> None:
    TIMINGS[name] = round(time.monotonic() - started, 1)
    (harness.BUILD_DIR / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.fixture(scope="module")
def image() -> str:
    if os.geteuid() != 0:
        pytest.skip("the container test runs rootful podman (runc, cgroupfs), as CI does as root; this is not root")
    missing = harness.missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: `make container-tools` (as root) installs them")
    started = time.monotonic()
    try:
        base = harness.base_image()
    except harness.Unavailable as exc:
        pytest.skip(str(exc))
    _timed("base_seconds", started)
    started = time.monotonic()
    try:
        seed = harness.index_seed()
        log = harness.build_image(base, seed=seed)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"podman build failed (exit {exc.returncode}; {harness.BUILD_DIR / 'build.log'}):\n{exc.stderr}")
    _timed("build_seconds", started)
    harness.prune_superseded_images()
    TIMINGS["image_bytes"] = harness.image_size()
    TIMINGS["build_log"] = str(log)
    TIMINGS["index_seed"] = str(seed or "")
    return harness.TEST_IMAGE


@pytest.fixture(scope="module")
def containers(image):
    """The containers, started together (they load the model at the same time); removed afterwards."""
    started = time.monotonic()
    running: dict = {"started": started}
    database = None
    try:
        running["published"] = harness.start(image)
        running["offline"] = harness.start(image, role="offline", network="none", publish=None)
        running["ui"] = harness.start(image, role="ui", publish=8501,
                                      command=("streamlit", "run", "app/ui/streamlit_app.py"),
                                      env={"HEALTHCHECK_URL": "http://127.0.0.1:8501/_stcore/health"})
        try:
            from tests.postgres_server import PostgresServer

            database = PostgresServer().start()
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            running["postgres_problem"] = f"{type(exc).__name__}: {exc}"
        else:
            port = harness.free_port()
            # the host's network, to reach the server on 127.0.0.1 (what compose.yaml does with its postgres service)
            running["postgres"] = harness.start(
                image, role="postgres", network="host", publish=None, env={"WAF_DATABASE_URL": database.url},
                command=("waf-assistant", "serve", "--host", "127.0.0.1", "--port", str(port)),
            )[0], port
            running["database"] = database
        yield running
    finally:
        for key in ("published", "offline", "ui", "postgres"):
            if key in running:
                harness.stop(running[key][0])
        if database is not None:
            database.stop()
        _timed("run_seconds", started)


def _cited(answer: dict) -> None:
    assert not answer["refused"], answer["text"]
    assert answer["citations"], answer
    assert any(WAF_DOCS in c["url"] for c in answer["citations"]), [c["url"] for c in answer["citations"]]
    assert "[1]" in answer["text"]


def _no_downloads(name: str) -> None:
    log = harness.logs(name)
    assert not [sign for sign in DOWNLOAD_SIGNS if sign in log], log[-4000:]


def test_image_metadata(image):
    inspected = json.loads(harness.podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "waf"
    assert config["Cmd"] == ["waf-assistant", "serve", "--host", "0.0.0.0", "--port", "8000"]
    healthcheck = inspected.get("Healthcheck") or config.get("Healthcheck") or {}  # podman puts it at the top
    assert "/healthz" in " ".join(healthcheck.get("Test", [])), inspected  # kept: built with --format docker
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1" and env["WAF_DATA_DIR"] == "/data"
    assert TIMINGS["image_bytes"] < 3.5e9, TIMINGS["image_bytes"]


def test_api_on_a_published_port_answers_with_citations_as_non_root(containers):
    name, port = containers["published"]
    base = f"http://127.0.0.1:{port}"
    harness.wait_for(f"{base}/healthz", name, READY_SECONDS)
    harness.wait_for(f"{base}/readyz", name, READY_SECONDS)
    _timed("published_ready_seconds", containers["started"])

    status, answer = harness.http("POST", f"{base}/ask", {"question": QUESTION}, timeout=120)
    assert status == 200, answer
    _cited(answer)

    # the serving process (PID 1: no init, no shell in between) runs as the image's user, not root
    uids = harness.podman("exec", name, "sh", "-c", "grep '^Uid:' /proc/1/status").stdout.split()[1:]
    assert uids and all(uid == "10001" for uid in uids), uids
    # the image's HEALTHCHECK, run once by hand (podman schedules it through systemd, which is not here)
    assert harness.podman("healthcheck", "run", name, check=False).returncode == 0
    _no_downloads(name)


def test_starts_and_answers_without_any_network(containers):
    name, _ = containers["offline"]
    assert harness.podman("inspect", "--format", "{{.HostConfig.NetworkMode}}", name).stdout.strip() == "none"
    deadline = time.monotonic() + READY_SECONDS
    while True:
        status, body = harness.exec_http(name, "GET", "/readyz")
        if status == 200:
            break
        assert time.monotonic() < deadline, f"not ready in {READY_SECONDS} s: {status} {body}\n{harness.logs(name)}"
        time.sleep(2)
    _timed("offline_ready_seconds", containers["started"])
    status, answer = harness.exec_http(name, "POST", "/ask", {"question": QUESTION})
    assert status == 200, answer
    _cited(answer)
    # and nothing could have been fetched: the container has no route out at all
    status, body = harness.exec_http(name, "GET", "https://pypi.org/simple/", absolute=True)
    assert status == 0, (status, body)
    _no_downloads(name)


def test_the_same_image_runs_the_ui_by_command(containers):
    name, port = containers["ui"]
    harness.wait_for(f"http://127.0.0.1:{port}/_stcore/health", name, READY_SECONDS)
    status, page = harness.http("GET", f"http://127.0.0.1:{port}/")
    assert status == 200 and "<title>Streamlit</title>" in page, page[:500]
    uids = harness.podman("exec", name, "sh", "-c", "grep '^Uid:' /proc/1/status").stdout.split()[1:]
    assert uids and all(uid == "10001" for uid in uids), uids
    # the HEALTHCHECK probes the UI when HEALTHCHECK_URL says so (compose.yaml's ui service)
    assert harness.podman("healthcheck", "run", name, check=False).returncode == 0
    _no_downloads(name)


def test_api_keeps_conversations_in_postgresql(containers):
    """The image's PostgreSQL driver (the `postgres` extra) and migrations, against a real server: compose.yaml's
    setup without the registry image (the server is Debian's, started on 127.0.0.1 by tests/postgres_server.py)."""
    if "postgres" not in containers:
        pytest.skip(f"no PostgreSQL server for the container: {containers['postgres_problem']}")
    (name, port), database = containers["postgres"], containers["database"]
    base = f"http://127.0.0.1:{port}"
    harness.wait_for(f"{base}/readyz", name, READY_SECONDS)
    status, reply = harness.http("POST", f"{base}/chat", {"messages": [{"role": "user", "content": QUESTION}]},
                                 timeout=120)
    assert status == 200, reply
    assert reply["context"]["data_points"]["citations"], reply
    status, conversation = harness.http("GET", f"{base}/conversations/{reply['session_state']}")
    assert status == 200 and len(conversation["messages"]) == 2, conversation

    import psycopg

    with psycopg.connect(database.url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        tables = {row[0] for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'public'")}
    assert "alembic_version" in tables and len(tables) > 3, tables
    assert harness.podman("exec", name, "ls", "/data").stdout.strip() == ""  # no SQLite file beside it
    _no_downloads(name)
