"""Pool fixtures: the same tests on SQLite and on a real throw-away PostgreSQL server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from polyroute.testing import create_database, postgres_available, postgres_server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Admin URL of a throw-away PostgreSQL cluster; skips when PostgreSQL is not installed."""
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    if not postgres_available():
        pytest.skip("PostgreSQL not installed (apt-get install postgresql)")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def pool_location(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """``location()`` -> where a pool lives; two calls name the same store (two processes)."""
    if request.param == "sqlite":
        path = str(tmp_path / "pool.sqlite3")
        return lambda: path
    url = create_database(request.getfixturevalue("postgres_url"))
    return lambda: url
