"""Wire a model adapter to `quality.pooled_loss_recovered`: one SplicePass per strand pass and window.

The SAE reads what extraction stored: per-nucleotide activations in read order, possibly strand-pooled
(`model.rc_pool`: `concat` = [forward | reverse complement flipped back], `mean` = their average) and
trimmed (`trim_start` / `trim_end` rows dropped). Here each window is run through `adapter.activations`
the same way, reconstructed by the SAE on the kept rows, and the error is mapped back onto the token
positions of the forward pass and, when pooled, of the reverse-complement pass.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from dnalens.formats.window_table import reverse_complement
from dnalens.sae.base import SparseAutoencoder
from dnalens.sae.quality import SplicePass
from dnalens.sae.row_bases import row_codes


@torch.no_grad()
def strand_passes(
    adapter, seqs: Sequence[str], layer: str, sae: SparseAutoencoder, *, trim_start: int = 0, trim_end: int = 0
) -> list[SplicePass]:
    pool = adapter.spec.rc_pool
    device = sae.W_enc.device
    passes: list[SplicePass] = []
    for seq in seqs:
        n = len(seq)
        rows = np.arange(trim_start, n - trim_end)
        if rows.size == 0:
            continue
        pooled = adapter.activations([seq], [layer])[layer][0][rows]
        x = torch.from_numpy(np.ascontiguousarray(pooled, dtype=np.float32)).to(device)
        bases = torch.from_numpy(row_codes(seq, sae.lookup_context)[rows]).to(device) if sae.needs_bases else None
        error = (sae(x, bases) - x).float().cpu().numpy()
        fwd_tokens = np.asarray(adapter.encode([seq])[2][0])[rows]
        if pool == "none":
            passes.append(SplicePass(lambda r, s=seq: adapter.spliced_loss([s], layer, r), fwd_tokens, error))
            continue
        d = error.shape[1] // 2 if pool == "concat" else error.shape[1]
        fwd_error, rc_error = (error[:, :d], error[:, d:]) if pool == "concat" else (error, error)
        rc = reverse_complement(seq)
        rc_tokens = np.asarray(adapter.encode([rc])[2][0])[n - 1 - rows]  # read row r = rc nucleotide n-1-r
        passes.append(SplicePass(lambda r, s=seq: adapter.spliced_loss([s], layer, r), fwd_tokens, fwd_error))
        passes.append(SplicePass(lambda r, s=rc: adapter.spliced_loss([s], layer, r), rc_tokens, rc_error))
    return passes
