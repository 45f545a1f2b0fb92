#!/usr/bin/env bash
# Runs once inside the new conda env (snakemake --sdm conda): install this dnalens checkout into it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
python -m pip install --quiet --no-deps --no-build-isolation -e "$repo"
