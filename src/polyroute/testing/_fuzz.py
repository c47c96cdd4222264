"""Schema-driven fuzzing of a running gateway with schemathesis (``[dev]`` extra).

Every operation of the gateway's OpenAPI document gets cases generated from its schema, both
valid (``positive``) and schema-violating (``negative``), sent with the right key (client or
admin, as the operation's security says). A 5xx is the gateway's own fault when it is a 500 or
any 5xx whose body is not an OpenAI error naming an upstream condition (``upstream_error``,
``service_unavailable``, ``timeout_error``).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from polyroute.exceptions import MissingDependencyError

_UPSTREAM_TYPES = frozenset({"upstream_error", "service_unavailable", "timeout_error"})


@dataclass
class FuzzReport:
    """What a :func:`fuzz_gateway` run sent and got."""

    cases: int = 0
    by_operation: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    #: Cases the HTTP client could not send (e.g. a generated header value it refuses).
    unsendable: int = 0
    #: (operation, status, first 160 characters of the body) of the gateway's own 5xx.
    own_5xx: list[tuple[str, int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "unsendable": self.unsendable,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "by_operation": dict(sorted(self.by_operation.items())),
            "own_5xx": len(self.own_5xx),
            "own_5xx_examples": [list(x) for x in self.own_5xx[:20]],
        }


def own_fault(status: int, body: bytes) -> bool:
    """True for a 5xx the gateway's own code caused (see the module docstring)."""
    if status < 500:
        return False
    if status == 500:
        return True
    try:
        kind = json.loads(body)["error"]["type"]
    except (ValueError, KeyError, TypeError):
        return True
    return kind not in _UPSTREAM_TYPES


def _recorder(
    report: FuzzReport,
    name: str,
    auth: dict[str, str],
    base_url: str,
    session: Any,
    request_error: type[Exception],
) -> Any:
    """The per-case body of the hypothesis run: send, count, keep the gateway's own 5xx."""

    def one(case: Any) -> None:
        try:
            response = case.call(base_url=base_url, session=session, headers=auth, timeout=30)
        except (request_error, ValueError, UnicodeError):
            report.unsendable += 1
            return
        report.cases += 1
        report.by_operation[name] += 1
        report.statuses[response.status_code] += 1
        if own_fault(response.status_code, response.content):
            report.own_5xx.append((name, response.status_code, response.text[:160]))

    return one


def fuzz_gateway(
    base_url: str,
    document: dict[str, Any],
    *,
    n_cases: int,
    client_key: str,
    admin_key: str,
    seed: int = 0,
    max_seconds: float | None = None,
) -> FuzzReport:
    """Send at least ``n_cases`` generated requests to the gateway at ``base_url`` (fewer if
    ``max_seconds`` runs out first: see :attr:`FuzzReport.cases`)."""
    import time

    try:
        import requests
        import schemathesis
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as hypothesis_seed
        from hypothesis.errors import Unsatisfiable
        from schemathesis.core.result import Ok
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("schemathesis", "dev") from exc

    schema = schemathesis.openapi.from_dict(document)
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    report = FuzzReport()
    session = requests.Session()
    per_run = max(1, n_cases // (len(operations) * len(modes)))
    round_ = 0
    stop = time.monotonic() + max_seconds if max_seconds is not None else float("inf")

    def done() -> bool:
        return report.cases >= n_cases or time.monotonic() > stop

    while not done():
        for op in operations:
            admin = op.path.startswith("/admin") or op.path == "/metrics"
            auth = {"Authorization": f"Bearer {admin_key if admin else client_key}"}
            name = f"{op.method.upper()} {op.path}"
            one = _recorder(report, name, auth, base_url, session, requests.RequestException)
            for mode in modes:
                run = settings(
                    max_examples=per_run,
                    database=None,
                    deadline=None,
                    derandomize=False,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(given(case=op.as_strategy(generation_mode=mode))(one))
                with contextlib.suppress(Unsatisfiable):  # nothing to violate (no body/params)
                    hypothesis_seed(seed * 1_000_003 + round_)(run)()
                round_ += 1
                if done():
                    break
            if done():
                break
    session.close()
    return report
