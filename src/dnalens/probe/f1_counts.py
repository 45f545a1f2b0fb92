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
from functools import cached_property

import numpy as np

from dnalens.probe.token_concepts import TokenConcepts, expand, pointers

BITMAP_PER_TOKEN, BITMAP_MIN = 8, 1 << 20  # multi-run dedup by bitmap up to this many bits (else np.unique)
HITS_SLICE_TOKENS = 1 << 15  # on-tokens per slice of `InstanceRuns.hits` (x region concepts per token entries)


def _csr_order(rows: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, permutation) putting entries in row order, keeping their order within a row (a stable
    sort: entries arrive concept by concept, so each row's concepts stay in concept order)."""
    perm = np.argsort(rows, kind="stable")
    return pointers(np.bincount(rows, minlength=n_rows)), perm


def _column(matrix, lab: int, rows: np.ndarray | None) -> np.ndarray:
    """Column `lab` of an [N, L] array-like (ndarray or probe.inputs.WideInstances), at `rows`."""
    if rows is None:
        return np.asarray(matrix[:, lab])
    return np.asarray(matrix[rows, lab])


@dataclass(frozen=True)
class _ConceptRuns:
    """Runs of one region concept: consecutive tokens sharing an instance id."""

    has: np.ndarray  # bool [n]: token has an id
    run_of_token: np.ndarray  # int [n]: index of the token's run (meaningful where `has`)
    starts: np.ndarray  # int [runs]: first token of each run
    instance_of_run: np.ndarray  # int [runs]: distinct instance (0..n_instances-1)
    n_instances: int

    @classmethod
    def of(cls, ids: np.ndarray) -> "_ConceptRuns":
        has = ids >= 0
        new = has.copy()
        new[1:] &= ids[1:] != ids[:-1]
        starts = np.flatnonzero(new)
        run_ids = ids[starts]
        order = np.argsort(run_ids, kind="stable")
        sorted_ids = run_ids[order]
        first = np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])) if sorted_ids.size else np.zeros(0, bool)
        instance_of_run = np.empty(run_ids.size, np.int64)
        instance_of_run[order] = np.cumsum(first) - 1
        return cls(has, np.cumsum(new, dtype=np.int64) - 1, starts, instance_of_run, int(first.sum()))


