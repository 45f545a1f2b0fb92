"""The whole stage on a tiny random model and a synthetic strand-shared SAE; bad input; the files and figure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from dnalens.errors import InputError
from dnalens.formats.steer import STEER_COLUMNS, read_steer, write_steer
from dnalens.models.base import load_model
from dnalens.sae.strand_shared import StrandSharedSAE
from dnalens.sae.topk import TopKSAE
from dnalens.steer.figures import PANELS, latent_figure_svg
from dnalens.steer.inputs import Prompt, SteeredLatent, choose_latents, heldout_windows
from dnalens.steer.readouts import kmer_counts
from dnalens.steer.settings import SteerSettings, check_settings
from dnalens.steer.stage import SteerInputs, build_edit, plan_rows, run_steer

SETTINGS = SteerSettings(strengths=(-4.0, 0.0, 4.0), n_sequences=2, length=40, prompt_length=20)


@pytest.fixture(scope="module")
def inputs(tiny_model_dir):
    adapter = load_model({"family": "tiny", "path": str(tiny_model_dir), "device": "cpu", "rc_pool": "concat"})
    torch.manual_seed(0)
    sae = StrandSharedSAE(TopKSAE(16, 6, k=2)).eval()
    rng = np.random.default_rng(0)
    prompts = [Prompt(f"c:{i}-{i + 20}(+)", "".join(rng.choice(list("ACGT"), 20))) for i in range(2)]
    latents = [SteeredLatent(1, "CDS", True, 25.0), SteeredLatent(8, "", False, 1.0)]
    genome = "".join(rng.choice(list("ACGT"), 2000))
    return SteerInputs(adapter, sae, "blocks.2", prompts, latents, kmer_counts(genome), trim_end=5)


def test_run_steer_rows_ids_and_controls(inputs):
    table, seqs = run_steer(inputs, SETTINGS)
    assert list(table.columns) == list(STEER_COLUMNS)
    # per latent: 2 strengths steered (0 is the unsteered control in mode add) + 2 random + unsteered, x 2 seqs
    assert len(table) == 2 * (2 + 2 + 1) * 2 and table["id"].is_unique and set(table["id"]) == set(seqs)
    assert all(len(s) == 40 for s in seqs.values())
    unsteered = table[table["control"] == "unsteered"]
    by_latent = [unsteered[unsteered["latent"] == j].sort_values("seed")["id"].map(seqs).tolist() for j in (1, 8)]
    assert by_latent[0] == by_latent[1]  # the plain model, listed under each latent
    steered = table[(table["control"] == "none") & (table["latent"] == 1)]
    assert set(steered["strength"]) == {-4.0, 4.0} and set(steered["seed"]) == {0, 1}
    assert (table.loc[table["control"] == "none", "latent_activation"] >= 0).all()
    assert table["loglik_unsteered"].between(-20, 0).all()


def test_each_row_writes_strength_x_unit_x_decoder_row(inputs):
    plan = plan_rows(inputs.latents, SETTINGS)
    edit = build_edit(plan, inputs, 16, SETTINGS)
    atom8 = inputs.sae.strand_sae.W_dec[8 % 6].detach()  # latent 8 = atom 2 read on the other pass
    for i, (control, j, s) in enumerate(zip(plan["control"], plan["latent"], plan["strength"])):
        unit = {1: 25.0, 8: 1.0}.get(int(j), 0.0)
        row = inputs.sae.strand_sae.W_dec[1].detach() if j == 1 else atom8
        if control == "unsteered":
            assert edit.delta[i].abs().max() == 0
        elif control == "none":
            torch.testing.assert_close(edit.delta[i], s * unit * row)
        else:  # random direction, same norm, not the decoder row
            assert float(edit.delta[i].norm()) == pytest.approx(abs(s) * unit * float(row.norm()), rel=1e-5)
            assert abs(float(torch.nn.functional.cosine_similarity(edit.delta[i], row, dim=0))) < 0.9


def test_clamp_mode_keeps_strength_zero_as_an_ablation_row(inputs):
    plan = plan_rows(inputs.latents, SteerSettings(strengths=(0.0, 2.0), n_sequences=1, mode="clamp"))
    ablate = plan[(plan["control"] == "none") & (plan["strength"] == 0)]
    assert len(ablate) == 2 and set(ablate["mode"]) == {"clamp"}
    table, _ = run_steer(inputs, SteerSettings(strengths=(0.0, 2.0), n_sequences=1, length=30, mode="clamp"))
    assert set(table.loc[table["control"] == "none", "mode"]) == {"clamp"}


def test_bad_input_names_the_setting(inputs):
    with pytest.raises(InputError, match="steer.strengths"):
        check_settings(SteerSettings(strengths=()), n_features=12, trim_start=0, window_length=1000)
    with pytest.raises(InputError, match="steer.latents names 12"):
        check_settings(SteerSettings(latents=(3, 12)), n_features=12, trim_start=0, window_length=1000)
    with pytest.raises(InputError, match="model.trim"):
        check_settings(SteerSettings(prompt_length=100), n_features=12, trim_start=256, window_length=1000)
    with pytest.raises(InputError, match="steer.prompt_length"):
        check_settings(SteerSettings(prompt_length=2000), n_features=12, trim_start=0, window_length=1000)
    masked = SimpleNamespace(
        **{**vars(inputs), "adapter": SimpleNamespace(causal=False, one_token_per_nucleotide=True)}
    )
    with pytest.raises(InputError, match="autoregressive"):
        run_steer(masked, SETTINGS)


def test_choose_latents_train_ranked_one_per_atom():
    features = pd.DataFrame(
        {
            "feature": [0, 1, 2, 6, 9],
            "mean_active": [1.0, 2.0, 0.0, 1.5, 1.0],
            "label": ["CDS", "gene", None, "CDS_antisense", None],
            "annotated": [True, True, False, True, False],
            "label_auroc_train": [0.7, 0.9, 0.5, 0.95, 0.5],
            "auroc_train": [0.7, 0.9, 0.99, 0.95, 0.8],
        }
    )
    # 6 = atom 0 of a 6-atom strand-shared dictionary: taken first, so 0 (same atom) is skipped
    got = choose_latents(features, SteerSettings(strongest=3), atoms=6)
    assert [l.latent for l in got] == [6, 1, 9]
    assert got[0].unit == 1.5 and got[2].label == "" and not got[2].annotated
    with pytest.raises(InputError, match="never fires"):
        choose_latents(features, SteerSettings(latents=(2,)))


def test_heldout_windows_take_the_prompt_at_the_read_start():
    from dnalens.formats.window_table import Window

    windows = [Window("c", 0, 100, "+", "a"), Window("c", 0, 100, "-", "b"), Window("c", 150, 250, "+", "c")]
    blocks = [("c", 0, 60), ("c", 150, 300)]
    # + reads from 0 (inside [0, 60)); - reads from 100 down (prompt [70, 100): outside)
    assert [w.name for w in heldout_windows(windows, blocks, 30)] == ["a", "c"]


def test_files_round_trip_and_figure(inputs, tmp_path):
    table, seqs = run_steer(inputs, SETTINGS)
    paths = write_steer(table, seqs, {"rows": len(table)}, tmp_path / "steer.tsv")
    back = read_steer(paths["tsv"])
    assert back["id"].tolist() == table["id"].tolist()
    fasta = paths["fasta"].read_text().split(">")[1:]
    records = {r.split("\n", 1)[0]: r.split("\n", 1)[1].replace("\n", "") for r in fasta}
    assert records == seqs
    svg = latent_figure_svg(table, 1)
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert all(any(title == t for t in titles) for _, title in PANELS)


def test_report_card_block(inputs):
    from dnalens.report.steer_view import steer_card, steer_sentence

    table, _ = run_steer(inputs, SETTINGS)
    assert steer_card(table, 99) is None and steer_card(None, 1) is None
    card = steer_card(table, 1, latent_figure_svg(table, 1))
    assert card.startswith('<div class="steer">') and "<svg" in card
    top = table[(table["latent"] == 1) & (table["control"] == "none") & (table["strength"] == 4.0)]
    assert f"its own activation {top['latent_activation'].mean():.3g}" in steer_sentence(table, 1)
