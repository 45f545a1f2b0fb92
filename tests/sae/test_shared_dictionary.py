"""One dictionary for several genomes: equal token shares per step, per-genome held-out blocks, pooled quality
that equals the token-weighted per-genome figures, a name that follows the settings, and the refusals."""

import json

import numpy as np
import pytest
import torch

from dnalens import cli
from dnalens.errors import InputError
from dnalens.formats.window_table import Window, write_windows_bed
from dnalens.sae.sources import SampleSource, dictionary_name, equal_shares, sample_sources

SETTINGS = {
    "expansion": 2,
    "k": 4,
    "tokens": 6_000,
    "batch_size": 200,
    "lr": 3e-3,
    "holdout_fraction": 0.25,
    "holdout_blocks": 1,
    "device": "cpu",
    "checkpoint_every": 20,
    "loss_windows": 4,
    "min_ablation_gap": None,
    "base_lookup": 0,
    "strand_shared": False,
    "replicate": False,
}


def _genome(tmp, name, length, seed, spec, trim=2):
    """A random genome in 100-nt windows on both strands, its activations extracted at blocks.1."""
    from dnalens.sample.stage import ExtractSettings, run_sample

    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), length))
    d = tmp / name
    d.mkdir()
    (d / "genome.fa").write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, length, 60)) + "\n")
    windows = [Window("chr1", s, s + 100, strand, f"w{s}{strand}") for s in range(0, length, 100) for strand in "+-"]
    write_windows_bed(windows, d / "windows.bed")
    run_sample(
        d / "genome.fa",
        d / "windows.bed",
        {**spec, "trim": trim},
        ExtractSettings(layers=("blocks.1",), shard_tokens=700),
        d / "acts",
    )
    return SampleSource(name, str(d / "acts" / "blocks.1"), str(d / "windows.bed"), str(d / "genome.fa"))


@pytest.fixture(scope="module")
def genomes(tmp_path_factory):
    from dnalens.models.tiny import TinyConfig, TinyEvo
    from dnalens.models.training import save_model_dir

    tmp = tmp_path_factory.mktemp("shared_dictionary")
    torch.manual_seed(0)
    save_model_dir(TinyEvo(TinyConfig(d_model=16, block_types=("se", "mr"), n_heads=2)), tmp / "model")
    spec = {"family": "tiny", "path": str(tmp / "model"), "device": "cpu", "rc_pool": "none"}
    long = _genome(tmp, "long", 1200, 1, spec)
    short = _genome(tmp, "short", 400, 2, spec)
    return tmp, spec, long, short


def _rows(source: SampleSource) -> set[bytes]:
    from dnalens.formats.activation_shards import iter_shards

    return {np.asarray(row, np.float32).tobytes() for _m, arr in iter_shards(source.activations) for row in arr}


def test_equal_shares():
    assert equal_shares(10, 3) == [4, 3, 3] and sum(equal_shares(1023, 7)) == 1023
    assert equal_shares(4, 4) == [1, 1, 1, 1]


def test_every_step_takes_an_equal_share_of_each_genome(genomes):
    """A short genome weighs as much as a long one: rows [0, 32) of each step come from one genome's training
    windows, rows [32, 64) from the other's, and the short genome's rows recur (it is cycled, epoch after epoch)."""
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.sae.data import holdout_mask, source_batches

    _, _, long, short = genomes
    held = [holdout_mask(read_windows_bed(s.windows), 0.25, 1) for s in (long, short)]
    batches = source_batches([long, short], [~h for h in held], [None, None], batch_size=64, seed=0)
    long_rows, short_rows = _rows(long), _rows(short)
    seen_short = []
    for _ in range(30):
        batch = next(batches).numpy()
        assert batch.shape[0] == 64
        assert all(row.tobytes() in long_rows for row in batch[:32])
        assert all(row.tobytes() in short_rows for row in batch[32:])
        seen_short.extend(row.tobytes() for row in batch[32:])
    assert len(seen_short) > len(set(seen_short))  # 960 draws from the short genome's ~450 training rows


