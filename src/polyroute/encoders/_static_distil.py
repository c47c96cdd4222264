"""Distil all-MiniLM-L6-v2 into a static token-vector table (Model2Vec-style, our implementation).

Method (after Tulkens & van Dongen, *Model2Vec*, 2024): every WordPiece token of the vocabulary
is run through the real transformer alone, as ``[CLS] token [SEP]``, and the mean-pooled,
L2-normalised sentence embedding becomes the token's static vector. The table is then reduced
with PCA (fit on the token vectors) and each token vector is multiplied by a weight derived from
the token's rank in the vocabulary (a frequency proxy: WordPiece ids are roughly ordered by
frequency): Zipf ``log(1 + rank)`` or SIF ``a / (a + p(rank))`` with ``p`` a Zipf distribution.

Deviations from Model2Vec: no vocabulary extension, no tokenizer surgery; ``[unusedN]`` and
``[PAD]`` are skipped (zero vectors); the embedding of the empty input ``[CLS] [SEP]`` is kept
as the fallback for texts without known tokens.

Two cache files live under ``<cache dir>/static/``: the raw distilled table
``<sha256(weights + distillation recipe)>.raw.npz`` (the expensive part, about a minute of CPU)
and the final table ``<sha256(weights + full recipe)>.npz``; both are written to a temporary file
and renamed into place under an advisory lock, so concurrent first uses never see partial files
and changing only the PCA/weighting recipe never re-runs the transformer.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.encoders._onnx_export import _file_lock
from polyroute.exceptions import ConfigError

logger = logging.getLogger(__name__)

DISTIL_RECIPE = "cls-token-sep/mean-l2/v1"  # part of the raw table's key: bump on any change
FINAL_FORMAT = "static/v2"  # part of the final table's key
WEIGHTINGS = ("zipf", "sif", "none")
_UNUSED = re.compile(r"^\[unused\d+\]$")
_SKIPPED = frozenset({"[PAD]"})


@dataclass(frozen=True)
class StaticRecipe:
    """What the final table depends on besides the weights (all of it keys the cache file)."""

    n_components: int
    weighting: str
    sif_a: float
    vocab_size: int | None

    @property
    def tag(self) -> str:
        """``"pca256-zipf"``; ``"-sif1e-03"`` names the SIF constant, ``"-v2000"`` a subset."""
        tag = f"pca{self.n_components}-{self.weighting}"
        if self.weighting == "sif":
            tag += f"{self.sif_a:.0e}"
        if self.vocab_size is not None:
            tag += f"-v{self.vocab_size}"
        return tag


@dataclass(frozen=True)
class StaticTable:
    """A loaded table: ``vectors`` (vocab, dim) float32 (weights folded in) and ``fallback``."""

    vectors: np.ndarray
    fallback: np.ndarray
    distillation_s: float | None  # seconds spent running the transformer now; None = cached


def kept_token_ids(vocab: dict[str, int], vocab_size: int | None) -> np.ndarray:
    """Ids to distil, ascending: all but ``[unusedN]``/``[PAD]``, the first ``vocab_size`` kept."""
    ids = sorted(i for tok, i in vocab.items() if tok not in _SKIPPED and not _UNUSED.match(tok))
    if vocab_size is not None:
        ids = ids[:vocab_size]
    return np.asarray(ids, dtype=np.int64)


def load_or_build(
    *,
    directory: Path,
    weights_key: str,
    recipe: StaticRecipe,
    vocab: dict[str, int],
    special_ids: tuple[int, int],
    run_model: Callable[[], Callable[[np.ndarray], np.ndarray]],
    batch_size: int = 512,
) -> StaticTable:
    """Return the final table for ``recipe``, distilling and/or projecting it first if needed.

    ``run_model()`` is called only when the raw table must be distilled; it returns a function
    mapping int64 ids (batch, seq) with a full attention mask to unit-norm embeddings.
    """
    directory.mkdir(parents=True, exist_ok=True)
    final_key = _digest(weights_key, DISTIL_RECIPE, FINAL_FORMAT, recipe.tag)
    final_path = directory / f"{final_key}.npz"
    n_rows = max(vocab.values()) + 1  # one row per token id
    table = _read_final(final_path, n_rows, recipe.n_components)
    if table is not None:
        return table
    with _file_lock(directory / f"{final_key}.lock"):
        table = _read_final(final_path, n_rows, recipe.n_components)
        if table is not None:  # another process built it while we waited
            return table
        raw, empty, seconds = _raw_table(
            directory, weights_key, recipe.vocab_size, vocab, special_ids, run_model, batch_size
        )
        vectors, fallback = project(raw, empty, recipe, vocab_size=n_rows)
        _atomic_savez(final_path, vectors=vectors, fallback=fallback)
    return StaticTable(vectors, fallback, seconds)


def project(
    raw: np.ndarray, empty: np.ndarray, recipe: StaticRecipe, *, vocab_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """PCA + rank weighting of a raw table ``raw`` (ids, 1 + dim: id column then vector)."""
    ids = raw[:, 0].astype(np.int64)
    tokens = raw[:, 1:].astype(np.float64)
    if not 1 <= recipe.n_components <= min(tokens.shape):
        raise ConfigError(
            f"n_components: expected an int in [1, {min(tokens.shape)}] for "
            f"{tokens.shape[0]} tokens of width {tokens.shape[1]}; "
            f"found {recipe.n_components}"
        )
    mean = tokens.mean(axis=0)
    centred = tokens - mean
    # principal axes from the (dim, dim) scatter matrix: far cheaper than an SVD of the table
    eigvals, eigvecs = np.linalg.eigh(centred.T @ centred)
    basis = eigvecs[:, np.argsort(-eigvals, kind="stable")[: recipe.n_components]]
    basis *= np.where(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])] < 0, -1, 1)
    reduced = centred @ basis
    ranks = np.arange(1, len(ids) + 1, dtype=np.float64)  # vocabulary order ~ frequency order
    if recipe.weighting == "zipf":
        weights = np.log1p(ranks)
    elif recipe.weighting == "sif":
        prob = (1.0 / ranks) / (1.0 / ranks).sum()
        weights = recipe.sif_a / (recipe.sif_a + prob)
    else:
        weights = np.ones_like(ranks)
    vectors = np.zeros((vocab_size, recipe.n_components), dtype=np.float32)
    vectors[ids] = (reduced * weights[:, None]).astype(np.float32)
    fallback = ((empty.astype(np.float64) - mean) @ basis).astype(np.float32)
    norm = float(np.linalg.norm(fallback))
    fallback = fallback / norm if norm > 0 else np.full_like(fallback, 1 / np.sqrt(fallback.size))
    return vectors, fallback


def _raw_table(
    directory: Path,
    weights_key: str,
    vocab_size: int | None,
    vocab: dict[str, int],
    special_ids: tuple[int, int],
    run_model: Callable[[], Callable[[np.ndarray], np.ndarray]],
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray, float | None]:
    subset = "all" if vocab_size is None else f"first{vocab_size}"
    raw_path = directory / f"{_digest(weights_key, DISTIL_RECIPE, subset)}.raw.npz"
    arrays = _read_npz(raw_path, ("raw", "empty"))
    if arrays is not None:
        return arrays["raw"], arrays["empty"], None
    ids = kept_token_ids(vocab, vocab_size)
    start = time.perf_counter()
    run = run_model()
    cls_id, sep_id = special_ids
    empty = run(np.array([[cls_id, sep_id]], dtype=np.int64))[0]
    out = np.empty((len(ids), empty.size), dtype=np.float32)
    logger.info("distilling %d MiniLM tokens into static vectors (first use)", len(ids))
    for lo in range(0, len(ids), batch_size):
        chunk = ids[lo : lo + batch_size]
        batch = np.stack([np.full_like(chunk, cls_id), chunk, np.full_like(chunk, sep_id)], 1)
        out[lo : lo + len(chunk)] = run(batch)
    seconds = time.perf_counter() - start
    logger.info("distilled %d tokens in %.1f s", len(ids), seconds)
    raw = np.hstack([ids[:, None].astype(np.float32), out])  # ids < 2**24: exact in float32
    _atomic_savez(raw_path, raw=raw, empty=empty)
    return raw, empty, seconds


def _read_final(path: Path, vocab_size: int, n_components: int) -> StaticTable | None:
    arrays = _read_npz(path, ("vectors", "fallback"))
    if arrays is None:
        return None
    if arrays["vectors"].shape != (vocab_size, n_components):
        logger.warning(
            "static table %s has shape %s, expected %s; rebuilding it",
            path,
            arrays["vectors"].shape,
            (vocab_size, n_components),
        )
        return None
    return StaticTable(
        arrays["vectors"].astype(np.float32, copy=False),
        arrays["fallback"].astype(np.float32, copy=False),
        None,
    )


def _read_npz(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Arrays ``names`` of ``path``; None when the file is absent or unreadable (then rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.asarray(data[name]) for name in names}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        logger.warning("static table %s is unreadable (%s); rebuilding it", path, exc)
        return None


def _atomic_savez(path: Path, **arrays: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp.npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the table is not secret
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
