"""The one mapping from errors to OpenAI-style HTTP error answers.

Body: ``{"error": {"message": ..., "type": ..., "code": ...}}``. Messages are the exceptions' own
one-line texts (which never hold keys or base URLs); tracebacks stay in the server log.

=========================================================  ======  ==========================
error                                                      status  type
=========================================================  ======  ==========================
malformed body, bad field, ``InvalidRequestError``         400     invalid_request_error
missing/unknown key                                        401     authentication_error
client key on an admin route, admin API disabled           403     permission_error
unknown route, ``UnknownComponentError`` (model/profile)   404     not_found_error
body over ``max_body_bytes``                               413     invalid_request_error
client over its rate limit; upstreams rate-limited          429     rate_limit_error
every attempt failed                                       502     upstream_error
no deployment / circuit open / no eligible model           503     service_unavailable
prompt encoder saturated (``EncoderSaturatedError``)       503     service_unavailable
pool store deleted, corrupt or unreachable (admin writes)  503     service_unavailable
upstream timeout                                           504     timeout_error
anything unexpected                                        500     internal_error
=========================================================  ======  ==========================
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field

from polyroute.exceptions import (
    AllAttemptsFailedError,
    CircuitOpenError,
    ConfigError,
    DataError,
    EncoderSaturatedError,
    InvalidRequestError,
    NoEligibleModelError,
    NoHealthyDeploymentError,
    PolyrouteError,
    RateLimited,
    StoreUnavailableError,
    UnknownComponentError,
    UpstreamClientError,
    UpstreamError,
    UpstreamTimeout,
)

logger = logging.getLogger(__name__)
Headers = list[tuple[bytes, bytes]]


@dataclass
class HTTPError(Exception):
    """An error the server answers directly (auth, size, rate limit, malformed body)."""

    status: int
    message: str
    type: str
    code: str
    headers: Headers = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def bad_request(message: str, code: str = "invalid_request") -> HTTPError:
    return HTTPError(400, message, "invalid_request_error", code)


def unauthorized(message: str) -> HTTPError:
    return HTTPError(
        401, message, "authentication_error", "invalid_api_key", [(b"www-authenticate", b"Bearer")]
    )


def forbidden(message: str) -> HTTPError:
    return HTTPError(403, message, "permission_error", "forbidden")


def not_found(message: str, code: str = "not_found") -> HTTPError:
    return HTTPError(404, message, "not_found_error", code)


def too_large(limit: int) -> HTTPError:
    return HTTPError(
        413,
        f"request body too large: expected at most {limit} bytes",
        "invalid_request_error",
        "request_too_large",
    )


def rate_limited(retry_after_s: float, message: str) -> HTTPError:
    seconds = max(1, math.ceil(retry_after_s)) if math.isfinite(retry_after_s) else 60
    return HTTPError(
        429,
        message,
        "rate_limit_error",
        "rate_limit_exceeded",
        [(b"retry-after", str(seconds).encode())],
    )


def to_http_error(exc: BaseException) -> HTTPError:
    """The HTTP answer for any exception (unexpected ones are logged with their traceback)."""
    if isinstance(exc, HTTPError):
        return exc
    if isinstance(exc, AllAttemptsFailedError):
        return _all_failed(exc)
    if isinstance(exc, UpstreamError):
        return _upstream(exc)
    if isinstance(exc, UnknownComponentError):
        return not_found(str(exc), "model_not_found")
    if isinstance(exc, InvalidRequestError | DataError):
        return bad_request(str(exc))
    if isinstance(exc, StoreUnavailableError):
        return HTTPError(503, str(exc), "service_unavailable", "store_unavailable")
    if isinstance(exc, EncoderSaturatedError):
        retry_after = str(max(1, round(exc.retry_after_s))).encode()
        return HTTPError(
            503,
            str(exc),
            "service_unavailable",
            "encoder_saturated",
            [(b"retry-after", retry_after)],
        )
    if isinstance(exc, NoHealthyDeploymentError | NoEligibleModelError):
        return HTTPError(503, str(exc), "service_unavailable", "no_healthy_deployment")
    if isinstance(exc, ConfigError | PolyrouteError):
        return bad_request(str(exc))
    logger.exception("unexpected error while serving a request")
    return HTTPError(
        500, "internal error (see the gateway log)", "internal_error", "internal_error"
    )


def _upstream(exc: UpstreamError) -> HTTPError:
    if isinstance(exc, RateLimited):
        return rate_limited(exc.retry_after_s or 1.0, str(exc))
    if isinstance(exc, UpstreamTimeout):
        return HTTPError(504, str(exc), "timeout_error", "upstream_timeout")
    if isinstance(exc, CircuitOpenError):
        return HTTPError(503, str(exc), "service_unavailable", "circuit_open")
    if isinstance(exc, UpstreamClientError) and exc.status_code in (400, 422):
        return bad_request(str(exc), "upstream_rejected_request")
    if isinstance(exc, UpstreamClientError) and exc.status_code == 413:
        return HTTPError(413, str(exc), "invalid_request_error", "request_too_large")
    return HTTPError(502, str(exc), "upstream_error", "upstream_error")


def _all_failed(exc: AllAttemptsFailedError) -> HTTPError:
    attempts = exc.attempts
    if attempts and all(isinstance(a, RateLimited) for a in attempts):
        waits = [a.retry_after_s for a in attempts if a.retry_after_s is not None]
        return rate_limited(min(waits) if waits else 1.0, f"every upstream is rate-limited: {exc}")
    if attempts and all(isinstance(a, CircuitOpenError) for a in attempts):
        return HTTPError(503, str(exc), "service_unavailable", "circuit_open")
    if attempts and all(isinstance(a, UpstreamTimeout | CircuitOpenError) for a in attempts):
        return HTTPError(504, str(exc), "timeout_error", "upstream_timeout")
    return HTTPError(502, str(exc), "upstream_error", "all_attempts_failed")


def error_body(err: HTTPError) -> bytes:
    return json.dumps(
        {"error": {"message": err.message, "type": err.type, "code": err.code}}, ensure_ascii=False
    ).encode()


def sse_error_event(err: HTTPError) -> bytes:
    """The SSE events that end a stream that failed after its first byte."""
    payload = {"error": {"message": err.message, "type": err.type, "code": err.code}}
    return b"data: " + json.dumps(payload).encode() + b"\n\ndata: [DONE]\n\n"
