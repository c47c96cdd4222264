"""The OpenAPI 3.1 document is built from the request models, and a short schema-driven fuzz run
finds no 5xx of the gateway's own making (the long run is bench/bench_fuzz.py)."""

from __future__ import annotations

from contextlib import ExitStack

from gateway_helpers import ADMIN_KEY, CLIENT_KEY, ENV, settings_for

from polyroute.gateway_config import DeploymentSettings, ModelSettings
from polyroute.server import create_app
from polyroute.server._openapi import openapi_document
from polyroute.server._protocol import uvicorn_options
from polyroute.server._schemas import ChatCompletionRequest, ProfileAttach
from polyroute.testing import FakeUpstream, ServerThread
from polyroute.testing._fuzz import fuzz_gateway, own_fault


def _body_schema(doc: dict, path: str, method: str = "post") -> dict:
    ref = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def test_the_document_is_openapi_3_1_built_from_the_validating_models() -> None:
    doc = openapi_document("1.2.3")
    assert doc["openapi"] == "3.1.0" and doc["info"]["version"] == "1.2.3"
    for path, model in [
        ("/v1/chat/completions", ChatCompletionRequest),
        ("/v1/route", ChatCompletionRequest),
        ("/admin/models", ModelSettings),
        ("/admin/models/{model}/deployments", DeploymentSettings),
        ("/admin/models/{model}/profile", ProfileAttach),
    ]:
        schema = _body_schema(doc, path)
        assert schema["title"] == model.__name__
        assert set(schema["properties"]) == set(model.model_json_schema()["properties"])
    admin = [p for p in doc["paths"] if p.startswith("/admin")]
    assert len(admin) == 8
    assert all(
        op["security"] == [{"adminKey": []}] for p in admin for op in doc["paths"][p].values()
    )


def test_own_fault_tells_gateway_errors_from_upstream_conditions() -> None:
    assert own_fault(500, b"{}")
    assert own_fault(502, b"not json")
    assert not own_fault(502, b'{"error":{"type":"upstream_error","message":"x","code":"y"}}')
    assert not own_fault(404, b"")


def test_short_schema_fuzz_run_finds_no_5xx_of_the_gateways_own() -> None:
    with ExitStack() as stack:
        up = stack.enter_context(FakeUpstream(lambda r: "fuzzed"))
        settings = settings_for({m: [up.base_url] for m in ("math-pro", "poet", "cheap")})
        settings = settings.model_copy(
            update={
                "profiles": (
                    settings.profiles[0].model_copy(
                        update={"strategy": "round-robin", "candidates": ("poet", "cheap")}
                    ),
                )
            }
        )
        app = create_app(settings, environ=ENV)
        srv = stack.enter_context(ServerThread(app, **uvicorn_options(settings.server.limits)))
        doc = openapi_document()
        report = fuzz_gateway(
            srv.url,
            doc,
            n_cases=120,
            client_key=CLIENT_KEY,
            admin_key=ADMIN_KEY,
            seed=1,
        )
    assert report.cases >= 120
    operations = {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}
    assert set(report.by_operation) == operations  # every operation was exercised
    assert report.own_5xx == [], report.own_5xx[:3]
