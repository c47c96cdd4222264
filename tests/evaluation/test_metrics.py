"""Golden tests: every metric on micro matrices computed by hand (the arithmetic is in comments)."""

from __future__ import annotations

import numpy as np
import pytest

from polyroute.evaluation import (
    DeferralCurve,
    aiq,
    apgr,
    area_under_curve,
    best_single_model,
    curve_on_rows,
    deferral_curve,
    nondecreasing_convex_hull,
    pareto_frontier,
    pgr_curve,
    qnc,
    shared_rows,
    single_model_points,
    task_accuracy,
    zero_router_hull,
)
from polyroute.exceptions import DataError

# 4 queries x 2 models: A is cheap (cost 1), B dear (cost 3).
#   q0: both right, q1/q2: only B right, q3: both wrong.
#   A alone: quality 1/4 = 0.25, cost 1;  B alone: quality 3/4 = 0.75, cost 3.
Y = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
COSTS = np.array([1.0, 3.0])


def _curve(costs: list[float], qualities: list[float]) -> DeferralCurve:
    k = len(costs)
    return DeferralCurve(
        np.arange(k, dtype=float),
        np.array(costs, dtype=float),
        np.array(qualities, dtype=float),
        np.zeros((k, 0), dtype=np.int64),
    )


def test_oracle_deferral_curve_by_hand() -> None:
    # lambda = 0: argmax per row, ties to the cheaper model: q0 -> A, q1 -> B, q2 -> B, q3 -> A
    #   quality (1 + 1 + 1 + 0) / 4 = 0.75, cost (1 + 3 + 3 + 1) / 4 = 2.0
    # lambda = 0.4: B wins q1/q2 while 1 - 3*0.4 = -0.2 > 0 - 0.4 -> same point
    # lambda = 0.6: 1 - 1.8 = -0.8 < -0.6 -> all A: quality 0.25, cost 1.0
    curve = deferral_curve(Y, Y, COSTS, cost_weights=[0.6, 0.0, 0.4])
    assert curve.cost_weights.tolist() == [0.0, 0.4, 0.6]
    assert curve.choices.tolist() == [[0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_allclose(curve.qualities, [0.75, 0.75, 0.25])
    np.testing.assert_allclose(curve.costs, [2.0, 2.0, 1.0])


def test_area_of_oracle_curve_by_hand() -> None:
    # frontier (1, .25), (2, .75); x = (c - 1) / (3 - 1) -> (0, .25), (.5, .75)
    # area = .5 * (.25 + .75) / 2 + .75 * (1 - .5) = .25 + .375 = .625
    curve = deferral_curve(Y, Y, COSTS, cost_weights=[0.0, 0.6])
    assert area_under_curve(curve, cost_min=1.0, cost_max=3.0) == pytest.approx(0.625)


def test_area_is_zero_left_of_cheapest_point_and_flat_after_last() -> None:
    # one point at x = .5 with quality .8: 0 on [0, .5), .8 on [.5, 1] -> .4
    assert area_under_curve(_curve([2.0], [0.8]), cost_min=1.0, cost_max=3.0) == pytest.approx(0.4)


def test_area_qnc_aiq_on_a_curve_with_a_dominated_point() -> None:
    # points (0, .2), (1, .3), (2, .9), (3, .8) on cost range [0, 3]
    # frontier drops (3, .8) (dominated by (2, .9)); x = 0, 1/3, 2/3
    # area = 1/3 * (.2 + .3)/2 + 1/3 * (.3 + .9)/2 + .9 * 1/3 = .08333 + .2 + .3 = .58333
    curve = _curve([0.0, 1.0, 2.0, 3.0], [0.2, 0.3, 0.9, 0.8])
    assert area_under_curve(curve, cost_min=0.0, cost_max=3.0) == pytest.approx(0.5833333333)
    # hull: (1, .3) lies below the chord (0, .2)-(2, .9) (value .55 at cost 1) -> vertices
    # (0, .2), (2, .9); AIQ = 2/3 * (.2 + .9)/2 + .9 * 1/3 = .36667 + .3 = .66667
    hull_c, hull_q = nondecreasing_convex_hull(curve.costs, curve.qualities)
    assert hull_c.tolist() == [0.0, 2.0] and hull_q.tolist() == [0.2, 0.9]
    assert aiq(curve, cost_min=0.0, cost_max=3.0) == pytest.approx(0.6666666667)
    # QNC, target .6 (e.g. the best single model) at reference cost 3: the frontier reaches .6
    # halfway between (1, .3) and (2, .9): cost 1.5 -> 1.5 / 3 = .5
    assert qnc(curve, target_quality=0.6, reference_cost=3.0) == pytest.approx(0.5)
    assert qnc(curve, target_quality=0.2, reference_cost=3.0) == 0.0
    assert qnc(curve, target_quality=0.95, reference_cost=3.0) == float("inf")


def test_aiq_defaults_to_the_curves_own_cost_range() -> None:
    # points (1, .5), (3, 1.0): range [1, 3], hull is the chord -> mean value .75
    assert aiq(_curve([1.0, 3.0], [0.5, 1.0])) == pytest.approx(0.75)


def test_pareto_frontier_keeps_best_of_equal_costs_and_sorts() -> None:
    c, q = pareto_frontier(np.array([2.0, 1.0, 1.0, 3.0]), np.array([0.5, 0.1, 0.4, 0.45]))
    assert c.tolist() == [1.0, 2.0] and q.tolist() == [0.4, 0.5]


def test_single_model_points_and_best_single() -> None:
    cost, quality = single_model_points(Y, COSTS)
    assert cost.tolist() == [1.0, 3.0] and quality.tolist() == [0.25, 0.75]
    assert best_single_model(Y, COSTS) == 1
    # NaN entries are ignored: model 0 has results on 2 rows (1, 0) -> .5, mean cost over them
    Yn = np.array([[1.0, 0.0], [np.nan, 1.0], [0.0, 1.0]])
    per_query = np.array([[1.0, 2.0], [5.0, 2.0], [3.0, 2.0]])
    cost, quality = single_model_points(Yn, per_query)
    np.testing.assert_allclose(quality, [0.5, 2 / 3])
    np.testing.assert_allclose(cost, [2.0, 2.0])


def test_zero_router_hull_drops_models_below_the_chord() -> None:
    # singles A (1, .25), B (3, .75), C (2, .4): chord A-B is .5 at cost 2 > .4 -> C is off the hull
    Y3 = np.column_stack([Y, [1.0, 0.0, 0.0, 0.6]])
    c, q = zero_router_hull(Y3, np.array([1.0, 3.0, 2.0]))
    assert c.tolist() == [1.0, 3.0] and q.tolist() == [0.25, 0.75]


def test_task_accuracy_by_hand() -> None:
    # choices A, B, B, A -> qualities 1, 1, 1, 0; task a = rows 0, 1 -> 1.0; task b -> .5
    acc = task_accuracy(np.array([0, 1, 1, 0]), Y, ["a", "a", "b", "b"])
    assert acc == {"a": 1.0, "b": 0.5}


def test_curve_skips_models_without_a_result() -> None:
    # row 0: A has no result -> B (quality 1, cost 2); row 1: A (quality 1, cost 1)
    # row 2: nobody has a result -> A is chosen and scores 0 (cost 1)
    Yn = np.array([[np.nan, 1.0], [1.0, 0.0], [np.nan, np.nan]])
    pred = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1]])
    curve = deferral_curve(pred, Yn, np.array([1.0, 2.0]), cost_weights=[0.0])
    assert curve.choices.tolist() == [[1, 0, 0]]
    np.testing.assert_allclose(curve.qualities, [2 / 3])
    np.testing.assert_allclose(curve.costs, [4 / 3])


