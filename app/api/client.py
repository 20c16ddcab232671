"""A small client of `waf-assistant serve` for the command line: standard library only, so `ask --server` starts
in a fraction of a second instead of loading the model and the index itself."""
from __future__ import annotations

import json
import urllib.error
import urllib.request


class ServerError(Exception):
    """The server could not be reached, or answered with an error (its message is kept)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def post_json(base_url: str, path: str, payload: dict, token: str = "", timeout: float = 300) -> dict:
    url = base_url.rstrip("/") + path
    headers = {"content-type": "application/json", "accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the configured server
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            message = exc.reason
        raise ServerError(f"the server answered {exc.code}: {message}", exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerError(f"cannot reach the server at {base_url}: {reason}") from exc
    except ValueError as exc:
        raise ServerError(f"the server at {base_url} did not answer JSON") from exc
