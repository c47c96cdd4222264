"""``HashingEncoder``: signed feature hashing of word n-grams (and optional char n-grams).

No model and no dependency beyond numpy: deterministic across processes and machines (it hashes
with BLAKE2b, not Python's salted ``hash``). Meant for tests and tiny setups, not for quality.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from polyroute.encoders._texts import check_texts
from polyroute.exceptions import ConfigError

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEncoder:
    """Embed texts by hashing their n-grams into ``dim`` signed buckets, then L2-normalising.

    Parameters
    ----------
    dim : int, default 256
        Output width (number of hash buckets).
    ngram_range : (int, int), default (1, 2)
        Smallest and largest word n-gram length.
    char_ngram_range : (int, int) or None, default None
        Also hash character n-grams of each word (padded with spaces) in this length range;
        ``None`` disables them.
    lowercase : bool, default True
        Lower-case the text before tokenising.

    Notes
    -----
    A text with no token embeds to the zero vector (it cannot be normalised).
    """

    def __init__(
        self,
        dim: int = 256,
        *,
        ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] | None = None,
        lowercase: bool = True,
    ) -> None:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ConfigError(f"dim: expected a positive int; found {dim!r}")
        _check_range("ngram_range", ngram_range)
        if char_ngram_range is not None:
            _check_range("char_ngram_range", char_ngram_range)
        self._dim = dim
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.char_ngram_range = (
            None
            if char_ngram_range is None
            else (int(char_ngram_range[0]), int(char_ngram_range[1]))
        )
        self.lowercase = lowercase

    @property
    def dim(self) -> int:
        """Output width."""
        return self._dim

    @property
    def encoder_id(self) -> str:
        """Identifies the settings, e.g. ``"hashing/d256/w1-2/c0/lc1"``."""
        lo, hi = self.ngram_range
        chars = "c0" if self.char_ngram_range is None else "c{}-{}".format(*self.char_ngram_range)
        return f"hashing/d{self._dim}/w{lo}-{hi}/{chars}/lc{int(self.lowercase)}"

    def __repr__(self) -> str:
        return (
            f"HashingEncoder(dim={self._dim}, ngram_range={self.ngram_range}, "
            f"char_ngram_range={self.char_ngram_range}, lowercase={self.lowercase})"
        )

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Embed ``texts``; returns float32 of shape (len(texts), dim), rows L2-normalised.

        ``batch_size`` and ``show_progress`` are accepted for protocol compatibility; hashing is
        per text and fast.
        """
        texts = check_texts(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self._dim] += 1.0 if (value >> 63) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def _features(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        words = _WORD.findall(text)
        feats: list[str] = []
        lo, hi = self.ngram_range
        for n in range(lo, hi + 1):
            feats.extend("w\x1f" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        if self.char_ngram_range is not None:
            clo, chi = self.char_ngram_range
            for word in words:
                padded = f" {word} "
                for n in range(clo, chi + 1):
                    feats.extend("c\x1f" + padded[i : i + n] for i in range(len(padded) - n + 1))
        return feats


def _check_range(name: str, value: object) -> None:
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 1 <= value[0] <= value[1]
    )
    if not ok:
        raise ConfigError(
            f"{name}: expected a pair (low, high) of ints with 1 <= low <= high; found {value!r}"
        )
