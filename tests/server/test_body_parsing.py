"""The one body-parsing path (issue 11 items 1 and 2): deep nesting, invalid UTF-8 and lone
surrogates are clear 400s (InvalidRequestError), never a RecursionError or an encoding error
later on."""

from __future__ import annotations

import json

import pytest

from polyroute.exceptions import InvalidRequestError
from polyroute.server._body import MAX_JSON_DEPTH, json_depth, parse_json_body


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 5_000, 100_000])
@pytest.mark.parametrize(("open_", "close"), [("[", "]"), ('{"a":', "}")])
def test_deep_nesting_is_rejected_with_the_limit_in_the_message(
    levels: int, open_: str, close: str
) -> None:
    raw = (open_ * levels + "1" + close * levels).encode()
    with pytest.raises(InvalidRequestError, match=f"at most {MAX_JSON_DEPTH} levels"):
        parse_json_body(raw)


def test_nesting_up_to_the_limit_and_brackets_inside_strings_are_fine() -> None:
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert json_depth(parse_json_body(deep.encode())) == MAX_JSON_DEPTH
    text = "[[[[" * 100
    assert parse_json_body(json.dumps({"content": text}).encode()) == {"content": text}
    chat = {"messages": [{"role": "user", "content": "hi"}] * 500}  # wide, not deep
    assert parse_json_body(json.dumps(chat).encode()) == chat


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"messages":[{"role":"user","content":"\\ud800"}]}', "'messages[0].content'"),
        (b'{"model":"a\\udfff"}', "'model'"),
        (b'{"k\\ud83d":1}', "body"),  # a key: the high half of an emoji without its low half
    ],
)
def test_a_lone_surrogate_escape_is_rejected_and_located(raw: bytes, where: str) -> None:
    with pytest.raises(InvalidRequestError, match="lone UTF-16 surrogate") as info:
        parse_json_body(raw)
    assert str(info.value).startswith(where)


def test_a_surrogate_pair_is_one_character() -> None:
    assert parse_json_body(b'{"c":"\\ud83d\\ude00"}') == {"c": "\U0001f600"}


@pytest.mark.parametrize("raw", [b'{"c":"\xff"}', b'{"c":"\xed\xa0\x80"}', b"\xfe\xff{}"])
def test_invalid_utf8_including_encoded_surrogates_is_rejected(raw: bytes) -> None:
    with pytest.raises(InvalidRequestError, match="not valid UTF-8"):
        parse_json_body(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"", "empty request body"), (b"  ", "empty request body"), (b'{"a":', "malformed JSON")],
)
def test_empty_and_malformed_bodies(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        parse_json_body(raw)
