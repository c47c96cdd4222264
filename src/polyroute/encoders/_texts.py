"""Input checking shared by the encoders and the cache."""

from __future__ import annotations

from collections.abc import Sequence

from polyroute.exceptions import DataError


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, checked to hold only str (a bare str is refused)."""
    if isinstance(texts, str):
        raise DataError("texts: expected a sequence of str; found a single str")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise DataError(f"texts[{i}]: expected str; found {type(text).__name__}")
    return out
