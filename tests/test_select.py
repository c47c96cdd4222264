from __future__ import annotations

import numpy as np
import pytest

from polyroute.exceptions import DataError, NoEligibleModelError
from polyroute.routers import select


def test_select_is_argmax_without_cost() -> None:
    scores = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]])
    assert select(scores).tolist() == [1, 0]


def test_cost_weight_trades_quality_for_cost() -> None:
    scores = np.array([[0.9, 0.8]])
    costs = np.array([10.0, 1.0])
    assert select(scores, costs, cost_weight=0.0).tolist() == [0]
    assert select(scores, costs, cost_weight=0.05).tolist() == [1]  # 0.4 < 0.75


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
