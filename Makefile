# The two commands of the README: `make demo` (the whole DAG on the mock survey) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
CORES ?= 2

.PHONY: venv demo report figures lint test

# The options of the run whose results are in this folder (results/.workspace.json: its config
# files, and its bundle if restored; the paper's config when none is recorded), so `make report`
# and `make figures` continue that run and never plan another configuration over it.
RUN_OPTIONS = $(if $(CONFIG),--configfile $(CONFIG),$(shell $(PY) -m galcnn.workspace options))

venv: $(VENV)/.installed

# Re-installs whenever the pinned requirements change.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --requirement requirements.txt
	touch $@

demo: venv
	$(SNAKEMAKE) --configfile config/demo.yaml --cores $(CORES)
	$(MAKE) report CONFIG=config/demo.yaml

report: venv
	$(SNAKEMAKE) $(RUN_OPTIONS) --report results/report.html

figures: venv
	$(SNAKEMAKE) $(RUN_OPTIONS) --cores $(CORES) figures

# Style and workflow checks (configured in pyproject.toml); part of `make test`, so of CI.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check .
	$(SNAKEMAKE) --lint
	$(SNAKEMAKE) --lint --configfile config/demo.yaml

test: lint
	$(PY) -m pytest
