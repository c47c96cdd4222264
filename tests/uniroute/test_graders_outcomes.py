from __future__ import annotations

import json

import pytest

from polyroute.exceptions import DataError, UnknownComponentError
from polyroute.onboarding import (
    Outcome,
    extract_choice,
    extract_number,
    make_grader,
    outcome_vector,
    read_outcomes,
    read_validation_set,
    register_grader,
    write_outcomes,
)


@pytest.mark.parametrize(
    "text, letter",
    [
        ("Let's think step by step. ... The answer is (C).", "C"),
        ("Answer: C", "C"),
        ("**C**", "C"),
        ("I first thought B.\nAnswer: (D)", "D"),
        ("The correct option is E", "E"),
        ("the answer is a bit unclear; final: (B)", "B"),  # 'a' is not a letter choice
        ("D", "D"),
        ("A. first option\nB. second option", None),
        ("no idea", None),
    ],
)
def test_extract_choice(text, letter):
    assert extract_choice(text) == letter


@pytest.mark.parametrize(
    "text, value",
    [
        ("so 6 * 7 = 42\n#### 42", 42.0),
        ("\\boxed{3/4}", 0.75),
        ("The answer is $1,234.50.", 1234.5),
        ("first 7, then 8", 8.0),
        ("nothing numeric", None),
    ],
)
def test_extract_number(text, value):
    assert extract_number(text) == value


def test_builtin_graders():
    assert make_grader("choice")("The answer is (B)", "B") == 1.0
    assert make_grader("choice")("The answer is (B)", "c") == 0.0
    assert make_grader("choice")("hmm", "B") is None
    assert make_grader("numeric")("#### 0.33", "1/3") == 0.0
    assert make_grader("numeric")("#### 0.33333", "1/3") == 1.0
    assert make_grader("exact")("  Paris. ", "paris") == 1.0
    assert make_grader("regex")("It is 42 degrees", r"\b42\b") == 1.0
    with pytest.raises(DataError, match="expected a reference letter"):
        make_grader("choice")("A", "not-a-letter")
    with pytest.raises(UnknownComponentError, match="choice, exact, numeric, regex"):
        make_grader("nope")


def test_register_custom_grader():
    register_grader("contains-yes", lambda: lambda answer, ref: float("yes" in answer.lower()))
    assert make_grader("contains-yes")("Yes!", "") == 1.0


def test_outcomes_round_trip_and_alignment(tmp_path):
    path = write_outcomes(
        tmp_path / "o.jsonl", [Outcome("q2", "m", 1.0, "A"), Outcome("q1", "m", 0.0)]
    )
    outcomes = read_outcomes(path)
    assert outcome_vector(outcomes, ["q1", "q2", "q3"])[:2] == [0.0, 1.0]


def test_outcomes_file_accepts_correct_field_and_rejects_bad_lines(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"prompt_id": 7, "model": "m", "correct": true}\n\n')
    assert read_outcomes(good) == [Outcome("7", "m", 1.0, None)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt_id": "q", "model": "m", "score": 1.5}\n')
    with pytest.raises(DataError, match="line 1: expected 'score' to be a number in \\[0, 1\\]"):
        read_outcomes(bad)
    bad.write_text('{"prompt_id": "q", "model": "m"}\n')
    with pytest.raises(DataError, match="expected a 'correct' or 'score' field"):
        read_outcomes(bad)
    bad.write_text("not json\n")
    with pytest.raises(DataError, match="line 1: expected a JSON object"):
        read_outcomes(bad)


def test_unknown_prompt_ids_are_rejected_with_examples():
    outcomes = [Outcome(f"x{i}", "m", 1.0) for i in range(8)] + [Outcome("q1", "m", 1.0)]
    with pytest.raises(
        DataError,
        match=r"8 of 9 outcomes have prompt ids that are not in the "
        r"validation set \(2 prompts\), e\.g\. \['x0', 'x1'",
    ):
        outcome_vector(outcomes, ["q1", "q2"])
    with pytest.raises(DataError, match="graded twice"):
        outcome_vector([Outcome("q1", "m", 1.0)] * 2, ["q1"])


def test_validation_set_file(tmp_path):
    path = tmp_path / "v.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"prompt_id": "a", "prompt": "2+2?", "reference": "4", "grader": "numeric"},
                {"prompt_id": "b", "prompt": "Pick\nA. x\nB. y", "reference": "B"},
            ]
        )
    )
    items = read_validation_set(path)
    assert [(i.prompt_id, i.grader) for i in items] == [("a", "numeric"), ("b", "choice")]
    path.write_text('{"prompt_id": "a", "prompt": "x"}\n')
    with pytest.raises(DataError, match="missing \\['reference'\\]"):
        read_validation_set(path)
