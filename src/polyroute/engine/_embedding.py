"""Prompt embeddings for learned profiles: a bounded text window, per-profile caches, one worker.

Cost is flat in prompt length: the encoder reads at most :data:`WINDOW_CHARS` characters of a
prompt, its head and its tail (see :func:`prompt_window`). MiniLM itself reads at most 256 word
pieces, and about four characters of English prose make one word piece, so the window holds
what the encoder would read of most prompts plus the end of long ones, where a few-shot or
pasted-document prompt usually asks its question.

Encoding is CPU work that releases the GIL (onnxruntime, numpy): :meth:`Embedder.embed_async`
runs it on one worker thread owned by the engine, and sheds load (:class:`EncoderSaturatedError`)
once ``max_pending`` prompts already wait for it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from polyroute.exceptions import EncoderSaturatedError

#: Characters of a prompt the encoder reads: the first ``WINDOW_HEAD`` and the last ``WINDOW_TAIL``.
WINDOW_HEAD = 768
WINDOW_TAIL = 256
WINDOW_CHARS = WINDOW_HEAD + WINDOW_TAIL


def prompt_window(text: str, head: int = WINDOW_HEAD, tail: int = WINDOW_TAIL) -> str:
    """The part of ``text`` the encoder reads: all of it up to ``head + tail`` characters,
    else its first ``head`` and last ``tail`` characters, cut at whitespace where one is near.

    Examples
    --------
    >>> prompt_window("short prompt")
    'short prompt'
    >>> w = prompt_window("word " * 1000 + "question?")
    >>> len(w) <= 1024, w.endswith("question?")
    (True, True)
    """
    if len(text) <= head + tail:
        return text
    first, last = text[:head], text[-tail:]
    cut = first.rfind(" ", head - 32)  # whole words only, if a space is close to the edge
    if cut > 0:
        first = first[:cut]
    cut = last.find(" ", 0, 32)
    if cut >= 0:
        last = last[cut + 1 :]
    return first + "\n" + last


class _LRU:
    """A small thread-safe LRU cache of embeddings."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: str, value: np.ndarray) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class Embedder:
    """Encoders by name, a cache per profile, and the worker thread that runs them.

    Parameters
    ----------
    encoders : mapping, optional
        Pre-built encoders by name; others are made on first use with ``make_encoder``.
    max_pending : int
        Prompts waiting for (or in) the encoder before :meth:`embed_async` sheds load.
    on_embedded : callable, optional
        Called with the seconds each :meth:`embed_async` took (queue wait included).
    """

    def __init__(
        self,
        encoders: Mapping[str, Any] | None = None,
        *,
        max_pending: int = 64,
        on_embedded: Callable[[float], None] | None = None,
    ) -> None:
        self._encoders: dict[str, Any] = dict(encoders or {})
        self._caches: dict[str, _LRU] = {}
        self.max_pending = max_pending
        self.pending = 0
        self._on_embedded = on_embedded
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The one worker thread (created on first use; one core keeps serving HTTP)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="polyroute-embed")
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def encoder(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        enc = self._encoders.get(name)
        if enc is None:
            from polyroute.encoders import make_encoder

            enc = self._encoders[name] = make_encoder(name, **dict(params or {}))
        return enc

    def set_cache(self, profile: str, size: int) -> None:
        """Give ``profile`` an LRU cache of ``size`` embeddings (0 = no cache at all)."""
        if size > 0:
            self._caches[profile] = _LRU(size)
        else:
            self._caches.pop(profile, None)

    def cache_len(self, profile: str) -> int:
        """Embeddings cached for ``profile`` (0 when it has no cache)."""
        cache = self._caches.get(profile)
        return len(cache) if cache is not None else 0

    def embed(
        self, profile: str, name: str, params: Mapping[str, Any] | None, text: str
    ) -> np.ndarray:
        """Embedding of ``text``'s window, shape (1, dim), on the calling thread."""
        window = prompt_window(text)
        cache = self._caches.get(profile)
        hit = cache.get(window) if cache is not None else None
        return hit if hit is not None else self._encode(cache, name, params, window)

    async def embed_async(
        self, profile: str, name: str, params: Mapping[str, Any] | None, text: str
    ) -> np.ndarray:
        """:meth:`embed` with the encoder on the worker thread (a cache hit skips the hop).

        Raises :class:`EncoderSaturatedError` when ``max_pending`` prompts already wait.
        """
        window = prompt_window(text)
        cache = self._caches.get(profile)
        hit = cache.get(window) if cache is not None else None
        if hit is not None:
            return hit
        if self.pending >= self.max_pending:
            raise EncoderSaturatedError(
                f"the prompt encoder is saturated ({self.max_pending} prompts waiting); "
                "retry shortly or use a concrete model",
                retry_after_s=1.0,
            )
        self.pending += 1
        started = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.executor, self._encode, cache, name, params, window
            )
        finally:
            self.pending -= 1
            if self._on_embedded is not None:
                self._on_embedded(time.perf_counter() - started)

    def _encode(
        self, cache: _LRU | None, name: str, params: Mapping[str, Any] | None, window: str
    ) -> np.ndarray:
        X = np.asarray(self.encoder(name, params).encode([window]))
        if cache is not None:
            cache.put(window, X)
        return X
