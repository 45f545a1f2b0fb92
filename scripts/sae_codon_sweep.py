"""SAE settings sweep: best single SAE feature per codon-position concept, chosen on the training blocks
and reported on the held-out blocks (the probe stage's split), for several `sae:` settings.

Reads a finished run's activations (results/<genome>/activations/blocks.6) and buffer (labels, token
coordinates); trains each SAE in memory (nothing is written). One JSON line per setting: training
seconds, last-step FVU, and per concept [feature, train AUROC, held-out AUROC, feature frequency].

  .venv/bin/python scripts/sae_codon_sweep.py vcholerae_chr2 '[["x2k32", {"expansion": 2}]]'
"""
import json, sys, time
import numpy as np, scipy.sparse as sp, torch
from dnalens.probing.inputs import inputs_from_buffer
from dnalens.probing.splits import make_split
from dnalens.probing.auroc import auroc_matrix
from dnalens.extract.shards import iter_shards
from dnalens.genome.window_table import read_windows_bed
from dnalens.sae.data import holdout_mask, training_batches, activation_width
from dnalens.sae.settings import SaeSettings
from dnalens.sae.training import train_sae, finalize
from dnalens.sae.encode import encode_shard

G = sys.argv[1] if len(sys.argv) > 1 else "vcholerae_chr2"
R = f"results/{G}"
ACTS = f"{R}/activations/blocks.6"
torch.set_num_threads(2)
inp = inputs_from_buffer(f"{R}/buffer")
split = make_split(inp.token_contig, inp.token_position, inp.contig_names, inp.contig_lengths,
                   block_size=10000, test_fraction=0.2, seed=0, gap=0)
names = list(inp.label_names)
want = [n for n in names if "codon_pos" in n] + ["CDS", "CDS_antisense"]
cols = [names.index(n) for n in want]
labels = np.asarray(inp.labels, bool)[:, cols]
windows = read_windows_bed(f"{R}/windows.bed")
held = holdout_mask(windows, 0.1)
d_in = activation_width(ACTS)

def run(tag, **kw):
    s = SaeSettings(**{**dict(expansion=8, k=32, tokens=2_000_000), **kw})
    t = time.time()
    res = train_sae(training_batches(ACTS, ~held, batch_size=s.batch_size, seed=s.seed), d_in, s, progress=False)
    sae = finalize(res).eval()
    t_train = time.time() - t
    parts = []
    for meta, arr in iter_shards(ACTS):
        csr, _ = encode_shard(sae, arr, list(meta["offsets"]), device=torch.device("cpu"))
        parts.append(sp.csr_matrix((csr.values.astype(np.float32), csr.indices, csr.indptr), shape=(arr.shape[0], sae.d_sae)))
    codes = sp.vstack(parts).tocsc()
    tr = auroc_matrix(codes, labels, rows=split.train_rows)
    te = auroc_matrix(codes, labels, rows=split.test_rows)
    best = tr.argmax(axis=0)
    out = {"tag": tag, "settings": kw, "train_s": round(t_train), "fvu": res.history[-1].get("fvu") if res.history else None,
           "freq_best": [], "res": {}}
    freq = np.diff(codes.indptr) / codes.shape[0]
    for j, n in enumerate(want):
        out["res"][n] = [int(best[j]), round(float(tr[best[j], j]), 3), round(float(te[best[j], j]), 3), round(float(freq[best[j]]), 3)]
    print(json.dumps(out), flush=True)

configs = json.loads(sys.argv[2])
for tag, kw in configs:
    run(tag, **kw)