def test_one_genome_streams_exactly_as_a_per_genome_sae(genomes):
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.sae.data import holdout_mask, source_batches, training_batches

    _, _, long, _ = genomes
    use = ~holdout_mask(read_windows_bed(long.windows), 0.25, 1)
    mixed = source_batches([long], [use], [None], batch_size=64, seed=3)
    alone = training_batches(long.activations, use, batch_size=64, seed=3)
    for _ in range(12):
        assert torch.equal(next(mixed), next(alone))


def _train(tmp, sources, out, extra=()):
    args = ["train-sae", "--settings", json.dumps(SETTINGS), "--out", str(out), *extra]
    args += ["--activations", *[s.activations for s in sources], "--windows", *[s.windows for s in sources]]
    args += ["--fasta", *[s.fasta for s in sources], "--genomes", *[s.name for s in sources]]
    return cli.main(args)


def _quality(tmp, sae, sources, out):
    args = ["sae-quality", "--sae", str(sae), "--settings", json.dumps(SETTINGS), "--out", str(out)]
    args += ["--activations", *[s.activations for s in sources], "--windows", *[s.windows for s in sources]]
    args += ["--genomes", *[s.name for s in sources]]
    assert cli.main(args) == 0
    return json.loads(out.read_text())


def test_shared_dictionary_trains_on_both_and_pools_quality(genomes):
    tmp, _, long, short = genomes
    assert _train(tmp, [long, short], tmp / "dictionary") == 0
    meta = json.loads((tmp / "dictionary" / "cfg.json").read_text())["metadata"]["dnalens"]
    per_genome = {g["name"]: g for g in meta["genomes"]}
    assert set(per_genome) == {"long", "short"}
    assert per_genome["long"]["held_out_windows"] == 6 and per_genome["short"]["held_out_windows"] == 2
    assert meta["training_windows"] == 18 + 6 and meta["held_out_windows"] == 8

    a = _quality(tmp, tmp / "dictionary", [long], tmp / "long.json")
    b = _quality(tmp, tmp / "dictionary", [short], tmp / "short.json")
    pooled = _quality(tmp, tmp / "dictionary", [long, short], tmp / "pooled.json")
    assert pooled["genomes"] == ["long", "short"] and a["genomes"] == ["long"]
    assert pooled["evaluation_windows"] == a["evaluation_windows"] + b["evaluation_windows"]
    n = pooled["n_tokens"]
    assert n == a["n_tokens"] + b["n_tokens"]  # every held-out token is inside the equal budgets here
    # pooled over both genomes' held-out rows = the token-weighted per-genome figures (independent sums)
    for key in ("l0", "mse"):
        weighted = (a[key] * a["n_tokens"] + b[key] * b["n_tokens"]) / n
        assert pooled[key] == pytest.approx(weighted, rel=1e-5)
    # a latent is dead in the pool only if it is dead in both genomes
    assert pooled["dead_latents"] <= min(a["dead_latents"], b["dead_latents"])


def test_genomes_read_differently_are_refused(genomes, capsys):
    tmp, spec, long, _ = genomes
    other = _genome(tmp, "trimmed_more", 400, 3, spec, trim=5)
    assert _train(tmp, [long, other], tmp / "refused") == 2
    err = capsys.readouterr().err
    assert "'trimmed_more'" in err and "'long'" in err and "trim_start" in err and "sae.scope: genome" in err
    assert not (tmp / "refused").exists()


def test_flag_counts_must_agree():
    with pytest.raises(InputError, match="--windows names 1 values but --activations names 2"):
        sample_sources(["a/activations/x", "b/activations/x"], ["a.bed"])
    assert [s.name for s in sample_sources(["results/g1/activations/blocks.6"], ["w.bed"])] == ["g1"]


