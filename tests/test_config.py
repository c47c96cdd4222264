from __future__ import annotations

from pathlib import Path

import pytest

from polyroute.config import resolve_cache_dir, resolve_data_dir
from polyroute.exceptions import DataNotFoundError


def test_data_dir_comes_from_the_environment_setting(tmp_path: Path) -> None:
    assert resolve_data_dir(environ={"POLYROUTE_DATA_DIR": str(tmp_path)}) == tmp_path.resolve()


def test_explicit_data_dir_wins_over_the_environment(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    found = resolve_data_dir(other, environ={"POLYROUTE_DATA_DIR": str(tmp_path)})
    assert found == other.resolve()


def test_missing_data_dir_error_names_the_setting_and_path(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="POLYROUTE_DATA_DIR") as info:
        resolve_data_dir(environ={"POLYROUTE_DATA_DIR": str(tmp_path / "gone")})
    assert str(tmp_path / "gone") in str(info.value)


def test_cache_dir_is_created(tmp_path: Path) -> None:
    path = resolve_cache_dir(environ={"POLYROUTE_CACHE_DIR": str(tmp_path / "c")})
    assert path.is_dir()
