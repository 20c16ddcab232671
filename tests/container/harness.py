"""Builds and runs the project's image with podman, offline from any container registry (tests/test_container.py).

1. A Debian bookworm base (python3.11, python3-venv, python3-pip) made by mmdebstrap from the Debian mirror into
   build/container/base-bookworm-<recipe>.tar (kept: reruns reuse it), then `podman import`ed.
2. `podman build --format docker` of ./Dockerfile with --build-arg BASE_IMAGE=<that base>, and pip fed the way this
   host's pip is configured (`pip config list`): local wheel directories and simple indexes and the CA bundle are
   bind-mounted read-only into the build (podman build --volume) under /host-pip and passed as PIP_* build args;
   the build's ingest starts from the checkout's index when there is one (INDEX_SEED; see index_seed).
3. `podman run`, with the API published on 127.0.0.1 (podman's default network) or with no network at all (asked
   through `podman exec`), with runc and the cgroupfs cgroup manager from a containers.conf written to
   build/container/ (CONTAINERS_CONF): crun fails on this machine's cgroups and rlimits. (An --internal network
   would be the middle way, but podman 4.3's netavark does not forward a published port into one here.)

Also a command line, for doing the same by hand:

    python tests/container/harness.py base     # the base tarball and image
    python tests/container/harness.py build    # ... and the image (localhost/waf-assistant:test)
    python tests/container/harness.py run      # ... and run it on a free port until Ctrl-C
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = PROJECT_ROOT / "build" / "container"
BASE_IMAGE = "localhost/waf-assistant-base:bookworm"
TEST_IMAGE = "localhost/waf-assistant:test"
HOST_PIP_ROOT = "/host-pip"  # where the host's pip files are mounted inside the build

SUITE = "bookworm"
MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
MMDEBSTRAP_OPTIONS = (
    "--variant=minbase",
    "--aptopt=Acquire::Languages \"none\"",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
)

CONTAINERS_CONF = """\
# Written by tests/container/harness.py. runc and cgroupfs: crun fails on this machine's cgroups and rlimits.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

# pip settings of the host that the build mirrors; the rest (timeouts...) are the Dockerfile's own.
PIP_LIST_KEYS = ("extra-index-url", "find-links", "trusted-host", "constraint")
PIP_SCALAR_KEYS = ("index-url", "cert")


class Unavailable(Exception):
    """This machine cannot do a step (a tool is missing, the mirror or the runtime fails): the test skips."""


def missing_tools() -> list[str]:
    return [tool for tool in ("podman", "runc", "mmdebstrap") if shutil.which(tool) is None]


def containers_conf() -> Path:
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    path = BUILD_DIR / "containers.conf"
    if not path.is_file() or path.read_text() != CONTAINERS_CONF:
        path.write_text(CONTAINERS_CONF)
    return path


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf())}


def podman(*args: str, timeout: float = 300, check: bool = True, log: Path | None = None) -> subprocess.CompletedProcess:
    """Runs podman with the runc/cgroupfs configuration; with `log`, output goes to that file instead of memory."""
    command = ["podman", *args]
    if log is None:
        done = subprocess.run(command, env=podman_env(), capture_output=True, text=True, timeout=timeout)
    else:
        done = run_logged(command, log, timeout, env=podman_env())
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)
    return done


