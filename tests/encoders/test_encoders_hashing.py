from __future__ import annotations

import numpy as np
import pytest

from polyroute.encoders import HashingEncoder
from polyroute.exceptions import ConfigError, DataError


def test_shape_dtype_and_unit_norm() -> None:
    enc = HashingEncoder(dim=64)
    out = enc.encode(["the cat sat on the mat", "a dog barked", "x"])
    assert out.shape == (3, 64)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)


def test_deterministic_across_instances_and_processes() -> None:
    texts = ["Hello world", "What is 2 + 2?", "def f(x): return x"]
    a = HashingEncoder(dim=32).encode(texts)
    b = HashingEncoder(dim=32).encode(list(reversed(texts)))[::-1]
    np.testing.assert_array_equal(a, b)
    # BLAKE2b, not Python's salted hash(): fixed buckets on every machine and process
    row = HashingEncoder(dim=16).encode(["hello world"])[0]
    assert np.flatnonzero(row).tolist() == EXPECTED_HELLO_WORLD_BUCKETS


EXPECTED_HELLO_WORLD_BUCKETS = [0, 11, 13]  # "hello", "world", "hello world"


def test_similar_texts_are_closer_than_unrelated() -> None:
    enc = HashingEncoder(dim=256)
    a, b, c = enc.encode(
        [
            "the capital of france is paris",
            "what is the capital of france",
            "integrate x squared from zero to one",
        ]
    )
    assert a @ b > a @ c


def test_empty_text_is_zero_vector() -> None:
    out = HashingEncoder(dim=8).encode(["", "   ", "word"])
    assert not out[0].any() and not out[1].any()
    assert np.linalg.norm(out[2]) == pytest.approx(1.0)


def test_encoder_id_tracks_settings() -> None:
    ids = {
        HashingEncoder().encoder_id,
        HashingEncoder(dim=128).encoder_id,
        HashingEncoder(ngram_range=(1, 1)).encoder_id,
        HashingEncoder(char_ngram_range=(3, 5)).encoder_id,
        HashingEncoder(lowercase=False).encoder_id,
    }
    assert len(ids) == 5
    assert HashingEncoder().encoder_id.startswith("hashing/d256/")


def test_char_ngrams_match_misspellings() -> None:
    words = HashingEncoder(dim=512)
    chars = HashingEncoder(dim=512, char_ngram_range=(3, 4))
    pair = ["photosynthesis", "photosynthesys"]
    w, c = words.encode(pair), chars.encode(pair)
    assert w[0] @ w[1] == pytest.approx(0.0, abs=1e-6)
    assert c[0] @ c[1] > 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dim": 0},
        {"dim": 2.5},
        {"ngram_range": (2, 1)},
        {"ngram_range": (0, 1)},
        {"char_ngram_range": (3,)},
    ],
)
def test_invalid_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="expected"):
        HashingEncoder(**kwargs)  # type: ignore[arg-type]


def test_rejects_bare_string_and_non_str() -> None:
    enc = HashingEncoder()
    with pytest.raises(DataError, match="single str"):
        enc.encode("hello")
    with pytest.raises(DataError, match=r"texts\[1\]: expected str; found int"):
        enc.encode(["a", 3])  # type: ignore[list-item]
