"""The ``minilm-static`` table shipped in the package: what the default router needs, no torch.

``assets/minilm_static/`` holds the default recipe's table (PCA 256, Zipf weights, the whole
vocabulary) distilled from all-MiniLM-L6-v2 and stored as float16 (``table.npz``: ``vectors``
(vocab, 256) float16, ``fallback`` (256,) float32), and MiniLM's WordPiece tokenizer
(``tokenizer.json.gz``). So the default static encoder needs only numpy and ``tokenizers`` at run
time; other recipes or weights are distilled from the transformer as before (the ``train`` extra).
``bench/minilm_static_asset.py`` rebuilds the files and measures them against the float32 table
(``docs/results/minilm_static_asset.md``).
"""

from __future__ import annotations

import gzip
import io
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.encoders._static_distil import StaticRecipe, StaticTable
from polyroute.exceptions import ConfigError, MissingDependencyError

SHIPPED_RECIPE = StaticRecipe(n_components=256, weighting="zipf", sif_a=1e-3, vocab_size=None)
TABLE_FILE = "table.npz"
TOKENIZER_FILE = "tokenizer.json.gz"


def asset_dir() -> Path:
    """Folder of the shipped table and tokenizer."""
    return Path(str(resources.files("polyroute") / "assets" / "minilm_static"))


def is_shipped(recipe: StaticRecipe) -> bool:
    """Whether ``recipe`` builds the shipped table (``sif_a`` matters only for SIF weights)."""
    return recipe.tag == SHIPPED_RECIPE.tag


def load_shipped_table(directory: Path | None = None) -> StaticTable:
    """The shipped table, widened to float32."""
    path = (directory or asset_dir()) / TABLE_FILE
    try:
        with np.load(path, allow_pickle=False) as data:
            vectors, fallback = data["vectors"], data["fallback"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"expected the shipped static MiniLM table at {path}; found it unreadable ({exc}); "
            "reinstall polyroute"
        ) from exc
    return StaticTable(vectors.astype(np.float32), fallback.astype(np.float32), None)


def load_shipped_tokenizer(max_tokens: int, directory: Path | None = None) -> Any:
    """MiniLM's WordPiece tokenizer, truncating at ``max_tokens``, without padding."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # a base dependency: only a broken install gets here
        raise MissingDependencyError("tokenizers", "all") from exc
    path = (directory or asset_dir()) / TOKENIZER_FILE
    try:
        tokenizer = Tokenizer.from_str(gzip.decompress(path.read_bytes()).decode("utf-8"))
    except Exception as exc:  # tokenizers raises its own untyped errors: translate them here
        raise ConfigError(
            f"expected the shipped MiniLM tokenizer at {path}; found it unreadable ({exc}); "
            "reinstall polyroute"
        ) from exc
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


def write_shipped(table: StaticTable, tokenizer_json: Path, directory: Path) -> None:
    """Write ``table`` (vectors as float16) and the tokenizer (gzip) to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        vectors=table.vectors.astype(np.float16),
        fallback=table.fallback.astype(np.float32),
    )
    (directory / TABLE_FILE).write_bytes(buffer.getvalue())
    raw = tokenizer_json.read_bytes()
    (directory / TOKENIZER_FILE).write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
