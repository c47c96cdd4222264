"""until_disconnect: the work is cancelled (and cleaned up) when the client leaves first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from polyroute.server._disconnect import ClientDisconnected, until_disconnect


def _receive(disconnect_after_s: float | None) -> Any:
    async def receive() -> dict[str, Any]:
        if disconnect_after_s is None:
            await asyncio.Event().wait()  # never
        await asyncio.sleep(disconnect_after_s or 0)
        return {"type": "http.disconnect"}

    return receive


def test_the_work_is_cancelled_when_the_client_leaves_first() -> None:
    cleaned: list[str] = []

    async def upstream_call() -> str:
        try:
            await asyncio.sleep(10)
            return "answer"
        finally:
            cleaned.append("closed")  # e.g. the upstream connection is closed

    async def main() -> None:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ClientDisconnected):
            await until_disconnect(_receive(0.05), upstream_call())
        assert asyncio.get_running_loop().time() - started < 1.0

    asyncio.run(main())
    assert cleaned == ["closed"]


def test_the_result_comes_back_when_the_client_stays() -> None:
    async def main() -> str:
        async def quick() -> str:
            await asyncio.sleep(0.01)
            return "answer"

        return await until_disconnect(_receive(None), quick())

    assert asyncio.run(main()) == "answer"


def test_errors_of_the_work_propagate() -> None:
    async def main() -> None:
        async def failing() -> None:
            raise ValueError("upstream said no")

        await until_disconnect(_receive(None), failing())

    with pytest.raises(ValueError, match="upstream said no"):
        asyncio.run(main())
