# Two entry points, both self-contained on a fresh machine (see README "Quick start").
#   make quickstart   set up .venv and run studies/quickstart.yaml on SQLite (nas.db)
#   make test         set up .venv, then ruff, mypy and the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nas-installed

.PHONY: quickstart test setup lint plotly-bundle

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

setup: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/nas run studies/quickstart.yaml

test: $(STAMP)
	$(BIN)/ruff check nas tests benchmarks alembic
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check nas tests benchmarks alembic
	$(BIN)/ruff format --check nas tests alembic
	$(BIN)/mypy

# The dashboard's partial plotly.js bundle (nas/dashboard/static/vendor/plotly/, committed):
# rebuilt from the versions pinned in scripts/plotly_bundle/package-lock.json. Needs node and npm;
# development time only (the dashboard never downloads anything). See that folder's README.md.
plotly-bundle:
	cd scripts/plotly_bundle && npm ci --no-audit --no-fund --ignore-scripts && node build.mjs
