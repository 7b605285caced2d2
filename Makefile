# e-Order. `make run` serves the demo; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
PORT ?= 5000

.PHONY: run test lint security format translations extract-messages clean screenshots page-weight

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

translations: $(VENV)/.runtime
	$(VENV)/bin/pybabel compile -d marketplace/translations

extract-messages: $(VENV)/.dev
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--ignore-dirs ".* __pycache__ node_modules" \
		-o marketplace/translations/messages.pot .
	$(VENV)/bin/pybabel update -i marketplace/translations/messages.pot -d marketplace/translations \
		--no-fuzzy-matching --ignore-obsolete

run: $(VENV)/.runtime translations
	mkdir -p instance
	$(FLASK) db-upgrade
	$(FLASK) seed-demo --if-empty
	$(FLASK) catalog sync-search
	EORDER_DEMO=1 $(FLASK) run --host 127.0.0.1 --port $(PORT)

# docs/screenshots/: every main page of the demo site at 390 and 1280 px, in Indonesian.
screenshots: $(VENV)/.dev translations
	$(PY) docs/screenshots/capture.py

# Bytes transferred per main page on an empty cache (goal: under 150 KB; bench/README.md).
page-weight: $(VENV)/.dev translations
	$(PY) bench/page_weight.py

lint: $(VENV)/.dev security
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Static security analysis: fails on any high-severity finding.
security: $(VENV)/.dev
	$(VENV)/bin/bandit -c pyproject.toml -r marketplace catalog -lll

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: $(VENV)/.dev translations lint
	@echo "== tests on SQLite =="
	env -u TEST_DATABASE_URL $(PY) -m pytest
	@url=$$($(PY) -m tests.postgres_url); \
	if [ -n "$$url" ]; then \
		echo "== tests on PostgreSQL ($$url) =="; \
		TEST_DATABASE_URL=$$url $(PY) -m pytest; \
	elif [ -n "$$REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL is required but does not answer on 127.0.0.1:5432"; exit 1; \
	else \
		echo "== PostgreSQL not available: skipped the PostgreSQL run =="; \
	fi

clean:
	rm -rf $(VENV) instance/*.sqlite* .pytest_cache
