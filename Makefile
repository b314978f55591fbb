# The two commands of the README: `make demo` (the whole DAG on the mock survey) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
CORES ?= 2

.PHONY: venv demo report readme-results lint test

venv: $(VENV)/.installed

# Re-installs whenever the pinned requirements change.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --requirement requirements.txt
	touch $@

demo: venv
	$(SNAKEMAKE) --configfile config/demo.yaml --cores $(CORES)
	$(MAKE) report CONFIG=config/demo.yaml

# The README's results block, from the demo's summary and models (run `make demo` first).
readme-results: venv
	$(SNAKEMAKE) --configfile $(or $(CONFIG),config/demo.yaml) --cores $(CORES) readme_results
	$(PY) -m galcnn.readme results/tables/readme_results.md README.md

report: venv
	$(SNAKEMAKE) --configfile $(or $(CONFIG),config/config.yaml) --report results/report.html

# Style and workflow checks (configured in pyproject.toml); part of `make test`, so of CI.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check .
	$(SNAKEMAKE) --lint
	$(SNAKEMAKE) --lint --configfile config/demo.yaml

test: lint
	$(PY) -m pytest
