"""The whole polyroute error tree.

::

    PolyrouteError
    ├── ConfigError ── UnknownComponentError, MissingDependencyError
    ├── DataError(ValueError)                      shapes, NaNs, cost/model mismatch, bad files
    │   └── DataNotFoundError(FileNotFoundError)   a data file or directory that is not there
    ├── NotFittedError(ValueError, AttributeError)
    ├── OnboardingError(n_failed, n_total, reasons)   router left unchanged
    ├── StoreUnavailableError                      pool store deleted, corrupt or unreachable
    ├── RoutingError ── NoEligibleModelError, NoHealthyDeploymentError, InvalidRequestError,
    │                   EncoderSaturatedError(retry_after_s)
    └── UpstreamError(model, deployment, status_code, retryable)
        ├── UpstreamTimeout*, UpstreamConnectionError*, RateLimited*, UpstreamServerError*
        │   └── MalformedUpstreamResponse*    a 2xx whose body is not JSON (truncated, HTML)
        ├── UpstreamClientError, CircuitOpenError*
        └── AllAttemptsFailedError(attempts)                  * retryable = True

Messages state what was expected against what was found, with values.
"""

from __future__ import annotations

from collections.abc import Sequence


class PolyrouteError(Exception):
    """Base class of every error polyroute raises on purpose."""


class PolyrouteWarning(UserWarning):
    """Base class of polyroute's warnings (recoverable data oddities)."""


class ConfigError(PolyrouteError):
    """A setting, config file or component name is invalid."""


class UnknownComponentError(ConfigError, KeyError):
    """A registry lookup by a name that is not registered."""

    def __init__(self, kind: str, name: str, valid: Sequence[str]) -> None:
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; expected one of: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class MissingDependencyError(ConfigError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is required for this feature; install it with "
            f"pip install 'polyroute[{extra}]'"
        )


class DataError(PolyrouteError, ValueError):
    """Data with the wrong shape, range, type or content."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file or directory does not exist; the message names the path tried."""


class NotFittedError(PolyrouteError, ValueError, AttributeError):
    """A router or component was used before ``fit``/``load``."""


class OnboardingError(PolyrouteError):
    """Onboarding a model failed (too many prompts failed or could not be graded); the router is
    unchanged. ``n_failed``/``n_total`` count the prompts; ``reasons`` maps a reason to a count."""

    def __init__(
        self,
        message: str,
        *,
        n_failed: int = 0,
        n_total: int = 0,
        reasons: dict[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.n_failed, self.n_total = n_failed, n_total
        self.reasons = dict(reasons or {})


class StoreUnavailableError(PolyrouteError):
    """The pool store cannot be trusted now: deleted, replaced, corrupt or unreachable (HTTP 503).

    Nothing was written; the message names the store and what was found."""


class RoutingError(PolyrouteError):
    """No routing decision could be made."""


class InvalidRequestError(RoutingError, ValueError):
    """A client request is malformed or asks for something out of bounds (HTTP 400)."""


class NoEligibleModelError(RoutingError):
    """The candidate set is empty or names no model the router knows."""


class NoHealthyDeploymentError(RoutingError):
    """Every deployment of a model is excluded (circuit open or at capacity)."""


class EncoderSaturatedError(RoutingError):
    """Too many prompts already wait for the encoder; retry after ``retry_after_s`` (HTTP 503)."""

    def __init__(self, message: str, *, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamError(PolyrouteError):
    """A call to an upstream LLM endpoint failed."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        deployment: str | None = None,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.deployment = deployment
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class UpstreamTimeout(UpstreamError):
    retryable = True


class UpstreamConnectionError(UpstreamError):
    retryable = True


class RateLimited(UpstreamError):
    retryable = True


class UpstreamServerError(UpstreamError):
    retryable = True


class MalformedUpstreamResponse(UpstreamServerError):
    """A 2xx answer whose body breaks the protocol (not JSON, truncated): a failed attempt."""


class UpstreamClientError(UpstreamError):
    """A 4xx other than 429: the request itself is wrong, so retrying cannot help."""


class CircuitOpenError(UpstreamError):
    retryable = True


class AllAttemptsFailedError(UpstreamError):
    """Every attempt (retries and fallbacks) failed; ``attempts`` holds each failure in order."""

    def __init__(self, message: str, *, attempts: Sequence[UpstreamError]) -> None:
        last = attempts[-1] if attempts else None
        super().__init__(
            message,
            model=last.model if last else None,
            deployment=last.deployment if last else None,
            status_code=last.status_code if last else None,
            retry_after_s=last.retry_after_s if last else None,
        )
        self.attempts = list(attempts)
