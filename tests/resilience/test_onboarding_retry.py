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
    """A loopback HTTP server: the first request gets 429 with an HTTP-date Retry-After."""

    def __init__(self, retry_after: str) -> None:
        self.retry_after = retry_after
        self.arrivals: list[float] = []
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
                self.arrivals.append(time.monotonic())
                if len(self.arrivals) == 1:
                    writer.write(
                        b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\n"
                        b"retry-after: " + self.retry_after.encode() + b"\r\n\r\n"
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
    # two seconds ahead, at the header's one-second resolution: the wait is 1 to 2 s
    with _RateLimitedOnce(formatdate(time.time() + 2, usegmt=True)) as server:
        item = ValidationItem("q1", "Pick B.\nA. a\nB. b", "B", "choice")
        report = run_endpoint(
            [item],
            EndpointConfig(f"http://127.0.0.1:{server.port}/v1", "m"),
            max_attempts=3,
            base_delay_s=0.001,  # without the header the retry would come at once
        )
    assert report.n_failed == 0 and len(report.outcomes) == 1
    assert len(server.arrivals) == 2
    assert server.arrivals[1] - server.arrivals[0] >= 0.9
