"""``/v1`` handlers: chat completions (plain and SSE), route decisions, model listing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import time
from typing import TYPE_CHECKING, Any

from polyroute.engine import Completion, RouteDecision, RouteRequest, StreamHandle
from polyroute.exceptions import UpstreamError
from polyroute.server import _traffic as traffic
from polyroute.server._errors import bad_request, sse_error_event, to_http_error
from polyroute.server._http import Headers, Request, Send, ascii_header, send_bytes, send_json

if TYPE_CHECKING:
    from polyroute.server._app import Gateway, RequestLog

COST_WEIGHT_HEADER = "x-polyroute-cost-weight"
TAG_HEADER = "x-polyroute-tag"
SESSION_HEADER = "x-polyroute-session"
_SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def parse_chat_body(req: Request) -> dict[str, Any]:
    """The request body, checked just enough to route it (the upstream validates the rest)."""
    body = req.json_object()
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request(f"'model': expected a non-empty string, found {model!r}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request(
            "'messages': expected a non-empty list of messages, found "
            f"{type(messages).__name__ if messages is not None else 'nothing'}"
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise bad_request(f"'messages[{i}]': expected an object with a 'role' string")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise bad_request(f"'stream': expected true or false, found {body['stream']!r}")
    return body


def routing_text(messages: list[dict[str, Any]]) -> str:
    """The last user message's text (text parts joined for multi-part content)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(
                str(p.get("text", ""))
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
    return ""


def _cost_weight(body: dict[str, Any], req: Request) -> float | None:
    ext = body.get("polyroute")
    if ext is not None and not isinstance(ext, dict):
        raise bad_request(f"'polyroute': expected an object, found {type(ext).__name__}")
    value: Any = (ext or {}).get("cost_weight")
    where = "'polyroute.cost_weight'"
    if value is None and COST_WEIGHT_HEADER in req.headers:
        where = f"header {COST_WEIGHT_HEADER}"
        try:
            value = float(req.headers[COST_WEIGHT_HEADER])
        except ValueError:
            raise bad_request(
                f"{where}: expected a number, found {req.headers[COST_WEIGHT_HEADER]!r}"
            ) from None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_request(f"{where}: expected a finite number, found {value!r}")
    return float(value)


def _metadata(body: dict[str, Any], req: Request) -> dict[str, str]:
    meta: dict[str, str] = {}
    raw = body.get("metadata")
    if isinstance(raw, dict):
        meta.update({str(k): str(v) for k, v in raw.items()})
    for part in req.headers.get(TAG_HEADER, "").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            meta[key.strip()] = value.strip()
    if isinstance(body.get("user"), str):
        meta["user"] = body["user"]
    return meta


def route_request(body: dict[str, Any], req: Request) -> RouteRequest:
    user = body.get("user") if isinstance(body.get("user"), str) else None
    return RouteRequest(
        model=body["model"],
        text=routing_text(body["messages"]),
        cost_weight=_cost_weight(body, req),
        metadata=_metadata(body, req),
        affinity_key=req.headers.get(SESSION_HEADER) or user,
    )


def decision_headers(
    decision: RouteDecision, deployment: str | None = None, model: str | None = None
) -> Headers:
    headers = [
        (b"x-polyroute-model", ascii_header(model or decision.model)),
        (b"x-polyroute-reason", ascii_header(decision.reason)),
    ]
    if deployment is not None:
        headers.append((b"x-polyroute-deployment", ascii_header(deployment)))
    if decision.profile is not None:
        headers.append((b"x-polyroute-profile", ascii_header(decision.profile)))
    if model is not None and model != decision.model:
        headers.append((b"x-polyroute-fallback-from", ascii_header(decision.model)))
    return headers


async def _decide(
    gw: Gateway, req: Request, log: RequestLog, *, explain: bool = False
) -> tuple[dict[str, Any], RouteDecision]:
    body = parse_chat_body(req)
    request = route_request(body, req)
    if gw.traffic is not None and request.cost_weight is None:  # a soft budget may raise λ
        lam = traffic.soft_cost_weight(gw, log.client, None)
        if lam is not None:
            request = dataclasses.replace(request, cost_weight=_capped(gw, request.model, lam))
    # the online profiles credit feedback to the prompt's cluster, so traffic logging asks for it
    decision = await gw.engine.decide(request, explain=explain or gw.traffic is not None)
    log.profile, log.model = decision.profile, decision.model
    gw.metrics.decisions.labels(decision.profile or "", decision.model, decision.strategy).inc()
    body.pop("polyroute", None)
    return body, decision


def _capped(gw: Gateway, name: str, lam: float) -> float:
    """A budget-raised λ within the profile's allowed range."""
    profile = next(
        (p for p in gw.settings.profiles if p.name == name.removeprefix("polyroute/")), None
    )
    return (
        lam
        if profile is None
        else min(max(lam, profile.cost_weight_range[0]), profile.cost_weight_range[1])
    )


async def chat_completions(gw: Gateway, req: Request, send: Send, log: RequestLog) -> None:
    started = time.perf_counter()
    # One disconnect watcher for the whole answer: a client that hangs up before the answer
    # starts cancels decide and the upstream call (a watcher per phase cost ~0.14 ms p50).
    body, decision, reserved, answer = await req.until_disconnect(_answer(gw, req, log))
    if isinstance(answer, Completion):
        await _complete(gw, decision, body, reserved, answer, started, send, log)
        return
    await _stream(gw, decision, answer, req, send, log)
    traffic.finish(
        gw, log, decision, reserved=reserved, text=routing_text(body["messages"]), body=None,
        started=started, ttft_s=None, attempts=1,
    )  # fmt: skip


