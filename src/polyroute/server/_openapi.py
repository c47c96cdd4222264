"""The gateway's OpenAPI 3.1 document (served at ``/openapi.json``), built from the pydantic
models that validate the request bodies (:mod:`polyroute.server._schemas`, and the pool's
:class:`ModelSettings` / :class:`DeploymentSettings` for the admin API)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from polyroute.gateway_config import DeploymentSettings, ModelSettings
from polyroute.server._schemas import ChatCompletionRequest, Circuits, ErrorBody, ProfileAttach

_MODELS: tuple[type[BaseModel], ...] = (
    ChatCompletionRequest,
    ModelSettings,
    DeploymentSettings,
    ProfileAttach,
    ErrorBody,
    Circuits,
)
_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _json(_ref(ErrorBody), "error") for s in statuses}


def _op(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    ok: dict[str, Any] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (400, 401, 404),
    admin: bool = False,
    params: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"adminKey": []}] if admin else [{"clientKey": []}],
        "responses": {str(status): ok or _json({"type": "object"}, "success"), **_errors(*errors)},
    }
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if params:
        op["parameters"] = [
            {
                "name": p,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            }
            for p in params
        ]
    return op


@cache
def openapi_document(version: str = "0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the public and admin API."""
    _, defs = models_json_schema([(m, "validation") for m in _MODELS], ref_template=_REF)
    chat_errors = (400, 401, 404, 413, 429, 502, 503, 504)
    model_p, dep_p = ("model",), ("model", "deployment")
    paths: dict[str, Any] = {
        "/v1/chat/completions": {
            "post": _op(
                "Route and answer a chat completion (JSON, or SSE with stream: true)",
                body=ChatCompletionRequest,
                errors=chat_errors,
            )
        },
        "/v1/route": {
            "post": _op(
                "The routing decision only",
                body=ChatCompletionRequest,
                errors=(400, 401, 404, 413, 503),
            )
        },
        "/v1/models": {"get": _op("Routing profiles and pool models", errors=(401,))},
        "/openapi.json": {
            "get": {
                "summary": "This document (public: the admin paths it lists need the admin key)",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "alive")},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness",
                "security": [],
                "responses": {
                    "200": _json({"type": "object"}, "ready"),
                    "503": _json({"type": "object"}, "not ready, and why"),
                },
            }
        },
        "/metrics": {
            "get": _op(
                "Prometheus metrics",
                admin=True,
                errors=(401, 403),
                ok={
                    "description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
            )
        },
        "/admin/pool": {"get": _op("The live pool", admin=True, errors=(401, 403))},
        "/admin/circuits": {
            "get": _op(
                "Circuit state per deployment",
                admin=True,
                errors=(401, 403),
                ok=_json(_ref(Circuits), "circuits"),
            )
        },
        "/admin/circuits/{deployment}/reset": {
            "post": _op(
                "Close a circuit", admin=True, params=("deployment",), errors=(401, 403, 404)
            )
        },
        "/admin/models": {
            "post": _op(
                "Add or replace a model",
                body=ModelSettings,
                status=201,
                admin=True,
                errors=(400, 401, 403),
            )
        },
        "/admin/models/{model}": {
            "get": _op("A pool model", admin=True, params=model_p, errors=(401, 403, 404)),
            "put": _op(
                "Add or replace a model",
                body=ModelSettings,
                status=201,
                admin=True,
                params=model_p,
                errors=(400, 401, 403),
            ),
            "delete": _op("Remove a model", admin=True, params=model_p, errors=(401, 403, 404)),
        },
        "/admin/models/{model}/deployments": {
            "post": _op(
                "Add or replace a deployment",
                body=DeploymentSettings,
                status=201,
                admin=True,
                params=model_p,
                errors=(400, 401, 403, 404),
            )
        },
        "/admin/models/{model}/deployments/{deployment}": {
            "delete": _op("Remove a deployment", admin=True, params=dep_p, errors=(401, 403, 404))
        },
        "/admin/models/{model}/profile": {
            "post": _op(
                "Onboard a model: attach its graded prompts",
                body=ProfileAttach,
                status=201,
                admin=True,
                params=model_p,
                errors=(400, 401, 403, 404),
            ),
            "delete": _op(
                "Detach a model's onboarded profile",
                admin=True,
                params=model_p,
                errors=(401, 403, 404),
            ),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "polyroute gateway",
            "version": version,
            "description": "OpenAI-compatible LLM routing gateway: public (/v1) and admin API.",
        },
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {
                "clientKey": {"type": "http", "scheme": "bearer", "description": "a client key"},
                "adminKey": {"type": "http", "scheme": "bearer", "description": "the admin key"},
            },
        },
    }
