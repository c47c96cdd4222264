"""Stop working for a client that has gone (issue 11 item 10).

Once a request's body has been read, the ASGI ``receive`` callable has only one message left to
give: ``http.disconnect``, when the client closes its connection. :func:`until_disconnect` races
the request's work (decide, the upstream call, up to the first streamed byte) against that
message and cancels the work when the client leaves first: the upstream connection is closed
(the native client closes a connection on any exception, cancellation included), the balancer
and breaker hooks run, and nobody pays for an answer no one will read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
Receive = Callable[[], Awaitable[dict[str, Any]]]


class ClientDisconnected(Exception):
    """The client closed its connection before the answer started."""


async def wait_disconnect(receive: Receive) -> None:
    """Return once ``receive`` reports ``http.disconnect`` (call after the body was read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def until_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    """``await work``, unless the client disconnects first: then ``work`` is cancelled (and
    awaited, so its clean-up has run) and :class:`ClientDisconnected` is raised."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(wait_disconnect(receive))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # our own caller was cancelled: take both down with us
        task.cancel()
        gone.cancel()
        await asyncio.gather(task, gone, return_exceptions=True)
        raise
    if task.done():
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    raise ClientDisconnected("the client closed the connection before the answer started")
