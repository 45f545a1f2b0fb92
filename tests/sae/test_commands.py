"""`dnalens train-sae` / `encode` / `sae-quality` end to end on a random tiny model's real activations,
one forward pass (rc_pool none) and strand-pooled (concat: both passes spliced)."""

import json

import numpy as np
import pytest
import torch
from sae_unit_settings import UNIT_SAE

from dnalens import cli
from dnalens.formats.window_table import Window, write_windows_bed

TRIM = 3


@pytest.fixture(scope="module", params=["concat", "none"])
def workdir(request, tmp_path_factory):
    """A random 2-block tiny model, a 1.2 kb genome in 12 windows x 2 strands, extracted activations."""
    from dnalens.models.tiny import TinyConfig, TinyEvo
    from dnalens.models.training import save_model_dir
    from dnalens.sample.stage import ExtractSettings, run_sample

    tmp = tmp_path_factory.mktemp(f"sae_cli_{request.param}")
    torch.manual_seed(0)
    save_model_dir(TinyEvo(TinyConfig(d_model=16, block_types=("se", "mr"), n_heads=2)), tmp / "model")
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 1200))
    (tmp / "genome.fa").write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, 1200, 60)) + "\n")
    windows = [Window("chr1", s, s + 100, strand, f"w{s}{strand}") for s in range(0, 1200, 100) for strand in "+-"]
    write_windows_bed(windows, tmp / "windows.bed")
    spec = {"family": "tiny", "path": str(tmp / "model"), "device": "cpu", "trim": TRIM, "rc_pool": request.param}
    run_sample(
        tmp / "genome.fa",
        tmp / "windows.bed",
        spec,
        ExtractSettings(layers=("blocks.1",), shard_tokens=900),
        tmp / "acts",
    )
    kept = 100 - TRIM * (2 if request.param == "concat" else 1)  # the reverse pass is trimmed too
    return tmp, spec, kept, 32 if request.param == "concat" else 16


def test_train_encode_quality(workdir):
    tmp, spec, kept, d_in = workdir
    acts = str(tmp / "acts" / "blocks.1")
    settings = json.dumps(
        {
            **UNIT_SAE,
            "expansion": 4,
            "k": 4,
            "tokens": 40_000,
            "batch_size": 512,
            "lr": 3e-3,
            "holdout_fraction": 0.25,
            "holdout_blocks": 1,
            "device": "cpu",
            "checkpoint_every": 20,
            "loss_windows": 4,
            "min_ablation_gap": None,
        }
    )
    assert (
        cli.main(
            [
                "train-sae",
                "--activations",
                acts,
                "--windows",
                str(tmp / "windows.bed"),
                "--out",
                str(tmp / "sae"),
                "--settings",
                settings,
            ]
        )
        == 0
    )
    cfg = json.loads((tmp / "sae" / "cfg.json").read_text())
    assert cfg["architecture"] == "topk" and cfg["d_in"] == d_in and cfg["d_sae"] == 4 * d_in and cfg["k"] == 4
    assert cfg["metadata"]["hook_name"] == "blocks.1" and cfg["metadata"]["dnalens"]["held_out_windows"] == 6
    assert not (tmp / "sae.checkpoint").exists()  # removed once the SAE is saved

    assert (
        cli.main(
            [
                "sae-quality",
                "--sae",
                str(tmp / "sae"),
                "--activations",
                acts,
                "--windows",
                str(tmp / "windows.bed"),
                "--fasta",
                str(tmp / "genome.fa"),
                "--model",
                json.dumps(spec),
                "--settings",
                settings,
                "--out",
                str(tmp / "quality.json"),
            ]
        )
        == 0
    )
    q = json.loads((tmp / "quality.json").read_text())
    assert q["held_out"] and q["evaluation_windows"] == 6
    assert q["n_tokens"] == 6 * kept and q["l0"] <= 4
    assert 0.0 <= q["fvu"] < 0.5 and 0.0 <= q["dead_fraction"] <= 1.0
    loss = q["loss"]
    assert loss["windows"] == 4 and loss["passes"] == 4 * (2 if spec["rc_pool"] == "concat" else 1)
    assert loss["tokens"] == loss["passes"] * kept and loss["ce_zero"] != loss["ce_clean"]
    assert loss["loss_recovered"] == pytest.approx(
        1 - (loss["ce_sae"] - loss["ce_clean"]) / (loss["ce_zero"] - loss["ce_clean"])
    )
    assert loss["ablation_gap"] == pytest.approx(loss["ce_zero"] - loss["ce_clean"])
    assert "loss_recovered_note" not in loss
    _check_dictionary(tmp / "sae", q, d_in, 4 * d_in, seed=0)

    # a gap bar above this model's ablation gap: loss recovered is withheld, the CE values and the gap stay
    strict = json.dumps({**json.loads(settings), "min_ablation_gap": abs(loss["ablation_gap"]) + 1.0})
    assert (
        cli.main(
            [
                "sae-quality",
                "--sae",
                str(tmp / "sae"),
                "--activations",
                acts,
                "--windows",
                str(tmp / "windows.bed"),
                "--fasta",
                str(tmp / "genome.fa"),
                "--model",
                json.dumps(spec),
                "--settings",
                strict,
                "--out",
                str(tmp / "quality_strict.json"),
            ]
        )
        == 0
    )
    gated = json.loads((tmp / "quality_strict.json").read_text())["loss"]
    assert gated["loss_recovered"] is None and gated["ce_sae"] == pytest.approx(loss["ce_sae"])
    assert f"{loss['ablation_gap']:+.4f}" in gated["loss_recovered_note"]

    assert (
        cli.main(
            [
                "encode",
                "--sae",
                str(tmp / "sae"),
                "--activations",
                acts,
                "--out",
                str(tmp / "codes"),
                "--settings",
                settings,
            ]
        )
        == 0
    )
    manifest = json.loads((tmp / "codes" / "manifest.json").read_text())
    assert manifest["total_tokens"] == 24 * kept and manifest["trim_start"] == TRIM
    assert manifest["total_nnz"] <= 4 * manifest["total_tokens"]


