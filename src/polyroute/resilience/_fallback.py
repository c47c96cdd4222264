"""Fallback order across models."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from polyroute.exceptions import ConfigError


class FallbackChain:
    """Ordered models to try when the chosen one fails.

    Parameters
    ----------
    models : sequence of str
        Fallback order, most preferred first; duplicates are rejected.
    max_fallbacks : int or None
        Most models tried after the primary; ``None`` = the whole chain.

    Examples
    --------
    >>> chain = FallbackChain(["gpt-4o", "gpt-4o-mini", "llama-3-70b"], max_fallbacks=1)
    >>> list(chain.models_to_try("gpt-4o-mini"))
    ['gpt-4o-mini', 'gpt-4o']
    """

    def __init__(self, models: Sequence[str], *, max_fallbacks: int | None = None) -> None:
        models = list(models)
        if len(set(models)) != len(models):
            dupes = sorted({m for m in models if models.count(m) > 1})
            raise ConfigError(f"fallback chain: expected distinct models, found repeats of {dupes}")
        if max_fallbacks is not None and max_fallbacks < 0:
            raise ConfigError(
                f"fallback chain max_fallbacks: expected an integer >= 0 or null, "
                f"found {max_fallbacks!r}"
            )
        self.models: tuple[str, ...] = tuple(models)
        self.max_fallbacks = max_fallbacks

    def models_to_try(
        self, primary: str | None = None, *, exclude: Iterable[str] = ()
    ) -> Iterator[str]:
        """Yield ``primary`` (when given) then the chain in order, each model once.

        Models in ``exclude`` (e.g. with no healthy deployment) are skipped and do not count
        against ``max_fallbacks``; at most ``1 + max_fallbacks`` models are yielded.
        """
        skip = set(exclude)
        order = [primary] if primary is not None else []
        order += [m for m in self.models if m != primary]
        order = [m for m in order if m not in skip]
        limit = None if self.max_fallbacks is None else 1 + self.max_fallbacks
        yield from order[:limit]

    def next_after(self, tried: Iterable[str], *, exclude: Iterable[str] = ()) -> str | None:
        """The first chain model not yet tried and not excluded, or ``None``."""
        done = set(tried) | set(exclude)
        return next((m for m in self.models if m not in done), None)

    def __len__(self) -> int:
        return len(self.models)

    def __repr__(self) -> str:
        return f"FallbackChain({list(self.models)!r}, max_fallbacks={self.max_fallbacks!r})"
