"""The HTTP API on real components: the fixture index and the real model, the project database, and a real OpenID
Connect provider (oidc-provider-mock) on 127.0.0.1 that signs the tokens the API checks."""
import json
import os
import subprocess
import sys
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from app.api.server import Services, create_app
from app.auth import TokenValidator
from app.conversation.store import ConversationStore
from app.ratelimit import RateLimiter
from app.storage.database import open_database
from tests.conftest import FIXTURES, make_settings

AUDIENCE = "api://waf-assistant"
DESIGN = FIXTURES / "design-rag.md"


@pytest.fixture(scope="module")
def oidc():
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


def sign_in(issuer: str, sub: str, client_id: str = AUDIENCE, **claims) -> str:
    """An ID token from the provider by the authorization code flow, as a browser sign-in produces it."""
    assert httpx.put(f"{issuer}/users/{urllib.parse.quote(sub)}", json={"email": f"{sub}@contoso.com", **claims}).status_code == 204
    redirect = "http://127.0.0.1:9/callback"
    query = urllib.parse.urlencode({"client_id": client_id, "redirect_uri": redirect, "response_type": "code",
                                    "scope": "openid email profile", "state": "s", "nonce": "n"})
    consent = httpx.post(f"{issuer}/oauth2/authorize?{query}", data={"sub": sub})
    code = urllib.parse.parse_qs(urllib.parse.urlparse(consent.headers["location"]).query)["code"][0]
    tokens = httpx.post(f"{issuer}/oauth2/token", data={"grant_type": "authorization_code", "code": code,
                                                        "redirect_uri": redirect, "client_id": client_id,
                                                        "client_secret": "secret"}).json()
    return tokens["id_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def api(corpus_index, tmp_path, validator=None, **overrides) -> TestClient:
    settings = make_settings(
        corpus_index.index_dir, data_dir=tmp_path / "data", checklist_path=FIXTURES / "checklist.yaml",
        review_statements_path=FIXTURES / "review-statements.yaml", **overrides,
    )
    services = Services(settings, ConversationStore(open_database(settings.database)), RateLimiter.from_settings(settings),
                        validator)
    return TestClient(create_app(settings, services, load_in_background=False), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def open_api(corpus_index, tmp_path_factory):
    with api(corpus_index, tmp_path_factory.mktemp("open")) as client:
        yield client


def test_ask_returns_the_answer_json_the_cli_prints(open_api):
    assert open_api.get("/healthz").json() == {"status": "ok"}
    ready = open_api.get("/readyz").json()
    assert ready["status"] == "ready" and ready["chunks"] > 0
    answer = open_api.post("/ask", json={"question": "How should we protect the model endpoint with managed identities?"}).json()
    assert not answer["refused"] and answer["citations"]
    assert answer["citations"][0]["url"].startswith("https://learn.microsoft.com/azure/well-architected/")
    assert "[1]" in answer["text"]


def test_chat_streams_deltas_then_the_cited_answer_and_keeps_the_conversation(open_api):
    body = {"messages": [{"role": "user", "content": "What does SE:07 ask for?"}], "stream": True}
    with open_api.stream("POST", "/chat", json=body) as response:
        assert response.headers["content-type"].startswith("application/x-ndjson")
        chunks = [json.loads(line) for line in response.iter_lines() if line]
    assert chunks[0]["delta"] == {"role": "assistant"}
    conversation = chunks[0]["session_state"]
    assert any(c["delta"].get("content") for c in chunks[1:-1])
    final = chunks[-1]
    assert final["session_state"] == conversation and final["message"]["content"]
    assert any(c["url"].endswith("encryption#encrypt-data-at-rest") for c in final["context"]["data_points"]["citations"])

    follow_up = {"messages": [*body["messages"], final["message"], {"role": "user", "content": "and in transit?"}],
                 "session_state": conversation}
    reply = open_api.post("/chat", json=follow_up).json()
    assert reply["session_state"] == conversation and reply["context"]["data_points"]["citations"]
    saved = open_api.get(f"/conversations/{conversation}").json()["messages"]
    assert [m["role"] for m in saved] == ["user", "assistant", "user", "assistant"]
    assert saved[1]["answer"]["citations"] and saved[2]["content"] == "and in transit?"
    assert any(c["id"] == conversation and c["title"] == "What does SE:07 ask for?" for c in open_api.get("/conversations").json())
    assert open_api.delete(f"/conversations/{conversation}").status_code == 204
    assert open_api.get(f"/conversations/{conversation}").status_code == 404


def test_review_upload_returns_the_report_and_applies_overrides(open_api):
    with DESIGN.open("rb") as design:
        report = open_api.post("/review", files={"file": ("design.md", design, "text/markdown")},
                               data={"overrides": json.dumps({"REL-01": {"status": "addressed", "note": "DR wiki"}})}).json()
    assert report["schema"] == "waf-design-review/1" and report["document"]["name"] == "design.md"
    rel = next(f for f in report["findings"] if f["item_id"] == "REL-01")
    assert rel["status"] == "addressed" and rel["override"]["note"] == "DR wiki"


@pytest.mark.parametrize("method, path, payload, status, message", [
    ("post", "/ask", {"question": "   "}, 400, "the question is empty"),
    ("post", "/ask", {"question": "x", "pillar": "astrology"}, 400, "unknown pillar 'astrology'"),
    ("post", "/ask", {}, 422, "question: Field required"),
    ("post", "/ask", {"question": "x" * 5000}, 422, "question: String should have at most 4000 characters"),
    ("post", "/chat", {"messages": []}, 422, "messages: List should have at least 1 item"),
    ("post", "/chat", {"messages": [{"role": "assistant", "content": "hi"}]}, 400, "the last message must be the user's"),
    ("post", "/chat", {"messages": [{"role": "user", "content": "hi"}], "session_state": "nope"}, 404, "no conversation"),
    ("get", "/conversations/nope", None, 404, "no conversation 'nope'"),
])
def test_bad_requests_get_a_json_error_naming_the_problem(open_api, method, path, payload, status, message):
    response = getattr(open_api, method)(path, **({"json": payload} if payload is not None else {}))
    assert response.status_code == status and message in response.json()["error"], response.text


def test_bad_uploads_are_named_and_refused(open_api):
    not_pdf = open_api.post("/review", files={"file": ("design.pdf", b"not a pdf at all", "application/pdf")})
    assert not_pdf.status_code == 400 and "not a PDF" in not_pdf.json()["error"]
    wrong_file = open_api.post("/review", files={"file": ("hostname", b"build-agent-07\n", "text/plain")})
    assert wrong_file.status_code == 400 and "too little to review as a design" in wrong_file.json()["error"]
    with DESIGN.open("rb") as design:
        bad = open_api.post("/review", files={"file": ("design.md", design)}, data={"overrides": "{not json"})
    assert bad.status_code == 400 and "overrides: not JSON" in bad.json()["error"]
    with DESIGN.open("rb") as design:
        unknown = open_api.post("/review", files={"file": ("design.md", design)},
                                data={"overrides": json.dumps({"REL-01": "perfect"})})
    assert unknown.status_code == 400 and "perfect" in unknown.json()["error"]
    assert open_api.post("/review").status_code == 422


def test_an_oversized_upload_is_413(corpus_index, tmp_path):
    with api(corpus_index, tmp_path, review_max_upload_mb=1) as client:
        big = client.post("/review", files={"file": ("design.md", b"# Design\n\n" + b"word " * 300_000)})
    assert big.status_code == 413 and "over the 1 MB limit" in big.json()["error"]


def test_not_ready_is_503_with_the_reason(tmp_path):
    settings = make_settings(tmp_path / "no-index", data_dir=tmp_path / "data")
    with TestClient(create_app(settings, load_in_background=False), raise_server_exceptions=False) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "index" in ready.json()["error"].lower()
        assert client.get("/healthz").status_code == 200
        asked = client.post("/ask", json={"question": "How do I protect an endpoint?"})
    assert asked.status_code == 503 and asked.json()["error"].startswith("not ready")


def test_rate_limit_per_user_is_429_with_retry_after(corpus_index, tmp_path):
    with api(corpus_index, tmp_path, rate_limit_questions=2) as client:
        for _ in range(2):
            assert client.post("/ask", json={"question": "What does SE:07 ask for?"}).status_code == 200
        limited = client.post("/ask", json={"question": "What does SE:07 ask for?"})
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "2 questions per minute" in limited.json()["error"]


# --- sign-in: bearer tokens from a real OpenID Connect provider


@pytest.fixture(scope="module")
def signed_api(corpus_index, tmp_path_factory, oidc):
    validator = TokenValidator(oidc, AUDIENCE)
    with api(corpus_index, tmp_path_factory.mktemp("signed"), validator) as client:
        yield client


def test_without_a_valid_token_the_api_answers_401(signed_api, oidc):
    missing = signed_api.post("/ask", json={"question": "What does SE:07 ask for?"})
    assert missing.status_code == 401 and "sign-in required" in missing.json()["error"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert signed_api.get("/conversations", headers={"Authorization": "Basic abc"}).status_code == 401
    assert signed_api.get("/conversations", headers=bearer("not-a-jwt")).status_code == 401

    wrong_audience = signed_api.get("/conversations", headers=bearer(sign_in(oidc, "alice", client_id="another-app")))
    assert wrong_audience.status_code == 401 and "not for this API" in wrong_audience.json()["error"]

    valid = sign_in(oidc, "alice")
    claims = jwt.decode(valid, options={"verify_signature": False})
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({**claims, "sub": "mallory"}, forger, algorithm="RS256")
    refused = signed_api.get("/conversations", headers=bearer(forged))
    assert refused.status_code == 401 and "signature" in refused.json()["error"]
    assert signed_api.get("/conversations", headers=bearer(valid)).status_code == 200
    assert signed_api.get("/healthz").status_code == 200  # probes need no token


def test_an_expired_token_is_refused(corpus_index, tmp_path):
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(access_token_max_age=timedelta(seconds=1)) as server:
        issuer = f"http://localhost:{server.server_port}"
        with api(corpus_index, tmp_path, TokenValidator(issuer, AUDIENCE, leeway_seconds=0)) as client:
            token = sign_in(issuer, "alice")
            time.sleep(2.5)
            expired = client.get("/conversations", headers=bearer(token))
    assert expired.status_code == 401 and "expired" in expired.json()["error"]


def test_each_user_sees_only_their_own_conversations(signed_api, oidc):
    alice, bob = bearer(sign_in(oidc, "alice")), bearer(sign_in(oidc, "bob"))
    started = signed_api.post("/chat", headers=alice, json={"messages": [{"role": "user", "content": "What does SE:07 ask for?"}]})
    conversation = started.json()["session_state"]
    assert [c["id"] for c in signed_api.get("/conversations", headers=alice).json()] == [conversation]
    assert signed_api.get("/conversations", headers=bob).json() == []
    assert signed_api.get(f"/conversations/{conversation}", headers=bob).status_code == 404
    assert signed_api.delete(f"/conversations/{conversation}", headers=bob).status_code == 404
    hijack = signed_api.post("/chat", headers=bob, json={"messages": [{"role": "user", "content": "hi"}],
                                                          "session_state": conversation})
    assert hijack.status_code == 404
    assert len(signed_api.get(f"/conversations/{conversation}", headers=alice).json()["messages"]) == 2


def test_a_required_app_role_is_403_without_it(corpus_index, tmp_path, oidc):
    validator = TokenValidator(oidc, AUDIENCE, required_roles=["WAF.User"])
    with api(corpus_index, tmp_path, validator) as client:
        member = client.get("/conversations", headers=bearer(sign_in(oidc, "carol", roles=["WAF.User"])))
        outsider = client.get("/conversations", headers=bearer(sign_in(oidc, "dave", roles=["Other"])))
    assert member.status_code == 200
    assert outsider.status_code == 403 and "role WAF.User" in outsider.json()["error"]


# --- `waf-assistant serve`, as an operator runs it, and curl-like clients


@pytest.mark.slow
def test_serve_streams_a_cited_answer_to_a_client_with_a_token(corpus_index, tmp_path, oidc):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "WAF_INDEX_DIR": str(corpus_index.index_dir), "WAF_DATA_DIR": str(tmp_path / "data"),
           "WAF_AUTH_ISSUER": oidc, "WAF_AUTH_AUDIENCE": AUDIENCE}
    cli = str(Path(sys.executable).with_name("waf-assistant"))
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("serve did not become ready: " + (tmp_path / "serve.log").read_text()[-2000:])
        body = {"messages": [{"role": "user", "content": "What does SE:07 ask for?"}], "stream": True}
        assert httpx.post(f"{base}/chat", json=body).status_code == 401
        token = sign_in(oidc, "alice")
        with httpx.stream("POST", f"{base}/chat", json=body, headers=bearer(token), timeout=120) as response:
            chunks = [json.loads(line) for line in response.iter_lines() if line]
        assert response.status_code == 200 and chunks[-1]["context"]["data_points"]["citations"]
        assert "openapi" in httpx.get(f"{base}/openapi.json").json()

        # `ask --server`: the CLI sends the question to the running server instead of loading the model itself.
        def ask(*args, **extra_env):
            return subprocess.run([cli, "ask", "What does SE:07 ask for?", "--server", base, *args], capture_output=True,
                                  text=True, timeout=120, env={**env, **extra_env})

        answered = ask(WAF_API_TOKEN=token)
        assert answered.returncode == 0, answered.stderr
        assert "encryption#encrypt-data-at-rest" in answered.stdout and "Sources" in answered.stdout
        as_json = json.loads(ask("--json", WAF_API_TOKEN=token).stdout)
        assert as_json["citations"] and "display_text" not in as_json
        refused = ask()
        assert refused.returncode == 2 and "401" in refused.stderr and "sign-in required" in refused.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    gone = subprocess.run([cli, "ask", "hello", "--server", base], capture_output=True, text=True, timeout=60, env=env)
    assert gone.returncode == 1 and "cannot reach the server" in gone.stderr and "Traceback" not in gone.stderr
