"""`waf-assistant docs sync`: fetch the official WAF docs (MicrosoftDocs/well-architected, CC BY 4.0) into a
cache folder with git, so that `ingest` reads them beside `corpus/`.

A shallow fetch of one ref into a clone this job owns: the first run clones, later runs fetch and check out the
new commit, and the ingest that follows re-embeds only the files that changed (or were moved or removed).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from core.documents import OFFICIAL_DOCS_FOLDER
from core.slug import LEARN_BASE

GIT_TIMEOUT_SECONDS = 600
_REDIRECTION_FILES = ".openpublishing.redirection*.json"


class DocsSyncError(Exception):
    """The docs could not be fetched (no git, unknown repository or ref, a folder that is not our clone)."""


@dataclass
class SyncResult:
    repo: str
    ref: str
    commit: str
    previous_commit: str | None
    docs_dir: Path
    changed_files: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.previous_commit == self.commit:
            state = "already up to date"
        elif self.previous_commit:
            state = f"updated from {self.previous_commit[:12]}, {len(self.changed_files)} files changed"
        else:
            state = "first sync"
        return [
            f"official docs: {self.repo} @ {self.ref} -> {self.commit[:12]} ({state})",
            f"docs folder: {self.docs_dir}",
            "license: CC BY 4.0 (Microsoft); answers that quote these pages cite them and name the license",
        ]


def sync_official_docs(repo: str, ref: str, cache_dir: Path) -> SyncResult:
    if shutil.which("git") is None:
        raise DocsSyncError("git is not installed: install git (e.g. `apt-get install git`) and run docs sync again")
    cache_dir = cache_dir.resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not (cache_dir / ".git").is_dir():
        if any(cache_dir.iterdir()):
            # Never overwrite a folder we did not create: it may hold someone's work.
            raise DocsSyncError(
                f"{cache_dir} is not empty and is not a docs sync clone: set WAF_DOCS_CACHE_DIR to an empty or new folder"
            )
        _git(cache_dir, "init", "--quiet")
    previous = _git(cache_dir, "rev-parse", "--verify", "--quiet", "HEAD", check=False) or None
    if _git(cache_dir, "remote", check=False):
        _git(cache_dir, "remote", "set-url", "origin", repo)
    else:
        _git(cache_dir, "remote", "add", "origin", repo)
    _git(cache_dir, "fetch", "--depth", "1", "--quiet", "origin", ref, failure=f"could not fetch {ref!r} from {repo}")
    _git(cache_dir, "checkout", "--quiet", "--force", "--detach", "FETCH_HEAD")
    commit = _git(cache_dir, "rev-parse", "HEAD")
    docs_dir = cache_dir / OFFICIAL_DOCS_FOLDER
    if not docs_dir.is_dir():
        raise DocsSyncError(
            f"{repo} @ {ref} has no {OFFICIAL_DOCS_FOLDER}/ folder: is it a copy of MicrosoftDocs/well-architected?"
        )
    changed: list[str] = []
    if previous and previous != commit:
        listed = _git(cache_dir, "diff", "--name-only", previous, commit, "--", OFFICIAL_DOCS_FOLDER, check=False)
        changed = [line for line in listed.splitlines() if line]
    return SyncResult(repo, ref, commit, previous, docs_dir, changed)


def moved_pages(clone_dir: Path) -> dict[str, str]:
    """Official URL of each moved page -> the URL it redirects to (from the repository's redirection files)."""
    moves: dict[str, str] = {}
    for path in sorted(clone_dir.glob(_REDIRECTION_FILES)):
        try:
            entries = json.loads(path.read_text(encoding="utf-8")).get("redirections", [])
        except (OSError, ValueError, AttributeError):
            continue
        for entry in entries if isinstance(entries, list) else []:
            source = str(entry.get("source_path") or entry.get("source_path_from_root") or "").lstrip("/")
            target = str(entry.get("redirect_url") or "")
            prefix = f"{OFFICIAL_DOCS_FOLDER}/"
            if source.startswith(prefix) and source.endswith(".md") and target:
                page = source.removeprefix(prefix).removesuffix(".md").removesuffix("/index")
                moves[LEARN_BASE + page] = _absolute(target)
    return moves


def _absolute(redirect_url: str) -> str:
    if redirect_url.startswith("http"):
        return redirect_url
    return "https://learn.microsoft.com" + redirect_url.removeprefix("/en-us")


def _git(cwd: Path, *args: str, check: bool = True, failure: str = "") -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}  # fail, never prompt for credentials
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as exc:
        raise DocsSyncError(f"git {args[0]} took more than {GIT_TIMEOUT_SECONDS} s: is the repository reachable?") from exc
    if check and done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise DocsSyncError(f"{failure or 'git ' + args[0] + ' failed'}: {detail}")
    return done.stdout.strip()
