import numpy as np
import pytest
from Bio import SeqIO
from Bio.Seq import Seq

from dnalens.models.evaluation import _label, genbank_gene_labels, onehot_context, probe_scores, tiled_windows

PLASMID = "resources/genomes/NC_005816.gb"


def test_genbank_codon_positions_translate_to_the_annotated_proteins():
    labels = genbank_gene_labels(PLASMID, "plasmid")
    record = next(SeqIO.parse(PLASMID, "genbank"))
    plus = [f for f in record.features if f.type == "CDS" and f.location.strand == 1]
    assert plus
    for f in plus:
        start, end = int(f.location.start), int(f.location.end)
        codon = labels.codon[start:end]
        assert labels.sense[start:end].all() and codon[0] == 0
        protein = str(Seq(labels.seq[start:end][: (end - start) // 3 * 3]).translate(table=11)).rstrip("*")
        assert protein[1:] == f.qualifiers["translation"][0][1:]  # first residue: alternative start codons
    minus = [f for f in record.features if f.type == "CDS" and f.location.strand == -1]
    assert all(labels.antisense[int(f.location.start) : int(f.location.end)].all() for f in minus)
    assert not (labels.sense & ~labels.antisense & (labels.codon < 0)).any()


def test_spliced_cds_phase_continues_across_parts():
    lab = _label("A" * 30, [[(2, 7, 1), (12, 20, 1)], [(22, 28, -1)]], "toy")
    assert lab.codon[2:7].tolist() == [0, 1, 2, 0, 1]
    assert lab.codon[12:15].tolist() == [2, 0, 1]  # 5 bases done before the second part
    assert lab.antisense[22:28].all() and not lab.sense[22:28].any() and (lab.codon[7:12] == -1).all()


def test_tiled_windows_keep_each_position_once():
    wins = tiled_windows(1000, step=128, context=64)
    kept = np.concatenate([np.arange(ka, kb) for _, _, ka, kb in wins])
    assert kept.tolist() == list(range(1000))
    assert all(a <= ka and kb <= b and b - a <= 256 for a, b, ka, kb in wins)


def test_probes_find_a_planted_signal_and_onehot_is_centred():
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 4000))
    lab = _label(
        seq,
        [[(s, s + 300, 1)] for s in range(0, 4000, 600)] + [[(s + 300, s + 450, -1)] for s in range(0, 3600, 600)],
        "toy",
    )
    pos = np.arange(4000)
    x = np.stack([lab.codon == k for k in range(3)] + [lab.sense], 1).astype(np.float32) + rng.normal(0, 0.1, (4000, 4))
    scores = probe_scores(x, pos, lab)
    assert scores["codon_accuracy"] > 0.99 and scores["sense_cds_auroc"] > 0.99
    noise = probe_scores(rng.normal(size=(4000, 4)).astype(np.float32), pos, lab)
    assert noise["sense_cds_auroc"] == pytest.approx(0.5, abs=0.1)
    oh = onehot_context(seq, np.array([10]), radius=7).reshape(15, 4)
    assert oh[7, "ACGT".index(seq[10])] == 1 and oh[0, "ACGT".index(seq[3])] == 1 and oh.sum() == 15


def test_model_card_quotes_measured_numbers():
    from dnalens.models.card import render_card

    training = {
        "n_params": 1000,
        "steps_done": 10,
        "tokens_seen": 80,
        "elapsed_s": 120.0,
        "sources": [{"file": "a.fa", "contig": "c", "length": 100, "heldout_nt": 2}],
        "history": [{"step": 10, "train_bits": 1.95, "heldout_bits": 1.97}],
        "settings": {"batch_size": 8},
    }
    config = {"d_model": 8, "block_types": ["se", "li"], "mlp_ratio": 2.0}
    evaluation = {
        "bits": {"unseen:x": {"n_nt": 50, "model_bits_per_nt": 1.8765, "markov5_bits_per_nt": 1.9321}},
        "probes": {
            "x": {
                "onehot15": {"codon_accuracy": 0.5, "sense_cds_auroc": 0.55},
                "blocks.1|rc_pool=none": {"codon_accuracy": 0.81, "sense_cds_auroc": 0.6},
                "blocks.1|rc_pool=concat": {"codon_accuracy": 0.93, "sense_cds_auroc": 0.85},
            }
        },
    }
    card = render_card("toy", training, config, evaluation, "blocks.1", notes="n")
    assert "| unseen:x | 50 | 1.877 | 1.932 |" in card
    assert (
        "| x | `blocks.1`, rc_pool=concat | 0.930 | 0.850 |" in card and "| x | 15-nt one-hot | 0.500 | 0.550 |" in card
    )


def test_model_card_says_steps_of_planned_and_bits_next_to_markov():
    from dnalens.models.card import render_card

    training = {
        "n_params": 1000,
        "steps_done": 2110,
        "steps": 4000,
        "tokens_seen": 80,
        "elapsed_s": 120.0,
        "schedule": "steps",
        "sources": [],
        "history": [],
        "settings": {"warmup_steps": 150, "max_minutes": 30},
        "runs": [
            {"from_step": 0, "to_step": 2110, "device": "cpu", "autocast": None, "optimizer_state": "new"},
            {
                "from_step": 2110,
                "to_step": 2110,
                "device": "cuda",
                "autocast": "bfloat16",
                "optimizer_state": "fresh",
                "source": "resources/models/x",
            },
        ],
    }
    config = {"d_model": 8, "block_types": ["se", "li"], "mlp_ratio": 2.0}
    bits = {
        "heldout:a": {"n_nt": 100, "model_bits_per_nt": 1.8, "markov5_bits_per_nt": 1.9},
        "heldout:b": {"n_nt": 300, "model_bits_per_nt": 1.9, "markov5_bits_per_nt": 2.0},
        "unseen:c": {"n_nt": 50, "model_bits_per_nt": 1.95, "markov5_bits_per_nt": 1.97},
    }
    card = render_card("toy", training, config, {"bits": bits, "probes": {}}, "blocks.1")
    assert "2,110 of 4,000 planned steps (53 %): the schedule did not finish" in card
    # nucleotide-weighted by hand: (1.8*100 + 1.9*300) / 400 = 1.875; Markov (1.9*100 + 2.0*300) / 400 = 1.975
    assert "(400 nt): model 1.875 vs 5th-order Markov 1.975 (-0.100" in card
    assert "(50 nt): model 1.950 vs 5th-order Markov 1.970 (-0.020" in card
    assert "schedule by step; max_minutes 30 is a per-run budget" in card
    assert "Resumed at step 2,110 from `resources/models/x` without its AdamW moments" in card
    assert "cpu; cuda, bfloat16 autocast" in card
    finished = render_card("toy", {**training, "steps_done": 4000}, config, {"bits": {}, "probes": {}}, "blocks.1")
    assert "4,000 of 4,000 planned steps (100 %)." in finished