@dataclass(frozen=True)
class InstanceRuns:
    """Token → the instance runs of region concepts it lies in (a CSR of run ids), and per run its
    concept, first token and multi-run instance (−1 when its instance is that one run).

    Per (token, concept) entry only a 4-byte run id is stored; a whole genome has tens of millions of
    entries but far fewer runs."""

    indptr: np.ndarray  # [n + 1] (token_concepts.pointers)
    run: np.ndarray  # int32 per entry, entries of a token in concept order
    run_start: np.ndarray  # int64 [runs]
    run_concept: np.ndarray  # int64 [runs]
    run_multi: np.ndarray  # int64 [runs]: multi-run instance id, −1 for single-run instances
    concept_of_multi: np.ndarray  # [multi-run instances]
    n_instances: np.ndarray  # [L] distinct ids + positives without an id
    region: np.ndarray  # [L]
    singles: TokenConcepts | None  # positives of region concepts without an id: their own instance

    @classmethod
    def from_arrays(cls, labels, instances, rows: np.ndarray | None = None) -> "InstanceRuns":
        """From [N, L] labels and instance ids (any array-like with `x[rows, j]`), for tokens `rows`.

        Two passes over the region columns (count entries per token, then fill), one column at a
        time: memory is the result plus a few [n] arrays, never an [n, L] copy or a sort of all entries."""
        n_l = labels.shape[1]
        n = labels.shape[0] if rows is None else len(rows)
        if n_l >= 1 << 15:
            raise ValueError("at most 32767 concepts")
        if n >= 1 << 31:
            raise ValueError("at most 2^31 - 1 tokens")
        n_inst = np.zeros(n_l, np.int64)
        region = np.zeros(n_l, bool)
        per_entry = np.zeros(n, np.int32)
        for lab in range(n_l if instances is not None else 0):
            has = _column(instances, lab, rows) >= 0
            region[lab] = has.any()
            per_entry += has
        indptr = pointers(per_entry)
        del per_entry
        cursor = indptr[:-1].astype(np.int64)
        run = np.empty(int(indptr[-1]), np.int32)
        starts, concepts, multis, multi_concept = [], [], [], []
        single_rows, single_concepts = [], []
        n_runs = n_multi = 0
        for lab in range(n_l):
            positives = _column(labels, lab, rows).astype(bool, copy=False)
            if not region[lab]:
                n_inst[lab] = int(positives.sum())
                continue
            runs = _ConceptRuns.of(_column(instances, lab, rows))
            size = np.bincount(runs.instance_of_run, minlength=runs.n_instances)
            many = size > 1
            multi_index = np.cumsum(many) - 1  # multi-run instances numbered from n_multi
            tok = np.flatnonzero(runs.has)
            at = cursor[tok]
            run[at] = n_runs + runs.run_of_token[tok]
            cursor[tok] = at + 1
            del tok, at
            starts.append(runs.starts)
            concepts.append(np.full(runs.starts.size, lab, np.int64))
            multis.append(np.where(many[runs.instance_of_run], n_multi + multi_index[runs.instance_of_run], -1))
            multi_concept.append(np.full(int(many.sum()), lab, np.int64))
            n_runs += runs.starts.size
            n_multi += int(many.sum())
            single = np.flatnonzero(positives & ~runs.has)
            single_rows.append(single)
            single_concepts.append(np.full(single.size, lab, np.int32))
            n_inst[lab] = runs.n_instances + single.size
        if n_runs >= 1 << 31:
            raise ValueError("at most 2^31 - 1 instance runs")
        singles = None
        if sum(r.size for r in single_rows):
            r, c = np.concatenate(single_rows), np.concatenate(single_concepts)
            s_indptr, perm = _csr_order(r, n)
            stored = np.bincount(c, minlength=n_l).astype(np.int64)
            singles = TokenConcepts(s_indptr, c[perm], np.zeros(n_l, bool), stored)
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
        return cls(
            indptr,
            run,
            cat(starts, np.int64),
            cat(concepts, np.int64),
            cat(multis, np.int64),
            cat(multi_concept, np.int64),
            n_inst,
            region,
            singles,
        )

    @cached_property
    def starts_here(self) -> np.ndarray:
        """bool [n]: some instance run starts at the token."""
        out = np.zeros(self.indptr.size - 1, bool)
        out[self.run_start] = True
        return out

    def hits(self, seg: np.ndarray, tokens: np.ndarray, n_seg: int, max_tokens: int = HITS_SLICE_TOKENS) -> np.ndarray:
        """[n_seg, L]: per segment (tokens ascending within it), instances with ≥ 1 on-token.

        Counted `max_tokens` on-tokens at a time (each expands to every region concept at it; one
        dense feature alone has millions): a token's previous on-token is taken before slicing, and
        multi-run instances are deduplicated over all slices at the end."""
        n_l = self.region.size
        same = seg[1:] == seg[:-1]
        if not np.all(~same | (tokens[1:] > tokens[:-1])):
            raise ValueError("tokens must ascend within each segment (and segments be contiguous)")
        prev = np.empty_like(tokens)
        prev[0:1] = -1
        prev[1:] = np.where(same, tokens[:-1], -1)
        del same
        # an on-token right after its segment's previous one enters only the runs that start at it: skip
        # the others before expanding (long on-stretches of dense features are most of the on-tokens)
        keep = (tokens - prev != 1) | self.starts_here[tokens]
        if not keep.all():
            seg, tokens, prev = seg[keep], tokens[keep], prev[keep]
        out = np.zeros(n_seg * n_l, np.int64)
        n_multi = max(self.concept_of_multi.size, 1)
        # (segment, multi-run instance) seen: a bitmap when it is small, else sorted unique keys
        small = n_seg * n_multi <= max(BITMAP_PER_TOKEN * seg.size, BITMAP_MIN)
        seen = np.zeros(n_seg * n_multi, bool) if small else None
        multi_keys = []
        for a in range(0, seg.size, max_tokens):
            b = a + max_tokens
            cnt, pos = expand(tokens[a:b], self.indptr)
            run = self.run[pos]
            first = np.repeat(prev[a:b], cnt) < self.run_start[run]  # previous on-token lies before the run start
            seg_e = np.repeat(seg[a:b], cnt)[first]
            run = run[first]
            multi = self.run_multi[run]
            one = multi < 0
            out += np.bincount(seg_e[one] * n_l + self.run_concept[run[one]], minlength=n_seg * n_l)
            if not one.all():
                keys = seg_e[~one] * n_multi + multi[~one]
                if seen is not None:
                    seen[keys] = True
                else:
                    multi_keys.append(np.unique(keys))
        if seen is not None:
            multi_keys = [np.flatnonzero(seen)]
        if multi_keys:
            keys = np.unique(np.concatenate(multi_keys)) if seen is None else multi_keys[0]
            out += np.bincount((keys // n_multi) * n_l + self.concept_of_multi[keys % n_multi], minlength=n_seg * n_l)
        return out.reshape(n_seg, n_l)
