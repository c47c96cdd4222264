"""Run validation prompts against an OpenAI-compatible endpoint, grade the answers, cache them.

* concurrency limit (``asyncio.Semaphore``), retries by the gateway's own
  :class:`~polyroute.resilience.RetryPolicy` for timeouts, connection errors, 429 (honouring
  ``Retry-After``, seconds or HTTP-date) and 5xx; other 4xx fail at once;
* a reply that is not an OpenAI chat completion ("garbage") is a failure, never a wrong answer;
* resumable: every graded outcome is written to a SQLite cache keyed by ``(model, prompt_id)``
  as soon as it arrives, so an interrupted run continues where it stopped;
* a progress bar (tqdm) when asked.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from polyroute.exceptions import (
    RateLimited,
    UpstreamClientError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamServerError,
    UpstreamTimeout,
)
from polyroute.onboarding._graders import Grader, make_grader
from polyroute.onboarding._outcomes import Outcome, ValidationItem
from polyroute.resilience import RetryPolicy, parse_retry_after


@dataclass(frozen=True)
class EndpointConfig:
    """Where and how to ask the model (OpenAI ``/chat/completions``).

    ``base_url`` ends before ``/chat/completions`` (e.g. ``http://host:8000/v1``); ``model`` is
    the model id sent in the request body; ``api_key`` is sent as a Bearer token (never logged).
    """

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 60.0
    max_tokens: int = 512
    temperature: float = 0.0
    system_prompt: str | None = None


@dataclass
class RunReport:
    """What a run produced: graded outcomes, and failures counted by reason."""

    n_total: int
    outcomes: list[Outcome] = field(default_factory=list)
    n_cached: int = 0
    n_unextracted: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    failed_ids: list[str] = field(default_factory=list)
    output_tokens: list[int] = field(default_factory=list)

    @property
    def n_failed(self) -> int:
        return sum(self.failures.values())

    def describe(self) -> str:
        """One line: graded / failed counts and the reasons."""
        why = ", ".join(f"{n} {reason}" for reason, n in self.failures.most_common())
        text = (
            f"{len(self.outcomes)}/{self.n_total} prompts graded ({self.n_cached} from cache, "
            f"{self.n_unextracted} without an extractable answer), {self.n_failed} failed"
        )
        return text + (f": {why}" if why else "")


class OutcomeCache:
    """SQLite store of graded outcomes keyed by ``(model, prompt_id)``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")  # one small write per outcome: keep it cheap
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outcomes (model TEXT NOT NULL, prompt_id TEXT NOT NULL, "
            "score REAL NOT NULL, answer TEXT, extracted INTEGER NOT NULL, output_tokens INTEGER, "
            "created_s REAL NOT NULL, PRIMARY KEY (model, prompt_id))"
        )
        self._db.commit()

    def get(self, model: str, prompt_ids: Sequence[str]) -> dict[str, tuple[Outcome, bool]]:
        """Cached ``{prompt_id: (outcome, extracted)}`` for ``model``."""
        rows = self._db.execute(
            "SELECT prompt_id, score, answer, extracted FROM outcomes WHERE model = ?", (model,)
        )
        wanted = set(prompt_ids)
        return {
            pid: (Outcome(pid, model, score, answer), bool(extracted))
            for pid, score, answer, extracted in rows
            if pid in wanted
        }

    def put(self, outcome: Outcome, *, extracted: bool, output_tokens: int | None) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                outcome.model,
                outcome.prompt_id,
                outcome.score,
                outcome.answer,
                int(extracted),
                output_tokens,
                time.time(),
            ),
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Failure(Exception):
    """A prompt that could not be answered; ``reason`` is a short, countable label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _parse_reply(response: httpx.Response) -> tuple[str, int | None]:
    try:
        body = response.json()
        content = body["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _Failure("malformed response (not an OpenAI chat completion)") from exc
    if not isinstance(content, str):
        raise _Failure("malformed response (message content is not text)")
    usage = body.get("usage") if isinstance(body, dict) else None
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return content, tokens if isinstance(tokens, int) else None


async def _ask(
    client: httpx.AsyncClient,
    cfg: EndpointConfig,
    prompt: str,
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], Any],
) -> tuple[str, int | None]:
    messages = [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []
    body = {
        "model": cfg.model,
        "messages": [*messages, {"role": "user", "content": prompt}],
        "max_tokens": cfg.max_tokens,
        "temperature": cfg.temperature,
    }
    attempt = 0
    while True:
        attempt += 1
        try:
            response = await client.post("/chat/completions", json=body)
        except httpx.TimeoutException:
            failure: UpstreamError = UpstreamTimeout("timeout")
        except httpx.TransportError:
            failure = UpstreamConnectionError("connection error")
        else:
            if response.status_code == 200:
                return _parse_reply(response)
            failure = _status_failure(response)
        delay = policy.delay_s(attempt, failure)
        if delay is None:
            if failure.retryable:
                raise _Failure(f"{failure} (after {attempt} attempts)")
            raise _Failure(str(failure))
        await sleep(delay)


def _status_failure(response: httpx.Response) -> UpstreamError:
    """The error class of a non-200 answer (429 and 5xx are retryable; their Retry-After,
    in seconds or as an HTTP-date, is read)."""
    reason, status = f"HTTP {response.status_code}", response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429:
        return RateLimited(reason, status_code=status, retry_after_s=retry_after)
    if status >= 500:
        return UpstreamServerError(reason, status_code=status, retry_after_s=retry_after)
    return UpstreamClientError(reason, status_code=status)


async def collect_outcomes(
    items: Sequence[ValidationItem],
    endpoint: EndpointConfig,
    *,
    name: str | None = None,
    cache: OutcomeCache | None = None,
    concurrency: int = 8,
    max_attempts: int = 4,
    base_delay_s: float = 0.5,
    progress: bool = False,
    seed: int = 0,
) -> RunReport:
    """Ask ``endpoint`` every validation prompt not already cached; grade; cache; report.

    Parameters
    ----------
    items : sequence of ValidationItem
        Validation prompts with references and grader names.
    endpoint : EndpointConfig
    name : str, optional
        Name the outcomes are recorded under (default ``endpoint.model``).
    cache : OutcomeCache, optional
        Resume store; outcomes already in it are not asked again.
    concurrency : int
        Requests in flight at most.
    max_attempts, base_delay_s
        Retries, by the gateway's :class:`~polyroute.resilience.RetryPolicy` (exponential
        backoff with jitter; ``Retry-After`` in seconds or as an HTTP-date honoured up to 30 s).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    RunReport
    """
    from tqdm.auto import tqdm

    name = name or endpoint.model
    report = RunReport(n_total=len(items))
    cached = cache.get(name, [it.prompt_id for it in items]) if cache else {}
    for outcome, extracted in cached.values():
        report.outcomes.append(outcome)
        report.n_unextracted += not extracted
    report.n_cached = len(cached)
    todo = [it for it in items if it.prompt_id not in cached]
    graders: dict[str, Grader] = {}
    gate = asyncio.Semaphore(max(1, concurrency))
    policy = RetryPolicy(
        max_attempts=max_attempts,
        base_delay_s=base_delay_s,
        max_delay_s=30.0,
        jitter=0.5,
        rng=random.Random(seed),
        max_retry_after_s=30.0,
    )
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    bar = tqdm(
        total=len(items),
        initial=len(cached),
        disable=not progress,
        unit="prompt",
        desc=f"onboarding {name}",
    )

    async def one(item: ValidationItem, client: httpx.AsyncClient) -> None:
        async with gate:
            try:
                text, tokens = await _ask(
                    client,
                    endpoint,
                    item.prompt,
                    policy=policy,
                    sleep=asyncio.sleep,
                )
            except _Failure as exc:
                report.failures[exc.reason] += 1
                report.failed_ids.append(item.prompt_id)
                bar.update(1)
                return
        grader = graders.setdefault(item.grader, make_grader(item.grader))
        score = grader(text, item.reference)
        outcome = Outcome(item.prompt_id, name, 0.0 if score is None else float(score), text)
        report.outcomes.append(outcome)
        report.n_unextracted += score is None
        if tokens is not None:
            report.output_tokens.append(tokens)
        if cache is not None:
            cache.put(outcome, extracted=score is not None, output_tokens=tokens)
        bar.update(1)

    timeout = httpx.Timeout(endpoint.timeout_s)
    try:
        async with httpx.AsyncClient(
            base_url=endpoint.base_url.rstrip("/"), headers=headers, timeout=timeout
        ) as client:
            await asyncio.gather(*(one(it, client) for it in todo))
    finally:
        bar.close()
    return report


def run_endpoint(
    items: Sequence[ValidationItem], endpoint: EndpointConfig, **kwargs: Any
) -> RunReport:
    """Synchronous shell over :func:`collect_outcomes` (same arguments)."""
    return asyncio.run(collect_outcomes(items, endpoint, **kwargs))
