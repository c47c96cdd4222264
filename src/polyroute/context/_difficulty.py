"""Learned prompt difficulty: the predicted share of models that fail a prompt.

Inputs are the router's prompt embedding plus four cheap text features (log length, its square,
code, share of digits), standardised; the model is a small stack of dense layers (ReLU between
them; one layer = a linear model) fitted on the shared routing data, where difficulty = mean over
a dataset's models of (1 - score) (for 0/1 scores: the share of models that fail the prompt).
Stored as plain arrays, ``difficulty.npz``, plus ``difficulty.json`` (encoder, provenance):
never pickle. Fitted and measured by ``bench/context_difficulty.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.context._complexity import has_code
from polyroute.exceptions import ConfigError

Array = np.ndarray
NPZ, META = "difficulty.npz", "difficulty.json"
N_TEXT_FEATURES = 4
_NO_DIGITS = str.maketrans("", "", "0123456789")


def text_features(texts: Sequence[str]) -> Array:
    """The text features next to the embedding, shape (n, 4)."""
    out = np.empty((len(texts), N_TEXT_FEATURES), dtype=np.float32)
    for i, t in enumerate(texts):
        n = np.log1p(len(t))
        head = t[:4000]
        digits = (len(head) - len(head.translate(_NO_DIGITS))) / max(len(head), 1)
        out[i] = (n, n * n / 10.0, float(has_code(t)), digits)
    return out


class DifficultyModel:
    """Predicts difficulty in [0, 1] from prompt embeddings and texts.

    Parameters
    ----------
    weights, biases : sequences of arrays
        Dense layers, applied in order with ReLU between them; the last one has one output.
    shift, scale : arrays, shape (d + 4,)
        Standardisation of the inputs (embedding dims, then :func:`text_features`).
    encoder : str
        The encoder whose embeddings the model takes.
    """

    def __init__(
        self,
        weights: Sequence[Array],
        biases: Sequence[Array],
        shift: Array,
        scale: Array,
        *,
        encoder: str,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if not weights or len(weights) != len(biases):
            raise ConfigError(
                f"expected as many biases as weights (≥ 1), found {len(weights)}/{len(biases)}"
            )
        self.weights = [np.asarray(w, dtype=np.float32) for w in weights]
        self.biases = [np.asarray(b, dtype=np.float32).ravel() for b in biases]
        self.shift = np.asarray(shift, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        self.encoder = encoder
        self.meta = dict(meta or {})

    @property
    def n_features(self) -> int:
        return int(self.weights[0].shape[0]) - N_TEXT_FEATURES

    def predict(self, X: Array, texts: Sequence[str]) -> Array:
        """Difficulty per prompt: embeddings ``X`` (n, d) and the prompt texts."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        if X.shape[1] != self.n_features or X.shape[0] != len(texts):
            raise ConfigError(
                f"difficulty model expects {self.n_features}-dim embeddings of {self.encoder!r}, "
                f"one per text; found shape {X.shape} for {len(texts)} texts"
            )
        h = (np.hstack([X, text_features(texts)]) - self.shift) / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return np.asarray(np.clip(h[:, 0], 0.0, 1.0))

    def save(self, directory: str | Path) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {"shift": self.shift, "scale": self.scale}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"w{i}"], arrays[f"b{i}"] = w.astype(np.float16), b
        np.savez_compressed(d / NPZ, **arrays)
        meta = {"encoder": self.encoder, "n_layers": len(self.weights), **self.meta}
        (d / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> DifficultyModel:
        """Read ``difficulty.{npz,json}`` from ``directory`` (``ConfigError`` when absent)."""
        d = Path(directory)
        if not (d / NPZ).is_file() or not (d / META).is_file():
            raise ConfigError(f"expected {NPZ} and {META} in {d}, found none")
        meta = json.loads((d / META).read_text())
        n = int(meta.pop("n_layers"))
        encoder = str(meta.pop("encoder"))
        with np.load(d / NPZ, allow_pickle=False) as z:
            weights = [z[f"w{i}"] for i in range(n)]
            biases = [z[f"b{i}"] for i in range(n)]
            shift, scale = z["shift"], z["scale"]
        return cls(weights, biases, shift, scale, encoder=encoder, meta=meta)