def run_logged(command: list[str], log: Path, timeout: float, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess:
    """Runs `command` with its output in `log`, each line stamped with the seconds since the start (so the log
    shows what each build step cost); stderr of the result is the log's tail. Killed after `timeout` seconds."""
    started = time.monotonic()
    with log.open("w") as out:
        out.write("$ " + shlex.join(command) + "\n")
        out.flush()
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace")
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            for line in process.stdout:
                out.write(f"[{time.monotonic() - started:7.1f}s] {line}")
                out.flush()
            process.wait()
        finally:
            timer.cancel()
        out.write(f"[{time.monotonic() - started:7.1f}s] exit {process.returncode}\n")
    if time.monotonic() - started >= timeout:
        raise subprocess.TimeoutExpired(command, timeout, output=tail(log))
    return subprocess.CompletedProcess(command, process.returncode, "", tail(log))


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# 1. The base image --------------------------------------------------------------------------------------------------

def base_recipe() -> str:
    return hashlib.sha256(json.dumps([SUITE, MIRRORS, PACKAGES, MMDEBSTRAP_OPTIONS]).encode()).hexdigest()[:12]


def base_tarball() -> Path:
    """The Debian base as a tarball, made once per recipe (about 25 s here) and kept in build/container/."""
    tarball = BUILD_DIR / f"base-{SUITE}-{base_recipe()}.tar"
    if tarball.is_file():
        return tarball
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    for stale in BUILD_DIR.glob(f"base-{SUITE}-*.tar"):
        stale.unlink()
    partial = tarball.with_suffix(".tar.partial")
    log = BUILD_DIR / "mmdebstrap.log"
    command = ["mmdebstrap", *MMDEBSTRAP_OPTIONS, "--include=" + ",".join(PACKAGES), "--format=tar",
               SUITE, str(partial), *MIRRORS]
    done = run_logged(command, log, timeout=900)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise Unavailable(f"mmdebstrap could not make a {SUITE} base from the Debian mirror (exit {done.returncode}; "
                          f"{log}):\n{tail(log, 15)}")
    partial.rename(tarball)
    return tarball


def base_image() -> str:
    """The base tarball imported as BASE_IMAGE; re-imported only when the tarball changed. Checks that it runs."""
    tarball = base_tarball()
    stat = tarball.stat()
    identity = f"{tarball.name}:{stat.st_size}:{int(stat.st_mtime)}"
    found = podman("image", "inspect", "--format", '{{ index .Labels "waf.base.tarball" }}', BASE_IMAGE, check=False)
    if found.returncode != 0 or found.stdout.strip() != identity:
        done = podman("import", "--change", f"LABEL waf.base.tarball={identity}", "--change", 'CMD ["/bin/bash"]',
                      str(tarball), BASE_IMAGE, check=False, timeout=600)
        if done.returncode != 0:
            raise Unavailable(f"podman import of {tarball} failed: {done.stderr.strip()[-2000:]}")
    probe = podman("run", "--rm", "--network", "none", BASE_IMAGE, "python3", "-c", "print('ok')", check=False,
                   timeout=120)
    if probe.returncode != 0 or probe.stdout.strip() != "ok":
        raise Unavailable(f"podman cannot run a container here (runc, cgroupfs, CONTAINERS_CONF={containers_conf()}): "
                          f"exit {probe.returncode}: {(probe.stderr or probe.stdout).strip()[-2000:]}")
    return BASE_IMAGE


# 2. The image -------------------------------------------------------------------------------------------------------

def host_pip_config() -> dict[str, list[str]]:
    """This host's effective pip settings of interest (environment first, then the configuration files)."""
    done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60)
    found: dict[str, list[str]] = {}
    env_first = sorted(done.stdout.splitlines(), key=lambda line: not line.startswith(":env:"))
    for line in env_first:
        name, sep, value = line.partition("=")
        if not sep:
            continue
        key = name.rsplit(".", 1)[-1]
        value = value.strip().strip("'\"")
        if key in PIP_SCALAR_KEYS and key not in found:
            found[key] = [value]
        elif key in PIP_LIST_KEYS:
            found.setdefault(key, [])
            found[key] += [v for v in value.split() if v not in found[key]]
    return found


def pip_build_args(config: dict[str, list[str]] | None = None) -> tuple[list[str], list[str]]:
    """--build-arg PIP_...=... and --volume options that give the build the host's pip sources.

    A local path (or file:// URL) is mounted read-only at /host-pip/<its path>, so the base's own files (its CA
    bundle, say) are never shadowed; network URLs are passed as they are."""
    config = host_pip_config() if config is None else config
    volumes: dict[str, str] = {}

    def translate(value: str) -> str | None:
        scheme = "file://" if value.startswith("file://") else ""
        path = value[len(scheme):] if scheme else value
        if not path.startswith("/"):
            return value  # a network URL or a host name
        if not os.path.exists(path):
            return None
        inside = HOST_PIP_ROOT + os.path.realpath(path)
        # mount the directory of a simple index's root (its file links are relative: ../../files/...)
        mount = os.path.realpath(path)
        if os.path.isdir(mount) and os.path.basename(mount) == "simple":
            mount = os.path.dirname(mount)
        volumes[mount] = HOST_PIP_ROOT + mount
        return scheme + inside

    build_args = []
    for key, values in config.items():
        translated = [t for t in (translate(v) for v in values) if t]
        if translated:
            build_args += ["--build-arg", f"PIP_{key.upper().replace('-', '_')}={' '.join(translated)}"]
    volume_args = [arg for host, inside in volumes.items() for arg in ("--volume", f"{host}:{inside}:ro")]
    return build_args, volume_args


def index_seed() -> Path | None:
    """An index for the build's ingest to start from: unchanged files are not embedded again (about 4 minutes saved
    here). By default the checkout's own .index (CI builds it for `make eval` before `make test`);
    WAF_CONTAINER_SEED_INDEX=<dir> another one, =0 none (the whole corpus is embedded, as a user's build does)."""
    chosen = os.environ.get("WAF_CONTAINER_SEED_INDEX", "")
    if chosen == "0":
        return None
    index = Path(chosen) if chosen else PROJECT_ROOT / ".index"
    return index.resolve() if (index / "CURRENT").is_file() else None


