# Quick start: `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CLI := $(VENV)/bin/waf-assistant
DOCS ?= ../shared/waf-docs/well-architected

.PHONY: install index run chat test bench check-corpus clean

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
	$(CLI) chat

test: install
	$(PY) -m pytest

bench: install
	$(PY) -m eval.bench --docs $(DOCS)

check-corpus: install
	$(PY) -m ingest.corpus_check corpus $(if $(wildcard $(DOCS)),--docs $(DOCS),)

clean:
	rm -rf .index .pytest_cache
