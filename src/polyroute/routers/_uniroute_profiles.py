"""Pure numpy helpers of the UniRoute routers: assignments, profile counts, smoothing.

See :mod:`polyroute.routers._uniroute` for the method (Jitkrittum et al., 2025, arXiv 2502.08773).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, expit, logit

from polyroute.routers._base import Array

_SMOOTHINGS = ("laplace", "shrink", "hierarchical")
_ASSIGNMENTS = ("hard", "soft")
_EPS = 1e-6


# ---------------------------------------------------------------------------- pure helpers
def l2_normalise(X: Array) -> Array:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.asarray(X / np.maximum(norms, 1e-12))


def soft_assign(X: Array, centroids: Array, temperature: float | None) -> Array:
    """Cluster responsibilities (n, K): one-hot nearest centroid, or softmax(−d²/temperature)."""
    d2 = (
        (X * X).sum(1)[:, None] - 2.0 * X @ centroids.T + (centroids * centroids).sum(1)[None, :]
    ).astype(np.float64)
    if temperature is None:
        R = np.zeros_like(d2)
        R[np.arange(len(d2)), d2.argmin(1)] = 1.0
        return np.asarray(R)
    Z = -d2 / temperature
    Z -= Z.max(1, keepdims=True)
    np.exp(Z, out=Z)
    return np.asarray(Z / Z.sum(1, keepdims=True))


def profile_counts(R: Array, Y: Array) -> tuple[Array, Array]:
    """(errors, counts) per (model, cluster) from responsibilities R (n, K) and quality Y (n, M)."""
    Y = np.asarray(Y, dtype=np.float64)
    seen = np.isfinite(Y)
    err = np.where(seen, 1.0 - np.nan_to_num(Y), 0.0)
    return (R.T @ err).T, (R.T @ seen.astype(np.float64)).T


def overall_error(errors: Array, counts: Array) -> Array:
    """Each model's overall error rate (lightly smoothed towards 0.5), shape (M,)."""
    return np.asarray((errors.sum(1) + 1.0) / (counts.sum(1) + 2.0))


def cluster_offsets(errors: Array, counts: Array) -> Array:
    """Logit difficulty of each cluster relative to each model's overall error, averaged (K,)."""
    p = (errors + 0.5) / (counts + 1.0)
    mu = overall_error(errors, counts)[:, None]
    w = counts / np.maximum(counts + 10.0, _EPS)  # trust well-populated cells more
    diff = logit(np.clip(p, 0.01, 0.99)) - logit(mu)
    return np.asarray((w * diff).sum(0) / np.maximum(w.sum(0), _EPS))


def prior_error(errors: Array, counts: Array, offsets: Array | None) -> Array:
    """Prior error per (model, cluster): the model's overall error, optionally shifted per cluster."""
    mu = overall_error(errors, counts)[:, None]
    if offsets is None:
        return np.broadcast_to(mu, errors.shape).copy()
    return np.asarray(expit(logit(mu) + offsets[None, :]))


def fit_shrink_strength(errors: Array, counts: Array, prior: Array) -> float:
    """Beta-binomial marginal-likelihood estimate of the prior strength (pseudo-count) s.

    Cell ``(m, c)`` has ``errors ~ BetaBinomial(counts, s·prior, s·(1 − prior))``; ``s`` is chosen
    on a log grid. Fractional (soft) counts are fine: the likelihood uses log-Beta functions.
    """
    keep = counts > 0.5
    if not keep.any():
        return 10.0
    k, n, p = errors[keep], counts[keep], np.clip(prior[keep], 0.01, 0.99)
    grid = np.geomspace(0.5, 2000.0, 60)
    ll = [
        float(np.sum(betaln(k + s * p, n - k + s * (1 - p)) - betaln(s * p, s * (1 - p))))
        for s in grid
    ]
    return float(grid[int(np.argmax(ll))])


def smoothed_error(
    errors: Array,
    counts: Array,
    *,
    smoothing: str,
    alpha: float,
    strength: float,
    offsets: Array | None,
) -> Array:
    """Ψ (M, K): Laplace ``(err + α)/(n + 2α)`` or shrinkage ``(err + s·prior)/(n + s)``."""
    if smoothing == "laplace":
        return (errors + alpha) / (counts + 2.0 * alpha)
    prior = prior_error(errors, counts, offsets if smoothing == "hierarchical" else None)
    return (errors + strength * prior) / (counts + strength)


def centred_error(quality: Array, Y: Array) -> float:
    """Mean squared error of per-prompt *differences between models* (both sides centred over
    the models of each prompt); unknown labels (NaN) count as predicted."""
    Y = np.where(np.isfinite(Y), Y, quality)
    resid = (quality - quality.mean(1, keepdims=True)) - (Y - Y.mean(1, keepdims=True))
    return float(np.mean(resid**2))


