"""Ground truth for SAE tests and benchmarks: activations built from a known sparse dictionary.

Each token is a sum of a few known unit directions with positive magnitudes; feature i fires with a
Zipfian probability (p_i proportional to 1/(i+1)^exponent), so some features are common and some rare,
like concepts in a genome. A trained SAE should find the directions again (matched by the Hungarian
algorithm on cosine similarity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SparseDictionaryData:
    activations: np.ndarray  # float32 [n, d]
    directions: np.ndarray  # float32 [n_features, d], unit rows
    codes: np.ndarray  # float32 [n, n_features], the true coefficients


def firing_probabilities(n_features: int, mean_active: float, exponent: float) -> np.ndarray:
    """Zipfian firing rates scaled to `mean_active` expected features per token (each capped at 1)."""
    weights = 1.0 / np.arange(1, n_features + 1) ** exponent
    return np.clip(weights * mean_active / weights.sum(), 0.0, 1.0)


def sparse_dictionary_data(
    n_tokens: int,
    d: int,
    n_features: int,
    *,
    mean_active: float = 4.0,
    exponent: float = 0.5,
    noise: float = 0.01,
    offset: float = 1.0,
    seed: int = 0,
) -> SparseDictionaryData:
    """Tokens = offset vector + sum of active features x magnitude in [0.5, 1.5) + Gaussian noise."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((n_features, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    probs = firing_probabilities(n_features, mean_active, exponent)
    active = rng.random((n_tokens, n_features)) < probs[None, :]
    magnitudes = rng.uniform(0.5, 1.5, size=(n_tokens, n_features))
    codes = np.where(active, magnitudes, 0.0)
    bias = offset * rng.standard_normal(d) / np.sqrt(d)
    acts = codes @ directions + bias + noise * rng.standard_normal((n_tokens, d)) / np.sqrt(d)
    return SparseDictionaryData(acts.astype(np.float32), directions.astype(np.float32), codes.astype(np.float32))


def matched_cosine(true_directions: np.ndarray, learned_directions: np.ndarray) -> np.ndarray:
    """Cosine of each true direction with its partner in an optimal one-to-one matching (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    a = true_directions / np.linalg.norm(true_directions, axis=1, keepdims=True)
    b = learned_directions / np.linalg.norm(learned_directions, axis=1, keepdims=True).clip(1e-12)
    cos = a @ b.T
    rows, cols = linear_sum_assignment(-cos)
    out = np.empty(len(a))
    out[rows] = cos[rows, cols]
    return out
