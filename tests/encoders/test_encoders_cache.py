from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from polyroute.data import RoutingDataset
from polyroute.encoders import (
    EmbeddingCache,
    EmbeddingCacheWarning,
    HashingEncoder,
    cache_path,
    embed_dataset,
    encode_cached,
    text_key,
)
from polyroute.exceptions import ConfigError, DataError

TEXTS = [f"prompt number {i} about topic {i % 7}" for i in range(40)]


class CountingEncoder(HashingEncoder):
    """A real hashing encoder that records every text it is asked to embed."""

    def __init__(self, dim: int = 32, tag: str = "a") -> None:
        super().__init__(dim=dim)
        self.tag = tag
        self.seen: list[str] = []
        self.calls = 0

    @property
    def encoder_id(self) -> str:
        return f"counting-{self.tag}/{super().encoder_id}"

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        self.calls += 1
        self.seen.extend(texts)
        return super().encode(texts, batch_size=batch_size)


def test_second_call_embeds_nothing(tmp_path: Path) -> None:
    enc = CountingEncoder()
    first = encode_cached(enc, TEXTS, cache_dir=tmp_path)
    assert sorted(enc.seen) == sorted(TEXTS)
    enc.seen.clear()
    again = encode_cached(CountingEncoder(), TEXTS, cache_dir=tmp_path)  # fresh instance too
    second = encode_cached(enc, TEXTS, cache_dir=tmp_path)
    assert enc.seen == []
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, again)


def test_matches_direct_encoding_in_input_order(tmp_path: Path) -> None:
    enc = CountingEncoder()
    texts = ["a much longer text with many words in it", "short", "medium length text"]
    out = encode_cached(enc, texts, cache_dir=tmp_path, batch_size=2)
    assert out.dtype == np.float32 and out.shape == (3, 32)
    np.testing.assert_array_equal(out, HashingEncoder(dim=32).encode(texts))


def test_only_misses_are_embedded_and_duplicates_once(tmp_path: Path) -> None:
    enc = CountingEncoder()
    encode_cached(enc, TEXTS[:10], cache_dir=tmp_path)
    enc.seen.clear()
    texts = TEXTS[5:15] + TEXTS[12:15] + TEXTS[:3]
    out = encode_cached(enc, texts, cache_dir=tmp_path)
    assert sorted(enc.seen) == sorted(TEXTS[10:15])
    np.testing.assert_array_equal(out, HashingEncoder(dim=32).encode(texts))


def test_cache_is_keyed_by_encoder_id(tmp_path: Path) -> None:
    a, b = CountingEncoder(tag="a"), CountingEncoder(tag="b")
    encode_cached(a, TEXTS, cache_dir=tmp_path)
    encode_cached(b, TEXTS, cache_dir=tmp_path)
    assert len(b.seen) == len(TEXTS)  # b does not reuse a's vectors
    assert cache_path(a.encoder_id, tmp_path) != cache_path(b.encoder_id, tmp_path)
    wider = CountingEncoder(dim=48)
    assert encode_cached(wider, TEXTS[:3], cache_dir=tmp_path).shape == (3, 48)


def test_writes_in_chunks_and_keeps_all(tmp_path: Path) -> None:
    enc = CountingEncoder(dim=8)
    texts = [f"t{i}" for i in range(2100)]
    encode_cached(enc, texts, cache_dir=tmp_path, batch_size=100)
    assert enc.calls == 21
    with EmbeddingCache(enc.encoder_id, 8, cache_dir=tmp_path) as cache:
        assert len(cache) == 2100
        vecs, found = cache.get([text_key(t) for t in texts[:5]] + [text_key("nope")])
    assert found.tolist() == [True] * 5 + [False]
    assert not vecs[-1].any()


def test_garbage_file_warns_and_rebuilds(tmp_path: Path) -> None:
    enc = CountingEncoder()
    path = cache_path(enc.encoder_id, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.warns(EmbeddingCacheWarning, match="rebuilding"):
        out = encode_cached(enc, TEXTS, cache_dir=tmp_path)
    np.testing.assert_array_equal(out, HashingEncoder(dim=32).encode(TEXTS))
    enc.seen.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encode_cached(enc, TEXTS, cache_dir=tmp_path)  # rebuilt file works, no warning
    assert enc.seen == []


def test_truncated_vector_warns_and_reembeds(tmp_path: Path) -> None:
    enc = CountingEncoder()
    encode_cached(enc, TEXTS, cache_dir=tmp_path)
    with sqlite3.connect(cache_path(enc.encoder_id, tmp_path)) as conn:
        conn.execute("UPDATE emb SET v = ? WHERE h = ?", (b"\x00" * 7, text_key(TEXTS[3])))
    conn.close()
    enc.seen.clear()
    with pytest.warns(EmbeddingCacheWarning, match="found 1 entries of another size"):
        out = encode_cached(enc, TEXTS, cache_dir=tmp_path)
    assert enc.seen == [TEXTS[3]]  # only the damaged entry is embedded again
    np.testing.assert_array_equal(out, HashingEncoder(dim=32).encode(TEXTS))


def test_metadata_mismatch_rebuilds(tmp_path: Path) -> None:
    enc = CountingEncoder()
    encode_cached(enc, TEXTS[:4], cache_dir=tmp_path)
    with (
        pytest.warns(EmbeddingCacheWarning, match="expected metadata"),
        EmbeddingCache(enc.encoder_id, 99, cache_dir=tmp_path) as cache,
    ):
        assert len(cache) == 0


def test_empty_input(tmp_path: Path) -> None:
    out = encode_cached(CountingEncoder(), [], cache_dir=tmp_path)
    assert out.shape == (0, 32) and out.dtype == np.float32


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="single str"):
        encode_cached(CountingEncoder(), "hello", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="batch_size: expected a positive int; found 0"):
        encode_cached(CountingEncoder(), ["a"], cache_dir=tmp_path, batch_size=0)


class WrongShapeEncoder(HashingEncoder):
    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        return super().encode(texts)[:, :3]


def test_encoder_returning_wrong_shape_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"returned shape \(2, 3\); expected \(2, 256\)"):
        encode_cached(WrongShapeEncoder(), ["a", "b"], cache_dir=tmp_path)


def test_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    encode_cached(CountingEncoder(), TEXTS, cache_dir=tmp_path, show_progress=True)
    assert "embedding (counting-a" in capsys.readouterr().err
    encode_cached(CountingEncoder(tag="z"), TEXTS, cache_dir=tmp_path)  # None + not a tty
    assert capsys.readouterr().err == ""


def test_embed_dataset(tmp_path: Path, tiny_dataset: RoutingDataset) -> None:
    enc = CountingEncoder()
    out = embed_dataset(tiny_dataset, enc, cache_dir=tmp_path)
    np.testing.assert_array_equal(out, HashingEncoder(dim=32).encode(list(tiny_dataset.prompts)))
    by_name = embed_dataset(tiny_dataset, "hashing", cache_dir=tmp_path)
    assert by_name.shape == (6, 256)