def _check_dictionary(sae_dir, q, d_in, d_sae, seed):
    """sae_quality.json's dictionary block against the saved decoders, recomputed here by brute force."""
    from safetensors.torch import load_file

    d = q["dictionary"]
    ref = load_file(str(sae_dir / "dnalens_dictionary.safetensors"))
    w_dec = load_file(str(sae_dir / "sae_weights.safetensors"))["W_dec"]
    assert d["d_in"] == d_in and d["d_sae"] == d_sae and d["l0_per_d_in"] == pytest.approx(d["l0"] / d_in)
    # the saved initialisation is the seeded one (build_sae: unit-norm Gaussian rows from the seed)
    init = torch.randn(d_sae, d_in, generator=torch.Generator().manual_seed(seed))
    assert torch.allclose(ref["W_dec_init"], init / init.norm(dim=1, keepdim=True), atol=1e-6)
    unit = lambda w: (w / np.linalg.norm(w, axis=1, keepdims=True)).astype(np.float64)  # noqa: E731
    a, b, r = unit(w_dec.numpy()), unit(ref["W_dec_init"].numpy()), unit(ref["W_dec_replicate"].numpy())
    assert d["init_cosine_median"] == pytest.approx(float(np.median((a * b).sum(1))), abs=1e-5)
    best = np.array([max(float(row @ other) for other in r) for row in a])
    assert d["seed_agreement"] == pytest.approx(float(np.mean(best >= 0.8)))
    checks = d["health"]["checks"]
    assert checks["l0_per_d_in"]["pass"] == (d["l0_per_d_in"] <= 0.1)
    assert checks["dead_fraction"]["value"] == d["dead_fraction"] and checks["init_cosine_median"]["bar"] == 0.5
    assert d["health"]["pass"] == all(c["pass"] for c in checks.values())
    meta = json.loads((sae_dir / "cfg.json").read_text())["metadata"]["dnalens"]["dictionary"]
    assert meta["init_cosine_median"] == pytest.approx(d["init_cosine_median"], abs=1e-5)
    assert meta["seed_agreement"] == pytest.approx(d["seed_agreement"]) and meta["replicate_seed"] == seed + 1


