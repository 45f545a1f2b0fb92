"""Evo 2-width rehearsal (config/genomes/evo2_rehearsal.yaml) on the bundled plasmid, on CPU, real snakemake.

An Evo 2-shaped stand-in (vortex names, d_model 4,096, seeded random weights built at run time) read through
the Evo2Adapter, and a Goodfire-shaped SAE (W [4,096, 32,768], k = 64 from the file name, written at run
time by rule standin_sae) loaded by the Goodfire loader: shapes, trimming, the tag and BatchTopK's budget at
Evo 2 width. The config's windows.max_tokens keeps it to 4 windows; widths are never reduced.

Targets: the whole workflow through report.html (32,768 latents in its searchable table, <= 5 MB), ablation
effects and steered generation included (issue 31: ids of all 32,768 latents, both strands read in one pass each,
each job's peak RSS from its benchmark file under the rules' mem_mb); benchmarks/rehearsal.py runs it too and
prints peak RSS per rule and bytes per token per file.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONFIG = REPO / "config" / "genomes" / "evo2_rehearsal.yaml"
GENOME = "evo2_rehearsal"
D_MODEL, D_SAE, K, TRIM = 4096, 32768, 64, 15
INTERVENTIONS = ("effects/effects.tsv", "effects/steer.tsv")
JOB_MEMORY_MB = 4000  # effects.smk / steer.smk resources mem_mb: what a cluster job of either rule may use
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("rehearsal")
    config = yaml.safe_load(CONFIG.read_text())
    config["genomes"][GENOME]["genbank"] = str(REPO / config["genomes"][GENOME]["genbank"])
    for section in ("model", "sae", "probe"):  # CPU here even where CUDA is visible (gpu_check runs it there)
        config.setdefault(section, {})["device"] = "cpu"
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/{GENOME}/{t}" for t in ("sae_quality.json", "probe", "report.html", *INTERVENTIONS)]
    command = [
        str(BIN / "snakemake"),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--cores",
        "2",
        *targets,
        "--configfile",
        str(work / "config.yaml"),
    ]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    return work, config


def test_goodfire_shaped_sae_and_codes_at_evo2_width(rehearsal):
    import torch

    from dnalens.formats.buffer import ActivationBuffer

    work, config = rehearsal
    sae_file = work / config["sae"]["path"]
    state = torch.load(sae_file, map_location="cpu", weights_only=True, mmap=True)
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        "W": (D_MODEL, D_SAE),
        "b_enc": (D_SAE,),
        "b_dec": (D_MODEL,),
    }
    assert sae_file.stat().st_size >= D_MODEL * D_SAE * 4  # 512 MiB of float32, written at run time
    quality = json.loads((work / "results" / GENOME / "sae_quality.json").read_text())
    assert (quality["d_in"], quality["d_sae"], quality["k"], quality["layer"]) == (D_MODEL, D_SAE, K, "blocks.2")

    buffer = ActivationBuffer.open(work / "results" / GENOME / "buffer")
    windows = buffer.windows
    lengths = (windows["end"] - windows["start"]).to_numpy()
    assert len(windows) == 4 and set(windows["strand"]) == {"+", "-"}  # max_tokens 4,096: 2 loci x 2 strands
    # the tag's tokens and the first 15 positions of every window are never stored
    assert buffer.n_tokens == int((lengths - TRIM).sum()) and buffer.n_features == D_SAE
    counts = np.diff(buffer.codes.indptr)
    # BatchTopK keeps k x positions values per window (one window per encode call), not k per position
    for start, end in zip(windows["token_start"], windows["token_end"]):
        assert counts[start:end].sum() == K * (end - start)
    assert counts.max() > K > counts.min()
    report = work / "results" / GENOME / "report.html"
    assert 0 < report.stat().st_size <= 5_000_000 and 'id="latent-search"' in report.read_text()
    features = (work / "results" / GENOME / "features.tsv").read_text().splitlines()
    assert len(features) == 1 + D_SAE  # one row per latent, all of them in the report's searchable table


def test_codes_equal_an_independent_encode_of_the_stand_in(rehearsal):
    """Window 0 again, outside the workflow: the seeded stand-in's activations (trimmed) through a numpy
    BatchTopK with the .pt's weights give the codes the buffer holds."""
    import torch
    from pyfaidx import Fasta

    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.models.base import load_model

    work, config = rehearsal
    buffer = ActivationBuffer.open(work / "results" / GENOME / "buffer")
    w = buffer.windows.iloc[0]
    assert w["strand"] == "+" and w["end"] <= 9609
    seq = str(Fasta(str(work / "results" / GENOME / "genome.fa"))[w["contig"]][int(w["start"]) : int(w["end"])])
    adapter = load_model({**config["model"], "device": "cpu", "dtype": "float32"})
    x = adapter.activations([seq], ["blocks.2"])["blocks.2"][0][TRIM:]
    x = x.astype(np.float16).astype(np.float32)  # as stored for the SAE (float16 activations)
    state = torch.load(work / config["sae"]["path"], map_location="cpu", weights_only=True, mmap=True)
    acts = np.maximum(x @ state["W"].numpy() + state["b_enc"].numpy(), 0)
    budget = K * len(x)
    flat = acts.ravel()
    keep = np.argpartition(-flat, budget)[:budget]
    want = np.zeros_like(flat)
    want[keep] = flat[keep]
    want = want.reshape(acts.shape)

    got = buffer.codes[int(w["token_start"]) : int(w["token_end"])].toarray()
    assert got.shape == want.shape == (1024 - TRIM, D_SAE)
    same = np.logical_and(got > 0, want > 0).sum()
    assert same >= 0.995 * budget  # only ties at the top-k boundary may differ (float16 inputs and outputs)
    both = (got > 0) & (want > 0)
    np.testing.assert_allclose(got[both], want[both], rtol=5e-3, atol=5e-3)


