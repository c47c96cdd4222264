"""Redis-backed :class:`~polyroute.state.StateStore`: gateway replicas share state through Redis.

Uses the synchronous redis-py client (``pip install redis``), imported lazily. Key layout under
``prefix`` (default ``"polyroute:"``)::

    {prefix}count:{key}     string counter          INCRBY / Lua DECRBY floored at 0 / GET, MGET
    {prefix}state:{key}     hash, JSON values        HGETALL / DEL+HSET in MULTI / WATCH-MULTI-EXEC
    {prefix}bucket:{key}    hash tokens, ts          one Lua script, PEXPIRE once it would be full
    {prefix}version:{topic} string counter           Lua INCR + PUBLISH (atomic pair)
    {prefix}topic:{topic}   pub/sub channel          message "<version>\\n<json payload>"

Token buckets use this store's ``clock`` (wall-clock ``time.time`` by default, so replicas on
NTP-synchronised hosts agree). Subscriber callbacks run on a redis-py listener thread, one per
``subscribe`` call; an asyncio caller should hop back to its loop with
``loop.call_soon_threadsafe``. A publish reaches only subscribers connected at that moment; a
replica that reconnects compares ``version(topic)`` with the last version it saw and reloads.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from polyroute.exceptions import MissingDependencyError
from polyroute.state._base import StateDict, Subscriber, Unsubscribe, validate_bucket

logger = logging.getLogger(__name__)

_DECR_FLOOR = """
local v = redis.call('DECRBY', KEYS[1], ARGV[1])
if v < 0 then redis.call('SET', KEYS[1], 0) return 0 end
return v
"""

_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local retry = 0
if n > burst then retry = -1
elseif tokens + 1e-9 >= n then tokens = math.max(0, tokens - n)
else retry = (n - tokens) / rate end
if ts > now then now = ts end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'ts', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format('%.17g', retry)
"""

_PUBLISH = """
local v = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], v .. '\\n' .. ARGV[2])
return v
"""


def _import_redis() -> Any:
    try:
        import redis
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
    client : redis.Redis, optional
        An existing client (created with ``decode_responses=True``); ``url`` is then ignored.

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
        client: Any = None,
    ) -> None:
        redis = _import_redis()
        self._redis = redis
        self._client = (
            client if client is not None else redis.Redis.from_url(url, decode_responses=True)
        )
        self.prefix = prefix
        self._clock = clock
        self._decr = self._client.register_script(_DECR_FLOOR)
        self._take = self._client.register_script(_TAKE)
        self._publish = self._client.register_script(_PUBLISH)
        self._listeners: list[Any] = []
        self._lock = threading.Lock()

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    def incr(self, key: str, n: int = 1) -> int:
        return int(self._client.incrby(self._k("count", key), n))

    def decr(self, key: str, n: int = 1) -> int:
        return int(self._decr(keys=[self._k("count", key)], args=[n]))

    def get(self, key: str) -> int:
        value = self._client.get(self._k("count", key))
        return int(value) if value is not None else 0

    def get_many(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        values = self._client.mget([self._k("count", key) for key in keys])
        return [int(v) if v is not None else 0 for v in values]

    def get_state(self, key: str) -> StateDict:
        raw = self._client.hgetall(self._k("state", key))
        return {field: json.loads(value) for field, value in raw.items()}

    def set_state(self, key: str, state: Mapping[str, Any]) -> None:
        rkey = self._k("state", key)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(rkey)
            if state:
                pipe.hset(rkey, mapping={f: json.dumps(v) for f, v in state.items()})
            pipe.execute()

    def update_state(
        self, key: str, fn: Callable[[StateDict], Mapping[str, Any] | None]
    ) -> StateDict:
        rkey = self._k("state", key)
        result: StateDict = {}

        def txn(pipe: Any) -> None:
            nonlocal result
            current = {f: json.loads(v) for f, v in pipe.hgetall(rkey).items()}
            new = fn(dict(current))
            pipe.multi()
            if new is None:
                result = current
                return
            pipe.delete(rkey)
            if new:
                pipe.hset(rkey, mapping={f: json.dumps(v) for f, v in new.items()})
            result = dict(new)

        self._client.transaction(txn, rkey)
        return result

    def take(
        self, key: str, *, rate_per_s: float, burst: float, n: float = 1
    ) -> tuple[bool, float]:
        validate_bucket(rate_per_s, burst, n)
        args = [repr(float(rate_per_s)), repr(float(burst)), repr(float(n)), repr(self._clock())]
        retry_after = float(self._take(keys=[self._k("bucket", key)], args=args))
        if retry_after < 0:
            return False, math.inf
        return retry_after == 0.0, retry_after

    def publish(self, topic: str, payload: Mapping[str, Any]) -> int:
        body = json.dumps(dict(payload))
        keys = [self._k("version", topic)]
        return int(self._publish(keys=keys, args=[self._k("topic", topic), body]))

    def subscribe(self, topic: str, callback: Subscriber) -> Unsubscribe:
        channel = self._k("topic", topic)

        def handler(message: Mapping[str, Any]) -> None:
            version, _, body = str(message["data"]).partition("\n")
            try:
                callback(int(version), json.loads(body))
            except Exception:  # the listener thread must survive a subscriber's bug
                logger.exception("subscriber of %r failed on version %s", topic, version)

        pubsub = self._client.pubsub()
        pubsub.subscribe(**{channel: handler})
        self._await_subscribed(pubsub, channel)
        worker = pubsub.run_in_thread(
            sleep_time=0.01, daemon=True, exception_handler=_log_listener_error
        )
        with self._lock:
            self._listeners.append(worker)

        def unsubscribe() -> None:
            with self._lock:
                if worker not in self._listeners:
                    return
                self._listeners.remove(worker)
            worker.stop()
            worker.join(timeout=2.0)
            pubsub.close()

        return unsubscribe

    @staticmethod
    def _await_subscribed(pubsub: Any, channel: str, timeout_s: float = 5.0) -> None:
        """Block until Redis confirms the subscription, so no publish after return is missed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.1)
            if message and message.get("type") == "subscribe" and message["channel"] == channel:
                return
        raise TimeoutError(f"redis did not confirm the subscription to {channel} in {timeout_s} s")

    def version(self, topic: str) -> int:
        value = self._client.get(self._k("version", topic))
        return int(value) if value is not None else 0

    def close(self) -> None:
        with self._lock:
            workers, self._listeners = self._listeners, []
        for worker in workers:
            worker.stop()
            worker.join(timeout=2.0)
        self._client.close()


def _log_listener_error(exc: BaseException, pubsub: Any, thread: Any) -> None:
    logger.error("redis pub/sub listener stopped: %s", exc)
    thread.stop()
