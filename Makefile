# Two commands for a fresh machine with Python 3.11:  make run   and   make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

## run: start the server on http://$(HOST):$(PORT) (SQLite + in-memory channel layer unless configured)
run: install
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(BIN)/python manage.py migrate --no-input
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@echo "Open http://$(HOST):$(PORT)/ in your browser."
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

## lint: ruff and the migrations check
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

## test: lint, then the whole test suite
test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .hypothesis test-db.sqlite3*

## bench: quick benchmarks (under 3 minutes); rewrites docs/benchmarks.md and its chart
.PHONY: bench bench-full bench-smoke
bench: install
	$(BIN)/python -m bench

## bench-full: every scenario at full size
bench-full: install
	$(BIN)/python -m bench --full

## bench-smoke: seconds of load against our server; fails on any error (for CI)
bench-smoke: install
	$(BIN)/python -m bench --smoke