#: K-means is fitted on at most this many prompts (a seeded sample): centroids of a few thousand
#: prompts are as good for profiling, and the cost stays flat as training sets grow.
KMEANS_MAX_ROWS = 4000


def kmeans_centroids(X: Array, k: int, n_init: int, seed: int) -> Array:
    """Seeded K-means centroids (on a sample of at most ``KMEANS_MAX_ROWS`` rows)."""
    from sklearn.cluster import KMeans

    if len(X) > KMEANS_MAX_ROWS:
        X = X[np.random.default_rng(seed).choice(len(X), KMEANS_MAX_ROWS, replace=False)]
    k = min(k, len(X))
    km = KMeans(n_clusters=k, n_init=n_init, max_iter=100, random_state=seed).fit(X)
    return np.asarray(km.cluster_centers_, dtype=np.float32)


def median_d2(X: Array, centroids: Array) -> float:
    d2 = (X * X).sum(1)[:, None] - 2.0 * X @ centroids.T + (centroids * centroids).sum(1)[None]
    return float(max(np.median(d2.min(1)), 1e-6))


def softmax_map(X: Array, W: Array) -> Array:
    Z = X @ W[:-1] + W[-1]
    Z = Z - Z.max(1, keepdims=True)
    E = np.exp(Z)
    return np.asarray(E / E.sum(1, keepdims=True))


def train_map(
    X: Array,
    Y: Array,
    W0: Array,
    prior: tuple[Array, float],
    *,
    l2: float,
    max_iter: int,
    rng: np.random.Generator,
    objective: str = "log-loss",
) -> Array:
    """L-BFGS on the two-half profile-then-predict loss (see LearnedMapRouter).

    ``objective``: ``"log-loss"`` (binary cross-entropy of each model's correctness) or
    ``"centred"`` (squared error of the per-prompt differences between models).
    """
    from scipy.optimize import minimize

    if max_iter == 0 or len(X) < 4:
        return W0
    perm = rng.permutation(len(X))
    halves = (perm[: len(X) // 2], perm[len(X) // 2 :])
    Xd = X.astype(np.float64)
    seen = np.isfinite(Y)
    E = np.where(seen, 1.0 - np.nan_to_num(Y), 0.0)
    N = seen.astype(np.float64)
    # centred objective: an unknown label counts as the model's mean error (no signal)
    E_fill = np.where(seen, E, (E.sum(0) / np.maximum(N.sum(0), 1.0))[None, :])
    pi, s = prior
    shape = W0.shape

    def loss_grad(w: Array) -> tuple[float, Array]:
        W = w.reshape(shape)
        Phi = softmax_map(Xd, W)
        dPhi = np.zeros_like(Phi)
        total = 0.0
        for p_rows, f_rows in (halves, halves[::-1]):
            A = Phi[p_rows]
            errs, cnt = A.T @ E[p_rows], A.T @ N[p_rows]  # (K, M)
            denom = cnt + s
            psi = (errs + s * pi) / denom
            if objective == "centred":
                Pf = Phi[f_rows] @ psi
                r = _centre(E_fill[f_rows]) - _centre(Pf)
                total += float((r**2).sum() / r.size)
                G = -2.0 * r / r.size  # r is centred, so the centring's Jacobian drops out
            else:
                Pf = np.clip(Phi[f_rows] @ psi, 1e-4, 1 - 1e-4)  # predicted error
                yf, nf = E[f_rows], N[f_rows]  # yf = observed error
                count = max(nf.sum(), 1.0)
                total += float(-(nf * (yf * np.log(Pf) + (1 - yf) * np.log(1 - Pf))).sum() / count)
                G = nf * (-(yf / Pf) + (1 - yf) / (1 - Pf)) / count  # dL/dPerr
            dPhi[f_rows] += G @ psi.T
            H = Phi[f_rows].T @ G  # dL/dpsi (K, M)
            dPhi[p_rows] += E[p_rows] @ (H / denom).T - N[p_rows] @ (H * psi / denom).T
        dZ = Phi * (dPhi - (dPhi * Phi).sum(1, keepdims=True))
        grad = np.vstack([Xd.T @ dZ, dZ.sum(0, keepdims=True)])
        delta = W[:-1] - W0[:-1]  # stay near the K-means map unless correctness says otherwise
        reg = l2 * float((delta**2).sum())
        grad[:-1] += 2.0 * l2 * delta
        return total + reg, grad.ravel()

    res = minimize(
        loss_grad, W0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": max_iter}
    )
    return np.asarray(res.x.reshape(shape))


def _centre(A: Array) -> Array:
    return np.asarray(A - A.mean(1, keepdims=True))
