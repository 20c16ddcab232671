# Quick start: `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CLI := $(VENV)/bin/waf-assistant
DOCS ?= ../shared/waf-docs/well-architected

.PHONY: install index run serve chat test test-fast lint browser postgres container-tools image eval bench bench-scale loadtest check-corpus clean

install: $(STAMP)

# Reinstall only when the project's dependencies change, so later runs start at once.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Incremental: builds the default index from corpus/ when missing, a no-op when nothing changed.
index: install
	$(CLI) ingest

run: index
	$(VENV)/bin/streamlit run app/ui/streamlit_app.py

# The HTTP API on 127.0.0.1:8000 (OpenAPI at /docs); HOST=0.0.0.0 to listen beyond this machine.
HOST ?= 127.0.0.1
PORT ?= 8000
serve: index
	$(CLI) serve --host $(HOST) --port $(PORT)

chat: index
	$(CLI) chat

# The browser test drives Debian's Chromium; install it (as root, as CI runs) when it is missing.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

# The review history's tests start a PostgreSQL server of their own; install Debian's when it is missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

# The container test (tests/test_container.py) builds a Debian base with mmdebstrap and the image with podman, run
# with runc (crun fails on this machine's cgroups); install Debian's when they are missing (as root, as CI runs).
container-tools:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v mmdebstrap >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap)

test: install browser postgres container-tools
	$(PY) -m pytest

# The fast lane (a minute or two): no browser, no subprocess start-ups, no Azure AI Search fake, no PostgreSQL,
# no container build.
test-fast: install
	$(PY) -m pytest -m "not browser and not slow and not azure and not postgres and not container"

# The image (docs/container.md), with podman or else docker; the default base is python:3.11-slim and torch comes from
# PyTorch's CPU index. E.g. make image IMAGE=waf-assistant:dev BUILD_ARGS="--build-arg EXTRAS=postgres,azure"
ENGINE ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
IMAGE ?= waf-assistant:latest
BUILD_ARGS ?=
image:
	$(ENGINE) build $(if $(filter podman,$(notdir $(ENGINE))),--format docker,) $(BUILD_ARGS) -t $(IMAGE) .

lint: install
	$(VENV)/bin/ruff check core index ingest app eval tests

eval: index
	$(PY) -m eval

bench: index
	$(PY) -m eval.bench --docs $(DOCS)

# Retrieval at 1k/10k/100k chunks (synthetic, from the index's own vectors): flat vs HNSW, bm25s vs rank-bm25.
bench-scale: index
	@$(PY) -c "import rank_bm25" 2>/dev/null || $(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m eval.bench_scale

# Load test (docs/operations.md): locust against a server it starts on a free port with a temporary data directory.
# LLM=flaky: the LLM is a local fake that refuses half of its calls. Writes eval/results/loadtest[-flaky].json.
USERS ?= 8
DURATION ?= 60
LLM ?= extractive
loadtest: index
	@$(PY) -c "import locust" 2>/dev/null || $(PY) -m pip install --quiet -e '.[loadtest]'
	$(PY) -m eval.loadtest --users $(USERS) --duration $(DURATION) --llm $(LLM)

check-corpus: install
	$(PY) -m ingest.corpus_check corpus $(if $(wildcard $(DOCS)),--docs $(DOCS),)

clean:
	rm -rf .index .pytest_cache
