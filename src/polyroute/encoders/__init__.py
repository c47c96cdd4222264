"""Query encoders: texts -> L2-normalised float32 vectors, with an on-disk cache.

``make_encoder("minilm")`` (default, onnxruntime; the ``train`` extra), ``"minilm-st"``
(sentence-transformers reference; ``train``), ``"minilm-static"`` (static vectors distilled from
MiniLM; pure numpy, default table shipped: the base install) and ``"hashing"`` (no model);
``encode_cached`` / ``embed_dataset`` go through the SQLite cache.
"""

from polyroute.encoders._base import Encoder
from polyroute.encoders._cache import (
    EmbeddingCache,
    EmbeddingCacheWarning,
    cache_path,
    embed_dataset,
    encode_cached,
    text_key,
)
from polyroute.encoders._hashing import HashingEncoder
from polyroute.encoders._minilm import MiniLMEncoder
from polyroute.encoders._registry import DEFAULT_ENCODER, available_encoders, make_encoder
from polyroute.encoders._st import SentenceTransformerEncoder
from polyroute.encoders._static import StaticMiniLMEncoder

__all__ = [
    "DEFAULT_ENCODER",
    "EmbeddingCache",
    "EmbeddingCacheWarning",
    "Encoder",
    "HashingEncoder",
    "MiniLMEncoder",
    "SentenceTransformerEncoder",
    "StaticMiniLMEncoder",
    "available_encoders",
    "cache_path",
    "embed_dataset",
    "encode_cached",
    "make_encoder",
    "text_key",
]
