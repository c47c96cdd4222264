"""The gateway's side of traffic learning: budgets before delivery, one decision record after
it, ``POST /v1/feedback`` and ``GET /admin/spend``. The work is in :mod:`polyroute.traffic`;
here are only the HTTP mappings and the record assembly."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from polyroute.engine import RouteDecision
from polyroute.server._errors import HTTPError, bad_request, not_found
from polyroute.server._http import Request, Send, send_json
from polyroute.traffic import DecisionRecord, FeedbackError, prompt_digest, usage_cost_usd

if TYPE_CHECKING:
    from polyroute.server._app import Gateway, RequestLog


def budget_exceeded(key: str) -> HTTPError:
    """429 in OpenAI's error format, distinct from rate limits by its code."""
    return HTTPError(
        429,
        f"the budget of client key {key!r} for this period is spent",
        "insufficient_quota",
        "budget_exceeded",
    )


def soft_cost_weight(gw: Gateway, key: str | None, decision_lambda: float | None) -> float | None:
    """λ for a request that did not ask for one: raised by the key's soft budget, if any."""
    if gw.traffic is None or decision_lambda is not None or key is None:
        return decision_lambda
    if key not in gw.traffic.spend.budgets:
        return None
    lam = gw.traffic.spend.cost_weight(key, -1.0)
    return None if lam < 0 else lam


def admit(gw: Gateway, log: RequestLog, decision: RouteDecision) -> float:
    """Reserve the chosen model's expected cost against the key's budget (429 if it is spent)."""
    if gw.traffic is None:
        return 0.0
    spec = (decision.view or gw.engine.view()).snapshot.models.get(decision.model)
    expected = spec.routing_cost_usd() if spec is not None else 0.0
    reserved = gw.traffic.spend.admit(log.client, expected)
    if reserved is None:
        raise budget_exceeded(log.client or "")
    return reserved


def finish(
    gw: Gateway,
    log: RequestLog,
    decision: RouteDecision,
    *,
    reserved: float,
    text: str,
    body: bytes | None,
    started: float,
    ttft_s: float | None,
    attempts: int,
) -> None:
    """Settle the spend and queue the decision record (never waits on the log store)."""
    tr = gw.traffic
    if tr is None:
        return
    view = decision.view or gw.engine.view()
    model = log.model or decision.model
    spec = view.snapshot.models.get(model)
    n_in, n_out = _usage(body)
    cost = None
    if spec is not None:
        cost = usage_cost_usd(
            n_in,
            n_out,
            input_cost_per_mtok=spec.input_cost_per_mtok,
            output_cost_per_mtok=spec.output_cost_per_mtok,
        )
        if cost is None:  # no usage in the answer: the routing estimate is the best we have
            cost = spec.routing_cost_usd()
    table = decision.table
    tr.spend.settle(
        log.client,
        reserved_usd=reserved,
        cost_usd=cost,
        model=model,
        profile=decision.profile,
        scores=None if table is None else table.quality,
        costs=None if table is None else table.cost_usd,
    )
    if tr.log is None:
        return
    tr.submit(
        DecisionRecord(
            request_id=log.request_id,
            time_s=time.time(),
            model=model,
            key_id=log.client,
            profile=decision.profile,
            cost_weight=decision.cost_weight,
            deployment=log.deployment,
            candidates=() if table is None else tuple(table.models),
            predicted_quality=() if table is None else tuple(map(float, table.quality)),
            candidate_cost_usd=() if table is None else tuple(map(float, table.cost_usd)),
            cluster=decision.cluster,
            prompt_tokens=n_in,
            completion_tokens=n_out,
            cost_usd=cost,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            ttft_ms=None if ttft_s is None else ttft_s * 1000.0,
            status=log.status,
            fallback=model != decision.model or attempts > 1,
            encoder=gw.engine.encoder_name_for(decision.profile)
            if decision.embedding is not None and decision.profile
            else None,
            embedding=decision.embedding,
            prompt_hash=prompt_digest(text),
            prompt_text=text if tr.settings.log_prompts == "text" else None,
        )
    )


def _usage(body: bytes | None) -> tuple[int | None, int | None]:
    import json

    if not body:
        return None, None
    try:
        usage = json.loads(body).get("usage") or {}
        return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    except (ValueError, AttributeError, TypeError):
        return None, None


async def feedback(gw: Gateway, req: Request, send: Send, log: RequestLog) -> None:
    """``POST /v1/feedback {"request_id", "score"}``: a graded outcome of the key's own request."""
    if gw.traffic is None or gw.traffic.log is None:
        raise not_found("feedback needs the decision log (traffic.log: true)", "unknown_route")
    body: Any = req.json()
    engine = gw.engine

    def router_for(profile: str) -> Any:
        return engine.view().routers.get(profile)

    try:
        out = await asyncio.to_thread(gw.traffic.feedback, log.client, body, router_for=router_for)
    except FeedbackError as exc:
        if exc.status == 404:
            raise not_found(str(exc), "unknown_request_id") from None
        raise bad_request(str(exc), "invalid_feedback") from None
    await send_json(send, 200, {"object": "polyroute.feedback", **out})


async def spend(gw: Gateway, req: Request, send: Send) -> None:
    """``GET /admin/spend``: totals per key, model and profile; budgets this period."""
    if gw.traffic is None:
        await send_json(send, 200, {"spend": [], "budgets": []})
        return
    await send_json(send, 200, gw.traffic.spend.spend())
