"""Encoder names -> constructors: ``make_encoder("minilm")``."""

from __future__ import annotations

import importlib
from typing import Any

from polyroute.encoders._base import Encoder
from polyroute.exceptions import UnknownComponentError

_ENCODERS: dict[str, tuple[str, str]] = {
    "minilm": (
        "polyroute.encoders._minilm:MiniLMEncoder",
        "all-MiniLM-L6-v2 on onnxruntime (default for fit/eval; needs the train extra)",
    ),
    "minilm-st": (
        "polyroute.encoders._st:SentenceTransformerEncoder",
        "all-MiniLM-L6-v2 via sentence-transformers (reference; needs the train extra)",
    ),
    "minilm-static": (
        "polyroute.encoders._static:StaticMiniLMEncoder",
        "static vectors distilled from all-MiniLM-L6-v2 (pure numpy, fast; shipped)",
    ),
    "hashing": (
        "polyroute.encoders._hashing:HashingEncoder",
        "signed feature hashing of word n-grams (no model; tests and tiny setups)",
    ),
}

DEFAULT_ENCODER = "minilm"


def available_encoders() -> dict[str, str]:
    """Encoder name -> one-line description."""
    return {name: desc for name, (_, desc) in _ENCODERS.items()}


def make_encoder(name: str = DEFAULT_ENCODER, **kwargs: Any) -> Encoder:
    """Build the encoder registered as ``name`` with keyword arguments ``kwargs``.

    Encoders that load a model do it here, once; keep the returned object and reuse it.

    Raises
    ------
    UnknownComponentError
        ``name`` is not registered; the message lists the valid names.
    """
    if name not in _ENCODERS:
        raise UnknownComponentError("encoder", name, list(_ENCODERS))
    module, _, cls = _ENCODERS[name][0].partition(":")
    encoder: Encoder = getattr(importlib.import_module(module), cls)(**kwargs)
    return encoder
