"""End to end in a real browser: `streamlit run` on a free port, driven by headless Chromium."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "tests" / "output" / "browser"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_streamlit(corpus_index, tmp_path, *args: str, host: str = "127.0.0.1", port: int | None = None):
    """`streamlit run` on a free port with the fixture index and a fresh database; (process, url)."""
    port = port or free_port()
    env = {
        **os.environ,
        "WAF_INDEX_DIR": str(corpus_index.index_dir),
        "WAF_CHECKLIST_PATH": str(FIXTURES / "checklist.yaml"),
        "WAF_REVIEW_STATEMENTS_PATH": str(FIXTURES / "review-statements.yaml"),
        "WAF_FEEDBACK_DB": str(tmp_path / "feedback.sqlite"),
        "WAF_DATA_DIR": str(tmp_path / "data"),
    }
    log = (tmp_path / "streamlit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/ui/streamlit_app.py", "--server.port", str(port),
         *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("streamlit did not start: " + (tmp_path / "streamlit.log").read_text()[-2000:])
    return process, url


@pytest.fixture
def server(corpus_index, tmp_path):
    process, url = start_streamlit(corpus_index, tmp_path)
    yield url
    process.terminate()
    process.wait(timeout=30)


def new_browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are missing: `make test` installs them with apt-get")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1400,1100"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def browser(request):
    driver = new_browser()
    yield driver
    if getattr(request.node, "failed", False):  # what the browser showed when a wait ran out
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / "failure.png"))
    driver.quit()


def test_chat_and_review_in_a_real_browser(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wait = WebDriverWait(browser, WAIT)
    browser.get(server)

    box = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']")))
    box.send_keys("How should we protect the model endpoint with managed identities?", Keys.ENTER)
    link = wait.until(ready.presence_of_element_located(
        (By.CSS_SELECTOR, "[data-testid='stChatMessage'] a[href^='https://learn.microsoft.com/azure/well-architected/']")
    ))
    assert "#" in link.get_attribute("href")
    wait.until(ready.presence_of_element_located((By.XPATH, "//*[@data-testid='stChatMessage']//strong[text()='Sources']")))
    browser.save_screenshot(str(SCREENSHOTS / "chat.png"))

    # A second browser session at the same time shares the loaded model and index but not the chat.
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(server)
    box = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']")))
    box.send_keys("What does SE:07 ask for?", Keys.ENTER)
    wait.until(ready.presence_of_element_located(
        (By.CSS_SELECTOR, "[data-testid='stChatMessage'] a[href$='encryption#encrypt-data-at-rest']")
    ))
    # Its own chat only (the sidebar lists the local user's saved conversations, which both sessions share).
    chat = " ".join(m.text for m in browser.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']"))
    assert "SE:07" in chat and "managed identities?" not in chat
    browser.close()
    browser.switch_to.window(first)

    browser.find_element(By.XPATH, "//section[@data-testid='stSidebar']//label[.//p[text()='Design review']]").click()
    upload = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "input[type='file']")))
    upload.send_keys(str(FIXTURES / "design-rag.md"))
    wait.until(ready.presence_of_element_located((By.XPATH, "//*[@data-testid='stMetric']//*[text()='Overall score']")))
    chart = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "img[src^='data:image/svg+xml']")))
    assert chart.size["width"] > 200  # the radar chart is drawn, not just present
    assert "REL-01" in browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(SCREENSHOTS / "review.png"))
    assert (SCREENSHOTS / "chat.png").stat().st_size > 10_000

    # Save the review as a milestone; a second milestone (the architect marked REL-01 addressed) comes from another
    # client of the same history; the Workloads page charts both and compares them.
    for label, value in (("Workload", "claims-copilot"), ("Milestone", "M1 draft")):
        field = browser.find_element(By.XPATH, f"//div[@data-testid='stTextInput'][.//p[text()='{label}']]//input")
        field.send_keys(value)
    browser.find_element(By.XPATH, "//button[.//p[text()='Save review']]").click()
    wait.until(ready.presence_of_element_located((By.XPATH, "//*[contains(text(), \"Saved as milestone 'M1 draft'\")]")))
    from app.history.store import HistoryStore
    from app.review.overrides import apply_overrides

    store = HistoryStore(f"sqlite:///{tmp_path / 'data' / 'waf.sqlite'}")
    fixed = apply_overrides(store.report("claims-copilot", "M1 draft"), {"REL-01": ("addressed", "second region added")})
    store.save("claims-copilot", "M2 second region", fixed, "sha", "ben")

    browser.find_element(By.XPATH, "//section[@data-testid='stSidebar']//label[.//p[text()='Workloads']]").click()
    wait.until(ready.presence_of_element_located((By.XPATH, "//*[contains(text(), 'Compare two milestones')]")))
    chart = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "[data-testid='stVegaLiteChart']")))
    assert chart.size["width"] > 200 and chart.size["height"] > 100
    wait.until(ready.presence_of_element_located((By.XPATH, "//*[contains(text(), 'Gaps closed (1)')]")))
    assert "REL-01" in browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(SCREENSHOTS / "workloads.png"))


def test_two_users_signed_in_through_openid_connect_each_see_only_their_own_conversations(corpus_index, tmp_path):
    """Streamlit's st.login against a real OpenID provider on 127.0.0.1, two users in two browsers."""
    import httpx
    from oidc_provider_mock import run_server_in_thread
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    with run_server_in_thread() as provider:
        issuer = f"http://localhost:{provider.server_port}"
        port = free_port()
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
            'cookie_secret = "a-long-random-test-secret-0123456789"\n'
            'client_id = "waf-ui"\nclient_secret = "test-secret"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        )
        process, url = start_streamlit(corpus_index, tmp_path, "--secrets.files", str(secrets), host="localhost", port=port)
        drivers = []
        try:
            for user, question in (("alice", "What does SE:07 ask for?"), ("bob", "How should we protect the model endpoint with managed identities?")):
                assert httpx.put(f"{issuer}/users/{user}", json={"email": f"{user}@contoso.com"}).status_code == 204
                driver = new_browser()
                drivers.append(driver)
                wait = WebDriverWait(driver, WAIT)
                driver.get(url)
                wait.until(ready.element_to_be_clickable((By.XPATH, "//button[.//p[text()='Sign in']]"))).click()
                wait.until(ready.presence_of_element_located((By.NAME, "sub"))).send_keys(user, Keys.ENTER)
                wait.until(ready.text_to_be_present_in_element(
                    (By.CSS_SELECTOR, "[data-testid='stSidebar']"), f"Signed in as {user}@contoso.com"))
                body = driver.find_element(By.TAG_NAME, "body").text
                assert "What does SE:07" not in body  # bob sees nothing of alice's
                box = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']")))
                box.send_keys(question, Keys.ENTER)
                wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid='stSidebar']"), question[:30]))
                driver.save_screenshot(str(SCREENSHOTS / f"signed-in-{user}.png"))
            alice, bob = drivers
            alice.refresh()  # a new session of alice's: her conversation is still hers, bob's is not shown
            WebDriverWait(alice, WAIT).until(ready.text_to_be_present_in_element(
                (By.CSS_SELECTOR, "[data-testid='stSidebar']"), "What does SE:07 ask for?"))
            assert "managed identities" not in alice.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text
        finally:
            for driver in drivers:
                driver.quit()
            process.terminate()
            process.wait(timeout=30)
