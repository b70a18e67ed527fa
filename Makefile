# The two front-door commands: `make demo` and `make test` (see README.md).
# Everything they need is installed here: a Python virtual environment (shared by every checkout on this
# machine, keyed by the lock file, so the multi-GB torch wheel is installed once per environment) and the
# Apache Kafka broker jars (resolved with mvn by `streamrec kafka fetch`, cached under ~/.cache/streamrec).
SHELL := /bin/bash
PYTHON ?= python3.11
LOCK_HASH := $(shell sha256sum requirements.lock | cut -c1-12)
VENV ?= $(HOME)/.cache/streamrec/venv-$(LOCK_HASH)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The Compose Specification JSON schema the compose test validates against: taken from the docker-compose
# 1.29.2 wheel, which ships it (compose/config/compose_spec.json), so nothing third-party is committed.
COMPOSE_SCHEMA := $(HOME)/.cache/streamrec/compose-spec/compose_spec.json

.PHONY: demo test venv kafka-jars bench clean

$(STAMP): requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (streamrec needs Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	touch $(STAMP)

# The project itself is re-linked into the shared venv on every run (editable, no deps: a second).
venv: $(STAMP)
	@$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . >/dev/null

kafka-jars: venv
	$(BIN)/streamrec kafka fetch

demo: kafka-jars
	$(BIN)/streamrec demo

$(COMPOSE_SCHEMA): | venv
	mkdir -p $(dir $(COMPOSE_SCHEMA))
	tmp=$$(mktemp -d) && $(BIN)/python -m pip download -q --no-deps docker-compose==1.29.2 -d $$tmp && \
	$(BIN)/python -c "import glob, sys, zipfile; z = zipfile.ZipFile(glob.glob(sys.argv[1] + '/*.whl')[0]); open(sys.argv[2], 'wb').write(z.read('compose/config/compose_spec.json'))" $$tmp $(COMPOSE_SCHEMA) && \
	rm -rf $$tmp

test: kafka-jars $(COMPOSE_SCHEMA)
	STREAMREC_COMPOSE_SCHEMA=$(COMPOSE_SCHEMA) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: kafka-jars
	$(BIN)/python bench/replay_wikipedia.py

clean:
	rm -rf .pytest_cache build *.egg-info
