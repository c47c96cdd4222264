from __future__ import annotations

import pytest

from polyroute.encoders import (
    DEFAULT_ENCODER,
    Encoder,
    HashingEncoder,
    available_encoders,
    make_encoder,
)
from polyroute.exceptions import ConfigError, UnknownComponentError


def test_names() -> None:
    assert set(available_encoders()) == {"minilm", "minilm-st", "minilm-static", "hashing"}
    assert DEFAULT_ENCODER == "minilm"


def test_make_hashing_with_kwargs() -> None:
    enc = make_encoder("hashing", dim=32)
    assert isinstance(enc, HashingEncoder) and isinstance(enc, Encoder)
    assert enc.dim == 32 and enc.encoder_id.startswith("hashing/d32/")


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(UnknownComponentError) as info:
        make_encoder("bert-large")
    message = str(info.value)
    assert message == (
        "unknown encoder 'bert-large'; expected one of: hashing, minilm, minilm-st, minilm-static"
    )
    assert isinstance(info.value, ConfigError) and isinstance(info.value, KeyError)


def test_bad_kwargs_are_rejected() -> None:
    with pytest.raises(TypeError):
        make_encoder("hashing", dims=3)