async def _answer(
    gw: Gateway, req: Request, log: RequestLog
) -> tuple[dict[str, Any], RouteDecision, Any, Completion | StreamHandle]:
    """Decide, admit, then the upstream call (or the stream up to its first chunk)."""
    body, decision = await _decide(gw, req, log)
    reserved = traffic.admit(gw, log, decision)
    key = req.headers.get(SESSION_HEADER) or (
        body.get("user") if isinstance(body.get("user"), str) else None
    )
    if body.get("stream"):
        return body, decision, reserved, await gw.engine.stream(decision, body, key=key)
    return body, decision, reserved, await gw.engine.complete(decision, body, key=key)


async def _complete(
    gw: Gateway,
    decision: RouteDecision,
    body: dict[str, Any],
    reserved: Any,
    done: Completion,
    started: float,
    send: Send,
    log: RequestLog,
) -> None:
    log.model, log.deployment = done.model, done.deployment
    log.status = done.response.status
    traffic.finish(
        gw, log, decision, reserved=reserved, text=routing_text(body["messages"]),
        body=done.response.body, started=started, ttft_s=None, attempts=done.attempts,
    )  # fmt: skip
    gw.record_cost(done.model, done.response.body)
    headers = decision_headers(decision, done.deployment, done.model)
    await send_bytes(
        send,
        done.response.status,
        done.response.body,
        done.response.content_type.encode("latin-1"),
        headers,
    )
    log.status = done.response.status


async def _stream(
    gw: Gateway,
    decision: RouteDecision,
    handle: StreamHandle,
    req: Request,
    send: Send,
    log: RequestLog,
) -> None:
    pump = asyncio.ensure_future(_pump(gw, handle, decision, send, log))
    gone = asyncio.ensure_future(req.wait_disconnect())
    try:
        done, _ = await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
        if pump in done:
            pump.result()  # re-raise what the relay raised
        else:  # the client left mid-stream: stop reading (and paying for) the upstream answer
            log.stream_error = "client_disconnected"
            gw.metrics.client_disconnects.labels(handle.model).inc()
    finally:
        for task in (pump, gone):
            task.cancel()
        await asyncio.gather(pump, gone, return_exceptions=True)
        await handle.aclose()  # no-op after a complete stream; frees hooks and socket otherwise
    gw.record_cost(handle.model, None)


async def _pump(
    gw: Gateway, handle: Any, decision: RouteDecision, send: Send, log: RequestLog
) -> None:
    """Relay the upstream SSE chunks to the client; a mid-stream failure ends in an error event."""
    log.model, log.deployment = handle.model, handle.deployment
    gw.metrics.ttft.labels(handle.model).observe(handle.ttft_s)
    headers = [*_SSE_HEADERS, *decision_headers(decision, handle.deployment, handle.model)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    log.status = 200
    try:
        async for chunk in handle.chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except UpstreamError as exc:
        err = to_http_error(exc)
        log.stream_error = err.code
        gw.metrics.stream_errors.labels(handle.model).inc()
        await send({"type": "http.response.body", "body": sse_error_event(err), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def route_only(gw: Gateway, req: Request, send: Send, log: RequestLog) -> None:
    _, decision = await _decide(gw, req, log, explain=True)
    await send_json(
        send, 200, {"object": "polyroute.route", **decision.to_dict()}, decision_headers(decision)
    )


async def list_models(gw: Gateway, req: Request, send: Send, log: RequestLog) -> None:
    view = gw.engine.view()
    data: list[dict[str, Any]] = []
    for p in gw.settings.profiles:
        data.append(
            {
                "id": p.name,
                "object": "model",
                "created": gw.started_at,
                "owned_by": "polyroute",
                "polyroute": {
                    "kind": "profile",
                    "strategy": p.strategy,
                    "description": p.description,
                    "cost_weight": p.cost_weight,
                    "cost_weight_range": list(p.cost_weight_range),
                    "onboarded": view.onboarded.get(p.name, []),
                },
            }
        )
    for name, route in view.routes.items():
        m = route.settings
        data.append(
            {
                "id": name,
                "object": "model",
                "created": gw.started_at,
                "owned_by": "polyroute",
                "polyroute": {
                    "kind": "model",
                    "deployments": len(route.deployments),
                    "cost_per_query_usd": m.routing_cost_usd(),
                    "input_cost_per_mtok": m.input_cost_per_mtok,
                    "output_cost_per_mtok": m.output_cost_per_mtok,
                },
            }
        )
    await send_json(send, 200, {"object": "list", "data": data})


def usage_cost(body: bytes | None, input_per_mtok: float, output_per_mtok: float) -> float | None:
    """USD from the ``usage`` of an OpenAI answer, or ``None`` when it has none."""
    if not body:
        return None
    try:
        usage = json.loads(body).get("usage") or {}
        n_in, n_out = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    except (ValueError, AttributeError, TypeError):
        return None
    if n_in == 0 and n_out == 0:
        return None
    return (n_in * input_per_mtok + n_out * output_per_mtok) / 1e6