def build_image(base: str, tag: str = TEST_IMAGE, seed: Path | None = None, timeout: float = 3600) -> Path:
    """podman build of the project's Dockerfile on `base`; returns the build log. When this host's pip has sources
    of its own (here: find-links with torch 2.13.0+cpu, local simple indexes), torch comes from them (TORCH_INDEX_URL
    empty: download.pytorch.org is not reachable here); otherwise from the Dockerfile's default, PyTorch's CPU index."""
    config = host_pip_config()
    build_args, volumes = pip_build_args(config)
    if any(config.get(key) for key in ("find-links", "index-url", "extra-index-url")):
        build_args += ["--build-arg", "TORCH_INDEX_URL="]
    if seed is not None:
        build_args += ["--build-arg", "INDEX_SEED=/index-seed"]
        volumes += ["--volume", f"{seed}:/index-seed:ro"]
    log = BUILD_DIR / "build.log"
    podman("build", "--format", "docker", "--layers", "--pull=never", "--file", str(PROJECT_ROOT / "Dockerfile"),
           "--build-arg", f"BASE_IMAGE={base}", *build_args, *volumes,
           "--tag", tag, str(PROJECT_ROOT), timeout=timeout, log=log)
    return log


def prune_superseded_images() -> None:
    """Each build re-tags the test image and leaves the previous one untagged (2.5 GB); on a CI machine that runs
    the test every day they fill the disk. Untagged images older than an hour go; this build's layers (the cache
    of the next build) are in use by the new tag and stay."""
    podman("image", "prune", "--force", "--filter", "until=1h", check=False, timeout=600)


def image_size(tag: str = TEST_IMAGE) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


# 3. Running it ------------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(tag: str = TEST_IMAGE, role: str = "api", network: str | None = None, publish: int | None = 8000,
          env: dict[str, str] | None = None, command: tuple[str, ...] = ()) -> tuple[str, int | None]:
    """Starts the image detached; returns its name and the 127.0.0.1 port that container port `publish` is
    published on (None: not published). The healthcheck is not scheduled (podman does that through systemd, which
    is not here); `podman healthcheck run` runs it."""
    port = free_port() if publish else None
    name = f"waf-assistant-test-{os.getpid()}-{role}"
    podman("rm", "--force", "--ignore", name, check=False)
    options = ["--detach", "--name", name, "--health-interval", "disable"]
    if publish:
        options += ["--publish", f"127.0.0.1:{port}:{publish}"]
    if network:
        options += ["--network", network]
    for key, value in (env or {}).items():
        options += ["--env", f"{key}={value}"]
    podman("run", *options, tag, *command, timeout=120)
    return name, port


def stop(name: str) -> None:
    podman("rm", "--force", "--time", "10", "--ignore", name, check=False, timeout=120)


def logs(name: str) -> str:
    done = podman("logs", name, check=False, timeout=60)
    return done.stdout + done.stderr


def http(method: str, url: str, body: dict | None = None, timeout: float = 30) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


# Asks the API from inside the container (for one without a network): prints "status body", 0 on a connection error.
_EXEC_HTTP = """
import json, sys, urllib.error, urllib.request
method, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
request = urllib.request.Request(url, data=body.encode() or None, method=method,
                                 headers={"content-type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=120) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode())
except OSError as exc:
    print(0, json.dumps(f"{type(exc).__name__}: {exc}"))
"""


def exec_http(name: str, method: str, path: str, body: dict | None = None, absolute: bool = False
              ) -> tuple[int, dict | str]:
    url = path if absolute else f"http://127.0.0.1:8000{path}"
    done = podman("exec", name, "python", "-c", _EXEC_HTTP, method, url, json.dumps(body) if body is not None else "",
                  check=False, timeout=180)
    status, _, raw = done.stdout.strip().partition(" ")
    if done.returncode != 0 or not status.isdigit():
        return -1, (done.stdout + done.stderr).strip()
    try:
        return int(status), json.loads(raw)
    except ValueError:
        return int(status), raw


def wait_for(url: str, name: str, deadline_seconds: float) -> float:
    """Polls `url` until it answers 200; returns the seconds it took. Fails early when the container exits."""
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < deadline_seconds:
        try:
            status, body = http("GET", url, timeout=5)
            if status == 200:
                return time.monotonic() - started
            last = f"{status} {body}"
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
        state = podman("inspect", "--format", "{{.State.Status}}", name, check=False).stdout.strip()
        if state and state != "running":
            raise AssertionError(f"container {name} is {state} before {url} answered; logs:\n{logs(name)[-4000:]}")
        time.sleep(1)
    raise AssertionError(f"{url} did not answer 200 in {deadline_seconds:.0f} s (last: {last}); logs:\n"
                         f"{logs(name)[-4000:]}")


def main(argv: list[str]) -> int:
    step = argv[1] if len(argv) > 1 else "build"
    if missing_tools():
        print(f"missing: {', '.join(missing_tools())} (make container-tools)", file=sys.stderr)
        return 2
    started = time.monotonic()
    base = base_image()
    print(f"base: {base} ({time.monotonic() - started:.0f} s)")
    if step == "base":
        return 0
    started = time.monotonic()
    log = build_image(base, seed=index_seed())
    print(f"image: {TEST_IMAGE}, {image_size() / 1e9:.2f} GB ({time.monotonic() - started:.0f} s; log {log})")
    if step == "run":
        name, port = start()
        print(f"waiting for http://127.0.0.1:{port}/readyz ...")
        wait_for(f"http://127.0.0.1:{port}/readyz", name, 300)
        print(f"API on http://127.0.0.1:{port} (container {name}); Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            stop(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
