"""Everything the workflow (the Snakefile and workflow/rules/*.smk) takes from dnalens, in one place.

Rule files run shell commands (`dnalens <stage> ...`); at parse time they need only a few checks and
facts, listed here, so the boundary between the workflow and the package is this module alone
(tests/core/test_workflow_api.py checks that no rule file imports anything else of dnalens, and that this
module imports no torch: the Snakefile is parsed on login nodes and in every job).

- config checks, before `validate`: `check_renamed_sections` (a renamed section is named), genome sheets and
  several configfiles (`collect_genomes`, `check_combined_configs`);
- inputs: `SOURCE_ROLES` (which genome keys may be URLs, fetch.smk) and `local_sources` (where a URL lands,
  the same rule `dnalens prepare` follows);
- resources: `family_wants_gpu` (does the model family ask for a GPU);
- settings decided by another section, after `validate`: `run_sae_settings` (`sae.strand_shared: auto` from the
  model's strand pooling);
- the shared dictionary: `DICTIONARY_ROOT` and `dictionary_name` (its directory, named from what changes it);
- the SAE sweep (sae_bench.smk): `sae_bench_plan` (its variants, every bad one an error before any job runs),
  `SAE_BENCH_LAYOUT` (where each variant's outputs go) and `SAE_BENCH_OUTPUTS` (the gather's).
"""

from __future__ import annotations

from dnalens.genome.sheet import check_combined_configs, collect_genomes
from dnalens.genome.sources import SOURCE_ROLES, local_sources
from dnalens.models.base import family_wants_gpu, run_sae_settings
from dnalens.sae.bench_plan import LAYOUT as SAE_BENCH_LAYOUT
from dnalens.sae.bench_plan import OUTPUTS as SAE_BENCH_OUTPUTS
from dnalens.sae.bench_plan import sae_bench_plan
from dnalens.sae.sources import DICTIONARY_ROOT, dictionary_name
from dnalens.settings import check_renamed_sections

__all__ = [
    "DICTIONARY_ROOT",
    "SAE_BENCH_LAYOUT",
    "SAE_BENCH_OUTPUTS",
    "SOURCE_ROLES",
    "check_combined_configs",
    "check_renamed_sections",
    "collect_genomes",
    "dictionary_name",
    "family_wants_gpu",
    "local_sources",
    "run_sae_settings",
    "sae_bench_plan",
]
