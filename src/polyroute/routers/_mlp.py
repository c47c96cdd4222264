"""Per-model quality predictors on query embeddings: a multi-output MLP and a linear model.

Both predict ``P(model m answers query x well)`` with sigmoid outputs trained on *soft targets*
(the scores in [0, 1] themselves, binary cross-entropy), ignoring NaN targets. This is the
"retrained MLP" baseline of UniRoute (arXiv 2502.08773) and the per-model predictor family of
RouterBench / RouteLLM. Pure numpy (and scipy's L-BFGS for the linear model): no torch needed.

Determinism: every draw comes from ``np.random.default_rng(random_state)`` in ``fit``, and the
MLP trains in a canonical (name-sorted) model order, so permuting the model columns permutes the
predictions exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
from scipy.optimize import minimize

from polyroute.exceptions import DataError
from polyroute.routers._base import BaseRouter
from polyroute.routers._support import DEFAULT_SAFETY

Array = np.ndarray


def _sigmoid(z: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def _bce_grad(logits: Array, Y: Array) -> tuple[float, Array]:
    """Masked binary cross-entropy (mean over known entries) and its gradient wrt the logits."""
    known = ~np.isnan(Y)
    n_known = max(int(known.sum()), 1)
    t = np.where(known, Y, 0.0)
    # log(1 + e^z) - t z, computed stably
    loss = np.where(known, np.logaddexp(0.0, logits) - t * logits, 0.0).sum() / n_known
    grad = np.where(known, _sigmoid(logits) - t, 0.0) / n_known
    return float(loss), grad


class MLPRouter(BaseRouter):
    """A multi-output MLP (ReLU hidden layers, one sigmoid output per model) on embeddings.

    Trained with Adam on masked binary cross-entropy against the soft scores, L2 penalty
    ``alpha``, early stopping on a random ``validation_fraction`` of the training prompts (the best
    epoch's weights are kept).

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default (256,)
    alpha : float, default 1e-4
        L2 penalty on the weights.
    learning_rate : float, default 1e-3
    batch_size : int, default 128
    max_epochs : int, default 200
    patience : int, default 10
        Epochs without validation improvement before stopping.
    validation_fraction : float, default 0.1
    safety : float or None, default 0.9
        The safe rule (:meth:`BaseRouter.predict_scores`): share of prompts of unseen tasks that
        fall back fully to each model's mean training quality; None = off.
    random_state : int or None, default 0

    Attributes
    ----------
    n_epochs_ : int
        Epochs run. ``best_epoch_`` is the one whose weights were kept.
    """

    _constraints: ClassVar[dict[str, tuple[type, float | None, float | None]]] = {
        "alpha": (float, 0.0, None),
        "learning_rate": (float, 0.0, None),
        "batch_size": (int, 1, None),
        "max_epochs": (int, 1, None),
        "patience": (int, 1, None),
        "validation_fraction": (float, 0.0, 0.5),
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes: Sequence[int] = (256,),
        alpha: float = 1e-4,
        learning_rate: float = 1e-3,
        batch_size: int = 128,
        max_epochs: int = 200,
        patience: int = 10,
        validation_fraction: float = 0.1,
        safety: float | None = DEFAULT_SAFETY,
        random_state: int | None = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.safety = safety
        self.random_state = random_state

    def fit(
        self, X: Array, Y: Array, *, model_names: Sequence[str], tasks: Sequence[str] | None = None
    ) -> Self:
        sizes = list(self.hidden_layer_sizes)
        if any(not isinstance(h, int | np.integer) or isinstance(h, bool) or h < 1 for h in sizes):
            raise DataError(
                "MLPRouter.hidden_layer_sizes must be positive ints; found "
                f"{self.hidden_layer_sizes!r}"
            )
        X, Y = self._validate_fit(X, Y, model_names)
        X = X.astype(np.float64)
        self.n_features_in_ = int(X.shape[1])
        order = np.argsort(np.asarray(self.model_names_, dtype=object), kind="stable")
        rng = np.random.default_rng(self.random_state)
        train, val = self._split(len(X), rng)
        params = _init(rng, [X.shape[1], *sizes, Y.shape[1]])
        params, self.n_epochs_, self.best_epoch_ = self._train(
            params, X[train], Y[train][:, order], X[val], Y[val][:, order], rng
        )
        inverse = np.argsort(order)
        params[-2] = params[-2][:, inverse]  # output layer back to the caller's model order
        params[-1] = params[-1][inverse]
        self._set_params_arrays(params)
        self._fit_support(X, Y, tasks)
        return self

    def _predict_quality(self, X: Array) -> Array:
        X = self._check_X(X).astype(np.float64)
        return _sigmoid(_forward(self._params(), X)[-1])

    # ------------------------------------------------------------------ training
    def _split(self, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
        n_val = round(self.validation_fraction * n)
        if n_val == 0 or n - n_val < 1:
            idx = np.arange(n)
            return idx, idx[:0]
        perm = rng.permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def _train(
        self,
        params: list[Array],
        X: Array,
        Y: Array,
        Xv: Array,
        Yv: Array,
        rng: np.random.Generator,
    ) -> tuple[list[Array], int, int]:
        adam = _Adam(params, self.learning_rate)
        best, best_loss, best_epoch, stale, epoch = [p.copy() for p in params], np.inf, 0, 0, 0
        for epoch in range(1, self.max_epochs + 1):
            for batch in np.array_split(
                rng.permutation(len(X)), max(1, int(np.ceil(len(X) / self.batch_size)))
            ):
                adam.step(params, self._gradients(params, X[batch], Y[batch]))
            loss = self._loss(params, Xv, Yv) if len(Xv) else self._loss(params, X, Y)
            if loss < best_loss - 1e-7:
                best, best_loss, best_epoch, stale = [p.copy() for p in params], loss, epoch, 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        return best, epoch, best_epoch

    def _loss(self, params: list[Array], X: Array, Y: Array) -> float:
        return _bce_grad(_forward(params, X)[-1], Y)[0]

    def _gradients(self, params: list[Array], X: Array, Y: Array) -> list[Array]:
        acts = _forward(params, X)
        _, delta = _bce_grad(acts[-1], Y)
        grads: list[Array] = [np.empty(0)] * len(params)
        for layer in range(len(params) // 2 - 1, -1, -1):
            W = params[2 * layer]
            grads[2 * layer] = acts[layer].T @ delta + self.alpha * W
            grads[2 * layer + 1] = delta.sum(axis=0)
            if layer:
                delta = (delta @ W.T) * (acts[layer] > 0)
        return grads

    # ------------------------------------------------------------------ persistence
    def _set_params_arrays(self, params: list[Array]) -> None:
        self.n_layers_ = len(params) // 2
        for i in range(self.n_layers_):
            setattr(self, f"coef{i}_", params[2 * i].astype(np.float32))
            setattr(self, f"intercept{i}_", params[2 * i + 1].astype(np.float32))

    def _params(self) -> list[Array]:
        self._check_fitted()
        out: list[Array] = []
        for i in range(int(self.n_layers_)):
            out += [
                np.asarray(getattr(self, f"coef{i}_"), dtype=np.float64),
                np.asarray(getattr(self, f"intercept{i}_"), dtype=np.float64),
            ]
        return out


def _init(rng: np.random.Generator, sizes: list[int]) -> list[Array]:
    params: list[Array] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform
        params += [rng.uniform(-bound, bound, (fan_in, fan_out)), np.zeros(fan_out)]
    return params


def _forward(params: list[Array], X: Array) -> list[Array]:
    """Activations per layer: input, hidden ReLUs, output logits."""
    acts = [X]
    n_layers = len(params) // 2
    for i in range(n_layers):
        z = acts[-1] @ params[2 * i] + params[2 * i + 1]
        acts.append(np.maximum(z, 0.0) if i < n_layers - 1 else z)
    return acts


class _Adam:
    def __init__(
        self, params: list[Array], lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
    ) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params: list[Array], grads: list[Array]) -> None:
        self.t += 1
        c1, c2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


class LinearRouter(BaseRouter):
    """One linear quality predictor per model on the embeddings.

    ``loss="logistic"``: logistic regression on the soft scores (binary cross-entropy, NaN
    targets ignored, L2 penalty ``alpha`` on the weights, L-BFGS); ``loss="ridge"``: ridge
    regression in closed form, predictions clipped to [0, 1]. Each model is fitted on its own,
    so permuting the model columns permutes the predictions exactly.

    Parameters
    ----------
    alpha : float, default 1.0
        L2 penalty (per training prompt for ``logistic``: the objective is mean BCE +
        ``alpha/(2n)·||w||²``, like scikit-learn with ``C = 1/alpha``).
    loss : {"logistic", "ridge"}, default "logistic"
    max_iter : int, default 500
    safety : float or None, default 0.9
        The safe rule (:meth:`BaseRouter.predict_scores`): share of prompts of unseen tasks that
        fall back fully to each model's mean training quality; None = off.
    """

    _constraints: ClassVar[dict[str, tuple[type, float | None, float | None]]] = {
        "alpha": (float, 0.0, None),
        "max_iter": (int, 1, None),
    }

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        loss: str = "logistic",
        max_iter: int = 500,
        safety: float | None = DEFAULT_SAFETY,
    ) -> None:
        self.alpha = alpha
        self.loss = loss
        self.max_iter = max_iter
        self.safety = safety

    def fit(
        self, X: Array, Y: Array, *, model_names: Sequence[str], tasks: Sequence[str] | None = None
    ) -> Self:
        if self.loss not in ("logistic", "ridge"):
            raise DataError(f"LinearRouter.loss must be 'logistic' or 'ridge'; found {self.loss!r}")
        X, Y = self._validate_fit(X, Y, model_names)
        X = X.astype(np.float64)
        self.n_features_in_ = int(X.shape[1])
        coef = np.zeros((X.shape[1], Y.shape[1]))
        intercept = np.zeros(Y.shape[1])
        for j in range(Y.shape[1]):
            rows = ~np.isnan(Y[:, j])
            if not rows.any():
                continue
            fit_one = self._fit_logistic if self.loss == "logistic" else self._fit_ridge
            coef[:, j], intercept[j] = fit_one(X[rows], Y[rows, j])
        self.coef_, self.intercept_ = coef, intercept
        self._fit_support(X, Y, tasks)
        return self

    def _predict_quality(self, X: Array) -> Array:
        z = self._check_X(X).astype(np.float64) @ self.coef_ + self.intercept_
        return _sigmoid(z) if self.loss == "logistic" else np.clip(z, 0.0, 1.0)

    def _fit_ridge(self, X: Array, y: Array) -> tuple[Array, float]:
        mx, my = X.mean(axis=0), y.mean()
        Xc = X - mx
        gram = Xc.T @ Xc + self.alpha * np.eye(X.shape[1])
        w = np.linalg.solve(gram, Xc.T @ (y - my))
        return w, float(my - mx @ w)

    def _fit_logistic(self, X: Array, y: Array) -> tuple[Array, float]:
        n, d = X.shape
        lam = self.alpha / n

        def objective(theta: Array) -> tuple[float, Array]:
            w, b = theta[:d], theta[d]
            z = X @ w + b
            loss = float(np.mean(np.logaddexp(0.0, z) - y * z)) + 0.5 * lam * float(w @ w)
            r = (_sigmoid(z) - y) / n
            return loss, np.r_[X.T @ r + lam * w, r.sum()]

        res = minimize(
            objective,
            np.zeros(d + 1),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter},
        )
        return res.x[:d], float(res.x[d])
