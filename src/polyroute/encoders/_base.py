"""The ``Encoder`` protocol: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """Anything that embeds texts.

    ``encoder_id`` identifies the encoder *and its weights/settings* (it keys the embedding cache);
    ``dim`` is the output width; ``encode`` returns shape (len(texts), dim), float32.
    """

    @property
    def encoder_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray: ...
