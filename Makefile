# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint schema report setup clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/kehu migrate
	$(BIN)/kehu seed --if-empty
	$(BIN)/kehu token --demo
	$(BIN)/kehu serve

# The KPI report test draws `kehu report` in Debian's chromium (never playwright's downloads).
browser:
	test -x /usr/bin/chromium || (DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium)

test: $(STAMP) browser
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/customers_page.py
	$(BIN)/python bench/authz_overhead.py
	$(BIN)/python bench/audit_reads.py
	$(BIN)/python bench/seed_speed.py
	$(BIN)/python bench/complaints.py
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/contacts.py
	$(BIN)/python bench/care.py
	$(BIN)/python bench/cadence.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

schema: $(STAMP)
	$(BIN)/kehu export-schema

# The KPI report of the demo data (`make report PERIOD=2026-Q3 SCOPE=branch:SH01 AS=SUP0001`).
PERIOD ?= $(shell date -u +%Y-%m)
SCOPE ?= bank
AS ?= HO0001
report: $(STAMP)
	$(BIN)/kehu migrate
	$(BIN)/kehu seed --if-empty
	$(BIN)/kehu report --period $(PERIOD) --scope $(SCOPE) --as $(AS) --out var/report.html

clean:
	rm -rf $(VENV) var
