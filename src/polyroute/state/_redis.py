"""Redis-backed :class:`~polyroute.state.StateStore` that degrades instead of failing.

Replicas share state through Redis (``pip install 'polyroute[redis]'``). The client is
``redis.asyncio`` with connect, socket and per-command timeouts, running on a private event-loop
thread, so a stalled or dead Redis never blocks the gateway's own loop for longer than one
command timeout:

* :meth:`take` (rate limits) is awaited by the gateway: it never blocks its loop.
* The synchronous calls (circuits, in-flight counters, pool announcements; the engine makes them
  synchronously) wait for the answer at most ``timeout_s``.
* The first call that fails or times out marks Redis **unavailable**: from then on every call is
  served at once by per-process state (an :class:`~polyroute.state.InMemoryStateStore`) without
  touching the network, and a probe pings Redis every ``retry_interval_s`` until it answers; the
  next call after that uses Redis again.

Policy while Redis is unavailable (each fallback is counted in :meth:`health`):

==================  ===================================================================
circuits            per-process: each replica opens/closes its own circuits
in-flight counts    per-process: balancers see this replica's load only
rate limits         ``rate_limit_fallback="open"`` (default): allowed, with a warning log
                    line at most once a second; ``"closed"``: refused
pool announcements  delivered to this process's subscribers; other replicas find the change
                    by polling the pool version
pub/sub listener    reconnects with back-off (50 ms doubling to 1 s); after a reconnect it
                    compares ``version(topic)`` with the last version seen and, when they
                    differ, calls the subscriber once with an empty payload ("changes missed")
==================  ===================================================================

State built up in Redis before an outage is used again afterwards; state built per process
during the outage is not merged back (an in-flight count that started in Redis and ended in the
fallback stays one too high until the deployment's counter is next reset).

Key layout under ``prefix`` (default ``"polyroute:"``)::

    {prefix}count:{key}     string counter          INCRBY / Lua DECRBY floored at 0 / GET, MGET
    {prefix}state:{key}     hash, JSON values        HGETALL / DEL+HSET in MULTI / WATCH-MULTI-EXEC
    {prefix}bucket:{key}    hash tokens, ts          one Lua script, PEXPIRE once it would be full
    {prefix}version:{topic} string counter           Lua INCR + PUBLISH (atomic pair)
    {prefix}topic:{topic}   pub/sub channel          message "<version>\\n<json payload>"

Token buckets use this store's ``clock`` (wall-clock ``time.time`` by default, so replicas on
NTP-synchronised hosts agree). Subscriber callbacks run on the store's I/O thread and must be
quick; an asyncio caller should hop back to its loop with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Literal, TypeVar

from polyroute.exceptions import ConfigError, MissingDependencyError
from polyroute.state._base import (
    StateDict,
    StoreHealth,
    Subscriber,
    Unsubscribe,
    validate_bucket,
)
from polyroute.state._memory import InMemoryStateStore
from polyroute.state._redis_lua import DECR_FLOOR, PUBLISH, TAKE

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _import_redis() -> Any:
    try:
        import redis
        import redis.asyncio
        import redis.backoff
        import redis.exceptions
    except ImportError as exc:
        raise MissingDependencyError("redis", "redis") from exc
    return redis


class RedisStateStore:
    """State store on a Redis server, shared by every replica that points at it.

    Parameters
    ----------
    url : str
        Redis URL, e.g. ``"redis://127.0.0.1:6379/0"``.
    prefix : str
        Namespace of every key and channel this store uses.
    clock : callable
        Seconds for token buckets; wall clock by default so that hosts agree.
    connect_timeout_s : float
        TCP connect timeout (> 0).
    timeout_s : float
        Socket read/write timeout and the most a command may take (> 0); past it Redis is
        considered unavailable.
    retry_interval_s : float
        Seconds between probes while Redis is unavailable (> 0).
    rate_limit_fallback : {"open", "closed"}
        What :meth:`take` answers while Redis is unavailable: allow, or refuse.

    Raises
    ------
    MissingDependencyError
        When redis-py is not installed.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "polyroute:",
        clock: Callable[[], float] = time.time,
        connect_timeout_s: float = 0.25,
        timeout_s: float = 0.1,
        retry_interval_s: float = 0.1,
        rate_limit_fallback: Literal["open", "closed"] = "open",
    ) -> None:
        for name, value in (
            ("connect_timeout_s", connect_timeout_s),
            ("timeout_s", timeout_s),
            ("retry_interval_s", retry_interval_s),
        ):
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"redis {name}: expected a number > 0, found {value!r}")
        if rate_limit_fallback not in ("open", "closed"):
            raise ConfigError(
                f"redis rate_limit_fallback: expected 'open' or 'closed', "
                f"found {rate_limit_fallback!r}"
            )
        redis = _import_redis()
        self.prefix = prefix
        self.url = url
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.retry_interval_s = float(retry_interval_s)
        self.rate_limit_fallback = rate_limit_fallback
        self._clock = clock
        self._local = InMemoryStateStore(clock=clock)
        self._errors: tuple[type[BaseException], ...] = (
            redis.exceptions.RedisError,
            OSError,
            TimeoutError,
            concurrent.futures.TimeoutError,
        )
        self._client = redis.asyncio.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=timeout_s,
            # one immediate retry on a dropped connection (a pooled connection to a restarted
            # server), none on a timeout: one timeout is the most a caller waits
            retry=redis.asyncio.retry.Retry(
                redis.backoff.NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)
            ),
        )
        self._decr = self._client.register_script(DECR_FLOOR)
        self._take = self._client.register_script(TAKE)
        self._publish = self._client.register_script(PUBLISH)
        self._lock = threading.Lock()
        self._available = True
        self._reason = ""
        self._fallbacks: Counter[str] = Counter()
        self._last_warning = -math.inf
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="polyroute-redis", daemon=True
        )
        self._thread.start()
        self._tasks: set[concurrent.futures.Future[Any]] = set()
        self._closed = False

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    # ------------------------------------------------------------------ availability
    def health(self) -> StoreHealth:
        with self._lock:
            return StoreHealth(
                available=self._available,
                detail=f"redis {self._redact()}"
                + ("" if self._available else f" unavailable: {self._reason}"),
                fallbacks=dict(self._fallbacks),
            )

    def _redact(self) -> str:
        _head, sep, tail = self.url.rpartition("@")
        return f"redis://***@{tail}" if sep else self.url

    def _mark_down(self, exc: BaseException) -> None:
        with self._lock:
            if not self._available or self._closed:
                return
            self._available = False
            self._reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        logger.warning(
            "redis %s unavailable (%s): circuits and in-flight counts fall back to per-process "
            "state, rate limits fail %s; probing every %.2f s",
            self._redact(),
            self._reason,
            self.rate_limit_fallback,
            self.retry_interval_s,
        )
        self._spawn(self._probe())

    async def _probe(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval_s)
            try:
                await asyncio.wait_for(self._client.ping(), self.connect_timeout_s + self.timeout_s)
            except self._errors:
                continue
            with self._lock:
                self._available = True
            logger.warning("redis %s available again: shared state resumed", self._redact())
            return

    def _fallback(self, kind: str) -> None:
        with self._lock:
            self._fallbacks[kind] += 1

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        self._tasks.add(fut)
        fut.add_done_callback(self._tasks.discard)
        return fut

    async def _bounded(self, aw: Awaitable[T]) -> T:
        return await asyncio.wait_for(aw, self.timeout_s)

    def _call(self, kind: str, remote: Callable[[], Awaitable[T]], local: Callable[[], T]) -> T:
        """Run ``remote`` on the I/O loop (waiting at most about ``timeout_s``), or ``local``."""
        if self._available and threading.current_thread() is not self._thread:
            fut = asyncio.run_coroutine_threadsafe(self._bounded(remote()), self._loop)
            try:
                return fut.result(timeout=2 * self.timeout_s)
            except self._errors as exc:
                fut.cancel()
                self._mark_down(exc)
        self._fallback(kind)
        return local()

    # ------------------------------------------------------------------ counters
    def incr(self, key: str, n: int = 1) -> int:
        async def remote() -> int:
            return int(await self._client.incrby(self._k("count", key), n))

        return self._call("counter", remote, lambda: self._local.incr(key, n))

    def decr(self, key: str, n: int = 1) -> int:
        async def remote() -> int:
            return int(await self._decr(keys=[self._k("count", key)], args=[n]))

        return self._call("counter", remote, lambda: self._local.decr(key, n))

    def get(self, key: str) -> int:
        async def remote() -> int:
            value = await self._client.get(self._k("count", key))
            return int(value) if value is not None else 0

        return self._call("counter", remote, lambda: self._local.get(key))

    def get_many(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []

        async def remote() -> list[int]:
            values = await self._client.mget([self._k("count", key) for key in keys])
            return [int(v) if v is not None else 0 for v in values]

        return self._call("counter", remote, lambda: self._local.get_many(keys))

    # ------------------------------------------------------------------ state dicts
    def get_state(self, key: str) -> StateDict:
        async def remote() -> StateDict:
            raw = await self._client.hgetall(self._k("state", key))
            return {field: json.loads(value) for field, value in raw.items()}

        return self._call("state", remote, lambda: self._local.get_state(key))

    def set_state(self, key: str, state: Mapping[str, Any]) -> None:
        rkey = self._k("state", key)

        async def remote() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(rkey)
                if state:
                    pipe.hset(rkey, mapping={f: json.dumps(v) for f, v in state.items()})
                await pipe.execute()

        self._call("state", remote, lambda: self._local.set_state(key, state))

    def update_state(
        self, key: str, fn: Callable[[StateDict], Mapping[str, Any] | None]
    ) -> StateDict:
        rkey = self._k("state", key)
        watch_error = _import_redis().exceptions.WatchError

        async def remote() -> StateDict:
            async with self._client.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(rkey)
                        raw = await pipe.hgetall(rkey)
                        current = {f: json.loads(v) for f, v in raw.items()}
                        new = fn(dict(current))
                        if new is None:
                            await pipe.unwatch()
                            return current
                        pipe.multi()
                        pipe.delete(rkey)
                        if new:
                            pipe.hset(rkey, mapping={f: json.dumps(v) for f, v in new.items()})
                        await pipe.execute()
                        return dict(new)
                    except watch_error:
                        continue  # another replica changed it first: read again

        return self._call("state", remote, lambda: self._local.update_state(key, fn))

    # ------------------------------------------------------------------ token buckets
    async def take(
        self, key: str, *, rate_per_s: float, burst: float, n: float = 1
    ) -> tuple[bool, float]:
        validate_bucket(rate_per_s, burst, n)
        if self._available:
            args = [
                repr(float(rate_per_s)),
                repr(float(burst)),
                repr(float(n)),
                repr(self._clock()),
            ]
            coro = self._bounded(self._take(keys=[self._k("bucket", key)], args=args))
            fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
            try:
                retry_after = float(
                    await asyncio.wait_for(asyncio.wrap_future(fut), 2 * self.timeout_s)
                )
            except self._errors as exc:
                self._mark_down(exc)
            else:
                if retry_after < 0:
                    return False, math.inf
                return retry_after == 0.0, retry_after
        return self._take_fallback()

    def _take_fallback(self) -> tuple[bool, float]:
        kind = f"rate_limit_{self.rate_limit_fallback}"
        now = time.monotonic()
        with self._lock:
            self._fallbacks[kind] += 1
            count = self._fallbacks[kind]
            warn = now - self._last_warning >= 1.0
            if warn:
                self._last_warning = now
        if warn:  # at most one line a second, however many requests arrive
            logger.warning(
                "redis %s unavailable: rate limits fail %s (%d checks so far)",
                self._redact(),
                self.rate_limit_fallback,
                count,
            )
        if self.rate_limit_fallback == "open":
            return True, 0.0
        return False, self.retry_interval_s

    # ------------------------------------------------------------------ pub/sub
    def publish(self, topic: str, payload: Mapping[str, Any]) -> int:
        body = json.dumps(dict(payload))

        async def remote() -> int:
            keys = [self._k("version", topic)]
            return int(await self._publish(keys=keys, args=[self._k("topic", topic), body]))

        return self._call("publish", remote, lambda: self._local.publish(topic, payload))

    def subscribe(self, topic: str, callback: Subscriber) -> Unsubscribe:
        """Call ``callback`` on every later publish, from any replica.

        Returns once Redis confirmed the subscription (at most ``connect_timeout_s`` +
        ``timeout_s``; when Redis is unavailable the listener keeps trying in the background).
        """
        local_unsubscribe = self._local.subscribe(topic, callback)  # publishes while Redis is down
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        task = self._spawn(self._listen(topic, callback, ready))
        try:
            ready.result(timeout=self.connect_timeout_s + 2 * self.timeout_s)
        except concurrent.futures.TimeoutError:
            logger.warning("redis subscription to %r pending; the listener keeps trying", topic)

        def unsubscribe() -> None:
            local_unsubscribe()
            task.cancel()

        return unsubscribe

    async def _listen(
        self, topic: str, callback: Subscriber, ready: concurrent.futures.Future[None]
    ) -> None:
        channel = self._k("topic", topic)
        seen: int | None = None
        delay_s = 0.05
        while True:
            pubsub = self._client.pubsub()
            try:
                await self._bounded(pubsub.subscribe(channel))
                while True:  # wait for the confirmation: no publish after it is missed
                    msg = await self._bounded(pubsub.get_message(timeout=self.timeout_s))
                    if msg is not None and msg.get("type") == "subscribe":
                        break
                current = await self._bounded(self._remote_version(topic))
                if seen is not None and current != seen:
                    _deliver(topic, callback, current, {})  # changes published while away
                seen, delay_s = current, 0.05
                if not ready.done():
                    ready.set_result(None)
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is None:
                        continue
                    version, _, body = str(msg["data"]).partition("\n")
                    seen = int(version)
                    _deliver(topic, callback, seen, json.loads(body))
            except self._errors as exc:
                if delay_s == 0.05:  # once per outage, not once per attempt
                    logger.warning(
                        "redis listener of %r lost its connection (%s); reconnecting with "
                        "back-off up to 1 s",
                        topic,
                        type(exc).__name__,
                    )
                await asyncio.sleep(delay_s)
                delay_s = min(1.0, delay_s * 2)
            finally:
                await _quietly(pubsub.aclose())

    async def _remote_version(self, topic: str) -> int:
        value = await self._client.get(self._k("version", topic))
        return int(value) if value is not None else 0

    def version(self, topic: str) -> int:
        return self._call(
            "publish", lambda: self._remote_version(topic), lambda: self._local.version(topic)
        )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for task in list(self._tasks):
            task.cancel()
        fut = asyncio.run_coroutine_threadsafe(_quietly(self._client.aclose()), self._loop)
        try:
            fut.result(timeout=1.0)
        except concurrent.futures.TimeoutError:  # a stalled server: connections die with the loop
            logger.debug("redis client did not close in 1 s")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2.0)
        self._local.close()


def _deliver(topic: str, callback: Subscriber, version: int, payload: dict[str, Any]) -> None:
    try:
        callback(version, payload)
    except Exception:  # the listener must survive a subscriber's bug
        logger.exception("subscriber of %r failed on version %s", topic, version)


async def _quietly(aw: Awaitable[Any]) -> None:
    """Await a best-effort close: errors of a connection that is already gone do not matter."""
    try:
        await asyncio.wait_for(aw, 0.5)
    except Exception:
        logger.debug("redis connection close failed", exc_info=True)