def test_default_grid_spans_best_quality_to_cheapest() -> None:
    rng = np.random.default_rng(0)
    pred = rng.random((50, 4))
    costs = np.array([0.5, 1.0, 1.001, 8.0])
    curve = deferral_curve(pred, pred, costs)
    assert curve.cost_weights[0] == 0.0
    assert curve.choices[0].tolist() == pred.argmax(axis=1).tolist()
    assert (curve.choices[-1] == 0).all()


def test_decision_costs_differ_from_charged_costs() -> None:
    # router believes B is free; charged costs say B costs 3 -> chooses B everywhere it is better
    curve = deferral_curve(Y, Y, COSTS, decision_costs=np.array([1.0, 0.0]), cost_weights=[5.0])
    assert curve.choices.tolist() == [[1, 1, 1, 1]]
    np.testing.assert_allclose(curve.costs, [3.0])


def test_apgr_by_hand() -> None:
    # strong = B right on q0, q1, q2 (.75); weak = A right on q0, q3 (.5)
    Ys = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    # q_weak = .5, q_strong = .75, gap .25; per-query gain of strong over weak: 0, 1, 1, -1
    # router ranks q1 > q2 > q0 > q3: cumulative gain 1, 2, 2, 1 -> /4 /.25 = PGR 1, 2, 2, 1
    # APGR = .25 * ((0 + 1) + (1 + 2) + (2 + 2) + (2 + 1)) / 2 = 1.375
    pred = np.array([[0.0, 0.5], [0.0, 0.9], [0.0, 0.8], [0.0, 0.1]])
    frac, pgr = pgr_curve(pred, Ys, strong=1, weak=0)
    np.testing.assert_allclose(frac, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(pgr, [0, 1, 2, 2, 1])
    assert apgr(pred, Ys, strong=1, weak=0) == pytest.approx(1.375)


def test_apgr_of_a_constant_router_is_one_half() -> None:
    # one tie group: PGR is linear from 0 to 1 -> area .5 (random routing in expectation)
    Ys = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert apgr(np.full((4, 2), 0.3), Ys, strong=1, weak=0) == pytest.approx(0.5)


def test_apgr_oracle_shares_ties() -> None:
    # oracle advantage 0, 1, 1, -1 -> groups {q1, q2}, {q0}, {q3}: c = 0, .5, .75, 1
    # PGR 0, 2, 2, 1 -> APGR = .5 * 1 + .25 * 2 + .25 * 1.5 = 1.375
    Ys = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    frac, pgr = pgr_curve(Ys, Ys, strong=1, weak=0)
    np.testing.assert_allclose(frac, [0, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(pgr, [0, 2, 2, 1])
    assert apgr(Ys, Ys, strong=1, weak=0) == pytest.approx(1.375)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: deferral_curve(Y[:, :1], Y, COSTS), "pred_scores has shape (4, 1); expected"),
        (lambda: deferral_curve(Y, Y, np.ones(3)), "costs_true has shape (3,); expected (2,)"),
        (lambda: deferral_curve(Y, Y, COSTS, cost_weights=[-1.0]), "cost_weights must be"),
        (
            lambda: area_under_curve(_curve([1.0], [0.5]), cost_min=1.0, cost_max=1.0),
            "cost_max must be greater than cost_min",
        ),
        (
            lambda: qnc(_curve([1.0], [0.5]), target_quality=0.5, reference_cost=0.0),
            "reference_cost must be > 0",
        ),
        (lambda: apgr(Y, Y, strong=0, weak=0), "two different model indices"),
        (lambda: apgr(Y, Y, strong=0, weak=1), "strong model must beat the weak one"),
        (lambda: task_accuracy(np.array([0, 1]), Y, ["a"] * 4), "choices has shape (2,)"),
    ],
)
def test_bad_inputs_raise_data_error_saying_what_was_expected(call, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_best_single_is_chosen_on_the_queries_every_model_answered() -> None:
    # model 2 was run on the first two queries only: 1.0 over its own results, but on the
    # queries every model answered (the first two) models 1 and 2 tie at 1.0 -> the cheaper, 1.
    Yn = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, np.nan], [1.0, 0.0, np.nan]])
    costs = np.array([1.0, 2.0, 4.0])
    assert shared_rows(Yn).tolist() == [0, 1]
    assert best_single_model(Yn, costs) == 1
    # no query answered by every model: each model's own results decide
    assert best_single_model(np.array([[1.0, np.nan], [np.nan, 0.5]]), np.ones(2)) == 0


def test_curve_on_rows_charges_the_same_choices_on_a_subset() -> None:
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    curve = deferral_curve(Y, Y, np.array([1.0, 3.0]), cost_weights=[0.0, 10.0])
    sub = curve_on_rows(curve, np.array([1, 2]), Y, np.array([1.0, 3.0]))
    assert sub.choices.tolist() == [[1, 0], [0, 0]]
    assert sub.costs.tolist() == [2.0, 1.0] and sub.qualities.tolist() == [1.0, 0.5]
