from __future__ import annotations

import numpy as np
import pytest

from polyroute.exceptions import DataError, NoEligibleModelError
from polyroute.routers import rank, relative_costs, select


def test_select_is_argmax_without_cost() -> None:
    scores = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]])
    assert select(scores).tolist() == [1, 0]


def test_cost_weight_trades_quality_for_cost() -> None:
    scores = np.array([[0.9, 0.8]])
    costs = np.array([10.0, 1.0])
    assert select(scores, costs, cost_weight=0.0).tolist() == [0]
    # relative costs [1, 0.1]: 0.9 − 0.5 = 0.4 < 0.8 − 0.05 = 0.75
    assert select(scores, costs, cost_weight=0.5).tolist() == [1]
    assert select(scores, costs, cost_weight=0.05).tolist() == [0]  # 0.85 > 0.795


def test_per_query_costs_are_supported() -> None:
    scores = np.array([[0.5, 0.5], [0.5, 0.5]])
    costs = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert select(scores, costs, cost_weight=1.0).tolist() == [0, 1]


def test_ties_go_to_the_cheaper_model() -> None:
    scores = np.array([[0.5, 0.5, 0.5]])
    assert select(scores, np.array([3.0, 1.0, 2.0])).tolist() == [1]


def test_candidates_restrict_the_choice_and_nan_means_unavailable() -> None:
    scores = np.array([[0.9, 0.1, np.nan]])
    assert select(scores, candidates=np.array([1, 2])).tolist() == [1]
    with pytest.raises(NoEligibleModelError, match="no eligible model"):
        select(scores, candidates=np.array([2]))
    with pytest.raises(NoEligibleModelError, match="candidate set is empty"):
        select(scores, candidates=np.zeros(3, dtype=bool))


def test_cost_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(DataError, match=r"costs has shape \(3,\); expected \(2,\)"):
        select(np.zeros((1, 2)), np.ones(3))


def test_unknown_costs_count_as_the_dearest_known_cost() -> None:
    scores = np.array([[0.9, 0.5, 0.4]])
    costs = np.array([np.nan, 1.0, 3.0])
    assert select(scores, costs, cost_weight=0.0).tolist() == [0]  # price plays no part at λ = 0
    assert select(scores, costs, cost_weight=1.0).tolist() == [1]  # NaN -> 3.0, not free
    assert select(scores, np.full(3, np.nan), cost_weight=1.0).tolist() == [0]


def test_lambda_does_not_depend_on_the_cost_unit() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((50, 4))
    usd = np.array([0.002, 0.03, 0.0005, 0.01])
    for lam in (0.0, 0.05, 0.3, 1.0, 3.0):
        a = select(scores, usd, cost_weight=lam)
        assert (a == select(scores, usd * 1e6, cost_weight=lam)).all()


def test_relative_costs_divide_by_the_dearest_candidate() -> None:
    costs = np.array([2.0, 8.0, np.nan, 4.0])
    assert relative_costs(costs).tolist() == [0.25, 1.0, 1.0, 0.5]
    mask = np.array([True, False, False, True])
    assert relative_costs(costs, mask).tolist() == [0.5, 2.0, 1.0, 1.0]
    assert relative_costs(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    assert relative_costs(np.zeros(0)).shape == (0,)  # an empty candidate set
    per_query = relative_costs(np.array([[1.0, 2.0], [4.0, 1.0]]))
    assert per_query.tolist() == [[0.5, 1.0], [1.0, 0.25]]


def test_rank_orders_by_utility_then_cost_then_index() -> None:
    scores = np.array([[0.5, 0.9, 0.5, np.nan, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5]])
    rel = np.array([0.5, 1.0, 0.2, 0.0, 0.2])
    order = rank(scores, rel, 0.0)
    assert order[0].tolist() == [1, 2, 4, 0, 3]  # ties: cheaper, then lower index; NaN last
    assert order[1].tolist() == [4, 3, 2, 1, 0]
    assert rank(scores, rel, 1.0)[0].tolist() == [2, 4, 0, 1, 3]  # 0.3, 0.3, 0.0, -0.1
    assert (rank(scores, rel, 1.0, top=1)[:, 0] == rank(scores, rel, 1.0)[:, 0]).all()
    cand = np.array([True, False, True, True, False])
    assert rank(scores, rel, 0.0, candidates=cand)[1, :3].tolist() == [3, 2, 0]


def test_rank_top1_matches_full_sort_on_random_ties() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 3, (200, 6)) / 2.0  # many exact ties
    rel = relative_costs(rng.integers(1, 4, 6).astype(float))
    for lam in (0.0, 0.5, 2.0):
        assert (rank(scores, rel, lam, top=1)[:, 0] == rank(scores, rel, lam)[:, 0]).all()


def test_rank_top_k_partial_sort_matches_the_full_sort() -> None:
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 5, (1, 300)) / 4.0  # many ties at the boundary
    rel = relative_costs(rng.integers(1, 6, 300).astype(float))
    full = rank(scores, rel, 0.3)
    for k in (1, 3, 10, 74):
        assert rank(scores, rel, 0.3, top=k).tolist() == full[:, :k].tolist()
