"""Counting kernels of domain F1: true positives and instances hit, per (segment, concept).

A *segment* is one (threshold, feature) row: a sorted list of on-tokens. Both counts walk each
on-token's concepts through a token → concept CSR (only the concepts present at that token), so the
work is (on-tokens × concepts per token), with numpy gathers and one bincount, no dense [N, F].

Instances hit without deduplication: instance ids form runs of consecutive tokens; a token is the
first on-token of its run when the segment's previous on-token lies before the run start. Counting
first-in-run tokens counts runs hit; only instances made of several runs (spliced genes, an instance
seen in two windows) are deduplicated exactly, with np.unique on their few (segment, instance) keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnalens.probing.token_concepts import TokenConcepts, expand


def _csr_order(rows: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, permutation) putting entries in row order, keeping their order within a row (a stable
    sort: entries arrive concept by concept, so each row's concepts stay in concept order)."""
    perm = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, perm


@dataclass(frozen=True)
class InstanceRuns:
    """Token → (region concept, start of its instance run, id of a multi-run instance or −1)."""

    indptr: np.ndarray
    packed: np.ndarray  # run_start << 16 | (multi-run instance) << 15 | concept: one gather per entry
    multi_id: np.ndarray
    concept_of_multi: np.ndarray
    n_instances: np.ndarray  # [L] distinct ids + positives without an id
    region: np.ndarray  # [L]
    singles: TokenConcepts | None  # positives of region concepts without an id: their own instance

    @classmethod
    def from_arrays(cls, labels: np.ndarray, instances: np.ndarray | None) -> "InstanceRuns":
        n, n_l = labels.shape
        n_inst = labels.sum(axis=0).astype(np.int64)
        region = np.zeros(n_l, bool)
        rows, concept, start, multi = [], [], [], []
        multi_concept: list[np.ndarray] = []
        n_multi = 0
        single_cols = []
        for lab in range(n_l if instances is not None else 0):
            ids = np.asarray(instances[:, lab]).astype(np.int64)
            has = ids >= 0
            if not has.any():
                continue
            region[lab] = True
            new = has.copy()
            new[1:] &= ids[1:] != ids[:-1]
            run = np.cumsum(new) - 1
            starts = np.flatnonzero(new)
            run_ids = ids[starts]
            order = np.argsort(run_ids, kind="stable")
            sorted_ids = run_ids[order]
            first = np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1]))
            group = np.cumsum(first) - 1  # distinct instance per run (in sorted order)
            size = np.bincount(group)
            inst_of_run = np.empty(run_ids.size, np.int64)
            inst_of_run[order] = group
            many = size[inst_of_run] > 1
            multi_of_run = np.where(many, n_multi + inst_of_run, -1).astype(np.int32)
            multi_concept.append(np.full(size.size, lab))
            n_multi += size.size
            tok = np.flatnonzero(has)
            rows.append(tok.astype(np.int32))  # int32 per entry: a whole genome has tens of millions
            concept.append(np.full(tok.size, lab, np.int16))
            start.append(starts[run[tok]].astype(np.int32))
            multi.append(multi_of_run[run[tok]])
            single = labels[:, lab] & ~has
            n_inst[lab] = size.size + int(single.sum())
            single_cols.append((lab, single))
        if not region.any():
            return cls(np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                       np.zeros(0, np.int64), n_inst, region, None)
        if n_l >= 1 << 15:
            raise ValueError("at most 32767 concepts")
        if n >= 1 << 31:
            raise ValueError("at most 2^31 - 1 tokens")
        r = np.concatenate(rows)
        del rows
        c = np.concatenate(concept)
        del concept
        indptr, perm = _csr_order(r, n)
        del r
        singles = None
        if any(col.any() for _, col in single_cols):
            single = np.zeros((n, n_l), bool)
            for lab, col in single_cols:
                single[:, lab] = col
            singles = TokenConcepts.from_labels(single)
        multi_id = np.concatenate(multi)[perm]
        packed = np.concatenate(start)[perm].astype(np.int64) << 16
        packed |= (multi_id >= 0).astype(np.int64) << 15
        packed |= c[perm]
        return cls(indptr, packed, multi_id, np.concatenate(multi_concept), n_inst, region, singles)

    def hits(self, seg: np.ndarray, tokens: np.ndarray, n_seg: int) -> np.ndarray:
        """[n_seg, L]: per segment (tokens ascending within it), instances with ≥ 1 on-token."""
        n_l = self.region.size
        same = seg[1:] == seg[:-1]
        if not np.all(~same | (tokens[1:] > tokens[:-1])):
            raise ValueError("tokens must ascend within each segment (and segments be contiguous)")
        prev = np.empty_like(tokens)
        prev[0:1] = -1
        prev[1:] = np.where(same, tokens[:-1], -1)
        cnt, pos = expand(tokens, self.indptr)
        packed = self.packed[pos]
        first = (np.repeat(prev, cnt) + 1) << 16 <= packed  # previous on-token lies before the run start
        seg_e = np.repeat(seg, cnt)[first]
        packed = packed[first]
        one = (packed & (1 << 15)) == 0
        out = np.bincount(seg_e[one] * n_l + (packed[one] & 0x7FFF), minlength=n_seg * n_l)
        if not one.all():
            n_multi = max(self.concept_of_multi.size, 1)
            keys = np.unique(seg_e[~one] * n_multi + self.multi_id[pos[first][~one]])
            out += np.bincount((keys // n_multi) * n_l + self.concept_of_multi[keys % n_multi], minlength=n_seg * n_l)
        return out.reshape(n_seg, n_l)