def test_replicate_in_its_own_job_equals_one_process(workdir, capsys):
    """The workflow trains sae.replicate's twin in a job of its own (train-sae --skip-replicate, then
    --as-replicate; sae-quality --replicate): the same SAE, the same twin decoder and the same seed
    agreement as one train-sae process training both."""
    from safetensors.torch import load_file

    tmp, spec, kept, d_in = workdir
    acts = str(tmp / "acts" / "blocks.1")
    base = {
        **UNIT_SAE,
        "expansion": 2,
        "k": 4,
        "tokens": 6_000,
        "batch_size": 256,
        "lr": 3e-3,
        "holdout_fraction": 0.25,
    }
    base |= {"holdout_blocks": 1, "device": "cpu", "seed": 3, "replicate": True}
    settings = json.dumps(base)
    common = ["--activations", acts, "--windows", str(tmp / "windows.bed"), "--settings", settings]
    for out, flags in (("both", []), ("main", ["--skip-replicate"]), ("twin", ["--as-replicate"])):
        assert cli.main(["train-sae", *common, *flags, "--out", str(tmp / f"rep_{out}")]) == 0
    weights = {out: load_file(str(tmp / f"rep_{out}" / "sae_weights.safetensors")) for out in ("both", "main", "twin")}
    for name, tensor in weights["both"].items():
        assert torch.equal(tensor, weights["main"][name])  # the main SAE does not depend on where its twin trains
    together = load_file(str(tmp / "rep_both" / "dnalens_dictionary.safetensors"))["W_dec_replicate"]
    assert torch.equal(together, weights["twin"]["W_dec"])  # the twin: seed + 1, the same rows
    meta = json.loads((tmp / "rep_twin" / "cfg.json").read_text())["metadata"]["dnalens"]["settings"]
    assert meta["seed"] == 4 and meta["replicate"] is False
    assert "W_dec_replicate" not in load_file(str(tmp / "rep_main" / "dnalens_dictionary.safetensors"))

    quality = {}
    for out, flags in (("both", []), ("main", ["--replicate", str(tmp / "rep_twin")])):
        args = ["sae-quality", "--sae", str(tmp / f"rep_{out}"), *common, *flags, "--out", str(tmp / f"q_{out}.json")]
        assert cli.main(args) == 0
        quality[out] = json.loads((tmp / f"q_{out}.json").read_text())["dictionary"]
    assert quality["main"]["seed_agreement"] is not None
    for key in ("seed_agreement", "seed_best_cosine_median", "init_cosine_median", "fvu"):
        assert quality["main"][key] == quality["both"][key]
    narrow = json.dumps(base | {"expansion": 1, "tokens": 1_000, "replicate": False})
    assert cli.main(["train-sae", *common[:4], "--settings", narrow, "--out", str(tmp / "rep_narrow")]) == 0
    capsys.readouterr()
    bad = ["sae-quality", "--sae", str(tmp / "rep_main"), *common, "--replicate", str(tmp / "rep_narrow")]
    assert cli.main([*bad, "--out", str(tmp / "q_bad.json")]) == 2  # a replicate of another width
    assert "replicate" in capsys.readouterr().err and not (tmp / "q_bad.json").exists()