def _max_rss_mb(work: Path, rule: str) -> float:
    with open(work / "logs" / GENOME / f"{rule}.benchmark.tsv") as handle:
        return float(next(csv.DictReader(handle, delimiter="\t"))["max_rss"])


def test_effects_at_evo2_width(rehearsal):
    """Ablating two latents (one the dictionary's last id) on the held-out locus, both strands, each read in one
    pass (rc_pool none): every intervention fires where the buffer's codes fire, and the edit at the stand-in's
    last block moves only the prediction at the edited position."""
    import pandas as pd

    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.formats.effects import EFFECTS_COLUMNS

    work, config = rehearsal
    out = work / "results" / GENOME / "effects"
    table = pd.read_csv(out / "effects.tsv", sep="\t")
    assert set(EFFECTS_COLUMNS) <= set(table.columns)
    tested = config["effects"]["latents"]
    annotated = table[table["role"] == "annotated"]
    assert sorted(annotated["latent"]) == sorted(tested) and D_SAE - 1 in tested
    assert table["latent"].between(0, D_SAE - 1).all() and set(table["passes"]) == {"forward"}
    controls = table[table["role"] == "matched_control"]
    assert len(table[table["role"] == "random_direction"]) == len(tested)
    assert len(controls) == len(set(controls["latent"])) <= config["effects"]["n_controls"] * len(tested)
    assert not set(controls["latent"]) & set(tested)
    windows = pd.read_csv(
        out / "windows.bed", sep="\t", header=None, names=["contig", "start", "end", "n", "s", "strand"]
    )
    assert len(windows) == config["effects"]["n_windows"] and set(windows["strand"]) == {"+", "-"}
    assert len(windows[["contig", "start", "end"]].drop_duplicates()) == 1  # one locus, both strands

    buffer = ActivationBuffer.open(work / "results" / GENOME / "buffer")
    bw = buffer.windows
    rows = [
        int(bw.index[(bw["start"] == w.start) & (bw["end"] == w.end) & (bw["strand"] == w.strand)][0])
        for w in windows.itertuples()
    ]
    codes = buffer.codes.tocsc()
    for r in table.itertuples():  # the effects stage's re-encode fires where the buffer's codes fire
        column = codes[:, int(r.latent)].toarray().ravel()
        spans = [column[bw["token_start"][w] : bw["token_end"][w]] for w in rows]
        # scored: predictions of a next base, so a window's last kept position (nothing after it) is not
        assert r.n_fire_positions == sum(int((s[:-1] > 0).sum()) for s in spans), r
        assert r.n_windows == sum(int((s > 0).any()) for s in spans)
        assert r.n_positions == r.n_windows * (1024 - TRIM)
        assert np.isfinite(r.delta_bits_fire) and abs(r.delta_bits_elsewhere) <= 1e-6
    assert (annotated["n_fire_positions"] > 0).all()
    rss = _max_rss_mb(work, "effects")
    assert rss < JOB_MEMORY_MB, f"effects peak RSS {rss:.0f} MB"


def test_steering_at_evo2_width(rehearsal):
    """Steering a latent with its random-direction control and the unsteered row (a full forward of the stand-in
    per base): one row and one FASTA record per generated sequence, each steer.length bases, the figure, and peak
    RSS under mem_mb."""
    import pandas as pd
    from pyfaidx import Fasta

    from dnalens.formats.steer import STEER_COLUMNS

    work, config = rehearsal
    out = work / "results" / GENOME / "effects"
    steer = config["steer"]
    table = pd.read_csv(out / "steer.tsv", sep="\t")
    assert list(table.columns) == list(STEER_COLUMNS)
    n_rows = steer["n_sequences"] * (1 + 2 * len([s for s in steer["strengths"] if s != 0]) * len(steer["latents"]))
    assert len(table) == n_rows and table["id"].is_unique
    assert set(table["latent"]) == set(steer["latents"]) and table["latent"].between(0, D_SAE - 1).all()
    assert table.groupby("control")["strength"].apply(set).to_dict() == {
        "none": set(steer["strengths"]),
        "random": set(steer["strengths"]),
        "unsteered": {0},
    }
    assert (table["prompt_length"] == steer["prompt_length"]).all() and (table["length"] == steer["length"]).all()
    fasta = Fasta(str(out / "steer.fa"))
    assert sorted(fasta.keys()) == sorted(table["id"])
    assert all(len(fasta[i]) == steer["length"] and set(str(fasta[i][:])) <= set("ACGT") for i in table["id"])
    assert table["gc"].between(0, 1).all() and (table["latent_activation"] >= 0).all()
    assert (out / "steer_figures" / f"f{steer['latents'][0]}.svg").stat().st_size > 0
    rss = _max_rss_mb(work, "steer")
    assert rss < JOB_MEMORY_MB, f"steer peak RSS {rss:.0f} MB"
