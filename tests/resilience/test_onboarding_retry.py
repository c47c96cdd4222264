"""``polyroute onboard`` retries with the gateway's RetryPolicy: a date-form Retry-After counts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from email.utils import formatdate

from polyroute.onboarding import EndpointConfig, ValidationItem, run_endpoint

ANSWER = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "B"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1},
    }
).encode()


class _RateLimitedOnce:
    """A loopback HTTP server: the first request gets 429 with an HTTP-date Retry-After
    ``delay_s`` ahead of the moment it answers."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.arrivals: list[float] = []  # wall clock, to compare with the date sent
        self.retry_at = 0.0  # the wall-clock second the Retry-After date names
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.arrivals.append(time.time())
                if len(self.arrivals) == 1:
                    self.retry_at = float(int(time.time() + self.delay_s))  # 1 s resolution
                    when = formatdate(self.retry_at, usegmt=True).encode()
                    writer.write(
                        b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\n"
                        b"retry-after: " + when + b"\r\n\r\n"
                    )
                else:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                        b"content-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def __enter__(self) -> _RateLimitedOnce:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def test_an_http_date_retry_after_is_waited_for() -> None:
    # three seconds ahead, at the header's one-second resolution: the date is 2-3 s away
    with _RateLimitedOnce(3.0) as server:
        item = ValidationItem("q1", "Pick B.\nA. a\nB. b", "B", "choice")
        report = run_endpoint(
            [item],
            EndpointConfig(f"http://127.0.0.1:{server.port}/v1", "m"),
            max_attempts=3,
            base_delay_s=0.001,  # without the header the retry would come at once
        )
    assert report.n_failed == 0 and len(report.outcomes) == 1
    assert len(server.arrivals) == 2
    # the retry comes no earlier than the date sent (however slow the client was to read the
    # 429), which is at least 2 whole seconds after the first request
    assert server.retry_at - server.arrivals[0] >= 2.0
    assert server.arrivals[1] >= server.retry_at - 0.05  # sleep/clock granularity
