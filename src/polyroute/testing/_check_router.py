"""``check_router``: the router conformance checks of STYLE.md §2, runnable on any router."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone

from polyroute.data import RoutingDataset
from polyroute.exceptions import NotFittedError
from polyroute.routers import BaseRouter, load_router
from polyroute.testing._datasets import make_routing_dataset

Array = np.ndarray


def _inputs(router: BaseRouter, ds: RoutingDataset) -> Array:
    """What the router takes as ``X``: embeddings, or the prompt texts for ``input_kind="text"``."""
    if getattr(router, "input_kind", "embedding") == "text":
        return np.asarray(ds.prompts, dtype=object)
    return np.asarray(ds.metadata["embeddings"])


def _fit(
    router: BaseRouter, ds: RoutingDataset, Y: Array | None = None, names: list[str] | None = None
) -> BaseRouter:
    return router.fit(
        _inputs(router, ds),
        ds.scores if Y is None else Y,
        model_names=list(ds.model_names) if names is None else names,
        tasks=list(ds.tasks),
    )


def _scores(router: BaseRouter, ds: RoutingDataset, Y_true: Array | None = None) -> Array:
    if router.uses_test_labels:
        return router.oracle_scores(ds.scores if Y_true is None else Y_true, list(ds.tasks))
    return router.predict_scores(_inputs(router, ds))


def check_router(
    router_factory: Callable[[], BaseRouter],
    *,
    dataset: RoutingDataset | None = None,
    params: dict[str, Any] | None = None,
) -> None:
    """Assert that a router follows the polyroute router contract.

    Checks: default-constructible; ``clone``/``get_params`` round-trip; ``NotFittedError`` before
    fit; ``fit`` returns ``self``; score and route shapes; candidate restriction; determinism under
    ``random_state``; permuting the model columns permutes the score columns; a save/load
    round-trip gives the same predictions. Oracle routers (``uses_test_labels``) are checked through
    ``oracle_scores``; ``input_kind="text"`` routers get prompt texts.

    Parameters
    ----------
    router_factory : callable
        Returns a fresh, unfitted router (a router class works).
    dataset : RoutingDataset, optional
        Default: ``make_routing_dataset(120, 3, seed=0)`` (embeddings in ``metadata``).
    params : dict, optional
        Parameters set on every instance (e.g. fewer training steps for a slow router).

    Raises
    ------
    AssertionError
        Naming the first check that failed.
    """
    ds = make_routing_dataset(120, 3, seed=0) if dataset is None else dataset
    router = router_factory()
    assert isinstance(router, BaseRouter), f"expected a BaseRouter; found {type(router).__name__}"
    name = type(router).__name__
    if params:
        router.set_params(**params)
    if "random_state" in router.get_params() and router.get_params()["random_state"] is None:
        router.set_params(random_state=0)  # determinism is checked under a fixed seed
    _check_params_round_trip(router, name)
    _check_not_fitted(router, ds, name)
    assert _fit(router, ds) is router, f"{name}.fit must return self"
    scores = _check_shapes(router, ds, name)
    _check_deterministic(router, ds, scores, name)
    _check_permutation(router, ds, scores, name)
    _check_save_load(router, ds, scores, name)


def _check_params_round_trip(router: BaseRouter, name: str) -> None:
    params = router.get_params()
    twin = clone(router)
    assert twin.get_params() == params, f"{name}: clone() changed get_params()"
    assert type(router)(**params).get_params() == params, f"{name}: get_params() round-trip"
    assert repr(router), f"{name}: empty repr"


def _check_not_fitted(router: BaseRouter, ds: RoutingDataset, name: str) -> None:
    fresh = clone(router)
    try:
        _scores(fresh, ds)
    except NotFittedError:
        return
    raise AssertionError(f"{name}: predicting before fit must raise NotFittedError")


def _check_shapes(router: BaseRouter, ds: RoutingDataset, name: str) -> Array:
    n, m = ds.scores.shape
    scores = np.asarray(_scores(router, ds))
    assert scores.shape == (n, m), f"{name}: scores shape {scores.shape}; expected {(n, m)}"
    assert np.isfinite(scores).all(), f"{name}: non-finite predicted scores"
    assert list(router.model_names_) == list(ds.model_names), f"{name}: model_names_ wrong"
    if not router.uses_test_labels:
        X = _inputs(router, ds)
        choice = router.route(X, ds.model_costs(), cost_weight=0.1)
        assert choice.shape == (n,) and choice.min() >= 0 and choice.max() < m, (
            f"{name}: route() must return ({n},) model indices"
        )
        only = router.route(X, ds.model_costs(), candidates=[ds.model_names[-1]])
        assert (only == m - 1).all(), f"{name}: route() ignored the candidate restriction"
    return scores


def _check_deterministic(router: BaseRouter, ds: RoutingDataset, scores: Array, name: str) -> None:
    if router.nondeterministic and "random_state" not in router.get_params():
        return
    again = np.asarray(_scores(_fit(clone(router), ds), ds))
    np.testing.assert_allclose(
        again,
        scores,
        rtol=1e-6,
        atol=1e-7,
        err_msg=f"{name}: two fits with the same random_state differ",
    )


def _check_permutation(router: BaseRouter, ds: RoutingDataset, scores: Array, name: str) -> None:
    if router.nondeterministic and "random_state" not in router.get_params():
        return
    perm = np.array([2, 0, 1]) if ds.n_models == 3 else np.roll(np.arange(ds.n_models), 1)
    names = [ds.model_names[i] for i in perm]
    permuted = _fit(clone(router), ds, ds.scores[:, perm], names)
    got = np.asarray(_scores(permuted, ds, ds.scores[:, perm]))
    np.testing.assert_allclose(
        got,
        scores[:, perm],
        rtol=1e-5,
        atol=1e-6,
        err_msg=f"{name}: permuting model columns must permute scores",
    )


def _check_save_load(router: BaseRouter, ds: RoutingDataset, scores: Array, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        router.save(tmp)
        loaded = load_router(tmp)
    assert type(loaded) is type(router), f"{name}: load() returned {type(loaded).__name__}"
    as_json = json.loads(json.dumps(router.get_params(), default=str))  # tuples become lists
    assert json.loads(json.dumps(loaded.get_params(), default=str)) == as_json, (
        f"{name}: params changed after save/load"
    )
    np.testing.assert_allclose(
        np.asarray(_scores(loaded, ds)),
        scores,
        rtol=1e-6,
        atol=1e-7,
        err_msg=f"{name}: predictions changed after save/load",
    )
