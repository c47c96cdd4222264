"""``check_router`` catches routers that break the contract."""

from __future__ import annotations

import numpy as np
import pytest

from polyroute.routers._baselines import ZeroRouter
from polyroute.testing import check_router, make_routing_dataset


class FixedOrderRouter(ZeroRouter):
    """Always scores the columns 0.1, 0.2, ... whatever the model names: not permutation-safe."""

    def fit(self, X, Y, *, model_names, tasks=None):  # type: ignore[no-untyped-def]
        super().fit(X, Y, model_names=model_names, tasks=tasks)
        self.scores_ = np.linspace(0.1, 0.3, len(model_names))
        return self


class NoSelfRouter(ZeroRouter):
    """Returns a copy from fit instead of self."""

    def fit(self, X, Y, *, model_names, tasks=None):  # type: ignore[no-untyped-def]
        return ZeroRouter().fit(X, Y, model_names=model_names, tasks=tasks)


class EagerRouter(ZeroRouter):
    """Predicts before fit instead of raising NotFittedError."""

    def predict_scores(self, X):  # type: ignore[no-untyped-def]
        if not self.is_fitted:
            return np.zeros((len(X), 3))
        return super().predict_scores(X)


def test_passes_a_conforming_router() -> None:
    check_router(ZeroRouter)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (FixedOrderRouter, "permuting model columns must permute scores"),
        (NoSelfRouter, "fit must return self"),
        (EagerRouter, "must raise NotFittedError"),
    ],
)
def test_reports_the_broken_rule(factory, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AssertionError, match=message):
        check_router(factory)


def test_make_routing_dataset_is_seeded_and_has_embeddings() -> None:
    a, b = make_routing_dataset(40, 2, seed=9), make_routing_dataset(40, 2, seed=9)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.metadata["embeddings"].shape == (40, 16)
    assert set(a.splits) == {"train", "test"}
    assert len(a.splits["train"]) + len(a.splits["test"]) == 40
