"""features.tsv columns and the "What it does" block from a hand-made effects table."""

import numpy as np
import pandas as pd

from dnalens.report.effects_view import feature_columns, what_it_does_html


def table():
    return pd.DataFrame(
        [
            dict(latent=4, role="annotated", delta_bits_fire=0.05, z_vs_controls=6.0, effect_verdict="larger than controls",
                 controls="7+9", n_fire_positions=120, n_windows=3, control_delta_bits_mean=0.01,
                 control_delta_bits_sd=0.005, random_delta_bits=0.002, delta_logp_next_codon_pos1=-0.1,
                 delta_logp_next_codon_pos2=0.0, delta_logp_next_codon_pos3=0.01),
            dict(latent=7, role="matched_control", delta_bits_fire=0.0123),
            dict(latent=9, role="matched_control", delta_bits_fire=0.0077),
            dict(latent=4, role="random_direction", delta_bits_fire=0.002),
        ]
    )  # fmt: skip


def test_feature_columns_take_the_tested_rows_only():
    cols = feature_columns(table())
    assert cols.to_dict("records") == [
        {
            "latent": 4,
            "ablation_delta_bits": 0.05,
            "ablation_vs_control": 6.0,
            "ablation_verdict": "larger than controls",
        }
    ]


def test_block_names_the_numbers_and_draws_every_control():
    html = what_it_does_html(table(), 4)
    assert "+0.0500 bits" in html and "larger than controls" in html and "z = 6.00" in html
    assert html.count("<circle") == 2 and "control 0.0123" in html and "control 0.0077" in html
    assert "codon positions 1 / 2 / 3: -0.1000 / +0.0000 / +0.0100" in html
    assert what_it_does_html(table(), 5) == "" and np.isfinite(table()["delta_bits_fire"]).all()
