# Two commands on a fresh machine with Python 3.11+ and make: `make demo` and `make test`.
# uv is bootstrapped into .tools/ when it is not already on PATH; the environment lives in .venv.

SHELL := /bin/bash
PYTHON ?= python3
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
# Never fetch a Python build: use the interpreter this machine has.
export UV_PYTHON_DOWNLOADS := never

.PHONY: setup demo test fuzz test-postgres test-celery lint bench airflow clean

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

setup: $(VENV)/.synced

demo: setup  ## generate a synthetic force and run the pipeline on the embedded SQLite warehouse
	$(BIN)/vcp demo

test: setup  ## the test suite, the same examples every run (PostgreSQL too when VCP_TEST_POSTGRES_URL is set)
	$(BIN)/pytest

fuzz: setup  ## the hypothesis tests with fresh random examples, 25 times as many; pin each failure as an @example
	VCP_HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m hypothesis

test-postgres: setup  ## the suite with the warehouse tests also on the local PostgreSQL
	VCP_TEST_POSTGRES_URL=$${VCP_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/pytest

test-celery: setup  ## a real CeleryExecutor night (API server, scheduler, DAG processor, two Celery workers; the machine's Redis and PostgreSQL) equals dag.test()'s, a few minutes
	$(BIN)/pytest tests/celery -m celery

lint: setup
	$(BIN)/ruff check .

# The scale benchmarks run for an hour and fill ~30 GB each: run them on their own (docs/performance.md).
SCALE_BENCHMARKS := benchmarks/bench_scale.py benchmarks/bench_first_load.py

bench: setup  ## benchmark scripts (not the scale ones); figures go in docs/performance.md
	@for script in $(filter-out $(SCALE_BENCHMARKS),$(wildcard benchmarks/bench_*.py)); do echo "== $$script"; $(BIN)/python $$script || exit 1; done

airflow: setup  ## Airflow's UI on http://localhost:8080 with this project's DAGs (the demo's home and runs after make demo)
	$(BIN)/python -m vcpipeline.orchestration.standalone

clean:
	rm -rf var out .pytest_cache .ruff_cache .hypothesis
