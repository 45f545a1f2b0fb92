# dnalens: `make demo` and `make test` set everything up themselves on a fresh Debian machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
# Extra pip arguments, e.g. PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_EXTRA ?=
CONFIGS := $(wildcard config/*.yaml config/genomes/*.yaml)

.PHONY: demo bench-sae test test-slurm lint dryrun setup bedtools aragorn chromium clean help gpu-check wheelhouse

help:
	@echo "make demo   - set up .venv, run the offline demo workflow (config/config.yaml)"
	@echo "make test   - set up .venv, run pytest, snakemake --lint and a dry run of every config"
	@echo "make bench-sae - SAE Bench: six SAE variants on V. cholerae chr2 side by side (config/sae_bench.yaml)"
	@echo "make test-slurm - run the workflow through a local single-node SLURM cluster (root, Debian)"
	@echo "make wheelhouse - (with internet) download what a bare CUDA torch host lacks into wheelhouse/"
	@echo "make gpu-check  - (on that host, offline) install wheelhouse/, run tests + workflow + benchmarks on the GPU"

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt $(PIP_EXTRA) -e '.[dev,hf]'
	touch $@

setup: $(BIN)/.installed bedtools aragorn chromium

# Headless Chromium renders report.html in `make test` (tests/report/test_browser.py). Optional: without
# it (not root, no apt-get) that test is skipped with the reason and everything else runs.
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
	    && ! command -v google-chrome >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium with apt-get (renders report.html in the tests)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	      || echo "note: could not install chromium; the report browser test will be skipped"; \
	  else \
	    echo "note: chromium is not installed and this is not a root Debian shell: the report browser test is skipped"; \
	    echo "  (install it with: sudo apt-get install chromium)"; \
	  fi; \
	fi

# The ARAGORN executable finds intron-split tRNAs for `annotation: predict` (pyaragorn cannot). Optional:
# without it those tRNAs are missed with a warning and the test that needs it is skipped with the reason.
aragorn:
	@if ! command -v aragorn >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing aragorn with apt-get (intron-split tRNAs for annotation: predict)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq aragorn) >/dev/null \
	      || echo "note: could not install aragorn; intron-split tRNAs will not be predicted"; \
	  else \
	    echo "note: aragorn is not installed and this is not a root Debian shell: intron-split tRNAs are not predicted"; \
	    echo "  (install it with: sudo apt-get install aragorn | conda install -c bioconda aragorn)"; \
	  fi; \
	fi

bedtools:
	@if ! command -v bedtools >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bedtools with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bedtools) >/dev/null; \
	  else \
	    echo "error: bedtools is not installed and this is not a root Debian shell." >&2; \
	    echo "  install it with one of: sudo apt-get install bedtools | conda install -c bioconda bedtools | module load bedtools" >&2; \
	    exit 1; \
	  fi; \
	fi

demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --workflow-profile workflow/profiles/default --configfile config/config.yaml
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dnalens explain --region CP001236.1:20001-30000 --genome-dir results/vcholerae_chr2 --out results/vcholerae_chr2/explain
	@$(BIN)/python -m dnalens.where_outputs config/config.yaml

# SAE Bench (config/sae_bench.yaml): train six SAE variants on the demo's V. cholerae chr2, score them the same
# way and choose one by the declared rule -> results/sae_bench/ (sae_bench.tsv, report.html); then print it.
bench-sae: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --workflow-profile workflow/profiles/default sae_bench --configfile config/sae_bench.yaml
	$(BIN)/python benchmarks/sae_bench.py --report-only --tables-only --workdir .

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -m "not slurm"
	$(MAKE) --no-print-directory lint dryrun

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check --quiet . && echo "ruff: clean (lint, import order, format)"
	$(BIN)/snakemake --lint --configfile config/config.yaml > .lint.txt 2>&1 || { cat .lint.txt; exit 1; }
	@if grep -qE "^(Lints for|Rule|Snakefile)" .lint.txt; then cat .lint.txt; echo "snakemake --lint found problems" >&2; rm -f .lint.txt; exit 1; fi
	@rm -f .lint.txt; echo "snakemake --lint: clean"

dryrun: $(BIN)/.installed
	@for c in $(CONFIGS); do \
	  echo "dry run: $$c"; \
	  PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake -n --quiet rules --cores 1 --configfile $$c || exit 1; \
	done

# Real SLURM: the tests start a single-node cluster on 127.0.0.1 (scripts/slurm/local_cluster.sh: root +
# apt-get) and stop it again; elsewhere they skip with the reason. -s prints the measured times.
test-slurm: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -s -m slurm tests/workflow

# Bare CUDA PyTorch hosts without internet (docs/GPU_CHECK.md): build the wheelhouse where PyPI is
# reachable, carry it with the checkout, run the <= 8 min check there. Neither target touches .venv.
wheelhouse:
	scripts/build_wheelhouse.sh wheelhouse

gpu-check:
	WHEELHOUSE=$(CURDIR)/wheelhouse scripts/gpu_check.sh

clean:
	rm -rf results logs .snakemake
