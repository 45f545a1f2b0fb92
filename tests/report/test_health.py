"""SAE health in words: measured numbers with their bars, "not measured" where sae_quality.json lacks a key."""

from dnalens.report.health import sae_health


def test_health_reads_the_dictionary_block():
    quality = {
        "l0": 100.0,
        "d_in": 256,
        "loss": {"loss_recovered": None, "reason": "no --fasta/--model given"},
        "dictionary": {
            "unit": "strand state",
            "d_in": 128,
            "l0": 38.4,
            "l0_per_d_in": 0.3,
            "dead_fraction": 0.02,
            "dense_fraction": 0.25,
            "init_cosine_median": 0.97,
            "seed_agreement": 0.0,
            "seed_agreement_cosine": 0.8,
            "health": {
                "pass": False,
                "checks": {
                    "l0_per_d_in": {"value": 0.3, "bar": 0.1, "rule": "<=", "pass": False},
                    "init_cosine_median": {"value": 0.97, "bar": 0.5, "rule": "<", "pass": False},
                },
            },
        },
    }
    got = dict(sae_health(quality))
    assert (
        got["sparsity (L0)"].startswith("38.4 latents active per strand state")
        and "0.30 × the input width (128)" in got["sparsity (L0)"]
        and "FAILS the bar <= 0.1" in got["sparsity (L0)"]
    )
    assert got["dense latents"].startswith("25.0% of latents")
    assert (
        "cosine 0.97" in got["movement from initialisation"]
        and "FAILS the bar < 0.5" in got["movement from initialisation"]
    )
    assert got["seed agreement"].startswith("0.0% of latents reappear (decoder cosine ≥ 0.8)")
    assert got["loss recovered"] == "not measured (no --fasta/--model given)"
    # what was checked, by name, with its verdict: two checks ran and failed, seed agreement 0 % < 30 %
    assert got["overall"].startswith("0 of 3 checks pass; FAILS L0 / d_in ≤ 0.1; median decoder cosine")
    assert "seed agreement ≥ 30%" in got["overall"] and "every" not in got["overall"]


def test_absent_keys_read_not_measured():
    got = dict(sae_health({"l0": 12.0, "d_in": 64, "dead_fraction": 0.0, "loss": {"loss_recovered": 0.91}}))
    assert got["sparsity (L0)"].startswith("12.0 latents active per nucleotide") and "0.19 ×" in got["sparsity (L0)"]
    assert got["dense latents"] == "not measured"
    assert got["movement from initialisation"] == "not measured"
    assert got["seed agreement"] == "not measured (no replicate dictionary: sae.replicate)"
    assert got["loss recovered"].startswith("0.910 of the loss gap")
    assert sae_health({}) == []


def test_loss_recovered_not_meaningful_says_why():
    note = "not meaningful: zero-ablating the layer changes the loss by +0.0244 nats/token (< sae.min_ablation_gap 0.1)"
    got = dict(sae_health({"l0": 8.0, "d_in": 128, "loss": {"loss_recovered": None, "loss_recovered_note": note}}))
    assert got["loss recovered"] == note


def _passing(seed: float) -> dict:
    checks = {
        name: {"value": 0.0, "bar": bar, "rule": rule, "pass": True}
        for name, bar, rule in (
            ("l0_per_d_in", 0.1, "<="),
            ("dead_fraction", 0.1, "<="),
            ("dense_fraction", 0.05, "<="),
            ("init_cosine_median", 0.5, "<"),
        )
    }
    return {
        "dictionary": {"seed_agreement": seed, "seed_agreement_cosine": 0.8, "health": {"pass": True, "checks": checks}}
    }


def test_overall_names_every_check_and_never_claims_more():
    got = dict(sae_health(_passing(0.34)))
    assert got["overall"] == (
        "5 of 5 checks pass (L0 / d_in ≤ 0.1; dead latents ≤ 0.1; dense latents ≤ 0.05; median decoder cosine to "
        "its initialisation < 0.5; seed agreement ≥ 30%). Loss recovered is reported, not judged."
    )
    # the sae stage's four checks pass, but seed agreement is below a stricter bar: not a clean bill
    low = dict(sae_health(_passing(0.34), seed_agreement_bar=0.5))
    assert low["overall"].startswith("4 of 5 checks pass") and "FAILS seed agreement ≥ 50%" in low["overall"]
    assert "is BELOW the bar of 50%" in low["seed agreement"]
    no_replicate = dict(
        sae_health({**_passing(0.0), "dictionary": {**_passing(0.0)["dictionary"], "seed_agreement": None}})
    )
    assert no_replicate["overall"].endswith("not judged: seed agreement ≥ 30%. Loss recovered is reported, not judged.")
    assert not any("passes every" in text for _, text in sae_health(_passing(0.9)))
