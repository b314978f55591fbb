# One command per task. `make demo` runs the whole DAG on the mock survey; the targets after it
# run one task of the finished run in this folder with that run's recorded configuration
# (results/.workspace.json; the paper's when none is recorded), or CONFIG=... given explicitly:
#   make figures      make report      make apply CATALOG=new.csv      make export
# Everything runs the venv's snakemake, so nothing needs to be on the PATH. `make test` runs every
# test; `make test-fast` the unit tests alone (no Snakemake runs, benchmarks or whole CNN fits).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
CORES ?= 2
RUN = $(SNAKEMAKE) $(RUN_OPTIONS)

.PHONY: venv demo reproduce figures report apply export bundle cluster cluster-envs lint readme-results test test-fast

# The options of the run whose results are in this folder (results/.workspace.json: its config
# files, and its bundle if restored; the paper's config when none is recorded), so the targets
# after `make demo` continue that run and never plan another configuration over it; CONFIG=...
# chooses explicitly.
RUN_OPTIONS = $(if $(filter command line environment,$(origin CONFIG)),--configfile $(CONFIG),$(or $(shell $(PY) -m galcnn.pipeline.workspace options 2>/dev/null),--configfile config/config.yaml))

venv: $(VENV)/.installed

# Re-installs whenever the pinned requirements change. pip shows its progress: the first install
# puts about 6.5 GB on disk on Linux (torch with its CUDA libraries) and takes minutes.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	@echo "Installing the pinned requirements into $(VENV) (on Linux about 6.5 GB with the CUDA libraries)..."
	$(PY) -m pip install --requirement requirements.txt
	@echo "Installing galcnn itself (editable: import galcnn works from any folder, edits take effect at once)..."
	$(PY) -m pip install --no-deps --editable .
	touch $@

demo: venv
	$(MAKE) reproduce report CONFIG=config/demo.yaml
	@echo "Done. Open results/report.html; next: make figures|report|apply|export|bundle CONFIG=config/demo.yaml"

# The whole DAG of CONFIG: the paper's run on real SDSS by default (GPU; see README).
reproduce: venv
	$(RUN) --cores $(CORES)

figures: venv
	$(RUN) --cores $(CORES) figures

# The README's results block, from the demo's summary and models (run `make demo` first).
readme-results: venv
	$(SNAKEMAKE) --configfile $(or $(CONFIG),config/demo.yaml) --cores $(CORES) readme_results
	$(PY) -m galcnn.report.readme results/tables/readme_results.md README.md

report: venv
	$(RUN) --report results/report.html
	@echo "Report: $(abspath results/report.html)"

# New galaxies: make apply CATALOG=my_galaxies.csv [CONFIG=...] -> results/apply/my_galaxies.{parquet,csv}
apply: venv
	@test -n "$(CATALOG)" || { echo "make apply needs CATALOG=<file.csv or .parquet with ra, dec>"; exit 2; }
	$(RUN) --cores $(CORES) apply --config apply='{catalog: $(CATALOG), name: $(basename $(notdir $(CATALOG)))}'

export: venv
	$(RUN) --cores $(CORES) export

bundle: venv
	$(RUN) --cores 1 bundle

# On a SLURM login node (slurm/profile.yaml); SDM=conda runs each job in its stage's conda env,
# built beforehand by `make cluster-envs` on a node with internet access.
cluster: venv
	$(RUN) --profile slurm $(if $(SDM),--sdm $(SDM))

cluster-envs: venv
	$(RUN) --profile slurm --sdm conda --conda-create-envs-only

# Style and workflow checks (configured in pyproject.toml); part of `make test`, so of CI.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check .
	# --lint reads the rules and runs nothing, so a finished run of another config in this folder
	# (results/.workspace.json) must not stop it.
	$(SNAKEMAKE) --lint --config allow_config_change=true
	$(SNAKEMAKE) --lint --configfile config/demo.yaml --config allow_config_change=true

test: lint
	$(PY) -m pytest

test-fast: venv
	$(PY) -m pytest -m "not e2e and not slurm"
