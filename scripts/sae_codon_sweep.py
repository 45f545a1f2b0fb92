"""SAE settings sweep: best single SAE feature per codon-position concept, chosen on the training blocks
and reported on the held-out blocks (the probe stage's split), for several `sae:` settings.

Reads a finished run's buffer (labels, token coordinates) and one layer's activations; trains each SAE
in memory (nothing is written). One JSON line per setting: training seconds, last-step FVU / L0 / dead
fraction, and per concept [feature, train AUROC, held-out AUROC, feature frequency, best held-out AUROC
of any feature (an upper bound that peeks at the test blocks, for diagnosis only)].

  OMP_NUM_THREADS=1 .venv/bin/python scripts/sae_codon_sweep.py vcholerae_chr2 '[["x2k32", {"expansion": 2}]]'
  # another layer, extracted elsewhere (same windows.bed, so rows line up with the buffer):
  SWEEP_ACTS=/tmp/sweep/results/vcholerae_chr2/activations/blocks.7 .venv/bin/python scripts/sae_codon_sweep.py ...
A setting's mapping may also hold "layer": "blocks.N" (read from SWEEP_ACTS_ROOT/<layer>, default
results/<genome>/activations/<layer>), and "window_rows": [lo, hi]: train and score only rows at read
positions lo..hi-1 of their window, what `model.trim` with overlapping windows keeps (e.g. [256, 768] =
windows.stride 512 + model.trim 256), emulated on untrimmed activations. Any other key is an `sae:` setting
(e.g. "strand_shared": true). Settings default to expansion 8, k 32, 2M tokens.
Each line also carries the dictionary checks of sae_quality.json on the SAE's held-out block (per strand state
for a strand-shared SAE): "dict" = L0/d_in, dead and dense share, FVU, median decoder-row cosine to the seeded
initialisation; with "replicate": true in a setting, also the seed agreement with an SAE trained from seed + 1
(doubles the training time).
"""

import json
import os
import sys
import time

import numpy as np
import scipy.sparse as sp
import torch

from dnalens.formats.activation_shards import iter_shards
from dnalens.formats.window_table import read_windows_bed
from dnalens.genome.fasta import open_fasta
from dnalens.probe.auroc import auroc_matrix
from dnalens.probe.inputs import inputs_from_buffer
from dnalens.probe.splits import make_split
from dnalens.sae.data import activation_width, holdout_mask, training_batches, window_batches
from dnalens.sae.dictionary import decoder, dictionary_report
from dnalens.sae.encode import encode_shard
from dnalens.sae.quality import reconstruction_quality
from dnalens.sae.row_bases import activation_row_bases
from dnalens.sae.settings import SaeSettings
from dnalens.sae.strand_shared import StrandSharedSAE, strand_states
from dnalens.sae.training import finalize, train_sae

G = sys.argv[1] if len(sys.argv) > 1 else "vcholerae_chr2"
R = f"results/{G}"
ACTS_ROOT = os.environ.get("SWEEP_ACTS_ROOT", f"{R}/activations")
DEFAULT_ACTS = os.environ.get("SWEEP_ACTS", f"{ACTS_ROOT}/blocks.6")
torch.set_num_threads(int(os.environ.get("SWEEP_THREADS", "1")))
inp = inputs_from_buffer(f"{R}/buffer")
split = make_split(
    inp.token_contig,
    inp.token_position,
    inp.contig_names,
    inp.contig_lengths,
    block_size=10000,
    test_fraction=0.2,
    seed=0,
    gap=0,
)
names = list(inp.label_names)
want = [n for n in names if "codon_pos" in n] + ["CDS", "CDS_antisense"]
cols = [names.index(n) for n in want]
labels = np.asarray(inp.labels, bool)[:, cols]
windows = read_windows_bed(f"{R}/windows.bed")


def read_positions(acts):
    """(window row, read position in the window) of every activation row."""
    window, position = [], []
    for meta, _ in iter_shards(acts):
        offsets = np.asarray(meta["offsets"])
        sizes = np.diff(offsets)
        window.append(np.repeat(np.asarray(meta["windows"]), sizes))
        position.append(np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], sizes))
    return np.concatenate(window), np.concatenate(position)


def cropped_batches(x, bases, rows, batch_size, seed):
    """Endless shuffled batches of the chosen rows (all in memory), epoch after epoch."""
    epoch = 0
    while True:
        order = rows[np.random.default_rng([seed, epoch]).permutation(rows.size)]
        for i in range(0, order.size - batch_size + 1, batch_size):
            b = order[i : i + batch_size]
            rows_x = torch.from_numpy(x[b].astype(np.float32))
            yield rows_x if bases is None else (rows_x, torch.from_numpy(bases[b]))
        epoch += 1


