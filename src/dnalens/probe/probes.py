"""Linear probes: is a concept linearly present in the dense activations, and in the SAE codes?

Binary concepts get one logistic regression each, all fitted together (one weight column per concept,
class-balanced, L2) by full-batch L-BFGS (scipy; the analytic gradient is two matrix products);
categorical concepts (codon position, amino acid) get one softmax regression. Probes train on a token sample from the training blocks and are scored
on every held-out token, so a probe result sits next to the best single feature ("one latent?") on
the same held-out blocks. Inputs: dense [N, d] arrays (standardised) or scipy.sparse codes (scaled by
each feature's RMS, not centred, so they stay sparse).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit


@dataclass
class LinearProbe:
    weight: np.ndarray  # [d, K]
    bias: np.ndarray  # [K]
    shift: np.ndarray  # [d] subtracted before scaling (0 for sparse inputs)
    scale: np.ndarray  # [d]

    def logits(self, x, batch_rows: int = 65_536) -> np.ndarray:
        n = x.shape[0]
        out = np.empty((n, self.weight.shape[1]), np.float32)
        w = (self.weight / self.scale[:, None]).astype(np.float64)
        b = self.bias - (self.shift / self.scale) @ self.weight
        for r0 in range(0, n, batch_rows):
            part = x[r0 : r0 + batch_rows]
            out[r0 : r0 + batch_rows] = np.asarray(part @ w) + b
        return out


def _standardisation(x) -> tuple[np.ndarray, np.ndarray]:
    if sp.issparse(x):
        rms = np.sqrt(np.asarray(x.multiply(x).mean(axis=0)).ravel())
        return np.zeros(x.shape[1]), np.where(rms > 0, rms, 1.0)
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std > 0, std, 1.0)


def _scaled(x, shift: np.ndarray, scale: np.ndarray):
    """Standardised float32 copy (dense) or column-scaled CSR (sparse, stays sparse)."""
    if sp.issparse(x):
        return sp.csr_matrix(x @ sp.diags((1.0 / scale).astype(np.float32)), dtype=np.float32)
    return ((np.asarray(x, np.float32) - shift.astype(np.float32)) / scale.astype(np.float32)).astype(np.float32)


def _fit(x, loss_grad_of_logits, n_out: int, *, l2: float, max_iter: int) -> LinearProbe:
    """L-BFGS (scipy) on weights [d, K] + bias [K]; loss_grad_of_logits(Z) -> (loss, dL/dZ)."""
    from scipy.optimize import minimize

    shift, scale = _standardisation(x)
    xs = _scaled(x, shift, scale)
    d = x.shape[1]

    def objective(theta: np.ndarray):
        w = theta[: d * n_out].reshape(d, n_out).astype(np.float32)
        b = theta[d * n_out :]
        z = np.asarray(xs @ w, dtype=np.float64) + b
        loss, dz = loss_grad_of_logits(z)
        grad_w = np.asarray(xs.T @ dz.astype(np.float32), dtype=np.float64) + 2 * l2 * w
        loss += l2 * float(np.sum(w.astype(np.float64) ** 2))
        return loss, np.concatenate([grad_w.ravel(), dz.sum(axis=0)])

    theta0 = np.zeros(d * n_out + n_out)
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    w = res.x[: d * n_out].reshape(d, n_out)
    return LinearProbe(w, res.x[d * n_out :], shift, scale)


def fit_binary_probes(x, y: np.ndarray, *, l2: float = 1e-3, max_iter: int = 200) -> LinearProbe:
    """One class-balanced logistic regression per column of y (bool [n, L]), fitted jointly."""
    y = np.asarray(y, bool)
    n_pos = y.sum(axis=0)
    n_neg = y.shape[0] - n_pos
    w_pos = np.where(n_pos > 0, 0.5 / np.maximum(n_pos, 1), 0.0)
    w_neg = np.where(n_neg > 0, 0.5 / np.maximum(n_neg, 1), 0.0)
    weights = np.where(y, w_pos, w_neg)
    yf = y.astype(np.float64)

    def loss_grad(z):
        # softplus(z) - y z = -log sigmoid(±z): one pass each for the loss and the gradient (scipy.special)
        loss = -np.sum(weights * log_expit(np.where(y, z, -z)))
        return loss, weights * (expit(z) - yf)

    return _fit(x, loss_grad, y.shape[1], l2=l2, max_iter=max_iter)


def fit_softmax_probe(x, y: np.ndarray, n_classes: int, *, l2: float = 1e-3, max_iter: int = 200) -> LinearProbe:
    """Multinomial logistic regression on class ids y (int [n], 0..n_classes-1)."""
    y = np.asarray(y, np.int64)
    n = max(y.size, 1)
    rows = np.arange(y.size)

    def loss_grad(z):
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -log_p[rows, y].sum() / n
        dz = np.exp(log_p)
        dz[rows, y] -= 1.0
        return loss, dz / n

    return _fit(x, loss_grad, n_classes, l2=l2, max_iter=max_iter)


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Mean recall over the classes present in y_true."""
    recalls = [np.mean(y_pred[y_true == c] == c) for c in range(n_classes) if np.any(y_true == c)]
    return float(np.mean(recalls)) if recalls else float("nan")


def sample_rows(rows: np.ndarray, max_rows: int, seed: int = 0) -> np.ndarray:
    """At most max_rows of rows (sorted), drawn without replacement."""
    if rows.size <= max_rows:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
