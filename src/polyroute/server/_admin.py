"""``/admin`` handlers: change the live pool (models, deployments, onboarded profiles) and circuits.

Model names may contain ``/``: URL-encode them in paths (``meta%2Fllama-2-70b-chat``).
Every change is written to SQLite and published, so it takes effect on the next request.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import numpy as np

from polyroute.pool import parse_deployment, parse_model, parse_profile
from polyroute.server._errors import bad_request, not_found
from polyroute.server._http import Request, Send, send_json

if TYPE_CHECKING:
    from polyroute.server._app import Gateway, RequestLog


def _model_view(gw: Gateway) -> dict[str, Any]:
    snap = gw.pool.snapshot()
    return {
        "version": snap.version,
        "models": [m.model_dump(mode="json") for m in snap.models.values()],
        "profiles": {
            m: {"encoder": p.encoder, "n_prompts": p.n_prompts} for m, p in snap.profiles.items()
        },
    }


async def handle_admin(gw: Gateway, req: Request, send: Send, log: RequestLog) -> None:
    """Dispatch ``/admin/...`` (the caller is already authenticated as admin)."""
    seg, method = req.segments[1:], req.method
    log.route = "/admin/" + "/".join(_template(seg))
    if seg == ["pool"] and method == "GET":
        await send_json(send, 200, _model_view(gw))
    elif seg == ["circuits"] and method == "GET":
        await send_json(send, 200, {"circuits": gw.engine.circuit_states()})
    elif len(seg) == 3 and seg[0] == "circuits" and seg[2] == "reset" and method == "POST":
        _require_circuit(gw, seg[1])
        gw.engine.breakers.get(seg[1]).reset()
        await send_json(send, 200, {"circuit": seg[1], "state": "closed"})
    elif seg == ["models"] and method == "POST":
        model = parse_model(req.json_object())
        created = gw.pool.upsert_model(model)
        await send_json(
            send,
            201 if created else 200,
            {"model": model.name, "created": created, "version": gw.pool.version()},
        )
    elif len(seg) == 2 and seg[0] == "models":
        await _model(gw, req, send, seg[1])
    elif len(seg) == 3 and seg[0] == "models" and seg[2] == "deployments" and method == "POST":
        dep = parse_deployment(req.json_object())
        created = gw.pool.upsert_deployment(seg[1], dep)
        await send_json(
            send,
            201 if created else 200,
            {
                "model": seg[1],
                "deployment": dep.name,
                "created": created,
                "version": gw.pool.version(),
            },
        )
    elif len(seg) == 4 and seg[0] == "models" and seg[2] == "deployments" and method == "DELETE":
        gw.pool.remove_deployment(seg[1], seg[3])
        await send_json(
            send,
            200,
            {"model": seg[1], "deployment": seg[3], "removed": True, "version": gw.pool.version()},
        )
    elif len(seg) == 3 and seg[0] == "models" and seg[2] == "profile":
        await _profile(gw, req, send, seg[1])
    else:
        raise not_found(f"no admin route {method} {req.path}")


async def _model(gw: Gateway, req: Request, send: Send, name: str) -> None:
    if req.method == "GET":
        await send_json(send, 200, gw.pool.get_model(name).model_dump(mode="json"))
    elif req.method == "PUT":
        data = req.json_object()
        if data.setdefault("name", name) != name:
            raise bad_request(
                f"'name': expected {name!r} (the model in the path), found {data['name']!r}"
            )
        created = gw.pool.upsert_model(parse_model(data))
        await send_json(
            send,
            201 if created else 200,
            {"model": name, "created": created, "version": gw.pool.version()},
        )
    elif req.method == "DELETE":
        gw.pool.remove_model(name)
        await send_json(send, 200, {"model": name, "removed": True, "version": gw.pool.version()})
    else:
        raise not_found(f"no admin route {req.method} {req.path}")


async def _profile(gw: Gateway, req: Request, send: Send, model: str) -> None:
    """Attach (POST) or detach (DELETE) an onboarded profile.

    POST body: ``{"prompts": [...], "scores": [...]}`` (the gateway embeds the prompts with the
    learned profiles' encoder) or ``{"embeddings": [[...]], "scores": [...], "encoder": name}``;
    scores are the model's graded quality per prompt in [0, 1].
    """
    if req.method == "DELETE":
        gw.pool.detach_profile(model)
        await send_json(send, 200, {"model": model, "profile": None, "version": gw.pool.version()})
        return
    if req.method != "POST":
        raise not_found(f"no admin route {req.method} {req.path}")
    payload = parse_profile(req.json_object())
    scores = np.asarray(payload.scores, dtype=np.float64)
    if payload.prompts is not None:
        profile = gw.learned_profile_name()
        if profile is None:
            raise bad_request("no learned routing profile to attach a profile to")
        encoder = gw.engine.encoder_for(profile)
        X = await asyncio.get_running_loop().run_in_executor(  # keep serving meanwhile
            gw.engine.embedder.executor, encoder.encode, payload.prompts
        )
        enc_name = gw.engine.encoder_name_for(profile)
    else:
        X = np.asarray(payload.embeddings, dtype=np.float32)
        enc_name = str(payload.encoder)
        _require_width(gw, enc_name, int(X.shape[1]))
    gw.pool.attach_profile(model, enc_name, X, scores)
    await send_json(
        send,
        201,
        {
            "model": model,
            "n_prompts": int(X.shape[0]),
            "encoder": enc_name,
            "version": gw.pool.version(),
        },
    )


def _require_width(gw: Gateway, encoder: str, width: int) -> None:
    """400 for embeddings narrower or wider than a learned profile's encoder of that name: once
    attached, every request routed by that profile would fail."""
    for profile in gw.settings.profiles:
        if profile.strategy != "learned" or gw.engine.encoder_name_for(profile.name) != encoder:
            continue
        dim = int(gw.engine.encoder_for(profile.name).dim)
        if width != dim:
            raise bad_request(
                f"invalid profile: embeddings: expected rows of {dim} numbers (the width of "
                f"encoder {encoder!r} of profile {profile.name!r}), found {width}"
            )


def _require_circuit(gw: Gateway, name: str) -> None:
    """404 for a circuit that is neither in use nor a deployment of the pool (no phantoms)."""
    if name in gw.engine.breakers:
        return
    known = [d.key for r in gw.engine.view().routes.values() for d in r.deployments]
    if name not in known:
        raise not_found(
            f"unknown circuit {name!r}; expected a deployment key 'model/deployment', one of: "
            f"{', '.join(sorted(known))}",
            "circuit_not_found",
        )


def _template(seg: list[str]) -> list[str]:
    """Route label for metrics: path parameters replaced by placeholders."""
    if len(seg) >= 2 and seg[0] in ("models", "circuits"):
        out = [seg[0], "{name}", *seg[2:]]
        if len(out) == 4:
            out[3] = "{deployment}"
        return out
    return seg