def test_base_lookup_through_the_cli_reads_bases_from_the_fasta(workdir, capsys):
    """train-sae / encode / sae-quality with sae.base_lookup: the bases come from windows.bed + FASTA
    (trimmed, − strand), the saved SAE carries b_dec_lookup, and encode without --fasta says what to pass."""
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.genome.fasta import open_fasta
    from dnalens.sae.io import load_sae
    from dnalens.sae.row_bases import activation_row_bases

    tmp, spec, kept, d_in = workdir
    acts = str(tmp / "acts" / "blocks.1")
    settings = json.dumps(
        {
            **UNIT_SAE,
            "expansion": 2,
            "k": 4,
            "tokens": 20_000,
            "batch_size": 512,
            "lr": 3e-3,
            "holdout_fraction": 0.25,
            "holdout_blocks": 1,
            "device": "cpu",
            "base_lookup": 3,
            "loss_windows": 2,
            "min_ablation_gap": None,
            "replicate": False,
        }
    )
    common = ["--activations", acts, "--settings", settings]
    assert cli.main(["train-sae", *common, "--windows", str(tmp / "windows.bed"), "--out", str(tmp / "lk_fail")]) != 0
    assert "pass --windows and --fasta" in capsys.readouterr().err and not (tmp / "lk_fail").exists()
    assert (
        cli.main(
            [
                "train-sae",
                *common,
                "--windows",
                str(tmp / "windows.bed"),
                "--fasta",
                str(tmp / "genome.fa"),
                "--out",
                str(tmp / "lk"),
            ]
        )
        == 0
    )
    sae = load_sae(tmp / "lk")
    assert sae.lookup_context == 3 and tuple(sae.b_dec_lookup.shape) == (125, d_in)
    # the row codes are the genome's centred trinucleotides in read order: one − window against the FASTA
    bases = activation_row_bases(acts, read_windows_bed(tmp / "windows.bed"), open_fasta(tmp / "genome.fa"), 3)
    seq = "".join(open_fasta(tmp / "genome.fa")["chr1"][100:200].seq.upper())
    rc = seq.translate(str.maketrans("ACGT", "TGCA"))[::-1]
    first = json.loads(next((tmp / "acts" / "blocks.1").glob("shard-00000.json")).read_text())
    row = first["windows"].index(3)  # windows.bed row 3 = chr1:100-200 on −
    a = first["offsets"][row]
    letter = {c: i for i, c in enumerate("ACGT")}
    at = lambda i: letter[rc[i]] if 0 <= i < len(rc) else 4  # noqa: E731 - outside the read: "other"
    expected = [at(i - 1) + 5 * at(i) + 25 * at(i + 1) for i in range(TRIM, TRIM + kept)]
    assert bases[0][a : a + kept].tolist() == expected

    assert cli.main(["encode", "--sae", str(tmp / "lk"), *common, "--out", str(tmp / "lk_codes")]) != 0
    assert "pass --windows and --fasta" in capsys.readouterr().err and not (tmp / "lk_codes").exists()
    assert (
        cli.main(
            [
                "encode",
                "--sae",
                str(tmp / "lk"),
                *common,
                "--windows",
                str(tmp / "windows.bed"),
                "--fasta",
                str(tmp / "genome.fa"),
                "--out",
                str(tmp / "lk_codes"),
            ]
        )
        == 0
    )
    assert json.loads((tmp / "lk_codes" / "manifest.json").read_text())["total_tokens"] == 24 * kept
    assert (
        cli.main(
            [
                "sae-quality",
                "--sae",
                str(tmp / "lk"),
                *common,
                "--windows",
                str(tmp / "windows.bed"),
                "--fasta",
                str(tmp / "genome.fa"),
                "--model",
                json.dumps(spec),
                "--out",
                str(tmp / "lk_q.json"),
            ]
        )
        == 0
    )
    q = json.loads((tmp / "lk_q.json").read_text())
    assert q["base_lookup"] == 3 and 0.0 <= q["fvu"] < 0.6 and q["loss"]["loss_recovered"] is not None


