"""A hand-built buffer whose hits, tracks and windows are worked out by hand in the tests.

Contigs: chrA (20 bp, circular), chrB (30 bp). Five windows, tokens in read order:
  w0 chrA 0-10 +   tokens  0-10   feature 0: offsets 2,3,4 = 1,3,2   (genome 2,3,4)
  w1 chrA 5-15 −   tokens 10-20   feature 0: offsets 0,1   = 4,1     (genome 14,13)
  w2 chrA 15-25 +  tokens 20-30   feature 0: offsets 3-6   = 1,1,5,1 (genome 18,19,0,1: wraps the origin)
  w3 chrB 0-10 +   tokens 30-40   feature 0: offset 9      = 0.5     (genome 9; below a 0.15 × 5 cut)
  w4 chrA 3-13 +   tokens 40-50   feature 0: offsets 0-2   = 2,2,2   (genome 3,4,5: merges with w0's run)
Feature 1 fires once, on w3 offset 0 (chrB base 0) with 2.0; feature 2 never fires.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.report.tokens import build_token_map

CHROM_SIZES = {"chrA": 20, "chrB": 30}
WINDOWS = pd.DataFrame(
    {
        "contig": ["chrA", "chrA", "chrA", "chrB", "chrA"],
        "start": [0, 5, 15, 0, 3],
        "end": [10, 15, 25, 10, 13],
        "strand": ["+", "-", "+", "+", "+"],
        "token_start": [0, 10, 20, 30, 40],
        "token_end": [10, 20, 30, 40, 50],
    }
)
ENTRIES = {  # (token row, feature) -> activation
    (2, 0): 1.0,
    (3, 0): 3.0,
    (4, 0): 2.0,
    (10, 0): 4.0,
    (11, 0): 1.0,
    (23, 0): 1.0,
    (24, 0): 1.0,
    (25, 0): 5.0,
    (26, 0): 1.0,
    (39, 0): 0.5,
    (40, 0): 2.0,
    (41, 0): 2.0,
    (42, 0): 2.0,
    (30, 1): 2.0,
}


def codes() -> sp.csr_matrix:
    rows, cols = zip(*ENTRIES)
    return sp.csr_matrix((list(ENTRIES.values()), (rows, cols)), shape=(50, 3), dtype=np.float32)


def token_map():
    return build_token_map(WINDOWS, CHROM_SIZES, 50)


SEQUENCES = {"chrA": "ACGTACGTACGGGGGTTTTA", "chrB": "A" * 10 + "C" * 10 + "G" * 10}


def sequence_of(contig: str, start: int, end: int, strand: str) -> str:
    seq = SEQUENCES[contig]
    n = len(seq)
    bases = "".join(seq[p % n] for p in range(start, end))
    if strand == "-":
        bases = bases[::-1].translate(str.maketrans("ACGT", "TGCA"))
    return bases