def test_a_loaded_dictionary_of_another_width_names_both(genomes, capsys):
    """Fused encode with an SAE whose d_in is not the layer's width: one error with both numbers."""
    tmp, spec, long, short = genomes
    wide = dict(SETTINGS)
    assert _train(tmp, [long], tmp / "for_width") == 0
    from dnalens.sae.io import load_sae, save_sae
    from dnalens.sae.topk import TopKSAE

    sae = load_sae(tmp / "for_width")
    narrow = TopKSAE(d_in=sae.d_in // 2, d_sae=8, k=2)
    save_sae(narrow, tmp / "narrow")
    code = cli.main(
        [
            "encode",
            "--sae",
            str(tmp / "narrow"),
            "--model",
            json.dumps({**spec, "trim": 2}),
            "--layer",
            "blocks.1",
            "--fasta",
            short.fasta,
            "--windows",
            short.windows,
            "--settings",
            json.dumps(wide),
            "--extract-settings",
            json.dumps({"layers": ["blocks.1"], "shard_tokens": 700}),
            "--out",
            str(tmp / "narrow_codes"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and str(sae.d_in) in err and str(sae.d_in // 2) in err, err
    assert not (tmp / "narrow_codes").exists()


BASE = {
    "genomes": {"a": {"fasta": "a.fa", "annotation": "predict"}, "b": {"genbank": "b.gb"}},
    "model": {"family": "tiny", "path": None, "name": None, "device": "auto", "batch_size": 8, "trim": 256},
    "training": {"steps": 100},
    "windows": {"length": 1024, "stride": 512, "shards": 4},
    "extract": {"sample_coverage": 0.95, "threads": 0, "layers": ["blocks.6"]},
    "sae": {"k": 8, "lr": 0.004, "device": "auto", "replicate": True, "scope": "shared", "quality_tokens": 10},
}


def _with(section, key, value):
    config = json.loads(json.dumps(BASE))
    config[section][key] = value
    return config


def test_dictionary_name_follows_what_the_dictionary_is():
    name = dictionary_name(BASE, "blocks.6")
    assert name.startswith("tiny_bundled-blocks.6-") and name == dictionary_name(
        json.loads(json.dumps(BASE)), "blocks.6"
    )
    # where or how fast it is made: the same dictionary
    for section, key, value in [
        ("sae", "device", "cpu"),
        ("sae", "replicate", False),
        ("sae", "quality_tokens", 99),
        ("model", "device", "cpu"),
        ("model", "batch_size", 64),
        ("windows", "shards", 8),
        ("extract", "threads", 2),
    ]:
        assert dictionary_name(_with(section, key, value), "blocks.6") == name, (section, key)
    # what it is trained on or how: another dictionary
    others = {
        dictionary_name(_with(section, key, value), "blocks.6")
        for section, key, value in [
            ("sae", "k", 16),
            ("sae", "lr", 0.001),
            ("model", "trim", 0),
            ("windows", "stride", 1024),
            ("extract", "sample_coverage", 0.5),
            ("training", "steps", 200),
            ("genomes", "c", {"fasta": "c.fa"}),
        ]
    }
    assert len(others) == 7 and name not in others
    assert dictionary_name(BASE, "blocks.5") != name


def test_streams_read_shards_a_pool_at_a_time(genomes, monkeypatch):
    """A shared dictionary's streams read at most `read_rows` rows of a shard at once (a whole shard per genome
    grew the six-genome training job by ~0.4 GB per genome); the rows and their count per epoch are unchanged."""
    import dnalens.sae.data as data
    from dnalens.formats.window_table import read_windows_bed

    _, _, long, _ = genomes
    use = ~data.holdout_mask(read_windows_bed(long.windows), 0.25, 1)
    real, reads = data.iter_shards, []

    class Recording:
        def __init__(self, array):
            self.array = array

        def __getitem__(self, rows):
            reads.append(len(rows))
            return self.array[rows]

    monkeypatch.setattr(data, "iter_shards", lambda d: ((m, Recording(a)) for m, a in real(d)))
    whole = data.training_batches(long.activations, use, batch_size=50, seed=0, pool_tokens=100)
    rows_whole = {r.tobytes() for _ in range(20) for r in next(whole).numpy()}
    assert max(reads) > 100  # a whole shard's training rows in one read
    reads.clear()
    pieces = data.training_batches(long.activations, use, batch_size=50, seed=0, pool_tokens=100, read_rows=100)
    rows_pieces = {r.tobytes() for _ in range(20) for r in next(pieces).numpy()}
    assert max(reads) <= 100
    assert rows_pieces <= _rows(long) and len(rows_pieces) == len(rows_whole)  # 1,000 draws cover the same rows
