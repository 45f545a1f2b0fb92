import gzip
import math
from collections import Counter

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dnalens.models.markov import MarkovModel
from dnalens.models.training import TrainSettings, lr_at, reverse_complement_bytes, split_holdout, train


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("g") / "toy.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(">a\n" + "".join(rng.choice(list("ACGT"), 3000)) + "\n>b\n" + "ACGTTGCA" * 300 + "\n")
    return str(path)


def settings(genome, **kw):
    base = dict(
        genomes=(genome,),
        steps=4,
        batch_size=2,
        seq_len=64,
        warmup_steps=1,
        checkpoint_every=2,
        eval_every=2,
        eval_windows=2,
        threads=1,
        holdout_fraction=0.1,
        architecture={"d_model": 8, "block_types": ["se", "li"], "mlp_ratio": 1.0, "medium_kernel": 8},
    )
    base.update(kw)
    return TrainSettings(**base)


def test_resume_after_interruption_gives_identical_weights(genome, tmp_path, monkeypatch):
    train(settings(genome), tmp_path / "straight")
    from dnalens.models import training

    real = training.Corpus.batch
    calls = {"n": 0}

    def dying(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(training.Corpus, "batch", dying)
    with pytest.raises(KeyboardInterrupt):
        train(settings(genome), tmp_path / "killed")
    monkeypatch.setattr(training.Corpus, "batch", real)
    summary = train(settings(genome), tmp_path / "killed")
    assert summary["steps_done"] == 4 and len(summary["history"]) == 2
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    assert (tmp_path / "killed" / "config.json").exists()


def test_schedule_and_helpers():
    s = TrainSettings(steps=100, warmup_steps=10, lr=1.0, min_lr_ratio=0.1)
    assert lr_at(0, s) == pytest.approx(0.1) and lr_at(10, s) == pytest.approx(1.0)
    assert lr_at(100, s) == pytest.approx(0.1)
    assert lr_at(55, s) == pytest.approx(0.1 + 0.9 * 0.5)  # cosine midpoint, by step alone
    # wall time no longer moves the schedule: a budgeted run follows the same rates as an unbudgeted one
    assert lr_at(55, TrainSettings(steps=100, warmup_steps=10, lr=1.0, min_lr_ratio=0.1, max_minutes=0.01)) == lr_at(
        55, s
    )
    # restart without AdamW moments at step 40: ramp up again over warmup_steps, then back on the cosine
    assert lr_at(40, s, rewarm_from=40) == pytest.approx(lr_at(40, s) / 10)
    assert lr_at(44, s, rewarm_from=40) == pytest.approx(lr_at(44, s) * 5 / 10)
    assert lr_at(50, s, rewarm_from=40) == lr_at(50, s)
    assert bytes(reverse_complement_bytes(np.frombuffer(b"AACGN", np.uint8))) == b"NCGTT"
    a, b = split_holdout(np.arange(100), 0.1)
    assert len(a) == 90 and b[0] == 90


def test_markov_matches_brute_force_counts():
    train_seq, test_seq = "ACGTACGGTACCATGACGTTAGC" * 5, "ACGTTAGCCATG"
    model = MarkovModel(order=2, alpha=0.5).fit([np.frombuffer(train_seq.encode(), np.uint8)], both_strands=False)
    counts = Counter((train_seq[i - 2 : i], train_seq[i]) for i in range(2, len(train_seq)))
    bits = []
    for i in range(2, len(test_seq)):
        ctx = test_seq[i - 2 : i]
        total = sum(counts[(ctx, b)] for b in "ACGT") + 2.0
        bits.append(-math.log2((counts[(ctx, test_seq[i])] + 0.5) / total))
    assert model.bits_per_nt([test_seq]) == pytest.approx(np.mean(bits))
