"""azd postdeploy hook: build or update the guidance index in Azure AI Search with the image azd just deployed.

Starts one run of the ingest job (infra/modules/ingest-job.bicep: `waf-assistant ingest`, its own identity, the only
one allowed to write the index) with the API's new image, waits for it, and, when the API still reports that it is
not ready (its first start found no index, and it loads the index once per process), restarts the API and the UI so
they load it. Ingest is incremental: when the corpus in the image did not change, the run writes nothing.

Needs only Python 3.8+ and azd (for an Azure Resource Manager token: `azd auth token`); no Azure CLI. azd passes its
environment (the outputs of infra/main.bicep) as environment variables. Set INGEST_ON_DEPLOY=false in the azd
environment to skip it (`azd env set INGEST_ON_DEPLOY false`); run it again with `azd hooks run postdeploy`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

API_VERSION = "2024-03-01"  # Microsoft.App
TERMINAL = {"Succeeded", "Failed", "Stopped", "Degraded"}
# What a job execution's start may override, per container (JobExecutionContainer).
EXECUTION_CONTAINER_KEYS = ("name", "image", "command", "args", "env", "resources")


class HookError(Exception):
    """A step failed: one line for the user."""


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise HookError(f"{name} is not set: run this through azd (azd up, or azd hooks run postdeploy)")
    return value


def arm_token() -> str:
    azd = shutil.which("azd")
    if not azd:
        raise HookError("azd is not on PATH")
    endpoint = os.environ.get("AZURE_ARM_ENDPOINT", "https://management.azure.com").rstrip("/")
    command = [azd, "auth", "token", "--output", "json", "--scope", f"{endpoint}/.default"]
    if os.environ.get("AZURE_TENANT_ID"):
        command += ["--tenant-id", os.environ["AZURE_TENANT_ID"]]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise HookError(f"azd auth token failed (azd auth login?): {result.stderr.strip() or result.stdout.strip()}")
    try:
        return json.loads(result.stdout)["token"]
    except (ValueError, KeyError) as exc:
        raise HookError(f"unexpected output from azd auth token: {result.stdout[:200]!r}") from exc


class Arm:
    """The few Azure Resource Manager calls this hook makes, on one resource group."""

    def __init__(self, token: str, subscription: str, resource_group: str):
        self.token = token
        self.endpoint = os.environ.get("AZURE_ARM_ENDPOINT", "https://management.azure.com").rstrip("/")
        self.base = f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.App"

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        url = f"{self.endpoint}{self.base}{path}?api-version={API_VERSION}"
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read().decode() or "{}"
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise HookError(f"{method} {path} answered {exc.code}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise HookError(f"{method} {path} failed: {exc.reason}") from exc
        return json.loads(text)


def start_ingest(arm: Arm, job: str, image: str | None) -> str:
    """Start one run of the job, with `image` in place of the job's own (the placeholder after the first provision)."""
    template = arm.call("GET", f"/jobs/{job}")["properties"]["template"]
    containers = []
    for container in template["containers"]:
        run = {key: container[key] for key in EXECUTION_CONTAINER_KEYS if container.get(key) is not None}
        if image:
            run["image"] = image
        containers.append(run)
    started = arm.call("POST", f"/jobs/{job}/start", {"containers": containers})
    name = started.get("name") or started.get("id", "").rsplit("/", 1)[-1]
    if not name:
        raise HookError(f"the job started but its execution has no name: {started}")
    return name


def wait_for(arm: Arm, job: str, execution: str, timeout: float, poll: float) -> str:
    deadline = time.monotonic() + timeout
    status = "Unknown"
    while time.monotonic() < deadline:
        status = arm.call("GET", f"/jobs/{job}/executions/{execution}").get("properties", {}).get("status", "Unknown")
        if status in TERMINAL:
            return status
        time.sleep(poll)
    raise HookError(f"ingest run {execution} still {status} after {timeout:.0f} s")


def api_ready(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/readyz", timeout=30) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def restart(arm: Arm, app: str) -> str:
    revision = arm.call("GET", f"/containerApps/{app}")["properties"]["latestRevisionName"]
    arm.call("POST", f"/containerApps/{app}/revisions/{revision}/restart")
    return revision


def main() -> int:
    if os.environ.get("INGEST_ON_DEPLOY", "true").strip().lower() in {"0", "false", "no", "off"}:
        print("postdeploy: INGEST_ON_DEPLOY is off; the index was not updated")
        return 0
    try:
        arm = Arm(arm_token(), env("AZURE_SUBSCRIPTION_ID"), env("AZURE_RESOURCE_GROUP"))
        job = env("AZURE_INGEST_JOB_NAME")
        image = os.environ.get("SERVICE_API_IMAGE_NAME") or None
        print(f"postdeploy: ingest into Azure AI Search with {image or 'the job image'} (job {job})", flush=True)
        execution = start_ingest(arm, job, image)
        timeout = float(os.environ.get("INGEST_TIMEOUT_SECONDS", "3600"))
        poll = float(os.environ.get("INGEST_POLL_SECONDS", "15"))
        status = wait_for(arm, job, execution, timeout, poll)
        if status != "Succeeded":
            raise HookError(
                f"ingest run {execution} ended {status}; its logs are in Log Analytics "
                f"(ContainerAppConsoleLogs_CL | where ContainerGroupName_s startswith '{execution}')"
            )
        print(f"postdeploy: ingest run {execution} succeeded", flush=True)
        api_url = env("API_URL")
        if api_ready(api_url):
            print(f"postdeploy: {api_url}/readyz is ready")
            return 0
        # The API loads the index once per process: one that started before the index existed must restart.
        # The UI too (its design review otherwise keeps running without the guidance index).
        for app in (env("AZURE_API_APP_NAME"), env("AZURE_UI_APP_NAME")):
            print(f"postdeploy: restarting {app} (revision {restart(arm, app)}) to load the index", flush=True)
        return 0
    except HookError as exc:
        print(f"postdeploy: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
