"""Graders: turn a model's free-text answer and a reference into a score in [0, 1].

A grader is any callable ``grader(answer, reference) -> float | None``: ``None`` means "no answer
could be extracted" (scored 0 but counted separately, so a garbage endpoint is noticed).
Built-ins, by registry name:

* ``"choice"``: multiple-choice letter (``"The answer is (C)"``, ``"Answer: C"``, ``"**C**"``...).
* ``"numeric"``: final numeric answer (``"#### 42"``, ``\\boxed{42}``, ``"the answer is 3/4"``, or
  the last number), compared with a relative tolerance.
* ``"exact"``: normalised exact match (case, surrounding whitespace and punctuation ignored).
* ``"regex"``: the reference is a regular expression searched in the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from polyroute.exceptions import DataError, UnknownComponentError

Grader = Callable[[str, str], "float | None"]

_LETTERS = "ABCDEFGHIJ"
_CHOICE_PATTERNS = (
    # "the answer is (C)", "answer is: C", "correct answer is **C**"
    re.compile(
        r"(?i:answer|option|choice)[ \t]*(?i:is|would be|should be)?[ \t]*[:\-]?[ \t]*"
        r"[\*\(\[]*[ \t]*([A-J])\b(?![A-Za-z'])"
    ),
    # "**C**", "(C)" or "C." / "C)" alone on the last line
    re.compile(r"\*\*\s*\(?([A-J])\)?[\.\):]?\s*\*\*"),
    re.compile(r"^\s*\(?([A-J])\)?[\.\):]?\s*$", re.MULTILINE),
    re.compile(r"\(([A-J])\)"),
)
_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?%?"
_NUMERIC_PATTERNS = (
    re.compile(r"####\s*(" + _NUMBER + ")"),
    re.compile(r"\\boxed\{\s*(" + _NUMBER + r")\s*\}"),
    re.compile(r"answer\s*(?:is|:)\s*[:\*\s]*(" + _NUMBER + ")", re.IGNORECASE),
)
_ANY_NUMBER = re.compile(_NUMBER)


def extract_choice(text: str, *, letters: str = _LETTERS) -> str | None:
    """The multiple-choice letter a free-text answer commits to, or None.

    Patterns are tried from the most explicit ("the answer is (C)") to the least; within a
    pattern the *last* match wins (chain-of-thought answers end with the verdict).

    Example
    -------
    >>> extract_choice("Let's think... so the answer is (C).")
    'C'
    """
    for pattern in _CHOICE_PATTERNS:
        found: list[str] = [m.upper() for m in pattern.findall(text) if m.upper() in letters]
        if found:
            return found[-1]
    return None


def parse_number(token: str) -> float | None:
    """``"1,234.5"``, ``"$12"``, ``"50%"``, ``"3/4"`` -> float; None when not a number."""
    token = token.replace(",", "").replace("$", "").replace(" ", "").rstrip("%")
    try:
        if "/" in token:
            return float(Fraction(token))
        return float(token)
    except (ValueError, ZeroDivisionError):
        return None


def extract_number(text: str) -> float | None:
    """The final numeric answer of a free-text answer, or None.

    Example
    -------
    >>> extract_number("2 + 2 = 4, so #### 4")
    4.0
    """
    for pattern in _NUMERIC_PATTERNS:
        found = pattern.findall(text)
        if found:
            return parse_number(found[-1])
    found = _ANY_NUMBER.findall(text)
    return parse_number(found[-1]) if found else None


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip(".!?\"'`*").strip()).casefold()


class ChoiceGrader:
    """1.0 when the extracted letter equals the reference letter; None when no letter is found."""

    def __init__(self, letters: str = _LETTERS) -> None:
        self.letters = letters

    def __call__(self, answer: str, reference: str) -> float | None:
        ref = reference.strip().strip("()").upper()
        if len(ref) != 1 or ref not in self.letters:
            raise DataError(
                f"choice grader: expected a reference letter in {self.letters}; found {reference!r}"
            )
        got = extract_choice(answer, letters=self.letters)
        return None if got is None else float(got == ref)


class NumericGrader:
    """1.0 when the final number matches the reference within ``rel_tol``/``abs_tol``."""

    def __init__(self, rel_tol: float = 1e-4, abs_tol: float = 1e-6) -> None:
        self.rel_tol, self.abs_tol = rel_tol, abs_tol

    def __call__(self, answer: str, reference: str) -> float | None:
        ref = parse_number(reference.strip())
        if ref is None:
            raise DataError(f"numeric grader: expected a numeric reference; found {reference!r}")
        got = extract_number(answer)
        if got is None:
            return None
        return float(abs(got - ref) <= max(self.abs_tol, self.rel_tol * abs(ref)))


class ExactMatchGrader:
    """1.0 when the answer equals the reference after normalisation (case, spaces, quotes)."""

    def __call__(self, answer: str, reference: str) -> float | None:
        if not answer.strip():
            return None
        return float(_normalise(answer) == _normalise(reference))


class RegexGrader:
    """1.0 when the reference (a regular expression) is found in the answer."""

    def __init__(self, flags: int = re.IGNORECASE) -> None:
        self.flags = flags

    def __call__(self, answer: str, reference: str) -> float | None:
        try:
            pattern = re.compile(reference, self.flags)
        except re.error as exc:
            raise DataError(
                f"regex grader: expected a valid regular expression as the reference; "
                f"found {reference!r} ({exc})"
            ) from exc
        if not answer.strip():
            return None
        return float(pattern.search(answer) is not None)


_GRADERS: dict[str, Callable[[], Grader]] = {
    "choice": ChoiceGrader,
    "numeric": NumericGrader,
    "exact": ExactMatchGrader,
    "regex": RegexGrader,
}


def register_grader(name: str, factory: Callable[[], Grader]) -> None:
    """Make ``factory()`` available as grader ``name`` (replaces an existing one)."""
    _GRADERS[name] = factory


def available_graders() -> list[str]:
    """Registered grader names, sorted."""
    return sorted(_GRADERS)


def make_grader(name: str) -> Grader:
    """Build a grader by registry name; unknown names raise ``UnknownComponentError``."""
    if name not in _GRADERS:
        raise UnknownComponentError("grader", name, list(_GRADERS))
    return _GRADERS[name]()