def run(tag, **kw):
    kw = dict(kw)
    layer = kw.pop("layer", None)
    crop = kw.pop("window_rows", None)
    replicate = kw.pop("replicate", False)
    acts = f"{ACTS_ROOT}/{layer}" if layer else DEFAULT_ACTS
    s = SaeSettings(**{**dict(expansion=8, k=32, tokens=2_000_000, device="cpu"), **kw})
    held = holdout_mask(windows, s.holdout_fraction)
    d_in = activation_width(acts)
    bases = activation_row_bases(acts, windows, open_fasta(f"{R}/genome.fa"), s.base_lookup) if s.base_lookup else None
    t = time.time()
    if crop:
        window, position = read_positions(acts)
        keep = (position >= crop[0]) & (position < crop[1])
        x = np.concatenate([np.asarray(a, np.float16) for _, a in iter_shards(acts)])
        flat_bases = None if bases is None else np.concatenate([bases[k] for k in sorted(bases)])
        source = cropped_batches(x, flat_bases, np.flatnonzero(keep & ~held[window]), s.rows_per_batch, s.seed)
    else:
        keep = np.ones(labels.shape[0], bool)
        source = training_batches(acts, ~held, batch_size=s.rows_per_batch, seed=s.seed, bases=bases)
    res = train_sae(source, d_in, s, progress=False)
    sae = finalize(res).eval()
    t_train = time.time() - t
    reference = {"W_dec_init": res.init_W_dec}
    if replicate:
        twin = SaeSettings(**{**s.__dict__, "seed": s.seed + 1})
        twin_source = (
            cropped_batches(x, flat_bases, np.flatnonzero(keep & ~held[window]), twin.rows_per_batch, twin.seed)
            if crop
            else training_batches(acts, ~held, batch_size=twin.rows_per_batch, seed=twin.seed, bases=bases)
        )
        reference["W_dec_replicate"] = decoder(finalize(train_sae(twin_source, d_in, twin, progress=False)))
    held_rows = window_batches(acts, held, max_tokens=s.quality_tokens, bases=bases)
    if isinstance(sae, StrandSharedSAE):
        metrics = reconstruction_quality(sae.strand_sae, (strand_states(b, s.base_lookup) for b in held_rows))
        unit_d_in, unit = sae.strand_sae.d_in, "strand state"
    else:
        metrics, unit_d_in, unit = reconstruction_quality(sae, held_rows), sae.d_in, "row"
    dictionary = dictionary_report(metrics, unit_d_in, decoder(sae), reference, unit=unit)
    parts = []
    for meta, arr in iter_shards(acts):
        csr, _ = encode_shard(
            sae,
            arr,
            list(meta["offsets"]),
            device=torch.device("cpu"),
            bases=None if bases is None else bases[int(meta["shard"])],
        )
        parts.append(
            sp.csr_matrix((csr.values.astype(np.float32), csr.indices, csr.indptr), shape=(arr.shape[0], sae.d_sae))
        )
    codes = sp.vstack(parts).tocsr()
    if codes.shape[0] != labels.shape[0]:
        raise SystemExit(f"{acts}: {codes.shape[0]} rows but the buffer has {labels.shape[0]}")
    rows = np.flatnonzero(keep)
    codes, y = codes[rows].tocsc(), labels[rows]
    new_index = np.full(keep.size, -1)
    new_index[rows] = np.arange(rows.size)
    train_rows = new_index[split.train_rows][keep[split.train_rows]]
    test_rows = new_index[split.test_rows][keep[split.test_rows]]
    tr = auroc_matrix(codes, y, rows=train_rows)
    te = auroc_matrix(codes, y, rows=test_rows)
    best = tr.argmax(axis=0)
    last = res.history[-1] if res.history else {}
    out = {
        "tag": tag,
        "layer": layer or os.path.basename(acts),
        "settings": {**kw, "window_rows": crop},
        "train_s": round(t_train),
        "fvu": round(last.get("fvu", float("nan")), 4),
        "l0": round(last.get("l0", float("nan")), 1),
        "dead": round(last.get("dead_fraction", float("nan")), 3),
        "d_sae": sae.d_sae,
        "scored_rows": int(rows.size),
        "total_s": round(time.time() - t),
        "dict": {
            k: (round(v, 3) if isinstance(v, float) else v)
            for k, v in dictionary.items()
            if k in ("l0_per_d_in", "dead_fraction", "dense_fraction", "fvu", "init_cosine_median", "seed_agreement")
        }
        | {"health": dictionary["health"]["pass"]},
        "res": {},
    }
    freq = np.diff(codes.indptr) / codes.shape[0]
    for j, n in enumerate(want):
        out["res"][n] = [
            int(best[j]),
            round(float(tr[best[j], j]), 3),
            round(float(te[best[j], j]), 3),
            round(float(freq[best[j]]), 3),
            round(float(te[:, j].max()), 3),
        ]
    print(json.dumps(out), flush=True)


configs = json.loads(sys.argv[2])
for tag, kw in configs:
    run(tag, **kw)
