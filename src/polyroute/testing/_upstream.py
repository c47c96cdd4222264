"""``FakeUpstream``: a real OpenAI-compatible HTTP server on loopback, for tests and demos.

It runs uvicorn in a background thread on ``127.0.0.1`` and a free port, answers
``POST /v1/chat/completions`` (plain JSON or SSE streaming) and ``GET /v1/models``, and injects
faults on request: error statuses at given rates (429 with ``Retry-After``), added latency, slow
requests that hang (to trip the caller's timeouts), connections reset after the request was read,
truncated or malformed JSON in a 200, resets mid-body or mid-stream, stalls mid-stream and
dropped connections. Faults are drawn from a seeded RNG, so a run is reproducible for a given
request order; :meth:`FakeUpstream.script` fixes the faults of the next requests.

Example
-------
>>> with FakeUpstream(lambda req: "hi") as up:          # doctest: +SKIP
...     openai.OpenAI(base_url=up.base_url, api_key="x").chat.completions.create(...)
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import time
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any, Self

from polyroute.exceptions import ConfigError
from polyroute.testing._faults import FAULTS, FaultConfig, Plan
from polyroute.testing._responders import Responder, echo_responder
from polyroute.testing._server import ServerThread

_ASGIMessage = dict[str, Any]


class FakeUpstream:
    """An OpenAI-compatible server on ``127.0.0.1`` in a background thread.

    Parameters
    ----------
    responder : callable, optional
        ``responder(request_json) -> str`` returns the assistant message content
        (default: :func:`echo_responder`). It runs on the server's event loop; keep it fast.
    faults : FaultConfig, optional
        Faults to inject (default: none). Replace at run time with :meth:`set_faults`.
    model_names : sequence of str, optional
        Models listed by ``GET /v1/models`` (default: ``["fake-model"]``).

    Attributes
    ----------
    base_url : str
        ``"http://127.0.0.1:PORT/v1"`` once started.
    stats : collections.Counter
        Outcome counts: ``"requests"`` (every chat POST received, whatever happens next),
        ``"ok"``, ``"status_500"``, one per fault name (``"slow"``, ``"drop"``, ``"reset"``,
        ``"truncated_json"``, ...), ``"stall"``, ``"caller_hung_up"`` (the caller closed during
        added latency, a slow answer or a stall).
    requests : list of dict
        Request bodies received (the last 1,000).
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        faults: FaultConfig | None = None,
        model_names: Sequence[str] | None = None,
    ) -> None:
        self.responder: Responder = responder or echo_responder
        self.model_names = list(model_names or ["fake-model"])
        self.stats: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self._faults = faults or FaultConfig()
        self._rng = random.Random(self._faults.seed)
        self._script: deque[str | int] = deque()
        self._server: ServerThread | None = None
        self._port: int | None = None
        self._created = int(time.time())

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        if self._port is None:
            raise ConfigError("FakeUpstream is not started; use it as a context manager")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def faults(self) -> FaultConfig:
        return self._faults

    def set_faults(self, faults: FaultConfig | None) -> None:
        """Replace the fault configuration (and reseed its RNG) while running."""
        self._faults = faults or FaultConfig()
        self._rng = random.Random(self._faults.seed)

    def start(self) -> Self:
        """Bind a free port and start serving; returns ``self``."""
        self._server = ServerThread(self._asgi, lifespan="off").start()
        self._port = self._server.port
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._server is not None:
            self._server.stop()
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ faults
    def script(self, *faults: str | int) -> None:
        """Faults of the next requests, in order, before random draws resume.

        Each is ``"ok"``, a name of :data:`FAULTS`, ``"stall"`` or an HTTP error status.
        """
        for fault in faults:
            if not (isinstance(fault, int) or fault in ("ok", "stall", *FAULTS)):
                raise ConfigError(
                    f"FakeUpstream.script: expected 'ok', 'stall', an HTTP status or one of "
                    f"{FAULTS}, found {fault!r}"
                )
        self._script.extend(faults)

    def _draw(self, stream: bool) -> Plan:
        if self._script:
            fault = self._script.popleft()
            if isinstance(fault, int):
                return Plan(status=fault)
            plan = Plan(fault=None if fault in ("ok", "stall") else fault)
            plan.stall = fault == "stall"
            return plan
        f, r = self._faults, self._rng.random()
        for status, rate in sorted(f.error_rates.items()):
            if r < rate:
                return Plan(status=int(status))
            r -= rate
        for name, rate in f.fault_rates().items():
            if r < rate:
                return Plan(fault=name)
            r -= rate
        plan = Plan()
        plan.stall = stream and self._rng.random() < f.stall_mid_stream_rate
        return plan

    # ------------------------------------------------------------------ ASGI app
    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path.rstrip("/") == "/v1/models":
            data = [
                {"id": m, "object": "model", "created": self._created, "owned_by": "fake"}
                for m in self.model_names
            ]
            await _send_json(send, 200, {"object": "list", "data": data})
            return
        if method != "POST" or path.rstrip("/") != "/v1/chat/completions":
            await _send_json(send, 404, _error_body(f"no route {method} {path}", "not_found"))
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await self._chat(body, receive, send)

    async def _chat(self, body: bytes, receive: Any, send: Any) -> None:
        self.stats["requests"] += 1
        try:
            request = json.loads(body)
        except ValueError as exc:
            request = f"invalid JSON: {exc}"
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            self.stats["status_400"] += 1
            problem = request if isinstance(request, str) else "expected a 'messages' list"
            await _send_json(send, 400, _error_body(f"invalid body: {problem}", "invalid_request"))
            return
        self.requests.append(request)
        del self.requests[:-1000]
        stream = bool(request.get("stream"))
        plan = self._draw(stream)
        if plan.fault is not None:
            self.stats[plan.fault] += 1
        delay = self._faults.latency_s + (self._faults.slow_s if plan.fault == "slow" else 0.0)
        if delay > 0 and await self._hung_up_within(receive, delay):
            return  # the caller closed while waiting for the answer: nobody to send it to
        if plan.status is not None:
            await self._send_error(send, plan.status)
            return
        if plan.fault == "reset":  # the request was read; the caller gets no answer at all
            await _hang_up(send, reset=True)
            return
        content = self.responder(request)
        model = str(request.get("model") or self.model_names[0])
        if plan.fault == "drop":  # headers, then the connection closes before any body byte
            ctype = b"text/event-stream" if stream else b"application/json"
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", ctype), (b"content-length", b"4096")],
                }
            )
            raise ConnectionAbortedError("FakeUpstream: injected dropped connection")
        if stream:
            await self._stream(receive, send, request, model, content, plan)
            return
        answer = json.dumps(_completion(request, model, content), separators=(",", ":")).encode()
        if plan.fault == "reset_mid_body":
            await _send_start(send, 200, len(answer))
            await send({"type": "http.response.body", "body": answer[: len(answer) // 2]})
            await _hang_up(send, reset=False)
            return
        if plan.fault is None:
            self.stats["ok"] += 1
        await _send_raw(send, 200, _corrupt(answer, plan.fault))

    async def _send_error(self, send: Any, status: int) -> None:
        self.stats[f"status_{status}"] += 1
        headers: list[tuple[bytes, bytes]] = []
        if status == 429:
            headers.append((b"retry-after", f"{self._faults.retry_after_s:g}".encode()))
        kind = "rate_limit_exceeded" if status == 429 else "server_error"
        await _send_json(send, status, _error_body(f"injected {status}", kind), headers)

    async def _stream(
        self,
        receive: Any,
        send: Any,
        request: dict[str, Any],
        model: str,
        content: str,
        plan: Plan,
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        cid = f"chatcmpl-fake{self.stats['requests']}"
        pieces = _split(content)
        for i, piece in enumerate(pieces):
            delta: dict[str, Any] = {"content": piece}
            if i == 0:
                delta["role"] = "assistant"
            event = _event(_chunk(cid, model, delta, None))
            if i == 0 and plan.fault in ("truncated_json", "malformed_json"):
                event = b"data: " + _corrupt(event[6:-2], plan.fault) + b"\n\n"
            await send({"type": "http.response.body", "body": event, "more_body": True})
            if i == 0 and plan.fault == "reset_mid_body":
                await _hang_up(send, reset=False)
                return
            if plan.stall and i == 0:
                self.stats["stall"] += 1
                await self._hung_up_within(receive, self._faults.slow_s)
                raise ConnectionAbortedError("FakeUpstream: injected stall mid-stream")
        await _send_event(send, _chunk(cid, model, {}, "stop"))
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = _chunk(cid, model, {}, None)
            usage["choices"] = []
            usage["usage"] = _usage(request, content)
            await _send_event(send, usage)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        if plan.fault is None:
            self.stats["ok"] += 1

    async def _hung_up_within(self, receive: Any, seconds: float) -> bool:
        """Wait ``seconds`` (added latency, a slow answer, a stall); ``True`` (and a count of
        ``"caller_hung_up"``) if the caller closes its connection first."""
        hang_up = asyncio.ensure_future(receive())
        try:
            await asyncio.wait_for(asyncio.shield(hang_up), seconds)
        except TimeoutError:
            return False
        finally:
            hang_up.cancel()
        if hang_up.result().get("type") == "http.disconnect":
            self.stats["caller_hung_up"] += 1
            return True
        return False


# ---------------------------------------------------------------------- wire helpers
def _split(content: str, n_pieces: int = 4) -> list[str]:
    if not content:
        return [""]
    step = max(1, -(-len(content) // n_pieces))
    return [content[i : i + step] for i in range(0, len(content), step)]


def _usage(request: dict[str, Any], content: str) -> dict[str, int]:
    prompt = sum(
        len(str(m.get("content", "")).split()) for m in request["messages"] if isinstance(m, dict)
    )
    completion = len(content.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(request: dict[str, Any], model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(request, content),
    }


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _error_body(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "code": code}}


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def _send_event(send: Any, payload: dict[str, Any]) -> None:
    await send({"type": "http.response.body", "body": _event(payload), "more_body": True})


def _corrupt(body: bytes, fault: str | None) -> bytes:
    """``body`` cut in half (``truncated_json``) or replaced by HTML (``malformed_json``)."""
    if fault == "truncated_json":
        return body[: len(body) // 2]
    if fault == "malformed_json":
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    return body


async def _hang_up(send: Any, *, reset: bool) -> None:
    """Close the caller's connection now: a TCP reset (``reset``), else a plain close after the
    bytes already sent. Reaches uvicorn's transport through its ``send`` method; returning
    afterwards is clean (uvicorn sends nothing on a lost connection)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:  # not served by uvicorn: an exception closes the connection too
        raise ConnectionAbortedError("FakeUpstream: injected connection reset")
    sock = transport.get_extra_info("socket")
    if reset and sock is not None:  # linger 0: close() sends RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await asyncio.sleep(0)  # uvicorn's connection_lost runs: it will not answer 500


async def _send_start(
    send: Any, status: int, length: int, ctype: bytes = b"application/json"
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", ctype), (b"content-length", str(length).encode())],
        }
    )


async def _send_raw(send: Any, status: int, body: bytes) -> None:
    await _send_start(send, status, len(body))
    await send({"type": "http.response.body", "body": body})


async def _send_json(
    send: Any, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