def test_strand_shared_through_the_cli(workdir, capsys):
    """sae.strand_shared: one per-strand SAE of the model's width, saved as such (SAELens sees d_in = d_model),
    codes [own strand | opposite strand]; the − read of a window holds the + read's codes with the halves
    swapped (same nucleotides, the two passes exchanged). Refused on single-pass (rc_pool none) activations."""
    from dnalens.formats.activation_shards import iter_shards
    from dnalens.sae.io import load_sae
    from dnalens.sae.strand_shared import StrandSharedSAE

    tmp, spec, kept, d_in = workdir
    acts = str(tmp / "acts" / "blocks.1")
    settings = json.dumps(
        {
            **UNIT_SAE,
            "expansion": 2,
            "k": 4,
            "tokens": 20_000,
            "batch_size": 512,
            "lr": 3e-3,
            "holdout_fraction": 0.25,
            "holdout_blocks": 1,
            "device": "cpu",
            "base_lookup": 3,
            "strand_shared": True,
            "loss_windows": 2,
            "min_ablation_gap": None,
        }
    )
    files = [
        "--activations",
        acts,
        "--settings",
        settings,
        "--windows",
        str(tmp / "windows.bed"),
        "--fasta",
        str(tmp / "genome.fa"),
    ]
    if spec["rc_pool"] != "concat":
        assert cli.main(["train-sae", *files, "--out", str(tmp / "ss_fail")]) != 0
        assert "rc_pool: concat" in capsys.readouterr().err and not (tmp / "ss_fail").exists()
        return
    assert cli.main(["train-sae", *files, "--out", str(tmp / "ss")]) == 0
    cfg = json.loads((tmp / "ss" / "cfg.json").read_text())
    assert cfg["d_in"] == d_in // 2 and cfg["d_sae"] == d_in and cfg["metadata"]["dnalens"]["strand_shared"] is True
    sae = load_sae(tmp / "ss")
    assert isinstance(sae, StrandSharedSAE) and sae.d_in == d_in and sae.d_sae == 2 * d_in
    assert cli.main(["encode", "--sae", str(tmp / "ss"), *files, "--out", str(tmp / "ss_codes")]) == 0
    manifest = json.loads((tmp / "ss_codes" / "manifest.json").read_text())
    assert manifest["n_features"] == 2 * d_in and manifest["total_tokens"] == 24 * kept

    # windows.bed rows 2j (+) and 2j+1 (−) cover the same bases: row r of + is row kept-1-r of −
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.genome.fasta import open_fasta
    from dnalens.sae.row_bases import activation_row_bases

    bases = activation_row_bases(acts, read_windows_bed(tmp / "windows.bed"), open_fasta(tmp / "genome.fa"), 3)
    meta, array = next(iter_shards(acts))
    a, b = meta["offsets"][0], meta["offsets"][1]
    assert meta["windows"][:2] == [0, 1]
    plus = torch.from_numpy(np.asarray(array[a:b], np.float32))
    minus = torch.from_numpy(np.asarray(array[b : b + kept], np.float32))
    with torch.no_grad():
        f_plus = sae.encode(plus, torch.from_numpy(bases[0][a:b]))
        f_minus = sae.encode(minus, torch.from_numpy(bases[0][b : b + kept]))
    swapped = torch.cat([f_minus[:, d_in:], f_minus[:, :d_in]], dim=1).flip(0)
    assert (f_plus > 0).sum() > 0
    assert torch.allclose(f_plus, swapped, atol=1e-4)
    assert (
        cli.main(
            [
                "sae-quality",
                "--sae",
                str(tmp / "ss"),
                *files,
                "--model",
                json.dumps(spec),
                "--out",
                str(tmp / "ss_q.json"),
            ]
        )
        == 0
    )
    q = json.loads((tmp / "ss_q.json").read_text())
    assert q["strand_shared"] is True and q["d_sae"] == 2 * d_in and q["loss"]["loss_recovered"] is not None
    # the dictionary is judged per strand state: both halves of every held-out row, through the per-strand SAE
    assert q["dictionary"]["unit"] == "strand state" and q["dictionary"]["n_tokens"] == 2 * q["n_tokens"]
    assert q["l0"] == pytest.approx(2 * q["dictionary"]["l0"])
    _check_dictionary(tmp / "ss", q, d_in // 2, d_in, seed=0)


def test_splice_maps_each_pass_to_its_tokens(workdir):
    """An SAE that reconstructs nothing must equal zero-ablation on every spliced row of every pass
    (a wrong row -> token mapping would leave activations behind); a perfect one must give 1."""
    from dnalens.models.base import load_model
    from dnalens.sae.quality import pooled_loss_recovered
    from dnalens.sae.splice import strand_passes
    from dnalens.sae.standard import ReLUSAE

    tmp, spec, kept, d_in = workdir
    adapter = load_model(spec)
    seqs = ["".join(np.random.default_rng(i).choice(list("ACGT"), 100)) for i in range(2)]
    trims = {"trim_start": TRIM, "trim_end": TRIM if spec["rc_pool"] == "concat" else 0}
    perfect = ReLUSAE(d_in, 2 * d_in)
    with torch.no_grad():
        eye = torch.eye(d_in)
        perfect.W_enc.copy_(torch.cat([eye, -eye], 1))
        perfect.W_dec.copy_(torch.cat([eye, -eye], 0))
        perfect.b_enc.zero_()
        perfect.b_dec.zero_()
    out = pooled_loss_recovered(strand_passes(adapter, seqs, "blocks.1", perfect, **trims))
    assert out["loss_recovered"] == pytest.approx(1.0, abs=1e-4)
    with torch.no_grad():
        perfect.W_dec.zero_()
    out = pooled_loss_recovered(strand_passes(adapter, seqs, "blocks.1", perfect, **trims))
    assert out["ce_sae"] == pytest.approx(out["ce_zero"], abs=1e-4) and abs(out["loss_recovered"]) < 1e-3


def test_load_source_refuses_training_and_bad_keys_are_named(workdir, capsys):
    tmp = workdir[0]
    args = [
        "train-sae",
        "--activations",
        str(tmp / "acts" / "blocks.1"),
        "--windows",
        str(tmp / "windows.bed"),
        "--out",
        str(tmp / "never"),
    ]
    assert cli.main(args + ["--settings", '{"source": "load", "path": "x.pt"}']) == 2
    assert "nothing to train" in capsys.readouterr().err
    assert cli.main(args + ["--settings", '{"expansoin": 4}']) == 2
    assert "'expansoin'" in capsys.readouterr().err
    assert not (tmp / "never").exists()
