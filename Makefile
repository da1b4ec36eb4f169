# One entry point for the whole stack: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.lock | cut -d' ' -f1)

.PHONY: venv run test test-slow test-all lint format sample report docs sql bench lock clean

venv: $(STAMP)

$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $@

run: venv
	$(PY) -m pipelines.run

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# `make test` stays within ~5 minutes on 2 cores; tests marked `slow` (real servers, kills,
# large archives) run with `make test-slow`, and CI (.ci/run) runs both
test: lint
	$(PY) -m pytest -n 2 -q -m "not slow"

test-slow: venv
	$(PY) -m pytest -n 2 -q -m slow

test-all: test test-slow

# the notebook reads the job's own warehouse setting (.dlt/config.toml, WAREHOUSE__DATABASE, ...)
report: run
	mkdir -p data/reports
	cd notebooks && ../$(PY) -m jupyter nbconvert \
		--to html --execute --no-input --template-file report.html.j2 \
		callback_requests_report.ipynb --output-dir ../data/reports
	@echo "report: data/reports/callback_requests_report.html"

# the model catalog: a static site (opens from disk) from transforms/ and the current warehouse
docs: venv
	$(PY) -m pipelines.docs --out data/docs

# the venv's DuckDB CLI on the job's warehouse (file or lake), read-only
sql: venv
	$(PY) -m pipelines.sql

# BENCH_RUNS=acdef leaves out (b), dlt's defaults (~10 GB of memory at 20,000 deliveries)
BENCH_EVENTS ?= 20000
BENCH_RUNS ?= abcdef
bench: venv
	$(PY) -m bench.benchmark --events $(BENCH_EVENTS) --runs $(BENCH_RUNS) \
		$(if $(wildcard data/bench/results-20000.json),--rss-baseline data/bench/results-20000.json) \
		--output data/bench/results-$(BENCH_EVENTS).md

sample: venv
	$(PY) -m devtools.generate --events 3000 --out data/archive --seed 42 --corrupt --start 2026-09-01 --days 61 --gzip-share 1.0 --overwrite

lock:
	rm -rf /tmp/lock-venv && $(PYTHON) -m venv /tmp/lock-venv
	/tmp/lock-venv/bin/pip install -q -e '.[dev]'
	/tmp/lock-venv/bin/pip freeze --exclude-editable > requirements.lock

# the warehouse and what the job keeps beside it, from the job's own database setting
clean:
	if [ -x $(PY) ]; then $(PY) -m pipelines.clean; else echo "no $(VENV): warehouse files left alone"; fi
	rm -rf $(VENV)
