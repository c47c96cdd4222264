"""Small frozen value types shared by the pool, balancers and engine.

They carry no behaviour beyond validation of their own fields: a :class:`Deployment` is one
OpenAI-compatible endpoint serving a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from polyroute.exceptions import ConfigError


@dataclass(frozen=True, slots=True)
class Deployment:
    """One endpoint that serves a model.

    Parameters
    ----------
    name : str
        Identifier of the deployment, unique within its model (e.g. ``"azure-eu-1"``).
    model : str
        Name of the model this deployment serves.
    base_url : str
        OpenAI-compatible base URL, e.g. ``"https://api.example.com/v1"``.
    api_key_env : str or None
        Name of the environment variable holding the API key (never the key itself).
    weight : float
        Relative capacity used by weighted strategies; must be > 0.
    max_concurrency : int or None
        Most requests in flight at once; ``None`` means unlimited.
    """

    name: str
    model: str
    base_url: str
    api_key_env: str | None = None
    weight: float = 1.0
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("deployment name: expected a non-empty string, found ''")
        if not (isinstance(self.weight, int | float) and math.isfinite(self.weight)) or (
            self.weight <= 0
        ):
            raise ConfigError(
                f"deployment {self.name!r} weight: expected a finite number > 0, "
                f"found {self.weight!r}"
            )
        if self.max_concurrency is not None and (
            not isinstance(self.max_concurrency, int)
            or isinstance(self.max_concurrency, bool)
            or self.max_concurrency < 1
        ):
            raise ConfigError(
                f"deployment {self.name!r} max_concurrency: expected an integer >= 1 or null, "
                f"found {self.max_concurrency!r}"
            )

    @property
    def key(self) -> str:
        """``"model/name"``: the identifier used for shared state (in-flight counts, circuits)."""
        return f"{self.model}/{self.name}"
