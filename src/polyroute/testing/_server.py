"""``ServerThread``: any ASGI app served by uvicorn in a background thread on loopback."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Literal, Self

from polyroute.exceptions import ConfigError, MissingDependencyError


class ServerThread:
    """Any ASGI app served by uvicorn in a background thread on ``127.0.0.1`` and a free port.

    Parameters
    ----------
    app : ASGI callable
        The application.
    lifespan : {"on", "off", "auto"}
        Whether uvicorn runs the app's lifespan (startup/shutdown) events.
    port : int
        Port to bind (0 = a free one).
    **options
        More ``uvicorn.Config`` arguments, e.g. the gateway's connection limits
        (``polyroute.server._protocol.uvicorn_options``).

    Example
    -------
    >>> with ServerThread(create_app(settings), lifespan="on") as srv:   # doctest: +SKIP
    ...     httpx.get(srv.url + "/healthz")
    """

    def __init__(
        self,
        app: Any,
        *,
        lifespan: Literal["on", "off", "auto"] = "on",
        port: int = 0,
        **options: Any,
    ) -> None:
        self.app = app
        self.options = options
        self.lifespan = lifespan
        self._bind_port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        try:
            import uvicorn
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingDependencyError("uvicorn", "server") from exc
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._bind_port))
        self.port = sock.getsockname()[1]
        options: dict[str, Any] = {"timeout_keep_alive": 30, **self.options}
        config = uvicorn.Config(
            self.app,
            log_level="critical",
            access_log=False,
            lifespan=self.lifespan,
            interface="asgi3",
            timeout_graceful_shutdown=1,
            **options,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name=f"ServerThread:{self.port}",
        )
        self._thread.start()
        deadline = time.monotonic() + 30.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise ConfigError(f"server on port {self.port} failed to start")
            time.sleep(0.005)
        sock.close()  # uvicorn serves on its own duplicate of the listening socket
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15.0)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
