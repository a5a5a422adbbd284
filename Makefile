# Two commands for a fresh machine with Python 3.11:  make run   and   make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
SECRET_KEY_FILE ?= .secret_key

.PHONY: run test lint install install-dev lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Everything installed comes from the locks, every file checked against its hash. The locks
# list every dependency, so pip resolves nothing itself (--no-deps). The pip that installs is
# the one venv gives the interpreter: nothing is fetched before the hashes are checked.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps

# The server's packages only (make run, production).
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements.txt
	touch $@

# Tests, checks and benchmarks on top (requirements-dev.txt agrees with requirements.txt).
$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.dev-installed

## lock: re-compile both locks from requirements*.in, keeping every version that still fits;
##       UPGRADE=1 moves everything to its newest allowed version, UPGRADE_PACKAGE=name just one
LOCK := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) \
	$(foreach p,$(UPGRADE_PACKAGE),--upgrade-package $(p))
lock: $(VENV)/.dev-installed
	$(LOCK) -o requirements.txt requirements.in
	$(LOCK) -o requirements-dev.txt requirements-dev.in

## run: start the server on http://$(HOST):$(PORT) (SQLite + in-memory channel layer unless configured),
##      debug off unless DJANGO_DEBUG=1, signed with DJANGO_SECRET_KEY or else this machine's own key
RUN_ENV := DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}
run: install $(SECRET_KEY_FILE)
	$(RUN_ENV) $(BIN)/python manage.py migrate --no-input
	$(RUN_ENV) $(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@echo "Open http://$(HOST):$(PORT)/ in your browser."
	$(RUN_ENV) $(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# A secret key of this machine's own for make run, made once and kept (git ignores it): sessions
# and seat tokens in them survive a restart, and nothing secret is in the repository.
$(SECRET_KEY_FILE): | $(BIN)/python
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $@

## lint: ruff and the migrations check
lint: install-dev
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
bench: install-dev
	$(BIN)/python -m bench

## bench-full: every scenario at full size
bench-full: install-dev
	$(BIN)/python -m bench --full

## strength: the computer's levels against each other and two references, level 5 against an
##           exact solver; rewrites docs/strength.md (about an hour on two cores)
.PHONY: strength strength-solver book
strength: install-dev
	$(BIN)/python -m bench.strength

## strength-solver: only level 5 against the exact solver, 60 positions per band of discs
##           played, its budget in processor time; rewrites that section of docs/strength.md
##           (about 6 minutes)
strength-solver: install-dev
	$(BIN)/python -m bench.strength --solver-only --cpu-clock --workers 1

## book: generate level 5's opening book (games/core/engines/connect_four_book.txt.gz) with the solver
book: install-dev
	$(BIN)/python -m bench.opening_book

## bench-smoke: seconds of load against our server; fails on any error (for CI)
bench-smoke: install-dev
	$(BIN)/python -m bench --smoke
