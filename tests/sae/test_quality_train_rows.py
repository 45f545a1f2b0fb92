"""sae-quality --measured-on train: the rows a choice among SAEs may read are training windows spread over the
genome (both strands of a stretch together), never a held-out window, about quality_tokens in all."""

from __future__ import annotations

import numpy as np

from dnalens.formats.window_table import Window
from dnalens.sae.data import holdout_mask
from dnalens.sae.quality_report import spread_training_windows


def _windows(n: int, length: int = 100) -> list[Window]:
    """n stretches of the contig, each read on + then -."""
    return [Window("c", i * length, (i + 1) * length, s, f"w{i}{s}") for i in range(n) for s in "+-"]


def test_spread_training_windows_by_hand():
    windows = _windows(10)
    held = np.zeros(20, bool)
    held[[8, 9]] = True  # stretch 4 is held out
    # 9 training stretches x 2 strands x 100 nt = 1,800 nt; a budget of 600 takes every 3rd stretch: 0, 3, 6
    got = spread_training_windows(windows, held, 600)
    assert np.flatnonzero(got).tolist() == [0, 1, 6, 7, 14, 15]
    assert not (got & held).any()


def test_never_held_out_and_spread_over_the_genome():
    windows = _windows(400)
    held = holdout_mask(windows, 0.1, 4)
    got = spread_training_windows(windows, held, 8000)
    assert got.any() and not (got & held).any()
    starts = np.array([w.start for w, g in zip(windows, got) if g])
    assert starts.min() < 4_000 and starts.max() > 36_000  # first and last tenth of the 40 kb contig
    assert abs(int(got.sum()) * 100 - 8000) <= 2 * 100 * 2  # about the budget
    assert all(got[i] == got[i + 1] for i in range(0, len(windows), 2))  # both strands together
