"""What a :class:`~polyroute.testing.FakeUpstream` injects: fault rates and the per-request plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from polyroute.exceptions import ConfigError

#: Faults drawn per request besides error statuses (each has a ``<name>_rate`` in FaultConfig).
FAULTS = ("slow", "drop", "reset", "truncated_json", "malformed_json", "reset_mid_body")


@dataclass(frozen=True)
class FaultConfig:
    """Which faults a :class:`FakeUpstream` injects, and how often.

    At most one fault is drawn per request; the rates of ``error_rates`` and of the faults below
    (all but ``stall_mid_stream_rate``, which is drawn on its own) must sum to <= 1.

    Parameters
    ----------
    error_rates : mapping of int to float
        HTTP status -> probability per request (e.g. ``{500: 0.1, 429: 0.1}``). A 429 carries
        ``Retry-After: retry_after_s``.
    latency_s : float
        Added delay before every answer (seconds).
    slow_rate : float
        Probability that a request hangs for ``slow_s`` before answering (trips timeouts).
    slow_s : float
        How long a slow request hangs.
    stall_mid_stream_rate : float
        Probability that a streamed answer stops after its first chunk and hangs ``slow_s``.
    drop_connection_rate : float
        Probability that the server sends the response headers and closes the connection before
        any body byte.
    reset_rate : float
        Probability that the server reads the request and resets the connection (TCP RST)
        without answering: the caller cannot know whether the request was processed.
    truncated_json_rate : float
        Probability of a ``200`` whose JSON body is cut in the middle (a complete HTTP message:
        its ``Content-Length`` matches the cut body). Streams get a cut first event.
    malformed_json_rate : float
        Probability of a ``200`` whose ``application/json`` body is not JSON (an HTML error page,
        as proxies send). Streams get it as their first event.
    reset_mid_body_rate : float
        Probability that the answer starts and the connection closes mid-body: half of the
        announced JSON body, or a stream's first event only.
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
    reset_rate: float = 0.0
    truncated_json_rate: float = 0.0
    malformed_json_rate: float = 0.0
    reset_mid_body_rate: float = 0.0
    retry_after_s: float = 0.05
    seed: int = 0

    def fault_rates(self) -> dict[str, float]:
        """Fault name -> probability, for the faults of :data:`FAULTS`."""
        return {
            "slow": self.slow_rate,
            "drop": self.drop_connection_rate,
            "reset": self.reset_rate,
            "truncated_json": self.truncated_json_rate,
            "malformed_json": self.malformed_json_rate,
            "reset_mid_body": self.reset_mid_body_rate,
        }

    def __post_init__(self) -> None:
        rates = {
            **{f"error_rates[{k}]": v for k, v in self.error_rates.items()},
            **{f"{k}_rate": v for k, v in self.fault_rates().items()},
            "stall_mid_stream_rate": self.stall_mid_stream_rate,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"FaultConfig.{name}: expected a rate in [0, 1], found {rate!r}")
        total = sum(self.error_rates.values()) + sum(self.fault_rates().values())
        if total > 1.0 + 1e-9:
            raise ConfigError(
                "FaultConfig: expected error_rates and the fault rates (all but "
                f"stall_mid_stream_rate) to sum to <= 1, found {total:.3f}"
            )
        for status in self.error_rates:
            if not 400 <= int(status) <= 599:
                raise ConfigError(
                    f"FaultConfig.error_rates: expected HTTP error statuses 400-599, found {status}"
                )


class Plan:
    """The fault drawn for one request: an error status, a fault of :data:`FAULTS`, a stall."""

    __slots__ = ("fault", "stall", "status")

    def __init__(self, status: int | None = None, fault: str | None = None) -> None:
        self.status = status
        self.fault = fault
        self.stall = False
