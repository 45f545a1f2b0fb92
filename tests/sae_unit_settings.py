"""The `sae:` values these unit tests were written and measured with (the schema's defaults before they became
the SAE sweep's recommendation: TopK, no base lookup, strands read as one row). A test that depends on one of
them pins it here, so a change of the recommended defaults does not silently change what a test measures."""

from dnalens.sae.settings import SaeSettings

UNIT_SAE = {
    "architecture": "topk",
    "k": 32,
    "lr": 0.0005,
    "tokens": 2_000_000,
    "batch_size": 4096,
    "base_lookup": 0,
    "strand_shared": False,
    "aux_k_coef": 0.03125,
}


def unit_settings(**changes) -> SaeSettings:
    return SaeSettings(**{**UNIT_SAE, **changes})
