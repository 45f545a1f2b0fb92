"""Control matching on a hand-made case, latent-id checks, and the verdict arithmetic."""

import math

import numpy as np
import pytest

from dnalens.effects.controls import atom_ids, check_latents, match_controls
from dnalens.effects.table import verdict, z_and_p
from dnalens.errors import InputError


def test_nearest_in_log_frequency_and_log_write_norm():
    # latent 0 is tested at (f 0.1, w 10). Distances in (ln f, ln w) by hand:
    # 1: (0.1, 10) -> 0 but annotated (excluded); 2: (0.2, 10) -> ln 2 = 0.69; 3: (0.1, 30) -> ln 3 = 1.10;
    # 4: (0.05, 10) -> ln 2 = 0.69 (tie with 2: lower id first); 5: (0.1, 11) -> ln 1.1 = 0.095;
    # 6: never fires; 7: (0.1, 10.5) -> ln 1.05 = 0.049, nearest; 5 shares its atom (strand twin) -> skipped.
    freq = np.array([0.1, 0.1, 0.2, 0.1, 0.05, 0.1, 0.0, 0.1])
    norm = np.array([10, 10, 10, 30, 10, 11, 10, 10.5])
    excluded = np.array([False, True, False, False, False, False, False, False])
    atoms = np.array([0, 1, 2, 3, 4, 5, 6, 5])
    picked = match_controls([0], freq, norm, n=3, excluded=excluded, atoms=atoms)
    assert picked == {0: [7, 2, 4]}
    # brute force: every eligible candidate sorted by its distance, one per atom
    dist = {c: math.hypot(math.log(freq[c] / 0.1), math.log(norm[c] / 10)) for c in (2, 3, 4, 5, 7)}
    order, seen = [], set()
    for c in sorted(dist, key=lambda c: (round(dist[c], 12), c)):
        if atoms[c] not in seen:
            order.append(c)
            seen.add(atoms[c])
    assert order[:3] == [7, 2, 4]


def test_a_tested_latents_atom_is_never_a_control():
    freq = np.full(6, 0.1)
    norm = np.array([10, 10.1, 10.2, 10.3, 10.4, 10.5])
    atoms = atom_ids(6, 3)  # strand-shared: features j and 3 + j share atom j
    assert atoms.tolist() == [0, 1, 2, 0, 1, 2]
    picked = match_controls([0], freq, norm, n=5, atoms=atoms)
    assert picked == {0: [1, 2]}  # 3 is latent 0's twin; 4 and 5 repeat atoms 1 and 2


def test_latent_ids_out_of_range_name_the_setting():
    assert check_latents([0, 7], 8) == [0, 7]
    with pytest.raises(InputError, match=r"effects\.latents names latent id\(s\) 8 .* 8 features"):
        check_latents([1, 8], 8)


def test_z_p_and_verdict():
    mean, sd, z, p = z_and_p(5.0, [1.0, 2.0, 3.0])
    assert (mean, sd) == (2.0, 1.0) and z == 3.0
    assert p == pytest.approx(0.0026998, rel=1e-4)  # two-sided normal tail at 3 sd
    assert verdict(z, 10, 2.0) == "larger than controls"
    assert verdict(z_and_p(2.5, [1.0, 2.0, 3.0])[2], 10, 2.0) == "no measurable effect"
    assert verdict(float("nan"), 10, 2.0) == "too few controls"
    assert verdict(float("nan"), 0, 2.0) == "not measured"
