"""``FakeUpstream``: a real OpenAI-compatible HTTP server on loopback, for tests and demos.

It runs uvicorn in a background thread on ``127.0.0.1`` and a free port, answers
``POST /v1/chat/completions`` (plain JSON or SSE streaming) and ``GET /v1/models``, and injects
faults on request: error statuses at given rates (429 with ``Retry-After``), added latency, slow
requests that hang (to trip the caller's timeouts), stalls mid-stream and dropped connections.
Faults are drawn from a seeded RNG, so a run is reproducible for a given request order.

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
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from polyroute.exceptions import ConfigError, MissingDependencyError

Responder = Callable[[dict[str, Any]], str]
_ASGIMessage = dict[str, Any]


@dataclass(frozen=True)
class FaultConfig:
    """Which faults a :class:`FakeUpstream` injects, and how often.

    Parameters
    ----------
    error_rates : mapping of int to float
        HTTP status -> probability per request (e.g. ``{500: 0.1, 429: 0.1}``); the sum must be
        <= 1. A 429 carries ``Retry-After: retry_after_s``.
    latency_s : float
        Added delay before every answer (seconds).
    slow_rate : float
        Probability that a request hangs for ``slow_s`` before answering (trips timeouts).
    slow_s : float
        How long a slow request hangs.
    stall_mid_stream_rate : float
        Probability that a streamed answer stops after its first chunk and hangs ``slow_s``.
    drop_connection_rate : float
        Probability that the server starts an answer and closes the connection mid-body.
    retry_after_s : float
        Value of the ``Retry-After`` header on 429 answers.
    seed : int
        Seed of the fault RNG.
    """

    error_rates: Mapping[int, float] = field(default_factory=dict)
    latency_s: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 5.0
    stall_mid_stream_rate: float = 0.0
    drop_connection_rate: float = 0.0
    retry_after_s: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        rates = {
            **{f"error_rates[{k}]": v for k, v in self.error_rates.items()},
            "slow_rate": self.slow_rate,
            "stall_mid_stream_rate": self.stall_mid_stream_rate,
            "drop_connection_rate": self.drop_connection_rate,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"FaultConfig.{name}: expected a rate in [0, 1], found {rate!r}")
        total = sum(self.error_rates.values()) + self.slow_rate + self.drop_connection_rate
        if total > 1.0 + 1e-9:
            raise ConfigError(
                "FaultConfig: expected error_rates + slow_rate + drop_connection_rate <= 1, "
                f"found {total:.3f}"
            )
        for status in self.error_rates:
            if not 400 <= int(status) <= 599:
                raise ConfigError(
                    f"FaultConfig.error_rates: expected HTTP error statuses 400-599, found {status}"
                )


def echo_responder(request: dict[str, Any]) -> str:
    """Default responder: echo the last user message."""
    messages = request.get("messages") or []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return f"echo: {content if isinstance(content, str) else json.dumps(content)}"
    return "echo: (no user message)"


def replay_responder(
    dataset: str = "routerbench",
    *,
    data_dir: str | None = None,
    fallback: Responder | None = None,
) -> Responder:
    """A responder that answers with the recorded answer of the requested model to that prompt.

    The request's last user message is looked up among the dataset's prompts and its ``model``
    among the dataset's models; the dataset's recorded answer (``metadata["responses"]``, e.g.
    RouterBench's ``<model>|model_response`` columns) is returned. Unknown prompts or models get
    ``fallback(request)`` (default: a short note saying no answer was recorded).

    Parameters
    ----------
    dataset : str
        Name of a routing dataset with recorded responses (``"routerbench"``).
    data_dir : str, optional
        Routing data directory (default: resolved by :mod:`polyroute.config`).
    fallback : callable, optional
        Responder for prompts without a recorded answer.
    """
    from polyroute.data import load_dataset

    ds = load_dataset(dataset, data_dir=data_dir)
    loader = ds.metadata.get("responses")
    if not callable(loader):
        raise ConfigError(
            f"dataset {dataset!r} has no recorded responses; expected "
            "metadata['responses'] (e.g. 'routerbench')"
        )
    answers = {(str(pid), str(model)): text for (pid, model), text in loader().items()}
    by_text = {
        str(text).strip(): str(pid) for pid, text in zip(ds.prompt_ids, ds.prompts, strict=True)
    }

    def respond(request: dict[str, Any]) -> str:
        text = echo_responder(request).removeprefix("echo: ").strip()
        pid = by_text.get(text)
        found = answers.get((pid, str(request.get("model")))) if pid is not None else None
        if found is not None:
            return found
        if fallback is not None:
            return fallback(request)
        return f"(no recorded answer of {request.get('model')} to this prompt)"

    return respond


class ServerThread:
    """Any ASGI app served by uvicorn in a background thread on ``127.0.0.1`` and a free port.

    Parameters
    ----------
    app : ASGI callable
        The application.
    lifespan : {"on", "off", "auto"}
        Whether uvicorn runs the app's lifespan (startup/shutdown) events.
    port : int
        Port to bind (0 = a free one).

    Example
    -------
    >>> with ServerThread(create_app(settings), lifespan="on") as srv:   # doctest: +SKIP
    ...     httpx.get(srv.url + "/healthz")
    """

    def __init__(self, app: Any, *, lifespan: str = "on", port: int = 0) -> None:
        self.app = app
        self.lifespan = lifespan
        self._bind_port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        try:
            import uvicorn
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingDependencyError("uvicorn", "server") from exc
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._bind_port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="critical",
            access_log=False,
            lifespan=self.lifespan,
            interface="asgi3",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name=f"ServerThread:{self.port}",
        )
        self._thread.start()
        deadline = time.monotonic() + 30.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise ConfigError(f"server on port {self.port} failed to start")
            time.sleep(0.005)
        sock.close()  # uvicorn serves on its own duplicate of the listening socket
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15.0)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Plan:
    """The fault drawn for one request."""

    __slots__ = ("drop", "slow", "stall", "status")

    def __init__(self) -> None:
        self.status: int | None = None
        self.slow = False
        self.drop = False
        self.stall = False


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
        Outcome counts: ``"requests"``, ``"ok"``, ``"status_500"``, ``"slow"``, ``"drop"``,
        ``"stall"``, ``"caller_hung_up"`` (the caller closed during a stall), ...
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

    def start(self) -> FakeUpstream:
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
    def _draw(self, stream: bool) -> _Plan:
        plan = _Plan()
        f, r = self._faults, self._rng.random()
        for status, rate in sorted(f.error_rates.items()):
            if r < rate:
                plan.status = int(status)
                return plan
            r -= rate
        if r < f.slow_rate:
            plan.slow = True
            return plan
        r -= f.slow_rate
        if r < f.drop_connection_rate:
            plan.drop = True
            return plan
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
        if self._faults.latency_s > 0:
            await asyncio.sleep(self._faults.latency_s)
        if plan.slow:
            self.stats["slow"] += 1
            await asyncio.sleep(self._faults.slow_s)
        if plan.status is not None:
            await self._send_error(send, plan.status)
            return
        content = self.responder(request)
        model = str(request.get("model") or self.model_names[0])
        if plan.drop:  # headers, then the connection closes before any body byte
            self.stats["drop"] += 1
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
            await self._stream(receive, send, request, model, content, plan.stall)
        else:
            self.stats["ok"] += 1
            await _send_json(send, 200, _completion(request, model, content))

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
        stall: bool,
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
            await _send_event(send, _chunk(cid, model, delta, None))
            if stall and i == 0:
                self.stats["stall"] += 1
                await self._stall(receive)
                raise ConnectionAbortedError("FakeUpstream: injected stall mid-stream")
        await _send_event(send, _chunk(cid, model, {}, "stop"))
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = _chunk(cid, model, {}, None)
            usage["choices"] = []
            usage["usage"] = _usage(request, content)
            await _send_event(send, usage)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        self.stats["ok"] += 1

    async def _stall(self, receive: Any) -> None:
        """Hang ``slow_s`` mid-stream; count ``"caller_hung_up"`` if the caller closes first."""
        hang_up = asyncio.ensure_future(receive())
        try:
            await asyncio.wait_for(asyncio.shield(hang_up), self._faults.slow_s)
        except TimeoutError:
            return
        finally:
            hang_up.cancel()
        if hang_up.result().get("type") == "http.disconnect":
            self.stats["caller_hung_up"] += 1


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


async def _send_event(send: Any, payload: dict[str, Any]) -> None:
    data = b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
    await send({"type": "http.response.body", "body": data, "more_body": True})


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
